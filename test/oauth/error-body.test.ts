/** The one reader of OpenAI's error bodies: the shapes it understands, and what it never does. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { describeErrorBody, ERROR_FIELD_MAX, parseErrorBody } from "../../src/oauth/http.js";

describe("error bodies OpenAI's endpoints send", () => {
  it.each([
    [
      "nested error object (refresh)",
      '{"error":{"message":"Your refresh token has already been used","type":"invalid_request_error","code":"refresh_token_reused"}}',
      { code: "refresh_token_reused", message: "Your refresh token has already been used" },
    ],
    [
      "OAuth style (token exchange)",
      '{"error":"invalid_grant","error_description":"grant request is invalid"}',
      { code: "invalid_grant", message: "grant request is invalid" },
    ],
    ["OAuth style without a description", '{"error":"slow_down"}', { code: "slow_down" }],
    [
      "top-level code and message",
      '{"code":"deviceauth_pending","message":"not yet"}',
      { code: "deviceauth_pending", message: "not yet" },
    ],
    ["error object without a code", '{"error":{"message":"boom"}}', { message: "boom" }],
    ["plain text", "Internal Server Error", {}],
    ["HTML", "<html><body>502 Bad Gateway</body></html>", {}],
    ["a JSON array", '["error"]', {}],
    ["a JSON string", '"error"', {}],
    ["JSON without the fields", '{"detail":"x"}', {}],
    ["wrong types", '{"error":{"code":5,"message":["x"]},"message":null}', {}],
    ["empty", "", {}],
  ])("%s", (_name, body, want) => {
    expect(parseErrorBody(body)).toEqual(want);
  });

  it("control characters never reach a message, and fields are cut at the limit", () => {
    const parsed = parseErrorBody(
      JSON.stringify({ error: "a\u001b[31mred\u0007", error_description: "x".repeat(500) }),
    );
    expect(parsed.code).toBe("a [31mred");
    expect(parsed.message).toHaveLength(ERROR_FIELD_MAX);
  });

  it("describeErrorBody: message, else code, else a summary that never repeats the body", () => {
    expect(describeErrorBody('{"error":"invalid_grant","error_description":"bad"}')).toBe("bad");
    expect(describeErrorBody('{"error":"invalid_grant"}')).toBe("invalid_grant");
    expect(describeErrorBody("secret-looking text rt_abc")).toBe("unrecognized error body");
    expect(describeErrorBody("  ")).toBe("empty body");
    expect(describeErrorBody("", "unknown error")).toBe("unknown error");
  });
});

describe("error-body-parser-properties", () => {
  const isJsonObject = (s: string) => {
    try {
      const v: unknown = JSON.parse(s);
      return typeof v === "object" && v !== null && !Array.isArray(v);
    } catch {
      return false;
    }
  };
  const fields = (r: { code?: string; message?: string }) =>
    [r.code, r.message].filter((v) => v !== undefined);

  it("never throws, and never returns a field longer than the limit or holding a control character", () => {
    const bodies = fc.oneof(
      fc.string({ unit: "binary", maxLength: 600 }),
      fc.json(),
      fc
        .record(
          {
            error: fc.oneof(
              fc.string({ unit: "binary", maxLength: 400 }),
              fc.record({ code: fc.anything(), message: fc.anything() }, { requiredKeys: [] }),
              fc.anything(),
            ),
            error_description: fc.anything(),
            code: fc.anything(),
            message: fc.oneof(fc.string({ unit: "binary", maxLength: 400 }), fc.anything()),
          },
          { requiredKeys: [] },
        )
        .map((o) => JSON.stringify(o)),
    );
    fc.assert(
      fc.property(bodies, (body) => {
        const parsed = parseErrorBody(body);
        for (const value of fields(parsed)) {
          expect(value.length).toBeGreaterThan(0);
          expect(value.length).toBeLessThanOrEqual(ERROR_FIELD_MAX);
          // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence
          expect(value).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
        }
        expect(describeErrorBody(body).length).toBeLessThanOrEqual(ERROR_FIELD_MAX);
      }),
      { numRuns: 2000 },
    );
  });

  it("never echoes a body it does not recognize (not a JSON object, or one without the fields)", () => {
    const unrecognized = fc.oneof(
      fc.string({ unit: "binary", maxLength: 600 }).filter((s) => !isJsonObject(s)),
      fc
        .dictionary(
          fc.string().filter((k) => !["error", "error_description", "code", "message"].includes(k)),
          fc.jsonValue(),
        )
        .map((o) => JSON.stringify(o)),
    );
    fc.assert(
      fc.property(unrecognized, (body) => {
        expect(parseErrorBody(body)).toEqual({});
        expect(["unrecognized error body", "empty body"]).toContain(describeErrorBody(body));
      }),
      { numRuns: 2000 },
    );
  });
});
