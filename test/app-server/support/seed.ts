/** Credentials to start a differential scenario from, written as Codex 0.169 writes them. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DevIssuer } from "../../../src/dev-issuer/index.js";
import { Browser } from "../../dev-issuer/helpers.js";

function write(home: string, record: unknown): void {
  writeFileSync(join(home, "auth.json"), JSON.stringify(record, null, 2), { mode: 0o600 });
}

/** An API-key login. */
export function seedApiKey(key: string) {
  return (home: string) => write(home, { auth_mode: "apikey", OPENAI_API_KEY: key });
}

/** Raw auth.json bytes (malformed files). */
export function seedRaw(text: string) {
  return (home: string) => writeFileSync(join(home, "auth.json"), text, { mode: 0o600 });
}

/**
 * A ChatGPT login with fresh tokens from the issuer (each server gets its
 * own, so one server's refresh never spends the other's token).
 */
export function seedChatgpt(o: { accountId?: boolean; workspaceId?: string; email?: string } = {}) {
  return async (home: string, issuer: DevIssuer) => {
    const tokens = await issuer.issueTokens({
      ...(o.workspaceId ? { workspaceId: o.workspaceId } : {}),
      ...(o.email ? { email: o.email } : {}),
    });
    const claims = JSON.parse(Buffer.from(tokens.id_token.split(".")[1]!, "base64url").toString()) as Record<
      string,
      Record<string, string>
    >;
    write(home, {
      auth_mode: "chatgpt",
      OPENAI_API_KEY: null,
      tokens: {
        id_token: tokens.id_token,
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        oauth_provenance: { issuer: issuer.url, client_id: issuer.clientId },
        ...(o.accountId === false
          ? {}
          : { account_id: claims["https://api.openai.com/auth"]!.chatgpt_account_id ?? null }),
      },
      last_refresh: new Date().toISOString(),
    });
  };
}

/**
 * Plays the browser for a sign-in with an auto-approving issuer: follows the
 * authorize URL to the callback, loads it, then loads the page it redirects
 * to (the success page). Returns the HTTP statuses seen.
 */
export async function browseSignIn(
  authUrl: string,
  issuer: DevIssuer,
): Promise<{ callback: number; success: number | undefined }> {
  const url = new URL(authUrl);
  const redirectUri = url.searchParams.get("redirect_uri")!;
  const browser = new Browser();
  const landed = await browser.follow(await browser.request(url.href), issuer.url, redirectUri);
  if (!(landed instanceof URL)) throw new Error(`sign-in stopped at HTTP ${landed.status}`);
  const callback = await fetch(landed, { redirect: "manual" });
  await callback.arrayBuffer();
  const location = callback.headers.get("location");
  if (!location) return { callback: callback.status, success: undefined };
  const success = await fetch(new URL(location, landed));
  await success.arrayBuffer();
  return { callback: callback.status, success: success.status };
}
