/**
 * Sequential consistency of the account state (fast-check, in process, the
 * real ports over throwaway CODEX_HOMEs): any sequence of account requests
 * written in one chunk gives the same answers, the same notifications in
 * the same place and the same auth.json as the same requests sent one at a
 * time. Reads between two changes may be answered in another order.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { accessOf, RequestOrder } from "../../src/app-server/ordering.js";
import { serveAppServer } from "../../src/app-server/stdio.js";
import { loadConfig } from "../../src/config/config.js";
import { makeCodexHome, removeCodexHome } from "../support/env.js";
import { upToOverlappingReads } from "./support/ordering.js";

const UNKNOWN_LOGIN = "6f1c1d1e-0000-4000-8000-000000000000";

type Step = { method: string; params?: unknown; read: boolean };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc
    .constantFrom("sk-prop-aaaa11112222", "sk-prop-bbbb33334444", "")
    .map((apiKey) => ({ method: "account/login/start", params: { type: "apiKey", apiKey }, read: false })),
  fc.constant({ method: "account/logout", read: false }),
  fc.constant({ method: "account/login/cancel", params: { loginId: UNKNOWN_LOGIN }, read: false }),
  fc.constant({ method: "account/login/cancel", params: { loginId: "not-a-login-id" }, read: true }),
  fc.constant({ method: "account/read", params: {}, read: true }),
  fc.boolean().map((includeToken) => ({ method: "getAuthStatus", params: { includeToken }, read: true })),
  fc.constant({ method: "account/rateLimits/read", read: true }),
);

interface Outcome {
  answers: Map<string, string>;
  sequence: string[];
  authFile: string;
}

/** Runs `steps` against a fresh server, either in one write or each after the previous answer. */
async function play(steps: readonly Step[], pipelined: boolean): Promise<Outcome> {
  const home = makeCodexHome("order-prop");
  try {
    writeFileSync(join(home, "config.toml"), 'chatgpt_base_url = "http://127.0.0.1:9/backend-api/"\n');
    const env = {
      CODEX_HOME: home,
      CODEX_REFRESH_TOKEN_URL_OVERRIDE: "http://127.0.0.1:9/oauth/token",
      CODEX_REVOKE_TOKEN_URL_OVERRIDE: "http://127.0.0.1:9/oauth/revoke",
      CODEX_APP_SERVER_LOGIN_ISSUER: "http://127.0.0.1:9",
    };
    const input = new PassThrough();
    const output = new PassThrough();
    const sequence: string[] = [];
    const answers = new Map<string, string>();
    const waiting = new Map<string, () => void>();
    let partial = "";
    output.on("data", (d: Buffer) => {
      const lines = (partial + d.toString("utf8")).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines.filter(Boolean).map((l) => l.split(home).join("<home>"))) {
        const m = JSON.parse(line) as { id?: unknown; method?: string; result?: unknown; error?: unknown };
        if (m.method !== undefined) {
          if (m.method.startsWith("account/")) sequence.push(line.replace(/,"emittedAtMs":\d+/, ""));
          continue;
        }
        const id = JSON.stringify(m.id);
        answers.set(id, JSON.stringify(m.result ?? m.error));
        sequence.push(`answer ${id}`);
        waiting.get(id)?.();
      }
    });
    const config = await loadConfig({ codexHome: home, env });
    const done = serveAppServer({ config, env, input, output, log: () => {}, callbackPort: 0 });
    const lines = [
      JSON.stringify({
        id: 0,
        method: "initialize",
        params: { clientInfo: { name: "order", version: "1" } },
      }),
      ...steps.map((s, i) => JSON.stringify({ id: i + 1, method: s.method, params: s.params })),
    ];
    if (pipelined) {
      input.write(lines.map((l) => `${l}\n`).join(""));
    } else {
      for (const [i, line] of lines.entries()) {
        const answered = new Promise<void>((resolve) => waiting.set(String(i), resolve));
        input.write(`${line}\n`);
        await answered;
      }
    }
    input.end();
    await done;
    const file = join(home, "auth.json");
    return { answers, sequence, authFile: existsSync(file) ? readFileSync(file, "utf8") : "<none>" };
  } finally {
    removeCodexHome(home);
  }
}

describe("app-server request order", () => {
  it("pipelined-equals-one-at-a-time: same answers, notifications in place and auth.json", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 12 }), async (steps) => {
        const [oneByOne, inOneWrite] = [await play(steps, false), await play(steps, true)];
        expect(inOneWrite.answers).toEqual(oneByOne.answers);
        expect(inOneWrite.authFile).toBe(oneByOne.authFile);
        const sent = ["0", ...steps.map((_, i) => String(i + 1))];
        const reads = new Set(steps.flatMap((s, i) => (s.read ? [String(i + 1)] : [])));
        expect(upToOverlappingReads(inOneWrite.sequence, reads, sent)).toEqual(oneByOne.sequence);
      }),
      { numRuns: 40 },
    );
  });

  it("reads-overlap-changes-wait: a read does not wait for another read; a change waits for both", async () => {
    const order = new RequestOrder();
    const log: string[] = [];
    let releaseFirst!: () => void;
    const first = order.run("shared", async () => {
      log.push("read 1 start");
      await new Promise<void>((resolve) => {
        releaseFirst = resolve;
      });
      log.push("read 1 end");
    });
    const second = order.run("shared", async () => {
      log.push("read 2");
    });
    const change = order.run("exclusive", async () => {
      log.push("change");
    });
    const third = order.run("shared", async () => {
      log.push("read 3");
    });
    await second;
    expect(log).toEqual(["read 1 start", "read 2"]);
    releaseFirst();
    await Promise.all([first, change, third]);
    expect(log).toEqual(["read 1 start", "read 2", "read 1 end", "change", "read 3"]);
  });

  it("access-of-each-method: sign-ins, cancels of a login id and logouts are changes; the rest reads", () => {
    expect(accessOf({ served: true, method: "account/logout", params: undefined })).toBe("exclusive");
    expect(
      accessOf({ served: true, method: "account/login/start", params: { type: "apiKey", apiKey: "sk-x" } }),
    ).toBe("exclusive");
    expect(
      accessOf({ served: true, method: "account/login/cancel", params: { loginId: UNKNOWN_LOGIN } }),
    ).toBe("exclusive");
    expect(accessOf({ served: true, method: "account/login/cancel", params: { loginId: "x" } })).toBe(
      "shared",
    );
    expect(accessOf({ served: true, method: "account/read", params: { refreshToken: true } })).toBe("shared");
  });
});
