import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, describeError } from "../errors.js";
import type { Env } from "./env.js";
import { findCodexHome } from "./home.js";

/** The values of `cli_auth_credentials_store`, as Codex 0.169 accepts them. */
export const STORE_MODES = ["file", "keyring", "auto", "ephemeral"] as const;
/** Where credentials are kept (`cli_auth_credentials_store`). */
export type CredentialsStoreMode = (typeof STORE_MODES)[number];
/** `forced_login_method`. */
export type ForcedLoginMethod = "chatgpt" | "api";

/** The settings codex-auth reads from CODEX_HOME/config.toml and `-c` overrides. */
export interface AuthConfig {
  codexHome: string;
  credentialsStore: CredentialsStoreMode;
  forcedLoginMethod: ForcedLoginMethod | undefined;
  /** Allowed workspaces (`forced_chatgpt_workspace_id`, a string or a list). */
  forcedChatgptWorkspaceIds: string[] | undefined;
  /** `chatgpt_base_url`, when set. */
  chatgptBaseUrl: string | undefined;
  /**
   * `[features] secret_auth_storage` (default false in Codex 0.169): with
   * `credentialsStore` `keyring` or `auto`, credentials live in Codex's
   * encrypted store, `CODEX_HOME/secrets/codex_auth.age`.
   */
  secretAuthStorage: boolean;
}

const LOGIN_METHODS = ["chatgpt", "api"] as const;
/** The feature flag that moves keyring credentials into Codex's encrypted store. */
const SECRET_AUTH_STORAGE = "secret_auth_storage";

/** Options for {@link loadConfig}. */
export interface LoadConfigOptions {
  env?: Env;
  /** CODEX_HOME to use instead of the environment's. */
  codexHome?: string;
  /** Codex-style `key=value` overrides (`-c`), applied after config.toml. */
  overrides?: readonly string[];
}

type Toml = Record<string, unknown>;

interface Located {
  value: unknown;
  /** `path:line:col` of the value, or `-c key` for an override. */
  where: string;
}

/**
 * Reads CODEX_HOME/config.toml (a missing file is an empty config) and
 * applies `-c` overrides.
 *
 * @throws {ConfigError} naming the file, line and column of a syntax error or an invalid value.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<AuthConfig> {
  const env = options.env ?? process.env;
  const codexHome = options.codexHome ?? findCodexHome(env);
  const path = join(codexHome, "config.toml");
  let text: string | undefined;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new ConfigError(`${path}: cannot be read: ${describeError(err)}`, { cause: err });
    }
  }
  const values = new Map<string, Located>();
  const overrides = options.overrides ?? [];
  if (text !== undefined || overrides.length > 0) {
    // smol-toml is loaded only when there is TOML to read: `login status` on a
    // home without config.toml should not pay for it.
    const { parse, TomlError } = await import("smol-toml");
    if (text !== undefined) {
      let doc: Toml;
      try {
        doc = parse(text) as Toml;
      } catch (err) {
        if (err instanceof TomlError) {
          throw new ConfigError(`${path}:${err.line}:${err.column}: ${firstLine(err.message)}`, {
            cause: err,
          });
        }
        throw new ConfigError(`${path}: ${describeError(err)}`, { cause: err });
      }
      for (const key of [
        "cli_auth_credentials_store",
        "forced_login_method",
        "forced_chatgpt_workspace_id",
        "chatgpt_base_url",
      ]) {
        if (doc[key] !== undefined)
          values.set(key, { value: doc[key], where: `${path}:${locate(text, key)}` });
      }
      const features = doc.features;
      if (typeof features === "object" && features !== null && !Array.isArray(features)) {
        const value = (features as Toml)[SECRET_AUTH_STORAGE];
        if (value !== undefined) {
          values.set(`features.${SECRET_AUTH_STORAGE}`, {
            value,
            where: `${path}:${locate(text, SECRET_AUTH_STORAGE)}`,
          });
        }
      }
    }
    for (const override of overrides) {
      const eq = override.indexOf("=");
      if (eq <= 0) {
        throw new ConfigError(
          `Invalid override (missing '='): ${override}. Use -c key=value, e.g. -c forced_login_method="api".`,
        );
      }
      const key = override.slice(0, eq).trim();
      const raw = override.slice(eq + 1);
      let value: unknown;
      try {
        value = (parse(`x = ${raw}`) as Toml).x;
      } catch {
        value = raw.trim(); // like Codex: not TOML → the literal string
      }
      values.set(key, { value, where: `-c ${key}` });
    }
  }
  return {
    codexHome,
    credentialsStore: enumValue(values.get("cli_auth_credentials_store"), STORE_MODES) ?? "file",
    forcedLoginMethod: enumValue(values.get("forced_login_method"), LOGIN_METHODS),
    forcedChatgptWorkspaceIds: workspaceIds(values.get("forced_chatgpt_workspace_id")),
    chatgptBaseUrl: stringValue(values.get("chatgpt_base_url")),
    secretAuthStorage: booleanValue(values.get(`features.${SECRET_AUTH_STORAGE}`)) ?? false,
  };
}

function firstLine(message: string): string {
  return message.split("\n")[0] ?? message;
}

/** `line:col` (1-based) of the value of a top-level `key = value`, or `1:1` when not found. */
function locate(text: string, key: string): string {
  const lines = text.split("\n");
  const re = new RegExp(`^(\\s*"?${key}"?\\s*=\\s*)`);
  for (let i = 0; i < lines.length; i++) {
    const m = re.exec(lines[i]!);
    if (m) return `${i + 1}:${m[1]!.length + 1}`;
  }
  return "1:1";
}

