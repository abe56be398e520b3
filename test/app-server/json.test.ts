/**
 * The app server's JSON reader and serde emulation: agrees with JSON.parse
 * on every JSON text, keeps what JSON.parse loses (integer vs float, big
 * integers, repeated keys), refuses what serde_json refuses, never throws
 * anything but its own error, and is not recursive without bound.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { JsonSyntaxError, parseJson, toPlain, valueEntries } from "../../src/app-server/json.js";
import { classify, idJson, readMessage } from "../../src/app-server/jsonrpc.js";
import { readRequest } from "../../src/app-server/methods.js";
import { rustDebugString, unexpected } from "../../src/app-server/serde.js";
import { RpcRequestError } from "../../src/errors.js";

describe("parseJson", () => {
  it("json-agrees-with-JSON.parse on any JSON text", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        expect(toPlain(parseJson(text))).toEqual(JSON.parse(text));
      }),
      { numRuns: 500 },
    );
  });

  it("json-rejects-what-JSON.parse-rejects, with its own error only", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        let ours: unknown;
        let oursFailed = false;
        try {
          ours = toPlain(parseJson(text));
        } catch (err) {
          expect(err).toBeInstanceOf(JsonSyntaxError);
          oursFailed = true;
        }
        let theirsFailed = false;
        try {
          JSON.parse(text);
        } catch {
          theirsFailed = true;
        }
        // serde_json is stricter than JSON.parse only about lone surrogates.
        if (!theirsFailed && oursFailed) expect(/[\uD800-\uDFFF]|\\u[dD][89a-fA-F]/.test(text)).toBe(true);
        if (theirsFailed) expect(oursFailed).toBe(true);
        else if (!oursFailed) expect(ours).toEqual(JSON.parse(text));
      }),
      { numRuns: 2000 },
    );
  });

  it("keeps integer vs float, exact big integers and every repeated key", () => {
    expect(parseJson("0")).toEqual({ kind: "int", value: 0n });
    expect(parseJson("0.0")).toEqual({ kind: "float", value: 0 });
    expect(parseJson("-0")).toEqual({ kind: "int", value: 0n });
    expect(parseJson("1e3")).toEqual({ kind: "float", value: 1000 });
    expect(parseJson("9223372036854775807")).toEqual({ kind: "int", value: 9223372036854775807n });
    const node = parseJson('{"a":1,"b":2,"a":3}');
    if (node.kind !== "object") throw new Error("object expected");
    expect(node.entries.map(([k]) => k)).toEqual(["a", "b", "a"]);
    expect(valueEntries(node).map(([k, v]) => [k, toPlain(v)])).toEqual([
      ["a", 3],
      ["b", 2],
    ]);
  });

  it("refuses like serde_json, with its words and position", () => {
    const error = (text: string) => {
      try {
        parseJson(text);
      } catch (err) {
        return (err as Error).message;
      }
      return "parsed";
    };
    expect(error("{not json")).toBe("key must be a string at line 1 column 2");
    expect(error("   ")).toBe("EOF while parsing a value at line 1 column 3");
    expect(error('"\\ud800"')).toBe("unexpected end of hex escape at line 1 column 8");
    expect(error('"\\udc00"')).toMatch(/^lone leading surrogate in hex escape at line 1 column \d+$/);
    expect(error('{"a":1,}')).toBe("trailing comma at line 1 column 8");
    expect(error("[1] x")).toBe("trailing characters at line 1 column 5");
    expect(error(`${"[".repeat(200)}${"]".repeat(200)}`)).toMatch(/^recursion limit exceeded/);
    expect(error("[".repeat(1_000_000))).toMatch(/^recursion limit exceeded/);
  });
});

describe("JSON-RPC framing", () => {
  it("reads a message as serde's untagged enum does", () => {
    expect(readMessage('{"id":1,"method":"m"}')).toMatchObject({ kind: "request", method: "m" });
    expect(readMessage('{"id":1.5,"method":"m"}')).toMatchObject({ kind: "notification", method: "m" });
    expect(readMessage('{"id":1,"id":2,"method":"m"}')).toMatchObject({ kind: "notification" });
    expect(readMessage('{"id":1,"method":"m","trace":5}')).toMatchObject({ kind: "notification" });
    expect(readMessage('{"id":1,"result":null}')).toMatchObject({ kind: "response" });
    expect(readMessage('{"id":1,"error":{"code":1,"message":"x"}}')).toMatchObject({ kind: "error" });
    expect(readMessage('{"id":1}')).toMatchObject({ kind: "invalid" });
    expect(readMessage("[]")).toMatchObject({ kind: "invalid" });
    const big = classify(parseJson('{"id":-9223372036854775808,"method":"m"}'));
    expect(big.kind === "request" && idJson(big.id)).toBe("-9223372036854775808");
  });
});

describe("serde messages", () => {
  const refusal = (method: string, params: string | undefined) => {
    try {
      readRequest(method, params === undefined ? undefined : parseJson(params));
    } catch (err) {
      expect(err).toBeInstanceOf(RpcRequestError);
      return (err as Error).message;
    }
    return "accepted";
  };

  it("reads parameters as Codex's types do", () => {
    expect(refusal("account/read", undefined)).toBe("Invalid request: missing field `params`");
    expect(refusal("account/read", "[]")).toBe("accepted");
    expect(refusal("getAuthStatus", "[]")).toBe(
      "Invalid request: invalid length 0, expected struct GetAuthStatusParams with 2 elements",
    );
    expect(refusal("account/login/start", '{"type":7}')).toBe(
      "Invalid request: invalid value: integer `7`, expected variant index 0 <= i < 6",
    );
    expect(refusal("account/login/start", '["apiKey","sk-x"]')).toBe("accepted");
    expect(refusal("account/logout", "{}")).toBe("accepted");
    expect(refusal("account/logout", '{"a":1}')).toBe("Invalid request: invalid type: map, expected unit");
    expect(refusal("thread/start", "5")).toBe("accepted");
    expect(refusal("no/such", "{}")).toMatch(
      /^Invalid request: unknown variant `no\/such`, expected one of `initialize`, /,
    );
  });

  it("names unexpected values as serde does", () => {
    expect(unexpected(parseJson("1.5"))).toBe("floating point `1.5`");
    expect(unexpected(parseJson("1e300"))).toBe("floating point `1e+300`");
    expect(unexpected(parseJson("-2"))).toBe("integer `-2`");
    expect(rustDebugString('a"b\\c\nd\u0001é😀\t\u200b')).toBe('"a\\"b\\\\c\\nd\\u{1}é😀\\t\\u{200b}"');
  });
});
