import { afterEach, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { jwtPayload, refreshRequest } from "./helpers.js";

let issuer: DevIssuer | undefined;

afterEach(async () => {
  await issuer?.close();
  issuer = undefined;
});

describe("dev issuer: ChatGPT backend calls and helpers", () => {
  it("accounts/check lists the user's workspaces in the shape Codex 0.169 accepts", async () => {
    issuer = await startDevIssuer({
      users: [
        {
          email: "lead@example.com",
          workspaces: [
            { id: "org_a", name: "A" },
            { id: "org_b", name: "B", plan: "team" },
          ],
        },
      ],
    });
    const tokens = await issuer.issueTokens({ workspaceId: "org_b" });
    // As reached through chatgpt_base_url = ".../backend-api/" (trailing slash).
    const res = await fetch(`${issuer.url}/backend-api//wham/accounts/check`, {
      headers: { authorization: `Bearer ${tokens.access_token}`, "chatgpt-account-id": "org_b" },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      accounts: [
        {
          id: "org_a",
          name: "A",
          profile_picture_url: null,
          structure: "personal",
          plan_type: "pro",
          workspace_backend_origin: "https://chatgpt.com",
          account_routing_override: "NO_CONSTRAINT",
        },
        {
          id: "org_b",
          name: "B",
          profile_picture_url: null,
          structure: "workspace",
          plan_type: "team",
          workspace_backend_origin: "https://chatgpt.com",
          account_routing_override: "NO_CONSTRAINT",
        },
      ],
      account_ordering: ["org_a", "org_b"],
      default_account_id: "org_b",
    });
  });

  it("accounts/check refuses a missing or forged token with 401", async () => {
    issuer = await startDevIssuer();
    const none = await fetch(`${issuer.url}/backend-api/wham/accounts/check`);
    expect(none.status).toBe(401);
    const tokens = await issuer.issueTokens();
    const forged = await fetch(`${issuer.url}/backend-api/wham/accounts/check`, {
      headers: { authorization: `Bearer ${tokens.id_token}` }, // an ID token is not an access token
    });
    expect(forged.status).toBe(401);
    expect(issuer.requests.at(-1)).toMatchObject({ status: 401, outcome: "unauthorized_invalid" });
  });

  it("issueTokens signs a user in without a browser; the tokens refresh like any others", async () => {
    issuer = await startDevIssuer({ accessTtlSeconds: 90 });
    const tokens = await issuer.issueTokens();
    const access = jwtPayload(tokens.access_token);
    expect((access.exp as number) - (access.iat as number)).toBe(90);
    expect(jwtPayload(tokens.id_token).email).toBe("dev@example.com");
    expect((await refreshRequest(issuer.url, tokens.refresh_token)).status).toBe(200);
    await expect(issuer.issueTokens({ email: "ghost@example.com" })).rejects.toThrow("no user");
    await expect(issuer.issueTokens({ workspaceId: "org_nope" })).rejects.toThrow("not in workspace");
  });

  it("unknown paths answer 404 and are logged; the landing page and deviceauth callback are pages", async () => {
    issuer = await startDevIssuer();
    expect((await fetch(`${issuer.url}/nope`)).status).toBe(404);
    expect(issuer.requests.at(-1)).toMatchObject({ path: "/nope", status: 404, outcome: "not_found" });
    expect(await (await fetch(`${issuer.url}/`)).text()).toContain("Development issuer");
    expect((await fetch(`${issuer.url}/deviceauth/callback`)).status).toBe(200);
  });

  it("malformed bodies get a 4xx JSON error, never a crash", async () => {
    issuer = await startDevIssuer();
    const bad = await fetch(`${issuer.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("invalid_request");
    const wrongType = await fetch(`${issuer.url}/api/accounts/deviceauth/usercode`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "hello",
    });
    expect(wrongType.status).toBe(415);
  });

  it("refuses bad options", async () => {
    await expect(startDevIssuer({ accessTtlSeconds: 0 })).rejects.toThrow(RangeError);
    await expect(startDevIssuer({ port: 70000 })).rejects.toThrow(RangeError);
  });
});
