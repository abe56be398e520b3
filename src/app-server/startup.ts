/**
 * What Codex 0.169's app server does before it serves a client, besides
 * reading the configuration: it reports an unusable configuration to the
 * client (`configWarning`, right after the `initialize` answer) and runs on
 * defaults; and for business, education and enterprise ChatGPT workspaces
 * it loads the workspace's cloud-delivered configuration first
 * (`backend/config-bundle.ts`). When that load fails the server also runs
 * on defaults, says so the same way, and from then on answers a routing
 * lookup (`account/read`) with `failed to load workspace requirements:
 * cloud config: request failed` and refuses backend requests
 * (`account/rateLimits/read`: `application network policy is
 * unavailable`). Stored credentials are never touched by any of this.
 */

import { readFileSync } from "node:fs";
import { type BundleCaller, fetchConfigBundle } from "../backend/config-bundle.js";
import type { Env } from "../config/env.js";
import { CloudConfigError, type ConfigError, describeError } from "../errors.js";

/** The `configWarning` notification's params, as Codex 0.169 sends them. */
export interface ConfigWarning {
  summary: string;
  details: string;
  /** The file at fault, when there is one. */
  path?: string;
  /** Where in it (1-based line and column; `end` is the last character of the value). */
  range?: { start: { line: number; column: number }; end: { line: number; column: number } };
}

/** Codex 0.169's summary for every configuration it replaced by defaults. */
export const USING_DEFAULTS = "Invalid configuration; using defaults.";

/**
 * The warning for a config.toml that cannot be used: the error's words as
 * details, and — when it names `file:line:col` — the file and the range of
 * the value at fault (a quoted string spans to its closing quote, as
 * Codex's does; anything else is the one position).
 */
export function configWarningFor(err: ConfigError): ConfigWarning {
  const m = /^(.+):(\d+):(\d+): /.exec(err.message);
  if (!m) return { summary: USING_DEFAULTS, details: err.message };
  const path = m[1]!;
  const line = Number(m[2]);
  const column = Number(m[3]);
  let endColumn = column;
  try {
    const text = readFileSync(path, "utf8").split("\n")[line - 1] ?? "";
    const rest = text.slice(column - 1);
    const quoted = /^"(?:[^"\\]|\\.)*"|^'[^']*'/.exec(rest);
    if (quoted) endColumn = column + quoted[0].length - 1;
  } catch {
    // The file went away since: the one position is all we know.
  }
  return {
    summary: USING_DEFAULTS,
    details: err.message,
    path,
    range: { start: { line, column }, end: { line, column: endColumn } },
  };
}

/** The cloud configuration's outcome for this server's life (Codex loads it once, at start-up). */
export interface CloudConfigState {
  /** Set when the load failed: the server runs on defaults and refuses as described above. */
  failure: CloudConfigError | undefined;
}

/** What {@link loadCloudConfig} needs. */
export interface CloudConfigDeps {
  chatgptBaseUrl: string | undefined;
  env: Env;
  fetch?: typeof fetch;
  log: (message: string) => void;
}

/**
 * Loads the bundle for `caller` (undefined: nothing to load). Returns the
 * warning to send when the load failed, and records the failure in `state`.
 * Never throws: a failure is a state of the server, not an exit.
 */
export async function loadCloudConfig(
  caller: BundleCaller | undefined,
  state: CloudConfigState,
  deps: CloudConfigDeps,
): Promise<ConfigWarning | undefined> {
  if (!caller) return undefined;
  try {
    await fetchConfigBundle(caller, deps);
    return undefined;
  } catch (err) {
    const failure =
      err instanceof CloudConfigError
        ? err
        : new CloudConfigError(
            "request-failed",
            "Failed to load cloud config bundle (workspace-managed policies).",
            {
              cause: err,
            },
          );
    state.failure = failure;
    deps.log(
      `${USING_DEFAULTS} ${failure.message}${failure.cause ? ` (${describeError(failure.cause)})` : ""}`,
    );
    return { summary: USING_DEFAULTS, details: failure.message };
  }
}

/** `account/read`'s refusal while the cloud configuration is missing (Codex 0.169's words). */
export const CLOUD_REQUIREMENTS_FAILED =
  "failed to load workspace requirements: cloud config: request failed";
/** `account/rateLimits/read`'s refusal while the cloud configuration is missing (Codex 0.169's words). */
export const NETWORK_POLICY_UNAVAILABLE =
  "failed to fetch codex rate limits: application network policy is unavailable";
