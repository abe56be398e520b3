import { CodexAuthError, describeError } from "../errors.js";
import type { CodexAuth } from "../manager/codex-auth.js";
import { loadAuth } from "../manager/operations.js";
import { loginRestrictionViolation } from "../manager/restrictions.js";
import { jwtExpiry } from "../record/jwt.js";
import { type CommandContext, loadCommandConfig } from "./context.js";

/** The machine-readable status `codex-auth status --json` prints. Never contains a secret. */
export interface StatusReport {
  loggedIn: boolean;
  mode: string | null;
  email: string | null;
  plan: string | null;
  accountId: string | null;
  storage: string | null;
  storageLocation: string | null;
  lastRefresh: string | null;
  accessTokenExpiresAt: string | null;
  /** Why credentials that exist are not usable (login restrictions), else null. */
  restriction: string | null;
  error: { code: string; message: string } | null;
}

function describeAuth(
  auth: CodexAuth,
): Pick<StatusReport, "mode" | "email" | "plan" | "accountId" | "lastRefresh" | "accessTokenExpiresAt"> {
  const access = auth.record?.tokens?.access_token;
  return {
    mode: auth.mode,
    email: auth.getAccountEmail() ?? null,
    plan: auth.accountPlanType() ?? null,
    accountId: auth.getAccountId() ?? null,
    lastRefresh: auth.record?.last_refresh ?? null,
    accessTokenExpiresAt: access ? (jwtExpiry(access)?.toISOString() ?? null) : null,
  };
}

/** `codex-auth status [--json]`: the credentials in effect, for people or scripts. Exit 0 when logged in. */
export async function runStatus(options: { json: boolean }, ctx: CommandContext): Promise<number> {
  const report: StatusReport = {
    loggedIn: false,
    mode: null,
    email: null,
    plan: null,
    accountId: null,
    storage: null,
    storageLocation: null,
    lastRefresh: null,
    accessTokenExpiresAt: null,
    restriction: null,
    error: null,
  };
  const print = (code: number) => {
    if (options.json) ctx.io.out(JSON.stringify(report));
    else ctx.io.out(formatHuman(report));
    return code;
  };
  const silentIo = {
    ...ctx.io,
    err: (m: string) => (report.error = { code: "ERR_CONFIG_INVALID", message: m }),
  };
  const loaded = await loadCommandConfig({ ...ctx, io: silentIo });
  if (typeof loaded === "number") return print(1);
  const { config, storage } = loaded;
  report.storage = storage.kind;
  report.storageLocation = storage.describe();
  try {
    const auth = await loadAuth(storage);
    if (auth) {
      Object.assign(report, describeAuth(auth));
      report.restriction = loginRestrictionViolation(auth, config)?.replace(/ Logging out\.$/, "") ?? null;
      report.loggedIn = report.restriction === null;
    }
  } catch (err) {
    report.error = {
      code: err instanceof CodexAuthError ? err.code : "ERR_AUTH_FILE_IO",
      message: describeError(err),
    };
    return print(1);
  }
  return print(report.loggedIn ? 0 : 1);
}

function formatHuman(r: StatusReport): string {
  if (r.error) return `Error: ${r.error.message}`;
  const lines = [`Logged in: ${r.loggedIn ? "yes" : "no"}`];
  const add = (label: string, value: string | null) => value !== null && lines.push(`${label}: ${value}`);
  add("Mode", r.mode);
  add("Email", r.email);
  add("Plan", r.plan);
  add("Account", r.accountId);
  add("Storage", r.storage && `${r.storage} (${r.storageLocation})`);
  add("Last refresh", r.lastRefresh);
  add("Access token expires", r.accessTokenExpiresAt);
  add("Restricted", r.restriction);
  return lines.join("\n");
}
