import { CodexAuthError, describeError } from "../errors.js";
import { loadAuth } from "../manager/operations.js";
import { envCredentialRefusal, loginRestrictionViolation } from "../manager/restrictions.js";
import { type CodexAuth, isRefreshable, planTypeOf } from "../record/codex-auth.js";
import { CLOCK_SKEW_WARN_MS, clockOffsetMs } from "../record/staleness.js";
import { type CliDeps, loadCommandConfig, type Outcome } from "./context.js";

/** The machine-readable status `codex-auth status --json` prints. Never contains a secret. */
export interface StatusReport {
  loggedIn: boolean;
  mode: string | null;
  /** Where the credential in effect comes from: `storage` or `env:CODEX_API_KEY` (the one `token` would use). */
  source: string | null;
  email: string | null;
  plan: string | null;
  accountId: string | null;
  storage: string | null;
  storageLocation: string | null;
  lastRefresh: string | null;
  /** ISO 8601. */
  accessTokenExpiresAt: string | null;
  /**
   * How far this machine's clock was off the issuer's when the tokens
   * arrived, in seconds (positive: ahead); null when unknown.
   */
  clockOffsetSeconds: number | null;
  /** Whether codex-auth can refresh the tokens (false: a ChatGPT record without a refresh token); null for API keys. */
  refreshable: boolean | null;
  /** Why credentials that exist are not usable (login restrictions), else null. */
  restriction: string | null;
  error: { code: string; message: string } | null;
}

function describeAuth(
  auth: CodexAuth,
): Pick<StatusReport, "mode" | "email" | "plan" | "accountId" | "lastRefresh" | "accessTokenExpiresAt"> {
  const chatgpt =
    (auth.mode === "chatgpt" || auth.mode === "chatgptAuthTokens") && auth.tokens ? auth : undefined;
  const expiresAt = chatgpt?.accessTokenExpiresAtMs;
  return {
    mode: auth.mode,
    email: chatgpt?.idToken.email ?? null,
    plan: planTypeOf(auth) ?? null,
    accountId: chatgpt?.accountId ?? null,
    lastRefresh: auth.record?.last_refresh ?? null,
    accessTokenExpiresAt: expiresAt === undefined ? null : new Date(expiresAt).toISOString(),
  };
}

/**
 * `codex-auth status [--json]`: the credentials in effect — the ones
 * `codex-auth token` would hand out, `CODEX_API_KEY` included — for people or
 * scripts. Every failure (config, storage) is part of the report, so this
 * command never throws.
 */
export async function run(options: { overrides: string[]; json: boolean }, deps: CliDeps): Promise<Outcome> {
  const report: StatusReport = {
    loggedIn: false,
    mode: null,
    source: null,
    email: null,
    plan: null,
    accountId: null,
    storage: null,
    storageLocation: null,
    lastRefresh: null,
    accessTokenExpiresAt: null,
    clockOffsetSeconds: null,
    refreshable: null,
    restriction: null,
    error: null,
  };
  try {
    const { config, storage } = await loadCommandConfig(options.overrides, deps);
    report.storage = storage.kind;
    report.storageLocation = storage.describe();
    // The credential `token` would use: CODEX_API_KEY wins over storage.
    const auth = await loadAuth(storage, { enableCodexApiKeyEnv: true, env: deps.env });
    if (auth) {
      Object.assign(report, describeAuth(auth));
      report.source = auth.source;
      const violation = loginRestrictionViolation(auth, config);
      report.restriction =
        violation === undefined
          ? null
          : auth.source === "storage"
            ? violation.message
            : envCredentialRefusal(auth.source, violation);
      report.refreshable = isRefreshable(auth) ?? null;
      const offset = clockOffsetMs(auth);
      report.clockOffsetSeconds = offset === undefined ? null : Math.round(offset / 1000);
      // Expired and impossible to refresh: nothing usable is stored.
      const expired =
        report.accessTokenExpiresAt !== null && Date.parse(report.accessTokenExpiresAt) <= deps.now();
      report.loggedIn = report.restriction === null && !(expired && report.refreshable === false);
    }
  } catch (err) {
    report.error = {
      code: err instanceof CodexAuthError ? err.code : "ERR_AUTH_FILE_IO",
      message: describeError(err),
    };
  }
  deps.io.out(options.json ? JSON.stringify(report) : formatHuman(report));
  if (report.error) return "reported";
  return report.loggedIn ? "ok" : "not-logged-in";
}

function formatHuman(r: StatusReport): string {
  if (r.error) return `Error: ${r.error.message}`;
  const lines = [`Logged in: ${r.loggedIn ? "yes" : "no"}`];
  const add = (label: string, value: string | null) => value !== null && lines.push(`${label}: ${value}`);
  add("Mode", r.mode);
  add("Source", r.source);
  add("Email", r.email);
  add("Plan", r.plan);
  add("Account", r.accountId);
  add("Storage", r.storage && `${r.storage} (${r.storageLocation})`);
  add("Last refresh", r.lastRefresh);
  add("Access token expires", r.accessTokenExpiresAt);
  if (r.refreshable === false)
    lines.push("Refreshable: no (no refresh token stored; sign in again with `codex-auth login`)");
  add("Restricted", r.restriction);
  if (r.clockOffsetSeconds !== null && Math.abs(r.clockOffsetSeconds) * 1000 > CLOCK_SKEW_WARN_MS)
    add(
      "Clock",
      `${r.clockOffsetSeconds > 0 ? "ahead of" : "behind"} the issuer's by about ${Math.abs(r.clockOffsetSeconds)} s`,
    );
  return lines.join("\n");
}
