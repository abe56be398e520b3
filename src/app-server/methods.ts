/**
 * The methods `codex-auth app-server` serves, each with its parameter type
 * as Codex 0.169 declares it (see `contract/codex-0.169/app-server/`), and
 * the reading of a request's method and parameters with Codex's refusals.
 */
import { RpcRequestError } from "../errors.js";
import { CODEX_CLIENT_REQUEST_METHODS } from "./codex-methods.generated.js";
import type { JsonNode } from "./json.js";
import {
  anyMap,
  bool,
  checkRepresentable,
  field,
  ParamsError,
  type Schema,
  seq,
  string,
  stringEnum,
  struct,
  taggedEnum,
  unit,
  unknownVariant,
} from "./serde.js";

const ClientInfo = struct("ClientInfo", [
  field.required("name", string),
  field.option("title", string),
  field.required("version", string),
]);

const InitializeCapabilities = struct("InitializeCapabilities", [
  field.default("requiredHumanApproval", bool),
  field.default("explicitGatewayOauth", bool),
  field.default("experimentalApi", bool),
  field.default("requestAttestation", bool),
  field.default("mcpServerOpenaiFormElicitation", bool),
  field.option("optOutNotificationMethods", seq(string)),
  field.option("extensions", anyMap),
]);

const InitializeParams = struct("InitializeParams", [
  field.required("clientInfo", ClientInfo),
  field.option("capabilities", InitializeCapabilities),
]);

const GetAccountParams = struct("GetAccountParams", [field.default("refreshToken", bool)]);

const GetAuthStatusParams = struct("GetAuthStatusParams", [
  field.option("includeToken", bool),
  field.option("refreshToken", bool),
]);

const LoginAccountParams = taggedEnum("LoginAccountParams", "type", [
  { name: "apiKey", fields: [field.required("apiKey", string)] },
  {
    name: "chatgpt",
    fields: [
      field.default("codexStreamlinedLogin", bool),
      field.default("useHostedLoginSuccessPage", bool),
      field.option("appBrand", stringEnum(["codex", "chatgpt"])),
    ],
  },
  { name: "chatgptDeviceCode", fields: [] },
  {
    name: "chatgptAuthTokens",
    fields: [
      field.required("accessToken", string),
      field.required("chatgptAccountId", string),
      field.option("chatgptPlanType", string),
    ],
  },
  { name: "amazonBedrock", fields: [field.required("apiKey", string), field.required("region", string)] },
  {
    name: "amazonBedrockAccessKeys",
    fields: [
      field.required("accessKeyId", string),
      field.required("secretAccessKey", string),
      field.option("sessionToken", string),
      field.required("region", string),
    ],
  },
]);

const CancelLoginAccountParams = struct("CancelLoginAccountParams", [field.required("loginId", string)]);

const GetAccountRateLimitsParams = struct("GetAccountRateLimitsParams", [
  field.default("supportsLunaReserve", bool),
  field.default("excludeResetCreditDetails", bool),
]);

/** The client's answer to `account/chatgptAuthTokens/refresh`. */
export const CHATGPT_AUTH_TOKENS_REFRESH_RESPONSE = struct("ChatgptAuthTokensRefreshResponse", [
  field.required("accessToken", string),
  field.required("chatgptAccountId", string),
  field.option("chatgptPlanType", string),
]);

/**
 * How a method takes `params`: `required` (absent or null is ``missing field
 * `params` ``), `optional` (`params?: T`), or `unit` (`params: undefined`:
 * absent, null or `{}`).
 */
type ParamsRule<T> =
  | { rule: "required"; schema: Schema<T> }
  | { rule: "optional"; schema: Schema<T> }
  | { rule: "unit" };

function spec<T, const R extends "required" | "optional">(
  rule: R,
  schema: Schema<T>,
): { rule: R; schema: Schema<T> } {
  return { rule, schema };
}

/** Every method served, with its parameter rule. */
export const SERVED_METHODS = {
  initialize: spec("required", InitializeParams),
  "account/read": spec("required", GetAccountParams),
  getAuthStatus: spec("required", GetAuthStatusParams),
  "account/login/start": spec("required", LoginAccountParams),
  "account/login/cancel": spec("required", CancelLoginAccountParams),
  "account/logout": { rule: "unit" } as const,
  "account/rateLimits/read": spec("optional", GetAccountRateLimitsParams),
} as const;

/** A method this server serves. */
export type ServedMethod = keyof typeof SERVED_METHODS;

/** The parsed parameters of each served method (absent where the method takes none). */
export type ParamsOf<M extends ServedMethod> = (typeof SERVED_METHODS)[M] extends {
  rule: "required";
  schema: Schema<infer T>;
}
  ? T
  : (typeof SERVED_METHODS)[M] extends { rule: "optional"; schema: Schema<infer T> }
    ? T | undefined
    : undefined;

/** A request whose method and parameters were read. */
export type ReadRequest =
  | { [M in ServedMethod]: { served: true; method: M; params: ParamsOf<M> } }[ServedMethod]
  /** A Codex method outside the account area: known, but not served here. */
  | { served: false; method: string };

const codexMethods = new Set(CODEX_CLIENT_REQUEST_METHODS);

function isServed(method: string): method is ServedMethod {
  return Object.hasOwn(SERVED_METHODS, method);
}

/**
 * Reads a request's method and parameters as Codex does, before anything
 * else (an unknown method or bad parameters are refused even before
 * `initialize`).
 *
 * @throws {RpcRequestError} `ERR_RPC_INVALID_REQUEST` with Codex's `Invalid request: …` message.
 */
export function readRequest(method: string, params: JsonNode | undefined): ReadRequest {
  try {
    if (!codexMethods.has(method)) throw unknownVariant(method, CODEX_CLIENT_REQUEST_METHODS);
    if (!isServed(method)) return { served: false, method };
    const rule = SERVED_METHODS[method] as ParamsRule<unknown>;
    if (params === undefined) {
      if (rule.rule === "required") throw new ParamsError("missing field `params`");
      return { served: true, method, params: undefined } as ReadRequest;
    }
    checkRepresentable(params);
    const value = rule.rule === "unit" ? unit.read(params) : rule.schema.read(params);
    return { served: true, method, params: value } as ReadRequest;
  } catch (err) {
    if (err instanceof ParamsError) {
      throw new RpcRequestError("ERR_RPC_INVALID_REQUEST", `Invalid request: ${err.message}`, { cause: err });
    }
    throw err;
  }
}
