/** A ChatGPT record is read identically by codex (app-server account/read) and by codex-auth. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { saveAuth } from "../../src/index.js";
import { startAccountsBackend } from "../support/backend.js";
import { findCodexBinary, makeCodexHome, removeCodexHome } from "../support/env.js";
import { fakeChatgptRecord } from "../support/jwt.js";
import { runOurs, withCodexAppServer } from "../support/run.js";

const codex = findCodexBinary();
const homes: string[] = [];
afterAll(() => {
  for (const h of homes) removeCodexHome(h);
});

describe.runIf(codex)("ChatGPT records are read the same by both programs", () => {
  // Workspace plans (business, enterprise, edu and their aliases) make codex
  // fetch workspace requirements from a cloud config service as well, which
  // no local backend provides; their mapping is covered by unit tests.
  it.each([
    ["pro", "pro"],
    ["team", "team"],
    ["free", "free"],
    ["go", "go"],
    ["prolite", "prolite"],
    ["Pro", "unknown"],
    ["TEAM", "unknown"],
    ["mystery", "unknown"],
  ])(
    "saved by codex-auth, plan %s: same email, plan and account in codex and codex-auth",
    async (rawPlan, plan) => {
      const backend = await startAccountsBackend([{ id: "org_read", name: "Read Workspace" }]);
      try {
        const h = makeCodexHome("chatgpt-read");
        homes.push(h);
        writeFileSync(join(h, "config.toml"), `chatgpt_base_url = "${backend.baseUrl}"\n`);
        await saveAuth(
          h,
          fakeChatgptRecord({ email: "reader@example.com", plan: rawPlan, accountId: "org_read" }) as never,
        );
        const reply = await withCodexAppServer(codex!, { home: h }, (call) =>
          call("account/read", { refreshToken: false }),
        );
        expect(reply, JSON.stringify(reply)).toHaveProperty("result");
        const account = reply.result as {
          account: Record<string, unknown>;
          workspaceRouting: Record<string, unknown>;
        };
        const ours = JSON.parse(runOurs(["status", "--json"], { home: h }).stdout);
        expect(account.account).toMatchObject({
          type: "chatgpt",
          email: "reader@example.com",
          planType: plan,
        });
        expect(account.workspaceRouting.chatgptAccountId).toBe("org_read");
        expect(ours).toMatchObject({
          mode: "chatgpt",
          email: account.account.email,
          plan,
          accountId: "org_read",
        });
      } finally {
        await backend.close();
      }
    },
  );
});
