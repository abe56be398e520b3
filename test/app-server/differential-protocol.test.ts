/**
 * Differential: the handshake, framing and parameter errors of
 * `codex-auth app-server` against the real `codex app-server` 0.169 —
 * every answer compared (masked), nothing else about the servers assumed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { findCodexBinary } from "../support/env.js";
import { compared, differential, type Session } from "./support/differential.js";

const codex = findCodexBinary();
let issuer: DevIssuer;

beforeAll(async () => {
  issuer = await startDevIssuer({ autoApprove: true });
});
afterAll(async () => {
  await issuer?.close();
});

async function same(scenario: (s: Session) => Promise<void>): Promise<void> {
  const { codex: theirs, ours } = await differential({ codex: codex!, issuer }, scenario);
  expect(compared(ours)).toEqual(compared(theirs));
}

const CLIENT = { clientInfo: { name: "difftest", title: null, version: "0.0.1" } };

describe.skipIf(!codex)("differential against codex app-server 0.169: protocol", () => {
  it("handshake: requests before initialize, initialize errors, Already initialized, initialized optional", async () => {
    await same(async (s) => {
      await s.call("account/read", {});
      await s.call("account/read", undefined, { noParams: true });
      await s.call("no/such/method", {});
      await s.call("getAuthStatus", { includeToken: "x" });
      await s.call("account/logout", undefined, { noParams: true });
      await s.call("account/login/cancel", { loginId: "x" });
      s.raw(JSON.stringify({ method: "initialized" }));
      await s.call("initialize", {});
      await s.call("initialize", undefined, { noParams: true });
      await s.call("initialize", { clientInfo: { name: 5, version: "1" } });
      await s.call("initialize", { clientInfo: { name: "p" } });
      await s.call("initialize", {
        clientInfo: { name: "p", version: "1" },
        capabilities: { experimentalApi: "x" },
      });
      await s.call("initialize", { clientInfo: ["p", null, "1"], capabilities: [true] });
      await s.call("initialize", {
        clientInfo: { name: "p", version: "1", x: { big: 1 } },
        capabilities: {},
      });
      await s.call("initialize", CLIENT);
      await s.call("initialize", CLIENT);
      await s.call("initialize", {});
      s.raw(JSON.stringify({ jsonrpc: "2.0", method: "initialized" }));
      await s.call("account/read", {});
    });
  });

  it("framing: ids of every kind, ignored and malformed lines, client responses, jsonrpc field", async () => {
    await same(async (s) => {
      await s.initialize();
      await s.call("account/read", {}, { id: "string-id" });
      await s.call("account/read", {}, { id: "" });
      await s.call("account/read", {}, { id: -1 });
      await s.call("account/read", {}, { id: 0 });
      s.raw('{"id":9223372036854775807,"method":"account/read","params":{}}');
      s.raw('{"id":-9223372036854775808,"method":"account/read","params":{}}');
      // Not a request id Codex accepts: read as a notification and ignored.
      s.raw('{"id":9223372036854775808,"method":"account/read","params":{}}');
      s.raw('{"id":1.5,"method":"account/read","params":{}}');
      s.raw('{"id":1e3,"method":"account/read","params":{}}', { idText: "1000" });
      s.raw('{"id":null,"method":"account/read","params":{}}', { idText: "null" });
      s.raw('{"id":true,"method":"account/read","params":{}}', { idText: "true" });
      s.raw('{"id":40,"id":41,"method":"account/read","params":{}}');
      s.raw('{"id":42,"method":"account/read","params":{},"trace":5}');
      s.raw('{"id":43,"method":"account/read","params":{},"trace":{"traceparent":"x"}}');
      s.raw('{"id":44,"method":"account/read","params":{"refreshToken":false},"extra":1}');
      s.raw('{"jsonrpc":"1.0","id":45,"method":"account/read","params":{}}');
      s.raw('{"jsonrpc":5,"id":46,"method":"account/read","params":{}}');
      s.raw('{"id":47,"method":"account/read","params":{},"result":1}');
      s.raw('{"id":48,"method":5,"params":{}}');
      s.raw('{"id":49,"method":"","params":{}}');
      s.raw('{"id":50,"method":"Account/Read","params":{}}');
      s.raw('{"id":51,"method":"initialized"}');
      // Lines that are not messages: no answer, the server goes on.
      for (const line of ["{not json", "[]", "5", '"x"', "null", "{}", '{"id":1}', '{"method":5}', "   "])
        s.raw(line);
      s.raw('{"id":99,"result":{}}', { idText: "-" });
      s.raw('{"id":99,"error":{"code":1,"message":"x"}}', { idText: "-" });
      await s.call("account/read", {}, { id: 60 });
    });
  });

  it("parameter errors: serde's messages for each method", async () => {
    await same(async (s) => {
      await s.initialize();
      const cases: Array<[string, unknown]> = [
        ["account/read", null],
        ["account/read", []],
        ["account/read", [true]],
        ["account/read", ["x"]],
        ["account/read", [true, false]],
        ["account/read", 5],
        ["account/read", "str"],
        ["account/read", { refreshToken: null }],
        ["account/read", { refreshToken: 1 }],
        ["account/read", { refreshToken: "yes" }],
        ["account/read", { refreshToken: 1.5 }],
        ["account/read", { refreshToken: -3 }],
        ["account/read", { refreshToken: {} }],
        ["account/read", { refreshToken: [] }],
        ["account/read", { refreshToken: 'a"b\\c\nd\u0001é😀\t' }],
        ["account/read", { extra: 1 }],
        ["getAuthStatus", {}],
        ["getAuthStatus", []],
        ["getAuthStatus", [true, false]],
        ["getAuthStatus", [true, false, true]],
        ["getAuthStatus", { includeToken: null, refreshToken: null }],
        ["getAuthStatus", { refreshToken: "y", includeToken: "x" }],
        ["getAuthStatus", { includeToken: "x", refreshToken: "y" }],
        ["getAuthStatus", true],
        ["account/logout", null],
        ["account/logout", 5],
        ["account/logout", []],
        ["account/logout", { x: 1 }],
        ["account/login/start", null],
        ["account/login/start", {}],
        ["account/login/start", []],
        ["account/login/start", 5],
        ["account/login/start", "apiKey"],
        ["account/login/start", { type: "bogus" }],
        ["account/login/start", { type: "Apikey", apiKey: "x" }],
        ["account/login/start", { apiKey: 5, type: "bogus" }],
        ["account/login/start", { type: 6 }],
        ["account/login/start", { type: 5 }],
        ["account/login/start", { type: true }],
        ["account/login/start", { type: null }],
        ["account/login/start", { type: "apiKey" }],
        ["account/login/start", { type: "apiKey", apiKey: 5 }],
        ["account/login/start", { type: "apiKey", apiKey: null }],
        ["account/login/start", { type: "chatgpt", codexStreamlinedLogin: "x" }],
        ["account/login/start", { type: "chatgpt", appBrand: "x" }],
        ["account/login/start", { type: "chatgpt", appBrand: 5 }],
        ["account/login/start", { type: "chatgpt", useHostedLoginSuccessPage: null }],
        ["account/login/start", ["chatgptDeviceCode", 1, 2]],
        ["account/login/start", { type: "chatgptAuthTokens" }],
        ["account/login/start", { type: "chatgptAuthTokens", accessToken: "x" }],
        ["account/login/start", { type: "chatgptAuthTokens", accessToken: "x", chatgptAccountId: "y" }],
        ["account/login/start", { type: "amazonBedrock" }],
        ["account/login/start", { type: "amazonBedrock", apiKey: "bedrock-key-123456", region: "us-east-1" }],
        [
          "account/login/start",
          {
            type: "amazonBedrockAccessKeys",
            accessKeyId: "AKIAEXAMPLE",
            secretAccessKey: "s",
            region: "eu-west-1",
          },
        ],
        ["account/login/start", { type: "amazonBedrockAccessKeys", region: 5 }],
        ["account/login/cancel", null],
        ["account/login/cancel", {}],
        ["account/login/cancel", { loginId: 5 }],
        ["account/login/cancel", { loginId: "does-not-exist" }],
        ["account/login/cancel", ["x"]],
        ["account/login/cancel", { loginId: "8182b0dc-d7ac-4a0e-b599-86c39ee5837c" }],
        ["account/login/cancel", { loginId: "8182B0DCD7AC4A0EB59986C39EE5837C" }],
        ["account/rateLimits/read", null],
        ["account/rateLimits/read", {}],
        ["account/rateLimits/read", { supportsLunaReserve: "x" }],
      ];
      for (const [method, params] of cases) await s.call(method, params, { noParams: params === null });
      s.raw('{"id":"dup","method":"account/read","params":{"refreshToken":false,"refreshToken":"x"}}');
      s.raw('{"id":"big","method":"getAuthStatus","params":{"includeToken":18446744073709551616}}');
      s.raw('{"id":"big2","method":"getAuthStatus","params":{"x":-9223372036854775809}}');
      s.raw('{"id":"maxu64","method":"getAuthStatus","params":{"includeToken":18446744073709551615}}');
      s.raw('{"id":"zero-float","method":"getAuthStatus","params":{"includeToken":0.0}}');
      s.raw('{"id":"neg-zero","method":"getAuthStatus","params":{"includeToken":-0}}');
      s.raw('{"id":"dup-params","method":"getAuthStatus","params":{},"params":{}}');
      await s.call("getAuthStatus", {}, { id: "last" });
    });
  });

  it("optOutNotificationMethods: the opted-out notifications are not sent", async () => {
    await same(async (s) => {
      await s.initialize({
        clientInfo: { name: "difftest", version: "1" },
        capabilities: { experimentalApi: false, optOutNotificationMethods: ["account/updated"] },
      });
      await s.call("account/login/start", { type: "apiKey", apiKey: "sk-optout-1234567890" });
      await s.notification("account/login/completed");
      await s.call("account/logout", {});
      await s.call("getAuthStatus", { includeToken: true });
    });
  });

  it("client names in the user agent: odd characters, empty name and version", async () => {
    for (const clientInfo of [
      { name: "my app", title: "x", version: "1.2.3-beta+7" },
      { name: "", version: "" },
      { name: "ünïcode", version: " 1 " },
      { name: "tab\there", version: "1" },
      { name: "bell\u0007", version: "1" },
      { name: "new\nline", version: "1" },
    ]) {
      await same(async (s) => {
        await s.initialize({ clientInfo });
        await s.call("getAuthStatus", {});
      });
    }
  });
});
