import {
  ApiKeyMissingError,
  AuthFileMalformedError,
  CodexAuthError,
  CredentialMissingError,
  describeError,
} from "../errors.js";
import { checkPersonalAccessToken } from "../manager/access-token.js";
import { loadAuth } from "../manager/operations.js";
import { envCredentialRefusal, loginRestrictionViolation } from "../manager/restrictions.js";
import {
  agentRecordOf,
  type CodexAuth,
  isRefreshable,
  planTypeOf,
  workspaceIdOf,
} from "../record/codex-auth.js";
import { CLOCK_SKEW_WARN_MS, clockOffsetMs } from "../record/staleness.js";
import { type CliDeps, loadCommandConfig, type Outcome } from "./context.js";

/** The machine-readable status `codex-auth status --json` prints. Never contains a secret. */
export interface StatusReport {
  loggedIn: boolean;
  /**
   * The auth mode in effect (Codex's names: `apikey`, `chatgpt`,
   * `chatgptAuthTokens`, `personalAccessToken`, `agentIdentity`,
   * `bedrockApiKey`, `bedrockAccessKeys`); `unknown` for a stored
   * `auth_mode` this version does not know (see `error`); null when none.
   */
  mode: string | null;
  /** Where the credential in effect comes from: `storage`, `env:CODEX_API_KEY` or `env:CODEX_ACCESS_TOKEN`. */
  source: string | null;
  email: string | null;
  plan: string | null;
  /** The ChatGPT workspace (`chatgpt_account_id`) the credentials act for. */
  accountId: string | null;
  /** The ChatGPT user (`chatgpt_user_id`). */
  userId: string | null;
  /** AWS region of Amazon Bedrock credentials. */
  region: string | null;
  /** With `--workspace`: the ChatGPT workspace's name (Codex's `account/read` `workspaceName`). */
  workspaceName?: string | null;
  /** With `--workspace`: where the workspace's requests go (Codex's `workspaceRouting`). */
  workspaceRouting?: {
    chatgptAccountId: string;
    backendOrigin: string;
    accountRoutingOverride: string;
  } | null;
  /** With `--workspace`: why the backend could not describe the workspace, else null. */
  workspaceError?: string | null;
  /** `cli_auth_credentials_store` in effect: `file`, `keyring`, `auto` or `ephemeral`. */
  storage: string | null;
  /**
   * True when `keyring` / `auto` keep the record in Codex's encrypted store
   * (`[features] secret_auth_storage`: `CODEX_HOME/secrets/codex_auth.age`).
   */
  storageEncrypted: boolean | null;
  storageLocation: string | null;
  lastRefresh: string | null;
  /** ISO 8601. */
  accessTokenExpiresAt: string | null;
  /**
   * How far this machine's clock was off the issuer's when the tokens
   * arrived, in seconds (positive: ahead); null when unknown.
   */
  clockOffsetSeconds: number | null;
  /** Whether codex-auth can refresh the tokens (false: a ChatGPT record without a refresh token); null for other modes. */
  refreshable: boolean | null;
  /** Why credentials that exist are not usable (login restrictions), else null. */
  restriction: string | null;
  error: { code: string; message: string } | null;
}

type Described = Pick<
  StatusReport,
  "mode" | "email" | "plan" | "accountId" | "userId" | "region" | "lastRefresh" | "accessTokenExpiresAt"
>;

function describeAuth(auth: CodexAuth): Described {
  const out: Described = {
    mode: auth.mode,
    email: null,
    plan: planTypeOf(auth) ?? null,
    accountId: workspaceIdOf(auth) ?? null,
    userId: null,
    region: null,
    lastRefresh: auth.record?.last_refresh ?? null,
    accessTokenExpiresAt: null,
  };
  switch (auth.mode) {
    case "chatgpt":
    case "chatgptAuthTokens":
      if (auth.tokens) {
        out.email = auth.idToken.email ?? null;
        out.userId = auth.idToken.chatgptUserId ?? null;
        const expiresAt = auth.accessTokenExpiresAtMs;
        out.accessTokenExpiresAt = expiresAt === undefined ? null : new Date(expiresAt).toISOString();
      }
      break;
    case "personalAccessToken":
      out.email = auth.metadata?.email ?? null;
      out.userId = auth.metadata?.chatgptUserId ?? null;
      break;
    case "agentIdentity": {
      const record = agentRecordOf(auth);
      out.email = record?.email || null;
      out.userId = record?.chatgpt_user_id ?? null;
      break;
    }
    case "bedrockApiKey":
      out.region = auth.region;
      break;
    default:
      break;
  }
  return out;
}

/**
 * `codex-auth status [--json]`: the credentials in effect — the ones
 * `codex-auth token` would hand out, `CODEX_API_KEY` included — for people or
 * scripts. Every failure (config, storage) is part of the report, so this
 * command never throws.
 */
