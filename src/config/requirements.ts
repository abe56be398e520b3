/**
 * The administrator's managed requirements, as Codex 0.169 reads and applies
 * them (observed with the 0.169 binary; see README "Admin policy"):
 *
 * - `<system dir>/requirements.toml` (`/etc/codex` on Unix,
 *   `%ProgramData%\OpenAI\Codex` on Windows) holds constraints, not values.
 *   The keys that concern sign-in: `allowed_login_methods` (a list of
 *   `"chatgpt"` / `"api"`), `allowed_chatgpt_workspaces` (a list of
 *   workspace ids), `cli_auth_credentials_store` and `chatgpt_base_url`
 *   (exact values that replace the configured ones) and `enforce_residency`
 *   (`"us"`). Other keys (sandbox, approvals, MCP, …) are not ours and are
 *   ignored, as Codex ignores keys it does not know.
 * - The configured `forced_login_method` and `forced_chatgpt_workspace_id`
 *   (from every config layer) are narrowed by them: the allowed methods
 *   are the intersection, the allowed workspaces the intersection too (or
 *   the required list when none is configured). When nothing usable is
 *   left, Codex refuses to start: `authentication requirements do not
 *   permit any usable login method`.
 *
 * Pure except {@link readManagedRequirements}, which reads one file.
 */
import { readFileSync } from "node:fs";
import { describeError, RequirementsError } from "../errors.js";
import type { CredentialsStoreMode, ForcedLoginMethod } from "./config.js";

/** Codex's values for `enforce_residency`. */
export type ResidencyRequirement = "us";

/** What requirements.toml requires of sign-in. Unset keys are undefined. */
export interface ManagedRequirements {
  /** The file they were read from. */
  path: string;
  /** `allowed_login_methods`: the only login methods allowed (may be empty: none). */
  allowedLoginMethods: ForcedLoginMethod[] | undefined;
  /** `allowed_chatgpt_workspaces`: trimmed, blanks dropped (may be empty: no workspace). */
  allowedChatgptWorkspaces: string[] | undefined;
  /** `cli_auth_credentials_store`: replaces the configured store. */
  credentialsStore: CredentialsStoreMode | undefined;
  /** `chatgpt_base_url`: replaces the configured one. */
  chatgptBaseUrl: string | undefined;
  /** `enforce_residency`. */
  enforceResidency: ResidencyRequirement | undefined;
}

/** The sign-in settings that requirements narrow or replace. */
export interface AuthSettings {
  credentialsStore: CredentialsStoreMode;
  forcedLoginMethod: ForcedLoginMethod | undefined;
  forcedChatgptWorkspaceIds: string[] | undefined;
  chatgptBaseUrl: string | undefined;
}

/** Codex 0.169's words when requirements and configuration leave no login method. */
export const NO_USABLE_LOGIN_METHOD = "authentication requirements do not permit any usable login method";

const LOGIN_METHODS = ["chatgpt", "api"] as const;
const STORES = ["file", "keyring", "auto", "ephemeral"] as const;
const RESIDENCIES = ["us"] as const;

/**
 * Reads requirements.toml at `path`. A missing file means no requirements
 * (undefined).
 *
 * @throws {RequirementsError} (`malformed`, naming the file, in Codex's
 * words: `failed to parse requirements layer <path>: …`) when the file
 * cannot be read, is not TOML, or a sign-in key has the wrong type or value.
 */
export async function readManagedRequirements(path: string): Promise<ManagedRequirements | undefined> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new RequirementsError(
      "malformed",
      `failed to read requirements layer ${path}: ${describeError(err)}`,
      { path, cause: err },
    );
  }
  return parseManagedRequirements(text, path, (await import("smol-toml")).parse);
}

/**
 * Parses the text of a requirements.toml (`path` only names it in errors).
 *
 * @throws {RequirementsError} as {@link readManagedRequirements}.
 */
export function parseManagedRequirements(
  text: string,
  path: string,
  parse: (text: string) => unknown,
): ManagedRequirements {
  const fail = (detail: string, cause?: unknown) =>
    new RequirementsError("malformed", `failed to parse requirements layer ${path}: ${detail}`, {
      path,
      cause,
    });
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (err) {
    const { line, column } = err as { line?: number; column?: number };
    const where = line !== undefined && column !== undefined ? ` at line ${line}, column ${column}` : "";
    throw fail(`TOML parse error${where}: ${firstLine(describeError(err))}`, err);
  }
  const field = <T>(key: string, read: (value: unknown) => T): T | undefined => {
    const value = doc[key];
    if (value === undefined) return undefined;
    try {
      return read(value);
    } catch (err) {
      if (err instanceof SerdeMismatch) throw fail(`${err.message}\nin \`${key}\``);
      throw err;
    }
  };
  return {
    path,
    allowedLoginMethods: field("allowed_login_methods", (v) =>
      dedupe(sequence(v, (e) => variant(e, LOGIN_METHODS))),
    ),
    allowedChatgptWorkspaces: field("allowed_chatgpt_workspaces", (v) =>
      dedupe(
        sequence(v, string)
          .map((id) => id.trim())
          .filter((id) => id !== ""),
      ),
    ),
    credentialsStore: field("cli_auth_credentials_store", (v) => variant(v, STORES)),
    chatgptBaseUrl: field("chatgpt_base_url", string),
    enforceResidency: field("enforce_residency", (v) => variant(v, RESIDENCIES)),
  };
}

