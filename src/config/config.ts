import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, describeError } from "../errors.js";
import { type Env, programDataDir, systemConfigDirOverride } from "./env.js";
import { findCodexHome } from "./home.js";
import { applyRequirements, type ManagedRequirements, readManagedRequirements } from "./requirements.js";

/** The values of `cli_auth_credentials_store`, as Codex 0.169 accepts them. */
export const STORE_MODES = ["file", "keyring", "auto", "ephemeral"] as const;
/** Where credentials are kept (`cli_auth_credentials_store`). */
export type CredentialsStoreMode = (typeof STORE_MODES)[number];
/** `forced_login_method`. */
export type ForcedLoginMethod = "chatgpt" | "api";

/**
 * The settings codex-auth reads from the config layers (the system
 * config.toml, CODEX_HOME/config.toml, `-c` overrides, the administrator's
 * managed_config.toml) with the administrator's requirements.toml applied.
 */
export interface AuthConfig {
  codexHome: string;
  credentialsStore: CredentialsStoreMode;
  /** The only login method allowed, when one is (from `forced_login_method` and `allowed_login_methods`). */
  forcedLoginMethod: ForcedLoginMethod | undefined;
  /**
   * Allowed workspaces (`forced_chatgpt_workspace_id`, a string or a list,
   * narrowed by `allowed_chatgpt_workspaces`). Never empty unless
   * `forcedLoginMethod` is `"api"`.
   */
  forcedChatgptWorkspaceIds: string[] | undefined;
  /** `chatgpt_base_url`, when set. */
  chatgptBaseUrl: string | undefined;
  /**
   * The administrator's requirements.toml, when there is one (what it
   * required, and where it is). Absent when none was read.
   */
  requirements?: ManagedRequirements;
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

/**
 * The administrator's folder to read: {@link defaultSystemConfigDir}, or
 * `$CODEX_AUTH_SYSTEM_CONFIG_DIR` (for tests and sandboxes) only where that
 * folder does not exist — a user's environment never moves an
 * administrator's policy out of the way.
 */
export function systemConfigDir(env: Env = process.env): string {
  const system = defaultSystemConfigDir(env);
  const override = systemConfigDirOverride(env);
  return override !== undefined && !existsSync(system) ? override : system;
}

/** Options for {@link loadConfig}. */
export interface LoadConfigOptions {
  env?: Env;
  /** CODEX_HOME to use instead of the environment's. */
  codexHome?: string;
  /** Codex-style `key=value` overrides (`-c`), applied after config.toml. */
  overrides?: readonly string[];
  /**
   * The administrator's folder (requirements.toml, managed_config.toml,
   * config.toml). Default: {@link systemConfigDir}.
   */
  systemConfigDir?: string;
  /**
   * Reads no config layer (config.toml files, `-c`, managed_config.toml):
   * built-in defaults with the administrator's requirements.toml applied —
   * what the app server runs on when config.toml is invalid, as Codex 0.169's
   * does ("Invalid configuration; using defaults.").
   */
  defaultsOnly?: boolean;
}

type Toml = Record<string, unknown>;

interface Located {
  value: unknown;
  /** `path:line:col` of the value, or `-c key` for an override. */
  where: string;
}

const AUTH_KEYS = [
  "cli_auth_credentials_store",
  "forced_login_method",
  "forced_chatgpt_workspace_id",
  "chatgpt_base_url",
] as const;

/**
 * Codex's system configuration folder: `/etc/codex` on Unix,
 * `%ProgramData%\OpenAI\Codex` on Windows.
 */
export function defaultSystemConfigDir(
  env: Env = process.env,
  platform: NodeJS.Platform = process.platform,
): string {
  if (platform === "win32") return join(programDataDir(env) ?? "C:\\ProgramData", "OpenAI", "Codex");
  return "/etc/codex";
}

/**
 * Reads the configuration as Codex 0.169 layers it, lowest first: the
 * system `config.toml` (`/etc/codex`), `CODEX_HOME/config.toml`, `-c`
 * overrides, then the administrator's `managed_config.toml` (which wins
 * over the user's values); then applies the administrator's
 * `requirements.toml` ({@link applyRequirements}). Missing files are empty
 * layers.
 *
 * @throws {ConfigError} naming the file, line and column of a syntax error or an invalid value.
 * @throws {RequirementsError} when requirements.toml is malformed or, with the configuration,
 * leaves no login method (Codex's `authentication requirements do not permit any usable login method`).
 * @example
 * ```ts
 * const config = await loadConfig(); // what `codex` itself would enforce
 * const manager = await AuthManager.create({ codexHome: config.codexHome, config });
 * ```
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<AuthConfig> {
  const env = options.env ?? process.env;
  const codexHome = options.codexHome ?? findCodexHome(env);
  const systemDir = options.systemConfigDir ?? systemConfigDir(env);
  const requirements = await readManagedRequirements(join(systemDir, "requirements.toml"));
  const values = new Map<string, Located>();
  const overrides = options.defaultsOnly ? [] : (options.overrides ?? []);
  const layerFiles = options.defaultsOnly
    ? []
    : [join(systemDir, "config.toml"), join(codexHome, "config.toml")];
  const managedFile = join(systemDir, "managed_config.toml");
  const texts = new Map<string, string>();
  for (const path of options.defaultsOnly ? [] : [...layerFiles, managedFile]) {
    const text = readOptional(path);
    if (text !== undefined) texts.set(path, text);
  }
  if (texts.size > 0 || overrides.length > 0) {
    // smol-toml is loaded only when there is TOML to read: `login status` on a
    // home without config.toml should not pay for it.
    const { parse } = await import("smol-toml");
    for (const path of layerFiles) readLayer(path, texts.get(path), values, parse);
    for (const override of overrides) {
      const eq = override.indexOf("=");
      if (eq === 0 || (eq > 0 && override.slice(0, eq).trim() === "")) {
        // Codex's words (`Error parsing -c overrides: Empty key in override: =x`).
        throw new ConfigError(`Empty key in override: ${override}`, { override: true });
      }
      if (eq < 0) {
        throw new ConfigError(`Invalid override (missing '='): ${override}`, { override: true });
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
    readLayer(managedFile, texts.get(managedFile), values, parse);
  }
  const settings = applyRequirements(
    {
      credentialsStore: enumValue(values.get("cli_auth_credentials_store"), STORE_MODES) ?? "file",
      forcedLoginMethod: enumValue(values.get("forced_login_method"), LOGIN_METHODS),
      forcedChatgptWorkspaceIds: workspaceIds(values.get("forced_chatgpt_workspace_id")),
      chatgptBaseUrl: stringValue(values.get("chatgpt_base_url")),
    },
    requirements,
  );
  return {
    codexHome,
    ...settings,
    secretAuthStorage: booleanValue(values.get(`features.${SECRET_AUTH_STORAGE}`)) ?? false,
    ...(requirements ? { requirements } : {}),
  };
}

/** The text of a config file, or undefined when there is none. */
function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ConfigError(`${path}: cannot be read: ${describeError(err)}`, { cause: err });
  }
}

/** Sets the auth keys one config layer holds (a later layer wins, key by key). */
function readLayer(
  path: string,
  text: string | undefined,
  values: Map<string, Located>,
  parse: (text: string) => unknown,
): void {
  if (text === undefined) return;
  let doc: Toml;
  try {
    doc = parse(text) as Toml;
  } catch (err) {
    const { line, column } = err as { line?: number; column?: number };
    if (line !== undefined && column !== undefined) {
      throw new ConfigError(`${path}:${line}:${column}: ${firstLine(describeError(err))}`, { cause: err });
    }
    throw new ConfigError(`${path}: ${describeError(err)}`, { cause: err });
  }
  for (const key of AUTH_KEYS) {
    if (doc[key] !== undefined) values.set(key, { value: doc[key], where: `${path}:${locate(text, key)}` });
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
