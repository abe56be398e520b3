/**
 * The app-server contract: the kept protocol types are what the pinned Codex
 * generates today, and the types the server is written against equal them.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  CODEX_CLIENT_NOTIFICATION_METHODS,
  CODEX_CLIENT_REQUEST_METHODS,
} from "../../src/app-server/codex-methods.generated.js";
import { findCodexBinary, REPO_ROOT } from "../support/env.js";

const codex = findCodexBinary();
const CONTRACT = join(REPO_ROOT, "contract/codex-0.169/app-server");

describe("app-server contract", () => {
  it.skipIf(!codex)("contract-matches-pinned-codex: regenerating from the binary changes nothing", () => {
    const r = spawnSync(process.execPath, ["scripts/app-server-contract.mjs"], {
      cwd: REPO_ROOT,
      env: { ...process.env, CODEX_BIN: codex },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^app-server contract: \d+ files match codex 0\.169\.0/);
    expect(r.status).toBe(0);
  });

  it("protocol-types-conform: src/app-server/protocol.ts equals the generated types (tsc)", () => {
    const r = spawnSync(
      process.execPath,
      ["node_modules/typescript/bin/tsc", "-p", "contract/codex-0.169/app-server"],
      { cwd: REPO_ROOT, encoding: "utf8", timeout: 60_000 },
    );
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("run-time method tables come from the kept contract", () => {
    const table = JSON.parse(readFileSync(join(CONTRACT, "methods.json"), "utf8")) as {
      clientRequestMethods: string[];
      clientNotifications: string[];
      accountClientRequests: { method: string }[];
    };
    expect(CODEX_CLIENT_REQUEST_METHODS).toEqual(table.clientRequestMethods);
    expect(CODEX_CLIENT_NOTIFICATION_METHODS).toEqual(table.clientNotifications);
    for (const m of [
      "initialize",
      "getAuthStatus",
      "account/read",
      "account/login/start",
      "account/logout",
    ]) {
      expect(table.accountClientRequests.map((e) => e.method)).toContain(m);
    }
  });
});