/**
 * Applies requirements to the configured sign-in settings, as Codex 0.169
 * does after merging its config layers:
 *
 * - `cli_auth_credentials_store` and `chatgpt_base_url` replace the configured values;
 * - allowed workspaces: the configured ones that the requirements allow, or
 *   the required list when none is configured (possibly empty);
 * - allowed login methods: `allowed_login_methods` ∩ `forced_login_method`;
 *   ChatGPT counts only while some workspace is allowed. One method left
 *   becomes `forcedLoginMethod`; both leave it undefined.
 *
 * Without requirements the configured settings come back unchanged except
 * for workspace ids, which are trimmed (blanks dropped) as Codex does.
 *
 * @throws {RequirementsError} (`no-login-method`, Codex's words
 * {@link NO_USABLE_LOGIN_METHOD}) when no login method is left.
 */
export function applyRequirements(
  configured: AuthSettings,
  requirements: ManagedRequirements | undefined,
): AuthSettings {
  const configuredIds = configured.forcedChatgptWorkspaceIds
    ?.map((id) => id.trim())
    .filter((id) => id !== "");
  const ownIds = configuredIds && configuredIds.length > 0 ? configuredIds : undefined;
  const requiredIds = requirements?.allowedChatgptWorkspaces;
  const workspaces =
    requiredIds === undefined
      ? ownIds
      : ownIds
        ? ownIds.filter((id) => requiredIds.includes(id))
        : requiredIds;

  const allowed = new Set<ForcedLoginMethod>(requirements?.allowedLoginMethods ?? LOGIN_METHODS);
  if (configured.forcedLoginMethod !== undefined) {
    for (const m of LOGIN_METHODS) if (m !== configured.forcedLoginMethod) allowed.delete(m);
  }
  const chatgpt = allowed.has("chatgpt") && (workspaces === undefined || workspaces.length > 0);
  const api = allowed.has("api");
  if (!chatgpt && !api) throw new RequirementsError("no-login-method", NO_USABLE_LOGIN_METHOD);
  return {
    credentialsStore: requirements?.credentialsStore ?? configured.credentialsStore,
    chatgptBaseUrl: requirements?.chatgptBaseUrl ?? configured.chatgptBaseUrl,
    forcedLoginMethod: chatgpt && api ? undefined : chatgpt ? "chatgpt" : "api",
    forcedChatgptWorkspaceIds: workspaces,
  };
}

/** A value of the wrong shape, described in serde's words (Codex prints them). */
class SerdeMismatch extends Error {}

function serdeDescription(value: unknown): string {
  if (typeof value === "string") return `string ${JSON.stringify(value)}`;
  if (typeof value === "boolean") return `boolean \`${value}\``;
  if (typeof value === "bigint") return `integer \`${value}\``;
  if (typeof value === "number")
    return Number.isInteger(value) ? `integer \`${value}\`` : `floating point \`${value}\``;
  if (Array.isArray(value)) return "sequence";
  return "map";
}

function sequence<T>(value: unknown, element: (e: unknown) => T): T[] {
  if (!Array.isArray(value))
    throw new SerdeMismatch(`invalid type: ${serdeDescription(value)}, expected a sequence`);
  return value.map(element);
}

function string(value: unknown): string {
  if (typeof value !== "string")
    throw new SerdeMismatch(`invalid type: ${serdeDescription(value)}, expected a string`);
  return value;
}

function variant<T extends string>(value: unknown, allowed: readonly T[]): T {
  const expected =
    allowed.length === 1
      ? `\`${allowed[0]}\``
      : allowed.length === 2
        ? `\`${allowed[0]}\` or \`${allowed[1]}\``
        : `one of ${allowed.map((a) => `\`${a}\``).join(", ")}`;
  if (typeof value !== "string") {
    throw new SerdeMismatch(`invalid type: ${serdeDescription(value)}, expected ${expected}`);
  }
  if (!(allowed as readonly string[]).includes(value)) {
    throw new SerdeMismatch(`unknown variant \`${value}\`, expected ${expected}`);
  }
  return value as T;
}

function dedupe<T>(values: T[]): T[] {
  return [...new Set(values)];
}

function firstLine(message: string): string {
  return message.split("\n")[0] ?? message;
}
