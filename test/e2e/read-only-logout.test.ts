/**
 * Hardening, kind 4: logout never revokes what it cannot remove. A
 * read-only CODEX_HOME (and a read-only auth.json bind-mounted as a single
 * file, as containers do): the logout fails, nothing reaches the revoke
 * endpoint, and the login keeps working. A writable home with a failing
 * revoke: the local logout stands and the warning says so.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCodexHome, removeCodexHome } from "../support/env.js";
import { fakeChatgptRecord } from "../support/jwt.js";
import { canMount, runOursReadOnly } from "../support/mounts.js";
import { runOursAsync } from "../support/run.js";
import { type ScriptedServer, startScriptedServer } from "../support/scripted-server.js";

let issuer: ScriptedServer;
const homes: string[] = [];
beforeAll(async () => {
  issuer = await startScriptedServer();
  issuer.script({ status: 200, body: {} });
});
afterAll(async () => {
  await issuer.close();
  for (const h of homes) removeCodexHome(h);
});

function chatgptHome(): { home: string; text: string } {
  const home = makeCodexHome("ro-logout");
  homes.push(home);
  const text = JSON.stringify(fakeChatgptRecord(), null, 2);
  writeFileSync(join(home, "auth.json"), text, { mode: 0o600 });
  return { home, text };
}

const revokes = () => issuer.requests.filter((r) => r.path === "/oauth/revoke").length;

describe.runIf(canMount())("logout-never-revokes-what-it-cannot-remove", () => {
  for (const [what, target] of [
    ["a read-only CODEX_HOME", (h: string) => h],
    ["a read-only auth.json bind-mounted as a single file", (h: string) => join(h, "auth.json")],
  ] as const) {
    it(`${what}: logout fails, nothing is revoked, the login still works`, async () => {
      const { home, text } = chatgptHome();
      const env = { CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/revoke` };
      const before = revokes();
      const r = await runOursReadOnly([target(home)], ["logout"], { home, env });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^Error logging out: /);
      expect(revokes() - before).toBe(0);
      expect(readFileSync(join(home, "auth.json"), "utf8")).toBe(text);
      const status = await runOursAsync(["login", "status"], { home });
      expect(status.stderr).toBe("Logged in using ChatGPT\n");
    });
  }
});

describe("logout-stands-when-revoke-fails", () => {
  it("the file is removed, the revoke failure is a warning, exit 0", async () => {
    const { home } = chatgptHome();
    issuer.script({ status: 500, body: { error: "server_error" } });
    try {
      const r = await runOursAsync(["logout"], {
        home,
        env: { CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/revoke` },
      });
      expect(r.code).toBe(0);
      expect(r.stderr).toBe(
        "Successfully logged out\nWarning: the issuer did not confirm that the refresh token was revoked; it stays valid until it expires.\n",
      );
      expect((await runOursAsync(["login", "status"], { home })).stderr).toBe("Not logged in\n");
    } finally {
      issuer.script({ status: 200, body: {} });
    }
  });
});
