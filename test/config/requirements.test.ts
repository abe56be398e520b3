/**
 * The administrator's requirements.toml: how it is parsed, how it narrows
 * the configured login restrictions (the rules observed with the codex
 * 0.169 binary, see test/cli/requirements-codex.test.ts), and how
 * loadConfig layers /etc/codex around CODEX_HOME/config.toml.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { parse, stringify } from "smol-toml";
import { afterEach, describe, expect, it } from "vitest";
import { parseManagedRequirements } from "../../src/config/requirements.js";
import {
  type AuthSettings,
  applyRequirements,
  type ForcedLoginMethod,
  loadConfig,
  type ManagedRequirements,
  NO_USABLE_LOGIN_METHOD,
  RequirementsError,
} from "../../src/index.js";
import { makeCodexHome, removeCodexHome } from "../support/env.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeCodexHome(d);
});
function folder(files: Record<string, string> = {}): string {
  const d = makeCodexHome("req");
  dirs.push(d);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
  return d;
}

const configured = (o: Partial<AuthSettings> = {}): AuthSettings => ({
  credentialsStore: "file",
  forcedLoginMethod: undefined,
  forcedChatgptWorkspaceIds: undefined,
  chatgptBaseUrl: undefined,
  ...o,
});
const required = (o: Partial<ManagedRequirements> = {}): ManagedRequirements => ({
  path: "/etc/codex/requirements.toml",
  allowedLoginMethods: undefined,
  allowedChatgptWorkspaces: undefined,
  credentialsStore: undefined,
  chatgptBaseUrl: undefined,
  enforceResidency: undefined,
  ...o,
});

describe("applyRequirements (Codex 0.169's merge)", () => {
  it("requirements-absent-change-nothing: configured settings come back (workspace ids trimmed)", () => {
    expect(
      applyRequirements(
        configured({ forcedLoginMethod: "api", forcedChatgptWorkspaceIds: [" org_a ", " "] }),
        undefined,
      ),
    ).toEqual(configured({ forcedLoginMethod: "api", forcedChatgptWorkspaceIds: ["org_a"] }));
    expect(applyRequirements(configured({ forcedChatgptWorkspaceIds: [" "] }), undefined)).toEqual(
      configured(),
    );
  });

  it("one-allowed-method-is-forced", () => {
    expect(
      applyRequirements(configured(), required({ allowedLoginMethods: ["chatgpt"] })).forcedLoginMethod,
    ).toBe("chatgpt");
    expect(
      applyRequirements(configured(), required({ allowedLoginMethods: ["api"] })).forcedLoginMethod,
    ).toBe("api");
    expect(
      applyRequirements(configured(), required({ allowedLoginMethods: ["api", "chatgpt"] }))
        .forcedLoginMethod,
    ).toBeUndefined();
  });

  it("configured-method-outside-requirements-refuses-to-start", () => {
    const attempt = () =>
      applyRequirements(
        configured({ forcedLoginMethod: "api" }),
        required({ allowedLoginMethods: ["chatgpt"] }),
      );
    expect(attempt).toThrowError(RequirementsError);
    expect(attempt).toThrowError(NO_USABLE_LOGIN_METHOD);
    expect(() => applyRequirements(configured(), required({ allowedLoginMethods: [] }))).toThrowError(
      expect.objectContaining({ code: "ERR_REQUIREMENTS_INVALID", reason: "no-login-method" }),
    );
  });

  it("workspaces-are-intersected", () => {
    expect(
      applyRequirements(
        configured({ forcedChatgptWorkspaceIds: ["org_a", "org_b"] }),
        required({ allowedChatgptWorkspaces: ["org_b", "org_c"] }),
      ).forcedChatgptWorkspaceIds,
    ).toEqual(["org_b"]);
    expect(
      applyRequirements(configured(), required({ allowedChatgptWorkspaces: ["org_b", "org_c"] }))
        .forcedChatgptWorkspaceIds,
    ).toEqual(["org_b", "org_c"]);
  });

  it("no-workspace-left-means-api-only: or nothing, when ChatGPT is the only method", () => {
    expect(applyRequirements(configured(), required({ allowedChatgptWorkspaces: [] }))).toEqual(
      configured({ forcedLoginMethod: "api", forcedChatgptWorkspaceIds: [] }),
    );
    expect(() =>
      applyRequirements(
        configured({ forcedLoginMethod: "chatgpt", forcedChatgptWorkspaceIds: ["org_a"] }),
        required({ allowedChatgptWorkspaces: ["org_b"] }),
      ),
    ).toThrowError(NO_USABLE_LOGIN_METHOD);
  });

  it("exact-requirements-replace-configured-values", () => {
    expect(
      applyRequirements(
        configured({ credentialsStore: "file", chatgptBaseUrl: "https://mine/" }),
        required({ credentialsStore: "ephemeral", chatgptBaseUrl: "https://managed/" }),
      ),
    ).toEqual(configured({ credentialsStore: "ephemeral", chatgptBaseUrl: "https://managed/" }));
  });

  // The merge as a model: each method is usable when every source allows it
  // (and ChatGPT only while a workspace is left); the result forces the one
  // usable method, or none when both are, and refuses when none is.
  const method = fc.constantFrom<ForcedLoginMethod>("chatgpt", "api");
  const ids = fc.array(fc.constantFrom("org_a", "org_b", "org_c", " org_a ", " "), { maxLength: 4 });
  const settings = fc.record({
    credentialsStore: fc.constantFrom("file", "keyring", "auto", "ephemeral") as fc.Arbitrary<
      AuthSettings["credentialsStore"]
    >,
    forcedLoginMethod: fc.option(method, { nil: undefined }),
    forcedChatgptWorkspaceIds: fc.option(ids, { nil: undefined }),
    chatgptBaseUrl: fc.option(fc.constant("https://mine/"), { nil: undefined }),
  });
  const requirements = fc.option(
    fc.record({
      path: fc.constant("/etc/codex/requirements.toml"),
      allowedLoginMethods: fc.option(fc.uniqueArray(method, { maxLength: 2 }), { nil: undefined }),
      allowedChatgptWorkspaces: fc.option(fc.uniqueArray(fc.constantFrom("org_a", "org_b", "org_c")), {
        nil: undefined,
      }),
      credentialsStore: fc.option(fc.constant("ephemeral" as const), { nil: undefined }),
      chatgptBaseUrl: fc.option(fc.constant("https://managed/"), { nil: undefined }),
      enforceResidency: fc.option(fc.constant("us" as const), { nil: undefined }),
    }),
    { nil: undefined },
  );

  it("merge-matches-the-model (property)", () => {
    fc.assert(
      fc.property(settings, requirements, (c, r) => {
        const own = c.forcedChatgptWorkspaceIds?.map((i) => i.trim()).filter(Boolean);
        const ownIds = own?.length ? own : undefined;
        const reqIds: readonly string[] | undefined = r?.allowedChatgptWorkspaces;
        const workspaces =
          reqIds === undefined ? ownIds : (ownIds?.filter((i) => reqIds.includes(i)) ?? reqIds);
        const allowedBy = (m: ForcedLoginMethod) =>
          (r?.allowedLoginMethods?.includes(m) ?? true) && (c.forcedLoginMethod ?? m) === m;
        const chatgpt = allowedBy("chatgpt") && (workspaces === undefined || workspaces.length > 0);
        const api = allowedBy("api");
        if (!chatgpt && !api) {
          expect(() => applyRequirements(c, r)).toThrowError(NO_USABLE_LOGIN_METHOD);
          return;
        }
        const out = applyRequirements(c, r);
        expect(out.forcedLoginMethod).toBe(chatgpt && api ? undefined : chatgpt ? "chatgpt" : "api");
        expect(out.forcedChatgptWorkspaceIds).toEqual(workspaces);
        expect(out.credentialsStore).toBe(r?.credentialsStore ?? c.credentialsStore);
        expect(out.chatgptBaseUrl).toBe(r?.chatgptBaseUrl ?? c.chatgptBaseUrl);
        // Requirements only narrow: nothing outside them is ever allowed.
        if (reqIds) expect(out.forcedChatgptWorkspaceIds?.every((i) => reqIds.includes(i))).toBe(true);
        if (r?.allowedLoginMethods && out.forcedLoginMethod) {
          expect(r.allowedLoginMethods).toContain(out.forcedLoginMethod);
        }
      }),
    );
  });
});

describe("parseManagedRequirements", () => {
  const path = "/etc/codex/requirements.toml";
  const parsed = (text: string) => parseManagedRequirements(text, path, parse);
  const refusal = (text: string) => {
    try {
      parsed(text);
    } catch (err) {
      expect(err).toBeInstanceOf(RequirementsError);
      expect((err as RequirementsError).path).toBe(path);
      return (err as Error).message;
    }
    throw new Error("not refused");
  };

  it("reads the sign-in keys and ignores the rest", () => {
    expect(
      parsed(
        'allowed_login_methods = ["chatgpt", "chatgpt"]\nallowed_chatgpt_workspaces = [" org_a ", "", "org_b"]\ncli_auth_credentials_store = "keyring"\nchatgpt_base_url = "https://x/"\nenforce_residency = "us"\nallowed_sandbox_modes = ["read-only"]\n[mcp_servers]\n',
      ),
    ).toEqual({
      path,
      allowedLoginMethods: ["chatgpt"],
      allowedChatgptWorkspaces: ["org_a", "org_b"],
      credentialsStore: "keyring",
      chatgptBaseUrl: "https://x/",
      enforceResidency: "us",
    });
  });

  it("malformed-requirements-name-the-file-in-codex-words (observed with codex 0.169)", () => {
    expect(refusal('allowed_login_methods = "chatgpt"\n')).toBe(
      `failed to parse requirements layer ${path}: invalid type: string "chatgpt", expected a sequence\nin \`allowed_login_methods\``,
    );
    expect(refusal('allowed_login_methods = ["bogus"]\n')).toBe(
      `failed to parse requirements layer ${path}: unknown variant \`bogus\`, expected \`chatgpt\` or \`api\`\nin \`allowed_login_methods\``,
    );
    expect(refusal("allowed_chatgpt_workspaces = { org_a = true }\n")).toBe(
      `failed to parse requirements layer ${path}: invalid type: map, expected a sequence\nin \`allowed_chatgpt_workspaces\``,
    );
    expect(refusal('cli_auth_credentials_store = "bogus"\n')).toBe(
      `failed to parse requirements layer ${path}: unknown variant \`bogus\`, expected one of \`file\`, \`keyring\`, \`auto\`, \`ephemeral\`\nin \`cli_auth_credentials_store\``,
    );
    expect(refusal("chatgpt_base_url = 5\n")).toBe(
      `failed to parse requirements layer ${path}: invalid type: integer \`5\`, expected a string\nin \`chatgpt_base_url\``,
    );
    expect(refusal('enforce_residency = "eu"\n')).toBe(
      `failed to parse requirements layer ${path}: unknown variant \`eu\`, expected \`us\`\nin \`enforce_residency\``,
    );
    expect(refusal("this is not toml\n")).toMatch(
      /^failed to parse requirements layer \/etc\/codex\/requirements\.toml: TOML parse error at line 1, column 6: /,
    );
  });

  it("any-text-is-read-or-refused-with-a-typed-error (property)", () => {
    const value = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.boolean(),
      fc.array(fc.oneof(fc.string(), fc.constantFrom("chatgpt", "api", "org_a"), fc.integer())),
      fc.dictionary(fc.string(), fc.string()),
    );
    const key = fc.constantFrom(
      "allowed_login_methods",
      "allowed_chatgpt_workspaces",
      "cli_auth_credentials_store",
      "chatgpt_base_url",
      "enforce_residency",
      "other",
    );
    fc.assert(
      fc.property(fc.dictionary(key, value), fc.string(), (doc, noise) => {
        for (const text of [stringify(doc), `${stringify(doc)}\n${noise}`, noise]) {
          try {
            const r = parsed(text);
            expect(r.path).toBe(path);
          } catch (err) {
            expect(err).toBeInstanceOf(RequirementsError);
            expect((err as Error).message.startsWith(`failed to parse requirements layer ${path}: `)).toBe(
              true,
            );
          }
        }
      }),
    );
  });
});

describe("loadConfig with the administrator's folder", () => {
  it("reads requirements.toml from the systemConfigDir option and applies it", async () => {
    const home = folder({ "config.toml": 'forced_chatgpt_workspace_id = ["org_a", "org_b"]\n' });
    const etc = folder({
      "requirements.toml": 'allowed_login_methods = ["chatgpt"]\nallowed_chatgpt_workspaces = ["org_b"]\n',
    });
    const c = await loadConfig({ codexHome: home, systemConfigDir: etc, env: {} });
    expect(c.forcedLoginMethod).toBe("chatgpt");
    expect(c.forcedChatgptWorkspaceIds).toEqual(["org_b"]);
    expect(c.requirements?.path).toBe(join(etc, "requirements.toml"));
  });

  it("reads the folder named by CODEX_AUTH_SYSTEM_CONFIG_DIR", async () => {
    const home = folder();
    const etc = folder({ "requirements.toml": 'allowed_login_methods = ["api"]\n' });
    const c = await loadConfig({ codexHome: home, env: { CODEX_AUTH_SYSTEM_CONFIG_DIR: etc } });
    expect(c.forcedLoginMethod).toBe("api");
  });

  it("layers-in-codex-order: system config.toml < config.toml < -c < managed_config.toml", async () => {
    const home = folder({
      "config.toml": 'forced_login_method = "api"\ncli_auth_credentials_store = "keyring"\n',
    });
    const etc = folder({
      "config.toml":
        'forced_login_method = "chatgpt"\ncli_auth_credentials_store = "auto"\nchatgpt_base_url = "https://sys/"\n',
    });
    const base = { codexHome: home, systemConfigDir: etc, env: {} };
    expect(await loadConfig(base)).toMatchObject({
      forcedLoginMethod: "api",
      credentialsStore: "keyring",
      chatgptBaseUrl: "https://sys/",
    });
    expect(await loadConfig({ ...base, overrides: ['forced_login_method="chatgpt"'] })).toMatchObject({
      forcedLoginMethod: "chatgpt",
    });
    writeFileSync(join(etc, "managed_config.toml"), 'forced_login_method = "api"\n');
    expect(await loadConfig({ ...base, overrides: ['forced_login_method="chatgpt"'] })).toMatchObject({
      forcedLoginMethod: "api",
    });
  });

  it("an invalid value in managed_config.toml is named by file, line and column", async () => {
    const etc = folder({ "managed_config.toml": 'forced_login_method = "bogus"\n' });
    await expect(loadConfig({ codexHome: folder(), systemConfigDir: etc, env: {} })).rejects.toThrowError(
      `${join(etc, "managed_config.toml")}:1:23: unknown variant \`bogus\`, expected \`chatgpt\` or \`api\``,
    );
  });

  it("a malformed requirements file is a RequirementsError naming it, whatever config.toml says", async () => {
    const etc = folder({ "requirements.toml": "allowed_login_methods = 1\n" });
    const err = await loadConfig({ codexHome: folder(), systemConfigDir: etc, env: {} }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RequirementsError);
    expect(err).toMatchObject({ code: "ERR_REQUIREMENTS_INVALID", reason: "malformed" });
    expect((err as RequirementsError).path).toBe(join(etc, "requirements.toml"));
  });

  it("an unreadable requirements file is refused, not ignored", async () => {
    const etc = folder();
    mkdirSync(join(etc, "requirements.toml")); // a folder where the file should be: EISDIR
    const err = await loadConfig({ codexHome: folder(), systemConfigDir: etc, env: {} }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: "ERR_REQUIREMENTS_INVALID", reason: "malformed" });
    expect((err as Error).message).toContain(join(etc, "requirements.toml"));
  });

  it("no folder, no requirements: nothing changes", async () => {
    const c = await loadConfig({ codexHome: folder(), systemConfigDir: join(folder(), "missing"), env: {} });
    expect(c.requirements).toBeUndefined();
    expect(c.forcedLoginMethod).toBeUndefined();
  });
});