export async function run(
  options: { overrides: string[]; json: boolean; workspace?: boolean },
  deps: CliDeps,
): Promise<Outcome> {
  const report: StatusReport = {
    loggedIn: false,
    mode: null,
    source: null,
    email: null,
    plan: null,
    accountId: null,
    userId: null,
    region: null,
    storage: null,
    storageEncrypted: null,
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
    report.storageEncrypted =
      (storage.kind === "keyring" || storage.kind === "auto") && config.secretAuthStorage;
    report.storageLocation = storage.describe();
    // The credential `token` would use: CODEX_API_KEY, then CODEX_ACCESS_TOKEN, then storage.
    const auth = await loadAuth(storage, {
      enableCodexApiKeyEnv: true,
      env: deps.env,
      forcedLoginMethod: config.forcedLoginMethod,
    });
    if (auth) {
      report.source = auth.source;
      Object.assign(report, describeAuth(auth));
      // A personal access token is usable only once OpenAI confirms it (as Codex checks on every load).
      const checked =
        auth.mode === "personalAccessToken"
          ? await checkPersonalAccessToken(auth, { env: deps.env, fetch: deps.fetch })
          : auth;
      Object.assign(report, describeAuth(checked));
      const violation = loginRestrictionViolation(checked, config);
      report.restriction =
        violation === undefined
          ? null
          : checked.source === "storage"
            ? violation.message
            : envCredentialRefusal(checked.source, violation);
      report.refreshable = isRefreshable(checked) ?? null;
      const offset = clockOffsetMs(checked);
      report.clockOffsetSeconds = offset === undefined ? null : Math.round(offset / 1000);
      // Expired and impossible to refresh: nothing usable is stored.
      const expired =
        report.accessTokenExpiresAt !== null && Date.parse(report.accessTokenExpiresAt) <= deps.now();
      report.loggedIn = report.restriction === null && !(expired && report.refreshable === false);
      if (options.workspace) await describeWorkspace(report, checked, config.chatgptBaseUrl, deps);
    }
  } catch (err) {
    report.error = {
      code: err instanceof CodexAuthError ? err.code : "ERR_AUTH_FILE_IO",
      message: describeError(err),
    };
    // The mode is known even when its credential is unusable; a mode this version does not know is "unknown".
    if (err instanceof AuthFileMalformedError && err.unknownAuthMode !== undefined) report.mode = "unknown";
    else if (err instanceof CredentialMissingError) report.mode = err.mode;
    else if (err instanceof ApiKeyMissingError) report.mode = "apikey";
  }
  // The JSON report always goes to stdout (the error is a field of it); the human one's error goes to stderr.
  if (options.json) deps.io.out(JSON.stringify(report));
  else if (report.error) deps.io.err(`Error: ${report.error.message}`);
  else deps.io.out(formatHuman(report));
  if (report.error) return "reported";
  return report.loggedIn ? "ok" : "not-logged-in";
}

/** `--workspace`: accounts/check for ChatGPT credentials with an account id (null fields otherwise, as Codex). */
async function describeWorkspace(
  report: StatusReport,
  auth: CodexAuth,
  chatgptBaseUrl: string | undefined,
  deps: CliDeps,
): Promise<void> {
  report.workspaceName = null;
  report.workspaceRouting = null;
  report.workspaceError = null;
  const chatgpt =
    (auth.mode === "chatgpt" || auth.mode === "chatgptAuthTokens") && auth.tokens ? auth : undefined;
  if (!chatgpt?.accountId) return;
  const { requestAccountDetails } = await import("../oauth/accounts-check.js");
  try {
    const details = await requestAccountDetails(chatgpt.tokens.access_token, chatgpt.accountId, {
      env: deps.env,
      fetch: deps.fetch,
      ...(chatgptBaseUrl ? { chatgptBaseUrl } : {}),
    });
    report.workspaceName = details.workspaceName;
    report.workspaceRouting = details.workspaceRouting;
  } catch (err) {
    report.workspaceError = describeError(err);
  }
}

function formatHuman(r: StatusReport): string {
  const lines = [`Logged in: ${r.loggedIn ? "yes" : "no"}`];
  const add = (label: string, value: string | null) => value !== null && lines.push(`${label}: ${value}`);
  add("Mode", r.mode);
  add("Source", r.source);
  add("Email", r.email);
  add("Plan", r.plan);
  add("Account", r.accountId);
  add("User", r.userId);
  add("Region", r.region);
  add("Workspace", r.workspaceName ?? null);
  if (r.workspaceRouting) {
    lines.push(`Routing: ${r.workspaceRouting.backendOrigin} (${r.workspaceRouting.accountRoutingOverride})`);
  }
  add("Workspace error", r.workspaceError ?? null);
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
