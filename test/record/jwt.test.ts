import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { JwtMalformedError } from "../../src/errors.js";
import { decodeJwtPayload, jwtExpiry } from "../../src/record/jwt.js";
import { MORE_ID_TOKEN_CASES } from "../fixtures/codex-cases.js";
import { fakeJwt } from "../support/jwt.js";

const b64 = (text: string) => Buffer.from(text).toString("base64url");
const HEADER = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";

/**
 * Reference §2.9 (Codex 0.169, `tokens.id_token = X`): which id_tokens Codex
 * loads. `accept` is Codex's decision; the payload is what it decodes to.
 */
const CODEX_ID_TOKEN_CASES: Array<{ jwt: string; accept: boolean; payload?: unknown }> = [
  { jwt: `${HEADER}.e30.fakesig`, accept: true, payload: {} },
  { jwt: `${HEADER}.eyJlbWFpbCI6NX0.fakesig`, accept: true, payload: { email: 5 } }, // rejected later, by claim typing
  {
    jwt: `${HEADER}.eyJodHRwczovL2FwaS5vcGVuYWkuY29tL2F1dGgiOnsiY2hhdGdwdF9wbGFuX3R5cGUiOiJ3ZWlyZCJ9fQ.fakesig`,
    accept: true,
    payload: { "https://api.openai.com/auth": { chatgpt_plan_type: "weird" } },
  },
  { jwt: "a.e30.c", accept: true, payload: {} },
  { jwt: "a.e30.c.d", accept: true, payload: {} },
  { jwt: "a.e30", accept: false },
  { jwt: "e30.e30.", accept: false },
  { jwt: ".e30.c", accept: false },
  { jwt: "a..c", accept: false },
  { jwt: "a.e30=.c", accept: false },
  { jwt: "a.b.c", accept: false },
  { jwt: "a.bm90IGpzb24.c", accept: false },
  { jwt: "", accept: false },
];

describe("decodeJwtPayload", () => {
  it.each(CODEX_ID_TOKEN_CASES)("Codex reference case $jwt → accept=$accept", ({ jwt, accept, payload }) => {
    if (accept) {
      expect(decodeJwtPayload(jwt)).toEqual(payload);
    } else {
      expect(() => decodeJwtPayload(jwt)).toThrow(JwtMalformedError);
    }
  });

  it.each(MORE_ID_TOKEN_CASES)("$idToken → accept=$deserializes ($why)", ({ idToken, deserializes }) => {
    if (deserializes) expect(decodeJwtPayload(idToken)).toBeTypeOf("object");
    else expect(() => decodeJwtPayload(idToken)).toThrow(JwtMalformedError);
  });

  it("refuses a JSON array payload (Codex's serde accepts [] as an empty struct: a documented divergence)", () => {
    expect(() => decodeJwtPayload(`a.${b64("[]")}.c`)).toThrow(JwtMalformedError);
  });

  it("names what is wrong, with code ERR_JWT_MALFORMED, and never quotes the token", () => {
    const secretish = `${HEADER}.${b64('{"sub":"SECRET-CLAIM"')}.SECRET-SIGNATURE`;
    const cases: Array<[string, RegExp]> = [
      ["only.two", /three non-empty parts/],
      ["SECRET..SIGNATURE", /three non-empty parts/],
      ["SECRET.e30=.SIGNATURE", /base64url/],
      ["SECRET.e31.SIGNATURE", /canonical/],
      [secretish, /not JSON/],
      [`SECRET.${b64("[1]")}.SIGNATURE`, /not a JSON object/],
    ];
    for (const [jwt, problem] of cases) {
      const err = catchError(() => decodeJwtPayload(jwt));
      expect(err).toBeInstanceOf(JwtMalformedError);
      expect((err as JwtMalformedError).code).toBe("ERR_JWT_MALFORMED");
      expect((err as Error).message).toMatch(problem);
      expect((err as Error).message).not.toContain("SECRET");
    }
  });

  it("decodes the claims of a real-shaped token", () => {
    const jwt = fakeJwt({
      email: "a@b.c",
      exp: 123,
      "https://api.openai.com/auth": { chatgpt_plan_type: "pro" },
    });
    expect(decodeJwtPayload(jwt)).toEqual({
      email: "a@b.c",
      exp: 123,
      "https://api.openai.com/auth": { chatgpt_plan_type: "pro" },
    });
  });
});

describe("jwtExpiry", () => {
  it("reads a numeric exp as seconds since the epoch", () => {
    expect(jwtExpiry(fakeJwt({ exp: 1_800_000_000 }))).toEqual(new Date(1_800_000_000_000));
  });

  it.each([
    ["an opaque token", "opaque-access-token"],
    ["no exp", fakeJwt({})],
    ["a string exp", fakeJwt({ exp: "1800000000" })],
    ["a malformed JWT", "a..c"],
  ])("is undefined for %s (never throws)", (_what, token) => {
    expect(jwtExpiry(token)).toBeUndefined();
  });
});

describe("decodeJwtPayload never crashes (property)", () => {
  const outcome = (jwt: string) => {
    try {
      const value = decodeJwtPayload(jwt);
      return typeof value === "object" && value !== null && !Array.isArray(value);
    } catch (err) {
      return err instanceof JwtMalformedError;
    }
  };
  const b64Part = fc.string({
    unit: fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/."),
  });

  it("random strings give a payload object or JwtMalformedError", () => {
    fc.assert(fc.property(fc.string({ unit: "binary" }), outcome), { numRuns: 500 });
  });

  it("random dotted base64-ish strings give a payload object or JwtMalformedError", () => {
    fc.assert(
      fc.property(fc.array(b64Part, { minLength: 1, maxLength: 5 }), (parts) => outcome(parts.join("."))),
      { numRuns: 500 },
    );
  });

  it("random JSON payloads: objects decode to themselves, anything else is JwtMalformedError", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ minLength: 1 }), (value, sig) => {
        const jwt = `${HEADER}.${b64(JSON.stringify(value) ?? "null")}.${sig.replaceAll(".", "") || "s"}`;
        const isObject = typeof value === "object" && value !== null && !Array.isArray(value);
        if (isObject) expect(decodeJwtPayload(jwt)).toEqual(JSON.parse(JSON.stringify(value)));
        else expect(() => decodeJwtPayload(jwt)).toThrow(JwtMalformedError);
      }),
      { numRuns: 300 },
    );
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a throw");
}
