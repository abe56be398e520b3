/**
 * Differential: the administrator's requirements.toml in the app server —
 * the same conversation with the real `codex app-server` 0.169 (given the
 * folder as its `/etc/codex` in a private mount namespace) and with ours
 * (given it through `CODEX_AUTH_SYSTEM_CONFIG_DIR`), every answer and
 * account notification compared; and the same refusal to start when the
 * requirements cannot be applied.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { findCodexBinary, makeCodexHome, removeCodexHome } from "../support/env.js";
import { canMount } from "../support/mounts.js";
import { makeSystemConfigDir, removeSystemConfigDir, type SystemFiles } from "../support/system-config.js";
import { compared, differential, type ServerSetup, type Session, serverEnv } from "./support/differential.js";
import { RpcProcess, type ServerKind } from "./support/rpc-process.js";
import { seedApiKey, seedChatgpt } from "./support/seed.js";

const codex = findCodexBinary();
const mountable = canMount();
let issuer: DevIssuer;

beforeAll(async () => {
  issuer = await startDevIssuer({ autoApprove: true });
});
afterAll(async () => {
  await issuer?.close();
});

async function same(
  setup: Partial<Omit<ServerSetup, "kind" | "codex">>,
  scenario: (s: Session) => Promise<void>,
): Promise<void> {
  const { codex: theirs, ours } = await differential({ codex: codex!, issuer, ...setup }, scenario);
  if (process.env.DIFF_DUMP) console.log(JSON.stringify(compared(theirs), null, 2));
  expect(compared(ours)).toEqual(compared(theirs));
}

async function reads(s: Session): Promise<void> {
  await s.call("account/read", {});
  await s.call("getAuthStatus", { includeToken: true, refreshToken: false });
  await s.call("getAuthStatus", {});
}

const requirements = (text: string): SystemFiles => ({ "requirements.toml": text });

describe.runIf(codex && mountable)(
  "differential against codex app-server 0.169: managed requirements",
  () => {
    it("allowed_login_methods = [chatgpt]: a stored API key is hidden, API-key sign-in refused", async () => {
      await same(
        {
          seed: seedApiKey("sk-seeded-1234567890ABCDEF"),
          systemFiles: requirements('allowed_login_methods = ["chatgpt"]\n'),
        },
        async (s) => {
          await s.initialize();
          await reads(s);
          await s.call("account/login/start", { type: "apiKey", apiKey: "sk-policy-1234567890ABCDEF" });
          await reads(s);
        },
      );
    });

    it("allowed_login_methods = [api]: ChatGPT hidden, ChatGPT sign-ins refused, API keys accepted", async () => {
      await same(
        { seed: seedChatgpt(), systemFiles: requirements('allowed_login_methods = ["api"]\n') },
        async (s) => {
          await s.initialize();
          await reads(s);
          await s.call("account/login/start", { type: "chatgpt" });
          await s.call("account/login/start", { type: "chatgptDeviceCode" });
          await s.call("account/login/start", { type: "apiKey", apiKey: "sk-policy-1234567890ABCDEF" });
          await s.notification("account/login/completed");
          await s.notification("account/updated");
          await reads(s);
        },
      );
    });

    it("allowed_chatgpt_workspaces: another workspace is hidden; the allowed one is shown", async () => {
      await same(
        { seed: seedChatgpt(), systemFiles: requirements('allowed_chatgpt_workspaces = ["org_other"]\n') },
        async (s) => {
          await s.initialize();
          await reads(s);
        },
      );
      await same(
        {
          seed: seedChatgpt(),
          systemFiles: requirements('allowed_chatgpt_workspaces = ["org_other", "org_dev"]\n'),
        },
        async (s) => {
          await s.initialize();
          await s.notification("account/updated");
          await reads(s);
        },
      );
    });

    it("requirements narrow forced_chatgpt_workspace_id: outside the intersection is hidden", async () => {
      await same(
        {
          seed: seedChatgpt(),
          config: ['forced_chatgpt_workspace_id = ["org_dev", "org_other"]'],
          systemFiles: requirements('allowed_chatgpt_workspaces = ["org_other"]\n'),
        },
        async (s) => {
          await s.initialize();
          await reads(s);
        },
      );
    });

    it("an empty workspace list disables ChatGPT sign-in, API keys still work", async () => {
      await same({ systemFiles: requirements("allowed_chatgpt_workspaces = []\n") }, async (s) => {
        await s.initialize();
        await s.call("account/login/start", { type: "chatgpt" });
        await s.call("account/login/start", { type: "chatgptDeviceCode" });
        await s.call("account/login/start", { type: "apiKey", apiKey: "sk-policy-1234567890ABCDEF" });
        await s.notification("account/login/completed");
        await s.notification("account/updated");
        await reads(s);
      });
    });

    it("workspace requirements are re-read before routing: a file broken since start-up fails account/read in Codex's words", async () => {
      await same(
        { seed: seedChatgpt(), systemFiles: requirements('allowed_chatgpt_workspaces = ["org_dev"]\n') },
        async (s) => {
          const req = join(s.etcCodex!, "requirements.toml");
          const config = join(s.home, "config.toml");
          const goodConfig = readFileSync(config, "utf8");
          await s.initialize();
          await s.notification("account/updated");
          await s.call("account/read", {});
          writeFileSync(req, 'allowed_chatgpt_workspaces = "broken"\n');
          await s.call("account/read", {});
          await s.call("getAuthStatus", {});
          writeFileSync(req, "this is not toml\n");
          await s.call("account/read", {});
          // Valid but different requirements change nothing: the start-up restrictions stay.
          writeFileSync(req, 'allowed_chatgpt_workspaces = ["org_other"]\nallowed_login_methods = []\n');
          await s.call("account/read", {});
          await s.call("getAuthStatus", {});
          writeFileSync(req, "");
          writeFileSync(config, `${goodConfig}forced_login_method = "bogus"\n`);
          await s.call("account/read", {});
          writeFileSync(config, goodConfig);
          await s.call("account/read", {});
        },
      );
    });

    it("device code in a workspace the requirements do not allow: completed with Codex's error, nothing stored", async () => {
      await same({ systemFiles: requirements('allowed_chatgpt_workspaces = ["org_other"]\n') }, async (s) => {
        await s.initialize();
        await s.call("account/login/start", { type: "chatgptDeviceCode" });
        await s.notification("account/login/completed");
        await reads(s);
      });
    });
  },
);

/** Starts one server with `files` as its `/etc/codex` and waits for it to exit by itself. */
async function startupFailure(
  kind: ServerKind,
  files: SystemFiles,
  config = "",
): Promise<{ code: number | null; firstLine: string }> {
  const home = makeCodexHome(`req-${kind}`);
  const etcCodex = makeSystemConfigDir(files);
  try {
    if (config) writeFileSync(join(home, "config.toml"), config);
    const proc = new RpcProcess({ kind, codex: codex!, env: serverEnv(home, issuer), etcCodex });
    const exit = await proc.exited;
    const firstLine = (proc.stderr.split("\n").find((l) => l.startsWith("Error")) ?? "")
      .replaceAll(etcCodex, "/etc/codex")
      .trimEnd();
    return { code: exit.code, firstLine };
  } finally {
    removeCodexHome(home);
    removeSystemConfigDir(etcCodex);
  }
}

describe.runIf(codex && mountable)("codex app-server 0.169 and ours refuse to start alike", () => {
  const cases: [string, SystemFiles, string][] = [
    [
      "config.toml forcing a method the requirements forbid",
      requirements('allowed_login_methods = ["chatgpt"]\n'),
      'forced_login_method = "api"\n',
    ],
    ["no login method allowed", requirements("allowed_login_methods = []\n"), ""],
    ["a malformed requirements file", requirements('allowed_login_methods = "api"\n'), ""],
  ];
  for (const [name, files, config] of cases) {
    it(`${name}: exit 1 and the same error line`, async () => {
      const theirs = await startupFailure("codex", files, config);
      const ours = await startupFailure("ours", files, config);
      expect(theirs.code).toBe(1);
      expect(ours).toEqual(theirs);
    });
  }
});