function describe(value: unknown): string {
  return typeof value === "string" ? `\`${value}\`` : `a ${Array.isArray(value) ? "list" : typeof value}`;
}

function enumValue<T extends string>(located: Located | undefined, allowed: readonly T[]): T | undefined {
  if (!located) return undefined;
  if (typeof located.value === "string" && (allowed as readonly string[]).includes(located.value)) {
    return located.value as T;
  }
  const expected =
    allowed.length === 2
      ? `\`${allowed[0]}\` or \`${allowed[1]}\``
      : `one of ${allowed.map((a) => `\`${a}\``).join(", ")}`;
  throw new ConfigError(`${located.where}: unknown variant ${describe(located.value)}, expected ${expected}`);
}

function booleanValue(located: Located | undefined): boolean | undefined {
  if (!located) return undefined;
  if (typeof located.value !== "boolean") {
    throw new ConfigError(`${located.where}: invalid type: ${serdeType(located.value)}, expected a boolean`);
  }
  return located.value;
}

/** serde's words for an unexpected TOML value (`string "yes"`, `integer \`1\``), as Codex prints them. */
function serdeType(value: unknown): string {
  if (typeof value === "string") return `string ${JSON.stringify(value)}`;
  if (typeof value === "number" || typeof value === "bigint") {
    return Number.isInteger(value) || typeof value === "bigint"
      ? `integer \`${value}\``
      : `floating point \`${value}\``;
  }
  if (Array.isArray(value)) return "sequence";
  if (typeof value === "object" && value !== null) return value instanceof Date ? "datetime" : "map";
  return typeof value;
}

function stringValue(located: Located | undefined): string | undefined {
  if (!located) return undefined;
  if (typeof located.value !== "string") {
    throw new ConfigError(`${located.where}: expected a string, found ${describe(located.value)}`);
  }
  return located.value;
}

function workspaceIds(located: Located | undefined): string[] | undefined {
  if (!located) return undefined;
  const { value } = located;
  if (typeof value === "string") return [value];
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === "string")) {
    return value as string[];
  }
  throw new ConfigError(`${located.where}: expected a workspace id string or a non-empty list of them`);
}
