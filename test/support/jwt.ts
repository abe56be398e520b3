/** Builds fake unsigned JWTs (alg none) like Codex's own tests do. */
export function fakeJwt(payload: Record<string, unknown>): string {
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  return `${enc({ alg: "none", typ: "JWT" })}.${enc(payload)}.sig`;
}

export interface FakeChatgptOptions {
  email?: string;
  plan?: string;
  accountId?: string;
  userId?: string;
  /** Access-token expiry, seconds since the epoch (the token is issued, and `last_refresh` set, an hour before). */
  exp?: number;
  refreshToken?: string;
  lastRefresh?: string;
}

/** A ChatGPT-shaped auth.json object (legacy shape without auth_mode, as Codex's tests write it). */
export function fakeChatgptRecord(o: FakeChatgptOptions = {}): Record<string, unknown> {
  const auth = {
    chatgpt_plan_type: o.plan ?? "pro",
    chatgpt_account_id: o.accountId ?? "org_x",
    chatgpt_user_id: o.userId ?? "user-probe",
    user_id: o.userId ?? "user-probe",
  };
  const now = Math.floor(Date.now() / 1000);
  // As a real record is: the access token lives an hour and arrived when it was issued.
  const accessExp = o.exp ?? now + 3600;
  const accessIat = accessExp - 3600;
  return {
    OPENAI_API_KEY: null,
    tokens: {
      id_token: fakeJwt({
        iss: "https://auth.openai.com",
        aud: ["app_EMoamEEZ73f0CkXaXp7hrann"],
        sub: "auth0|probe",
        iat: now,
        exp: now + 3600,
        email: o.email ?? "probe@example.com",
        email_verified: true,
        "https://api.openai.com/auth": auth,
      }),
      access_token: fakeJwt({
        iss: "https://auth.openai.com",
        aud: ["https://api.openai.com/v1"],
        iat: accessIat,
        exp: accessExp,
        "https://api.openai.com/auth": { chatgpt_account_id: auth.chatgpt_account_id },
      }),
      refresh_token: o.refreshToken ?? "rt_fake_original",
      account_id: auth.chatgpt_account_id,
    },
    last_refresh: o.lastRefresh ?? new Date(Math.min(accessIat, now) * 1000).toISOString(),
  };
}
