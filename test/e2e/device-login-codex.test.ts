/**
 * Device-code sign-in across implementations, against the development
 * issuer: what the real codex 0.169 writes, codex-auth reads; what
 * codex-auth writes, the real codex accepts (login status, app-server
 * account/read). Only codex login, login status and app-server account
 * methods are run. All traffic stays on 127.0.0.1.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type DevIssuer, type DevUser, startDevIssuer } from "../../src/dev-issuer/index.js";
import { loadAuth } from "../../src/manager/operations.js";
import { FileAuthStorage } from "../../src/storage/file.js";
import { jwtPayload } from "../dev-issuer/helpers.js";
import {
  authFileMode,
  codexEnv,
  readAuthJson,
  type SeededHome,
  seedHome,
  startChild,
  startOurs,
  stopChildren,
} from "../login/helpers.js";
import { findCodexBinary, removeCodexHome } from "../support/env.js";
import { runOurs, withCodexAppServer } from "../support/run.js";

const codex = findCodexBinary();

const USERS: DevUser[] = [
  {
    email: "grace@example.com",
    name: "Grace Hopper",
    plan: "team",
    workspaces: [{ id: "org_grace", name: "Grace's Team", structure: "workspace" }],
  },
];

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  await stopChildren();
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setUp(): Promise<{ issuer: DevIssuer; seeded: SeededHome }> {
  const issuer = await startDevIssuer({ autoApprove: true, users: USERS });
  cleanups.push(() => issuer.close());
  const seeded = await seedHome("none");
  cleanups.push(() => removeCodexHome(seeded.home));
  // Both tools read config.toml: Codex's backend calls (accounts/check) go to the dev issuer.
  writeFileSync(join(seeded.home, "config.toml"), `chatgpt_base_url = "${issuer.url}/backend-api/"\n`);
  return { issuer, seeded };
}

describe.skipIf(!codex)("device-code sign-in across codex 0.169 and codex-auth", () => {
  it("real codex signs in with --device-auth; codex-auth's login status, status --json and loadAuth read it", async () => {
    const { issuer, seeded } = await setUp();
    const login = startChild(
      codex!,
      ["login", "--device-auth", "--experimental_issuer", issuer.url],
      codexEnv(seeded.home, issuer.url),
    );
    expect(await login.exit).toBe(0);
    expect(login.stderr()).toContain("Successfully logged in");

    const status = runOurs(["login", "status"], { home: seeded.home });
    expect(status.stderr).toBe("Logged in using ChatGPT\n");
    expect(status.code).toBe(0);
    const json = JSON.parse(runOurs(["status", "--json"], { home: seeded.home }).stdout);
    expect(json).toMatchObject({
      loggedIn: true,
      mode: "chatgpt",
      email: "grace@example.com",
      plan: "team",
      accountId: "org_grace",
      storage: "file",
    });
    const auth = await loadAuth(new FileAuthStorage(seeded.home));
    expect(auth?.mode).toBe("chatgpt");
    if (auth?.mode !== "chatgpt" || !auth.tokens) throw new Error("expected ChatGPT tokens");
    expect(auth.idToken.email).toBe("grace@example.com");
    expect(auth.idToken.planType).toBe("team");
    expect(auth.accountId).toBe("org_grace");
    expect(auth?.record?.tokens?.oauth_provenance).toEqual({
      issuer: issuer.url,
      client_id: issuer.clientId,
    });
  });

  it("codex-auth signs in with --device-auth; real codex login status and app-server account/read accept it", async () => {
    const { issuer, seeded } = await setUp();
    const login = startOurs(["login", "--device-auth", "--issuer", issuer.url], seeded.home);
    expect(await login.exit).toBe(0);
    expect(login.stderr()).toBe("Successfully logged in\n");
    const saved = readAuthJson(seeded.home);
    expect(authFileMode(seeded.home)).toBe(0o600);
    expect(jwtPayload(saved.tokens.id_token).email).toBe("grace@example.com");

    const env = codexEnv(seeded.home, issuer.url);
    const status = startChild(codex!, ["login", "status"], env);
    expect(await status.exit).toBe(0);
    expect(status.stderr()).toBe("Logged in using ChatGPT\n");

    const requestsBefore = issuer.requests.length;
    await withCodexAppServer(codex!, { home: seeded.home, env }, async (call) => {
      const read = await call("account/read", {});
      expect(read.error).toBeUndefined();
      expect(read.result).toMatchObject({
        account: {
          type: "chatgpt",
          email: "grace@example.com",
          planType: "team",
          workspaceName: "Grace's Team",
        },
        workspaceRouting: { chatgptAccountId: "org_grace" },
      });
    });
    // Codex accepted our tokens as they were: it asked the backend about the account, and refreshed nothing.
    const codexCalls = issuer.requests.slice(requestsBefore);
    expect(codexCalls.some((r) => r.path === "/backend-api/wham/accounts/check" && r.status === 200)).toBe(
      true,
    );
    expect(codexCalls.filter((r) => r.path === "/oauth/token")).toEqual([]);
    expect(readAuthJson(seeded.home)).toEqual(saved);
  });
});
