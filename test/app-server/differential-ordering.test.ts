/**
 * Differential: requests written back to back in one write (a pipelining
 * client). Codex 0.169 runs the account requests through one FIFO queue,
 * so each sees the effects of those before it; ours must give the same
 * answers, the same notifications in the same place and the same
 * auth.json. Reads between two changes may be answered in another order
 * by ours (they overlap), so runs of read answers are compared in request
 * order.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { findCodexBinary } from "../support/env.js";
import {
  compared,
  differential,
  type ServerSetup,
  type Session,
  type Transcript,
} from "./support/differential.js";
import { READ_METHODS, upToOverlappingReads } from "./support/ordering.js";
import { seedChatgpt } from "./support/seed.js";

const codex = findCodexBinary();
let issuer: DevIssuer;

beforeAll(async () => {
  issuer = await startDevIssuer({ autoApprove: true });
});
afterAll(async () => {
  await issuer?.close();
});

type Step = readonly [method: string, params?: unknown];

const INIT: Step = [
  "initialize",
  { clientInfo: { name: "codex_auth_difftest", title: null, version: "0.0.1" } },
];
const UNKNOWN_LOGIN = "6f1c1d1e-0000-4000-8000-000000000000";

/** Writes `steps` in one write, then waits for every answer. */
function pipelined(steps: readonly Step[], reads: Set<string>, sent: string[]) {
  return async (s: Session) => {
    const ids = s.pipeline(steps);
    ids.forEach((id, i) => {
      sent.push(JSON.stringify(id));
      if (READ_METHODS.has(steps[i]![0])) reads.add(JSON.stringify(id));
    });
    for (const id of ids) await s.response(id);
  };
}

async function sameInOrder(
  steps: readonly Step[],
  setup: Partial<Omit<ServerSetup, "kind" | "codex">> = {},
  scenario?: (s: Session, run: (s: Session) => Promise<void>) => Promise<void>,
  /** The first `account/updated` is the start-up announcement (stored ChatGPT tokens): it belongs to no request. */
  startupAnnouncement = false,
): Promise<{ codex: Transcript; ours: Transcript }> {
  const reads = new Set<string>();
  const sent: string[] = [];
  const run = pipelined(steps, reads, sent);
  const both = await differential({ codex: codex!, issuer, ...setup }, async (s) => {
    // Each server gets the same ids: the list is rebuilt per run.
    reads.clear();
    sent.length = 0;
    await (scenario ? scenario(s, run) : run(s));
  });
  if (process.env.DIFF_DUMP) console.log(JSON.stringify(both.codex.sequence, null, 2));
  expect(compared(both.ours)).toEqual(compared(both.codex));
  const ordered = (t: Transcript) => {
    const sequence = [...t.sequence];
    if (startupAnnouncement)
      sequence.splice(
        sequence.findIndex((e) => e.includes('"account/updated"')),
        1,
      );
    return upToOverlappingReads(sequence, reads, sent);
  };
  expect(ordered(both.ours)).toEqual(ordered(both.codex));
  return both;
}

describe.skipIf(!codex)("differential against codex app-server 0.169: pipelined requests", () => {
  it("pipelined-login-then-read-sees-the-login: initialize, apiKey login, read, logout, read in one write", async () => {
    const { ours } = await sameInOrder([
      INIT,
      ["account/login/start", { type: "apiKey", apiKey: "sk-order-1234567890" }],
      ["account/read", {}],
      ["account/logout"],
      ["account/read", {}],
    ]);
    // The bug this guards: the read after the login answered `account: null`, and 5 was answered before 4.
    expect(ours.responses[2]!.answer).toContain('"account":{"type":"apiKey"}');
    expect(ours.sequence.indexOf("answer 4")).toBeLessThan(ours.sequence.indexOf("answer 5"));
  });

  it("pipelined-changes-apply-in-order: logins, reads, logouts and a cancel in one write end as Codex ends", async () => {
    const { ours } = await sameInOrder([
      INIT,
      ["account/login/start", { type: "apiKey", apiKey: "sk-order-first-123456" }],
      ["account/read", {}],
      ["getAuthStatus", { includeToken: true }],
      ["account/logout"],
      ["getAuthStatus", { includeToken: true }],
      ["account/read", {}],
      ["account/login/start", { type: "apiKey", apiKey: "sk-order-second-123456" }],
      ["getAuthStatus", { includeToken: true }],
      ["account/logout"],
      ["account/logout"],
      ["account/login/cancel", { loginId: UNKNOWN_LOGIN }],
      ["account/read", {}],
      ["account/login/start", { type: "apiKey", apiKey: "sk-order-third-123456" }],
      ["account/login/cancel", { loginId: UNKNOWN_LOGIN }],
      ["getAuthStatus", { includeToken: true }],
    ]);
    expect(ours.authFile).toContain("sk-order-third");
  });

  it("pipelined-logout-waits-for-a-refresh-in-flight: a forced refresh, reads, then logout leave no auth.json", async () => {
    const gate = await GatedTokenEndpoint.start(issuer.url);
    try {
      await sameInOrder(
        [
          INIT,
          ["account/read", { refreshToken: true }],
          ["getAuthStatus", {}],
          ["account/read", {}],
          ["account/logout"],
          ["account/read", {}],
          ["getAuthStatus", {}],
        ],
        { seed: seedChatgpt(), env: { CODEX_REFRESH_TOKEN_URL_OVERRIDE: gate.url } },
        async (s, run) => {
          gate.reset();
          const done = run(s);
          await gate.arrived;
          // Codex answers nothing behind the refresh; ours answers the overlapping reads (3, 4) first.
          if (s.kind === "ours") await Promise.all([s.response(3), s.response(4)]);
          gate.release();
          await done;
        },
        true,
      );
    } finally {
      await gate.close();
    }
  });
});

/** A token endpoint that holds each refresh until released, then forwards it to the issuer. */
class GatedTokenEndpoint {
  arrived!: Promise<void>;
  private onArrive!: () => void;
  private open!: () => void;
  private gate!: Promise<void>;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {
    this.reset();
  }

  static async start(target: string): Promise<GatedTokenEndpoint> {
    let self: GatedTokenEndpoint | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", async () => {
        self!.onArrive();
        await self!.gate;
        const answer = await fetch(`${target}/oauth/token`, {
          method: "POST",
          headers: { "content-type": req.headers["content-type"] ?? "application/json" },
          body: Buffer.concat(chunks),
        });
        res.writeHead(answer.status, {
          "content-type": answer.headers.get("content-type") ?? "application/json",
        });
        res.end(await answer.text());
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    self = new GatedTokenEndpoint(
      server,
      `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth/token`,
    );
    return self;
  }

  /** Closes the gate again (one per server run). */
  reset(): void {
    this.arrived = new Promise((resolve) => {
      this.onArrive = resolve;
    });
    this.gate = new Promise((resolve) => {
      this.open = resolve;
    });
  }

  release(): void {
    this.open();
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
