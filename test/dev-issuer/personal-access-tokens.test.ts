/** The dev issuer's personal access tokens and `whoami`, as OpenAI's account API answers Codex. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevIssuer, parseDevUsers, startDevIssuer } from "../../src/dev-issuer/index.js";
import { ConfigError } from "../../src/errors.js";

let issuer: DevIssuer;
beforeAll(async () => {
  issuer = await startDevIssuer({
    users: [
      {
        email: "a@example.com",
        plan: "team",
        workspaces: [{ id: "org_a" }, { id: "org_b", plan: "enterprise" }],
        personalAccessTokens: ["at-listed-in-users-file"],
      },
      { email: "b@example.com" },
    ],
  });
});
afterAll(() => issuer?.close());

interface Json {
  email?: string;
  chatgpt_account_id?: string;
  error: { code: string };
}
const json = async (res: Response) => (await res.json()) as Json;
const whoami = (token?: string) =>
  fetch(`${issuer.url}/api/accounts/v1/user-auth-credential/whoami`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });

describe("whoami", () => {
  it("describes a minted token: user, workspace, plan", async () => {
    const token = issuer.issuePersonalAccessToken({ workspaceId: "org_b" });
    expect(token).toMatch(/^at-[A-Za-z0-9_-]{32}$/);
    const res = await whoami(token);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      email: "a@example.com",
      chatgpt_user_id: issuer.users[0]!.userId,
      chatgpt_account_id: "org_b",
      chatgpt_plan_type: "enterprise",
      chatgpt_account_is_fedramp: false,
    });
    expect(issuer.requests.at(-1)).toEqual({
      method: "GET",
      path: "/api/accounts/v1/user-auth-credential/whoami",
      status: 200,
      outcome: "ok",
    });
  });

  it("knows tokens listed in a users file (first workspace) and other users' tokens", async () => {
    expect((await json(await whoami("at-listed-in-users-file"))).chatgpt_account_id).toBe("org_a");
    const other = issuer.issuePersonalAccessToken({ email: "b@example.com" });
    expect((await json(await whoami(other))).email).toBe("b@example.com");
  });

  it("401 for a missing, unknown or revoked token; the log never holds a token", async () => {
    const token = issuer.issuePersonalAccessToken();
    expect(issuer.revokePersonalAccessToken(token)).toBe(true);
    expect(issuer.revokePersonalAccessToken(token)).toBe(false);
    for (const t of [undefined, "at-unknown", token]) {
      const res = await whoami(t);
      expect(res.status).toBe(401);
      expect((await json(res)).error.code).toBe("invalid_token");
    }
    expect(JSON.stringify(issuer.requests)).not.toContain("at-");
  });

  it("minting for an unknown user or workspace throws", () => {
    expect(() => issuer.issuePersonalAccessToken({ email: "nobody@example.com" })).toThrow(/no user/);
    expect(() => issuer.issuePersonalAccessToken({ workspaceId: "org_zzz" })).toThrow(/not in workspace/);
  });
});

describe("users file: personalAccessTokens", () => {
  it("accepts a list of at- strings and refuses anything else", () => {
    expect(
      parseDevUsers({ users: [{ email: "a@x.y", personalAccessTokens: ["at-1"] }] })[0]!.personalAccessTokens,
    ).toEqual(["at-1"]);
    for (const bad of ["at-1", ["sk-1"], [5], ["at- space"]]) {
      expect(() => parseDevUsers({ users: [{ email: "a@x.y", personalAccessTokens: bad }] })).toThrow(
        ConfigError,
      );
    }
  });
});
