import { describe, expect, it } from "vitest";
import { JwtMalformedError } from "../../src/errors.js";
import { AUTH_CLAIMS_NAMESPACE, parseIdToken, typeName } from "../../src/record/claims.js";
import { fakeJwt } from "../support/jwt.js";

const PROFILE = "https://api.openai.com/profile";

describe("parseIdToken", () => {
  it("reads email, plan, user id and account id (the token Codex's probe used)", () => {
    const info = parseIdToken(
      fakeJwt({
        iss: "https://auth.openai.com",
        sub: "auth0|probe",
        email: "probe@example.com",
        email_verified: true,
        [AUTH_CLAIMS_NAMESPACE]: {
          chatgpt_plan_type: "pro",
          chatgpt_account_id: "org_x",
          chatgpt_user_id: "user-probe",
          user_id: "user-legacy",
        },
      }),
    );
    expect(info).toEqual({
      email: "probe@example.com",
      rawPlanType: "pro",
      planType: "pro",
      chatgptUserId: "user-probe",
      chatgptAccountId: "org_x",
    });
  });

  it("falls back to user_id when chatgpt_user_id is absent or null", () => {
    expect(parseIdToken(fakeJwt({ [AUTH_CLAIMS_NAMESPACE]: { user_id: "user-1" } })).chatgptUserId).toBe(
      "user-1",
    );
    expect(
      parseIdToken(fakeJwt({ [AUTH_CLAIMS_NAMESPACE]: { chatgpt_user_id: null, user_id: "user-2" } }))
        .chatgptUserId,
    ).toBe("user-2");
  });

  it("falls back to the profile namespace for email", () => {
    expect(parseIdToken(fakeJwt({ [PROFILE]: { email: "p@example.com" } })).email).toBe("p@example.com");
    expect(
      parseIdToken(fakeJwt({ email: "top@example.com", [PROFILE]: { email: "p@example.com" } })).email,
    ).toBe("top@example.com");
  });

  it("maps the plan (hc → enterprise, education → edu, other case or value → unknown) and keeps the raw claim", () => {
    const plan = (raw: string) =>
      parseIdToken(fakeJwt({ [AUTH_CLAIMS_NAMESPACE]: { chatgpt_plan_type: raw } }));
    expect(plan("hc")).toMatchObject({ rawPlanType: "hc", planType: "enterprise" });
    expect(plan("education")).toMatchObject({ rawPlanType: "education", planType: "edu" });
    expect(plan("team")).toMatchObject({ rawPlanType: "team", planType: "team" });
    expect(plan("Team")).toMatchObject({ rawPlanType: "Team", planType: "unknown" }); // as Codex 0.169 reports it
    expect(plan("weird")).toMatchObject({ rawPlanType: "weird", planType: "unknown" });
  });

  it("missing claims are fine: everything undefined (absence is not 'unknown')", () => {
    for (const payload of [
      {},
      { [AUTH_CLAIMS_NAMESPACE]: null },
      { [AUTH_CLAIMS_NAMESPACE]: {} },
      { email: null },
    ]) {
      expect(parseIdToken(fakeJwt(payload))).toEqual({
        email: undefined,
        rawPlanType: undefined,
        planType: undefined,
        chatgptUserId: undefined,
        chatgptAccountId: undefined,
      });
    }
  });

  it("ignores claims it does not use, whatever their type", () => {
    expect(() =>
      parseIdToken(
        fakeJwt({ exp: "soon", aud: 5, [AUTH_CLAIMS_NAMESPACE]: { other: [1], organizations: {} } }),
      ),
    ).not.toThrow();
  });

  // Claims are typed as in Codex 0.169 (each of these fails `codex login status`; see codex-differential.test.ts).
  it.each<[string, Record<string, unknown>, RegExp]>([
    ["email a number", { email: 5 }, /claim email must be a string, found a number/],
    [
      "plan a number",
      { [AUTH_CLAIMS_NAMESPACE]: { chatgpt_plan_type: 5 } },
      /chatgpt_plan_type must be a string/,
    ],
    [
      "user id a number",
      { [AUTH_CLAIMS_NAMESPACE]: { chatgpt_user_id: 5 } },
      /chatgpt_user_id must be a string/,
    ],
    ["user_id a number", { [AUTH_CLAIMS_NAMESPACE]: { user_id: 5 } }, /user_id must be a string/],
    ["account id a number", { [AUTH_CLAIMS_NAMESPACE]: { chatgpt_account_id: 5 } }, /chatgpt_account_id/],
    ["auth namespace a number", { [AUTH_CLAIMS_NAMESPACE]: 5 }, /must be an object, found a number/],
    ["profile a string", { [PROFILE]: "x" }, /must be an object, found a string/],
    ["profile email an object", { [PROFILE]: { email: {} } }, /email must be a string, found an object/],
  ])("%s → JwtMalformedError naming the claim", (_what, payload, problem) => {
    let caught: unknown;
    try {
      parseIdToken(fakeJwt(payload));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(JwtMalformedError);
    expect((caught as Error).message).toMatch(problem);
  });
});

describe("typeName", () => {
  it.each([
    [null, "null"],
    [[], "an array"],
    [{}, "an object"],
    ["s", "a string"],
    [1, "a number"],
    [true, "a boolean"],
  ])("%j → %s", (value, name) => {
    expect(typeName(value)).toBe(name);
  });
});
