/**
 * Amazon Bedrock credentials against the real codex 0.169, whose app server
 * writes them (`account/login/start` with `amazonBedrock` /
 * `amazonBedrockAccessKeys`):
 * - our library writes the same auth.json and config.toml bytes, from the
 *   same starting config, and refuses the same input with the same words;
 * - each program reads and reports what the other wrote;
 * - logout undoes the config as Codex's does (byte for byte).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { clearBedrockProvider, setBedrockProvider } from "../../src/config/bedrock-provider.js";
import { ConfigError } from "../../src/errors.js";
import { loginWithBedrockAccessKeys, loginWithBedrockApiKey } from "../../src/manager/bedrock.js";
import { findCodexBinary, makeCodexHome, removeCodexHome } from "../support/env.js";
import { runInProcess } from "../support/fake-io.js";
import { runCodexAsync, runOursAsync, withCodexAppServer } from "../support/run.js";

const codex = findCodexBinary();
const homes: string[] = [];
afterAll(() => {
  for (const h of homes) removeCodexHome(h);
});
function home(files: Record<string, string> = {}): string {
  const h = makeCodexHome("bedrock");
  homes.push(h);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(h, name), content, { mode: 0o600 });
  return h;
}
const read = (h: string, f: string) =>
  existsSync(join(h, f)) ? readFileSync(join(h, f), "utf8") : undefined;

const STARTING_CONFIGS: Array<[string, string | undefined]> = [
  ["no config.toml", undefined],
  ["empty", ""],
  ["comments, keys and a table", '# my config\nmodel = "o3"\n\n[profiles.x]\nmodel = "y"\n'],
  ["another provider", 'model_provider = "openai"\nmodel = "gpt-5"\n'],
  [
    "an earlier Bedrock region",
    'model_provider = "amazon-bedrock"\n\n[model_providers.amazon-bedrock.aws]\nregion = "eu-west-1"\n',
  ],
];

type Login =
  | { type: "amazonBedrock"; apiKey: string; region: string }
  | {
      type: "amazonBedrockAccessKeys";
      accessKeyId: string;
      secretAccessKey: string;
      sessionToken?: string;
      region: string;
    };

const LOGINS: Array<[string, Login]> = [
  ["API key", { type: "amazonBedrock", apiKey: " bedrock-key-123 ", region: " us-west-2 " }],
  [
    "access keys with a session token",
    {
      type: "amazonBedrockAccessKeys",
      accessKeyId: " AKIA1 ",
      secretAccessKey: "aws-secret-PLANTED ",
      sessionToken: "st",
      region: "eu-central-1",
    },
  ],
  [
    "access keys with a blank session token",
    {
      type: "amazonBedrockAccessKeys",
      accessKeyId: "AKIA2",
      secretAccessKey: "s",
      sessionToken: "  ",
      region: "us-gov-west-1",
    },
  ],
];

function ours(h: string, login: Login) {
  return login.type === "amazonBedrock"
    ? loginWithBedrockApiKey(h, login)
    : loginWithBedrockAccessKeys(h, login);
}

async function theirs(h: string, login: Login): Promise<Record<string, unknown>> {
  return withCodexAppServer(codex!, { home: h }, (call) => call("account/login/start", login), {
    experimentalApi: true,
  });
}

describe.runIf(codex)("Bedrock sign-in writes what codex 0.169's app server writes", () => {
  for (const [loginName, login] of LOGINS) {
    it.each(STARTING_CONFIGS)(`${loginName}, config: %s`, async (_name, config) => {
      const files: Record<string, string> = config === undefined ? {} : { "config.toml": config };
      const [a, b] = [home(files), home(files)];
      const answer = await theirs(a, login);
      expect(answer.result).toEqual({ type: "amazonBedrock" });
      await ours(b, login);
      expect(read(b, "auth.json")).toBe(read(a, "auth.json"));
      expect(read(b, "config.toml")).toBe(read(a, "config.toml"));
    });
  }

  it("refuses what codex refuses, in its words, and saves nothing", async () => {
    const bad: Login[] = [
      { type: "amazonBedrock", apiKey: "  ", region: "us-east-1" },
      { type: "amazonBedrock", apiKey: "k", region: "" },
      { type: "amazonBedrock", apiKey: "k", region: "us-west-1" },
      { type: "amazonBedrock", apiKey: "k", region: "US-EAST-1" },
      { type: "amazonBedrockAccessKeys", accessKeyId: "", secretAccessKey: "s", region: "us-east-1" },
      { type: "amazonBedrockAccessKeys", accessKeyId: "a", secretAccessKey: " ", region: "us-east-1" },
      { type: "amazonBedrockAccessKeys", accessKeyId: "a", secretAccessKey: "s", region: "mars-1" },
    ];
    for (const login of bad) {
      const [a, b] = [home(), home()];
      const answer = await theirs(a, login);
      const message = (answer.error as { message: string }).message;
      await expect(ours(b, login)).rejects.toThrow(message);
      expect([read(a, "auth.json"), read(b, "auth.json"), read(b, "config.toml")]).toEqual([
        undefined,
        undefined,
        undefined,
      ]);
    }
    const forced = home({ "config.toml": 'forced_login_method = "chatgpt"\n' });
    const answer = await theirs(forced, LOGINS[0]![1]);
    await expect(
      loginWithBedrockApiKey(home(), { apiKey: "k", region: "us-east-1" }, "file", {
        config: { forcedLoginMethod: "chatgpt" },
      }),
    ).rejects.toThrow((answer.error as { message: string }).message);
  });
});

describe.runIf(codex)("each program reads and reports the other's Bedrock credentials", () => {
  it("codex writes → our login status, status --json, token", async () => {
    for (const [, login] of LOGINS) {
      const h = home();
      await theirs(h, login);
      const words =
        login.type === "amazonBedrock" ? "Amazon Bedrock API key" : "Amazon Bedrock AWS access keys";
      const status = await runOursAsync(["login", "status"], { home: h });
      expect([status.code, status.stderr]).toEqual([0, `Logged in using ${words}\n`]);
      const report = JSON.parse((await runInProcess(["status", "--json"], { home: h })).stdout);
      expect(report).toMatchObject({
        loggedIn: true,
        mode: login.type === "amazonBedrock" ? "bedrockApiKey" : "bedrockAccessKeys",
        region: login.type === "amazonBedrock" ? "us-west-2" : null,
      });
      const token = await runInProcess(["token"], { home: h });
      expect(token.code).toBe(1);
      expect(token.stderr).toMatch(/not an OpenAI bearer token/);
      expect(token.stdout).toBe("");
      for (const secret of ["bedrock-key-123", "aws-secret-PLANTED", "AKIA"])
        expect(token.stderr + JSON.stringify(report)).not.toContain(secret);
    }
  });

  it("we write → codex login status and account/read", async () => {
    for (const [, login] of LOGINS) {
      const h = home();
      await ours(h, login);
      const words =
        login.type === "amazonBedrock" ? "Amazon Bedrock API key" : "Amazon Bedrock AWS access keys";
      const status = await runCodexAsync(codex!, ["login", "status"], { home: h });
      expect([status.code, status.stderr]).toEqual([0, `Logged in using ${words}\n`]);
      const account = await withCodexAppServer(codex!, { home: h }, (call) => call("account/read", {}));
      expect(account.result).toMatchObject({
        account: { type: "amazonBedrock", usesCodexManagedCredentials: true },
        requiresOpenaiAuth: false,
      });
    }
  });
});

describe.runIf(codex)("logout undoes the Bedrock config as codex 0.169's does", () => {
  const KEY = JSON.stringify({
    auth_mode: "bedrockApiKey",
    OPENAI_API_KEY: null,
    bedrock_api_key: { api_key: "k", region: "us-east-1" },
  });
  const API = JSON.stringify({ auth_mode: "apikey", OPENAI_API_KEY: "sk-x" });
  const cases: Array<[string, string | undefined, string]> = [
    [
      "Bedrock key, no provider in config",
      KEY,
      '# c\nmodel = "o3"\nmodel_reasoning_effort = "high"\n[profiles.x]\nmodel = "y"\n',
    ],
    ["Bedrock key, another provider", KEY, 'model = "o3"\nmodel_provider = "openai"\n'],
    [
      "Bedrock key, provider and region",
      KEY,
      'model = "o3"\nmodel_provider = "amazon-bedrock"\n[model_providers.amazon-bedrock.aws]\nregion = "eu-west-1"\nprofile = "p"\n[model_providers.other]\nname = "x"\n',
    ],
    [
      "API key, Bedrock provider with comments, a profile and a base_url",
      API,
      '# top comment\n\n# model comment\nmodel = "o3" # trailing\nmodel_reasoning_effort = "high"\n# provider comment\nmodel_provider = "amazon-bedrock"\nforced_login_method = "api"\n\n[profiles.x]\nmodel = "y"\nmodel_provider = "amazon-bedrock"\n\n[model_providers.amazon-bedrock]\nbase_url = "https://x"\n[model_providers.amazon-bedrock.aws]\nprofile = "p"\n',
    ],
    ["nothing stored, Bedrock provider", undefined, 'model = "o3"\nmodel_provider = "amazon-bedrock"\n'],
    [
      "nothing stored, only a region table",
      undefined,
      '[model_providers.amazon-bedrock.aws]\nregion = "eu-west-1"\n',
    ],
    [
      "a blank line kept at the top; explicit parent tables kept even when empty",
      API,
      'a = 1\nmodel_provider = "amazon-bedrock"\n\n[model_providers]\n[model_providers.amazon-bedrock]\n[model_providers.amazon-bedrock.aws]\nprofile = "p"\n',
    ],
    [
      "the provider's table between others",
      API,
      'model_provider = "amazon-bedrock"\n\n[p]\nq = 1\n\n[model_providers.amazon-bedrock.aws]\nprofile = "p"\n\n[z]\nw = 2\n',
    ],
    [
      "a table under the provider's aws table",
      API,
      'model_provider = "amazon-bedrock"\n[model_providers.amazon-bedrock.aws]\nprofile = "p"\n[model_providers.amazon-bedrock.aws.auth_refresh]\ncommand = "aws"\n[q]\nr = 1\n',
    ],
    [
      "access keys as the app server leaves them",
      JSON.stringify({ bedrock_access_keys: { access_key_id: "a", secret_access_key: "s" } }),
      'model_provider = "amazon-bedrock"\n\n[model_providers.amazon-bedrock.aws]\nregion = "eu-west-1"\n',
    ],
  ];
  it.each(cases)("%s", async (_name, auth, config) => {
    const files: Record<string, string> = { "config.toml": config, ...(auth ? { "auth.json": auth } : {}) };
    const [a, b] = [home(files), home(files)];
    const [t, o] = await Promise.all([
      runCodexAsync(codex!, ["logout"], { home: a }),
      runOursAsync(["logout"], { home: b }),
    ]);
    expect([o.code, o.stderr]).toEqual([t.code, t.stderr]);
    expect(read(b, "config.toml")).toBe(read(a, "config.toml"));
    expect(existsSync(join(b, "auth.json"))).toBe(existsSync(join(a, "auth.json")));
  });
});

describe("config edits that cannot be made safely change nothing", () => {
  it("a provider written as an inline table or dotted keys is refused with what to do", async () => {
    for (const config of [
      'model_providers = { amazon-bedrock = { aws = { region = "eu-west-1" } } }\n',
      'model_providers.amazon-bedrock.aws.region = "eu-west-1"\n',
    ]) {
      const h = home({ "config.toml": config });
      await expect(setBedrockProvider(h, "us-east-1")).rejects.toThrow(ConfigError);
      await expect(setBedrockProvider(h, "us-east-1")).rejects.toThrow(/set it by hand/i);
      expect(read(h, "config.toml")).toBe(config);
    }
  });
  it("invalid TOML is never rewritten", async () => {
    const h = home({ "config.toml": "model = \n" });
    await expect(clearBedrockProvider(h)).resolves.toBe(false);
    await expect(setBedrockProvider(h)).rejects.toThrow(/not valid TOML/);
    expect(read(h, "config.toml")).toBe("model = \n");
  });
});
