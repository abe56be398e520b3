import { RefreshTokenError } from "../errors.js";
import { ACCOUNT_CHANGED_MESSAGE } from "../oauth/refresh.js";
import { accountIdOf, isManagedChatgpt } from "../record/codex-auth.js";
import type { AuthManager } from "./auth-manager.js";

type Step = "reload" | "refresh" | "host-refresh" | "done";

/**
 * What to do after an API call got HTTP 401, one step per retry (ChatGPT
 * credentials only; `hasNext()` is false for API keys):
 * 1. reload from storage, but only if it still holds the account this
 *    process started with; then
 * 2. refresh the token.
 * When the reload is skipped because no account id is known, refresh at once
 * and finish. When it is skipped because storage now holds another account,
 * fail permanently rather than write one account's tokens into the other's
 * record.
 *
 * Host-supplied tokens (`chatgptAuthTokens`) have one step, as in Codex: ask
 * the host for new ones (see `AuthManager.useHostTokens`); none when the
 * host gave no refresher.
 *
 * @example
 * const recovery = manager.unauthorizedRecovery();
 * let res = await call(bearerToken((await manager.auth())!));
 * while (res.status === 401 && recovery.hasNext()) {
 *   await recovery.next();
 *   res = await call(bearerToken(manager.authCached()!));
 * }
 */
export class UnauthorizedRecovery {
  private step: Step = "reload";
  private readonly expectedAccountId: string | undefined;

  constructor(private readonly manager: AuthManager) {
    const cached = manager.authCached();
    this.expectedAccountId = accountIdOf(cached);
    if (cached?.mode === "chatgptAuthTokens") this.step = "host-refresh";
  }

  /** True while a step remains and the credentials are ChatGPT tokens (managed, or host-supplied with a refresher). */
  hasNext(): boolean {
    if (this.step === "done") return false;
    const cached = this.manager.authCached();
    if (this.step === "host-refresh")
      return cached?.mode === "chatgptAuthTokens" && this.manager.hasHostTokensRefresher();
    return isManagedChatgpt(cached);
  }

  /**
   * Runs the next step.
   *
   * @throws {RefreshTokenError} from the refresh (for host-supplied tokens: what the host's refresher
   * threw, or transient `ERR_REFRESH_TRANSIENT`); permanent `ERR_ACCOUNT_CHANGED` when storage holds
   * another account; permanent `No more recovery steps available.` past the end.
   */
  async next(): Promise<void> {
    if (!this.hasNext()) {
      throw new RefreshTokenError("ERR_REFRESH_TOKEN_FAILED", "No more recovery steps available.", {
        permanent: true,
        reason: "other",
      });
    }
    if (this.step === "refresh" || this.step === "host-refresh") {
      this.step = "done";
      await this.manager.refreshToken();
      return;
    }
    const outcome = await this.manager.reloadIfAccountIdMatches(this.expectedAccountId);
    switch (outcome) {
      case "reloaded":
        this.step = "refresh";
        return;
      case "skipped-no-account":
        this.step = "done";
        await this.manager.refreshToken();
        return;
      case "skipped-other-account":
        this.step = "done";
        throw new RefreshTokenError("ERR_ACCOUNT_CHANGED", ACCOUNT_CHANGED_MESSAGE, {
          permanent: true,
          reason: "other",
        });
    }
  }
}
