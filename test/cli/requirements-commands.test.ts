/**
 * Our own commands (`status`, `token`) apply the administrator's
 * requirements.toml exactly where they apply `forced_login_method` and
 * `forced_chatgpt_workspace_id`, with the same words; a malformed file is
 * a typed error that names it and changes nothing stored.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeCodexHome, removeCodexHome } from "../support/env.js";
import { runInProcess } from "../support/fake-io.js";
import { fakeChatgptRecord } from "../support/jwt.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) removeCodexHome(d);
});
function folder(files: Record<string, string> = {}): string {
  const d = makeCodexHome("req-cmd");
  dirs.push(d);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(d, name), content, { mode: 0o600 });
  return d;
}
const record = JSON.stringify(fakeChatgptRecord({ accountId: "org_team" }));
const etc = (requirements: string) => ({
  CODEX_AUTH_SYSTEM_CONFIG_DIR: folder({ "requirements.toml": requirements }),
});

describe("status and token under requirements.toml", () => {
  it("status --json: a workspace outside allowed_chatgpt_workspaces is reported as forced_chatgpt_workspace_id's is", async () => {
    const h = folder({ "auth.json": record });
    const r = await runInProcess(["status", "--json"], {
      home: h,
      env: etc('allowed_chatgpt_workspaces = ["org_other"]\n'),
    });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({
      loggedIn: false,
      restriction:
        "Login is restricted to workspace(s) org_other, but current credentials belong to org_team.",
    });
    expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(record);
  });

  it("status --json: a malformed requirements file is a typed error naming it", async () => {
    const h = folder({ "auth.json": record });
    const env = etc("allowed_login_methods = 1\n");
    const r = await runInProcess(["status", "--json"], { home: h, env });
    expect(r.code).toBe(1);
    const error = JSON.parse(r.stdout).error;
    expect(error.code).toBe("ERR_REQUIREMENTS_INVALID");
    expect(error.message).toContain(join(env.CODEX_AUTH_SYSTEM_CONFIG_DIR, "requirements.toml"));
    expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(record);
  });

  it("token: API-only requirements refuse ChatGPT tokens as forced_login_method = api does (logout first)", async () => {
    const h = folder({ "auth.json": record });
    const r = await runInProcess(["token"], {
      home: h,
      env: {
        ...etc('allowed_login_methods = ["api"]\n'),
        CODEX_REVOKE_TOKEN_URL_OVERRIDE: "http://127.0.0.1:9/",
      },
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(
      "API key login is required, but ChatGPT is currently being used. Logging out.",
    );
    expect(existsSync(join(h, "auth.json"))).toBe(false);
  });

  it("token: a malformed requirements file stops it before anything is read or removed", async () => {
    const h = folder({ "auth.json": record });
    const r = await runInProcess(["token"], { home: h, env: etc("this is not toml\n") });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(
      /^Error loading configuration: failed to parse requirements layer .*requirements\.toml: /,
    );
    expect(readFileSync(join(h, "auth.json"), "utf8")).toBe(record);
  });
});
