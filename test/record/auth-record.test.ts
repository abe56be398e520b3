import { inspect } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AuthFileMalformedError } from "../../src/errors.js";
import {
  type AuthRecord,
  authRecordToJson,
  isRfc3339,
  KNOWN_AUTH_MODES,
  parseAuthRecord,
  resolvedMode,
  serializeAuthRecord,
  serializeAuthRecordCompact,
  validateAuthRecord,
  writtenMode,
} from "../../src/record/auth-record.js";
import {
  CLAIM_CASES,
  claimCaseText,
  ID_TOKEN_CASES,
  idTokenCaseText,
  LAST_REFRESH_ACCEPTED,
  LAST_REFRESH_REFUSED,
  lastRefreshCaseText,
  MALFORMED_CASES,
  MORE_RECORD_CASES,
  SECRETS,
  VALID_ID_TOKEN,
} from "../fixtures/codex-cases.js";
import { fakeChatgptRecord, fakeJwt } from "../support/jwt.js";

const SOURCE = "/home/someone/.codex/auth.json";

function malformed(text: string, source = SOURCE): AuthFileMalformedError {
  try {
    parseAuthRecord(text, source);
  } catch (err) {
    expect(err).toBeInstanceOf(AuthFileMalformedError);
    return err as AuthFileMalformedError;
  }
  throw new Error("expected parseAuthRecord to throw");
}

/** The message names the source and says what is wrong; neither it nor the error's inspection (causes included) quotes a secret. */
function expectGoodError(
  err: AuthFileMalformedError,
  problem: RegExp | undefined,
  secrets: readonly string[],
) {
  expect(err.code).toBe("ERR_AUTH_FILE_MALFORMED");
  expect(err.name).toBe("AuthFileMalformedError");
  expect(err.source).toBe(SOURCE);
  expect(err.message).toContain(SOURCE);
  if (problem) expect(err.message).toMatch(problem);
  const inspected = inspect(err, { depth: 10 });
  for (const secret of secrets) {
    expect(err.message).not.toContain(secret);
    expect(inspected).not.toContain(secret);
  }
}

const ALL_SECRETS = [SECRETS.apiKey, SECRETS.accessToken, SECRETS.refreshToken, VALID_ID_TOKEN];

describe("reading both shapes Codex writes", () => {
  it("legacy API-key shape: no auth_mode, tokens and last_refresh null (reference §2.11)", () => {
    const record = parseAuthRecord(
      '{"OPENAI_API_KEY":"sk-legacy-1234567890ABCDEFGH","tokens":null,"last_refresh":null}',
      SOURCE,
    );
    expect(record).toEqual({ OPENAI_API_KEY: "sk-legacy-1234567890ABCDEFGH" });
    expect(record.tokens).toBeUndefined();
    expect(record.last_refresh).toBeUndefined();
    expect(resolvedMode(record)).toBe("apikey");
  });

  it("current API-key shape: auth_mode, tokens and last_refresh absent (reference §2.2)", () => {
    const record = parseAuthRecord(
      '{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "sk-test-1234567890ABCDEFGH"\n}',
      SOURCE,
    );
    expect(record).toEqual({ auth_mode: "apikey", OPENAI_API_KEY: "sk-test-1234567890ABCDEFGH" });
  });

  it("legacy ChatGPT shape without auth_mode (as Codex's own tests write it)", () => {
    const raw = fakeChatgptRecord({ lastRefresh: "2026-11-25T09:06:31.383Z" });
    const record = parseAuthRecord(JSON.stringify(raw), SOURCE);
    expect(record.auth_mode).toBeUndefined();
    expect(resolvedMode(record)).toBe("chatgpt");
    expect(record.OPENAI_API_KEY).toBeNull();
    expect(record.tokens).toEqual({ ...(raw.tokens as object), account_id: "org_x" });
    expect(record.last_refresh).toBe("2026-11-25T09:06:31.383Z");
  });

  it("ChatGPT tokens without account_id read account_id as null", () => {
    const record = parseAuthRecord(
      JSON.stringify({ tokens: { id_token: VALID_ID_TOKEN, access_token: "a", refresh_token: "r" } }),
      SOURCE,
    );
    expect(record.tokens?.account_id).toBeNull();
  });

  it("the access token is not parsed at load time (Codex accepts an opaque one)", () => {
    const text = JSON.stringify({
      tokens: { id_token: VALID_ID_TOKEN, access_token: "opaque", refresh_token: "r" },
      last_refresh: "2026-01-22T16:48:43.123456Z",
    });
    expect(parseAuthRecord(text, SOURCE).tokens?.access_token).toBe("opaque");
  });
});

describe("writing: byte for byte what Codex 0.169 writes", () => {
  it("API-key record: 2-space JSON, auth_mode then OPENAI_API_KEY, no trailing newline (reference §2.2)", () => {
    const expected = '{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "sk-test-1234567890ABCDEFGH"\n}';
    expect(serializeAuthRecord({ auth_mode: "apikey", OPENAI_API_KEY: "sk-test-1234567890ABCDEFGH" })).toBe(
      expected,
    );
    // auth_mode is always written, resolved from the key when the record had none
    expect(serializeAuthRecord({ OPENAI_API_KEY: "sk-test-1234567890ABCDEFGH" })).toBe(expected);
    expect(Buffer.byteLength(expected)).toBe(77); // the size Codex wrote for this key
    expect(expected.endsWith('"\n}')).toBe(true);
  });

  it("ChatGPT record written by a real Codex login round-trips to identical bytes (key order included)", () => {
    const codexText = [
      "{",
      '  "auth_mode": "chatgpt",',
      '  "OPENAI_API_KEY": null,',
      '  "tokens": {',
      `    "id_token": "${VALID_ID_TOKEN}",`,
      `    "access_token": "${fakeJwt({ exp: 1_790_003_600, tag: "authcode-1" })}",`,
      '    "refresh_token": "rt_fake_authcode_12",',
      '    "oauth_provenance": {',
      '      "issuer": "http://127.0.0.1:18999",',
      '      "client_id": "app_EMoamEEZ73f0CkXaXp7hrann"',
      "    },",
      '    "login_owner_id": "95HF1dSHz1cjssmex2v6Jvth0aESukcdzkZYhmSDFe8",',
      '    "account_id": "org_x"',
      "  },",
      '  "last_refresh": "2026-11-25T09:08:03.059433541Z"',
      "}",
    ].join("\n");
    expect(serializeAuthRecord(parseAuthRecord(codexText, SOURCE))).toBe(codexText);
  });

  it("exchanged-key ChatGPT record (auth_mode chatgpt with a key) keeps its mode and bytes", () => {
    const codexText = [
      "{",
      '  "auth_mode": "chatgpt",',
      '  "OPENAI_API_KEY": "sk-fake-exchanged-key-0123456789",',
      '  "tokens": {',
      `    "id_token": "${VALID_ID_TOKEN}",`,
      '    "access_token": "at",',
      '    "refresh_token": "rt_fake_authcode_1",',
      '    "account_id": "org_x"',
      "  },",
      '  "last_refresh": "2026-11-25T09:08:21.087211519Z"',
      "}",
    ].join("\n");
    const record = parseAuthRecord(codexText, SOURCE);
    expect(resolvedMode(record)).toBe("chatgpt");
    expect(serializeAuthRecord(record)).toBe(codexText);
  });

  it("legacy ChatGPT file gains auth_mode first and otherwise keeps Codex's layout", () => {
    const legacy = [
      "{",
      '  "OPENAI_API_KEY": null,',
      '  "tokens": {',
      `    "id_token": "${VALID_ID_TOKEN}",`,
      '    "access_token": "at",',
      '    "refresh_token": "rt_fake_original",',
      '    "account_id": "org_x"',
      "  },",
      '  "last_refresh": "2026-11-25T09:06:31.383Z"',
      "}",
    ].join("\n");
    expect(serializeAuthRecord(parseAuthRecord(legacy, SOURCE))).toBe(
      legacy.replace("{\n", '{\n  "auth_mode": "chatgpt",\n'),
    );
  });

  it("account_id absent is written as null; tokens and last_refresh absent are omitted", () => {
    const record: AuthRecord = {
      auth_mode: "chatgpt",
      OPENAI_API_KEY: null,
      tokens: { id_token: VALID_ID_TOKEN, access_token: "a", refresh_token: "r", account_id: null },
      last_refresh: "2026-01-01T00:00:00Z",
    };
    expect(Object.keys(authRecordToJson(record))).toEqual([
      "auth_mode",
      "OPENAI_API_KEY",
      "tokens",
      "last_refresh",
    ]);
    expect(authRecordToJson(record).tokens).toEqual({
      id_token: VALID_ID_TOKEN,
      access_token: "a",
      refresh_token: "r",
      account_id: null,
    });
    expect(Object.keys(authRecordToJson({ OPENAI_API_KEY: null }))).toEqual(["auth_mode", "OPENAI_API_KEY"]);
  });

  it("the keyring form is the same object as compact JSON", () => {
    const record = parseAuthRecord(JSON.stringify(fakeChatgptRecord()), SOURCE);
    expect(serializeAuthRecordCompact(record)).toBe(JSON.stringify(JSON.parse(serializeAuthRecord(record))));
    expect(serializeAuthRecordCompact(record)).not.toContain("\n");
  });
});

describe("unknown fields survive parse → serialize", () => {
  it("top level and inside tokens, including oauth_provenance extras and login_owner_id", () => {
    const original = {
      auth_mode: "chatgpt",
      OPENAI_API_KEY: null,
      tokens: {
        id_token: VALID_ID_TOKEN,
        access_token: "a",
        refresh_token: "r",
        oauth_provenance: {
          issuer: "http://127.0.0.1:18999/",
          client_id: "app_x",
          future_provenance: [1, { a: null }],
        },
        login_owner_id: "95HF1dSHz1cjssmex2v6Jvth0aESukcdzkZYhmSDFe8",
        future_token_field: { nested: ["x", 1.5, true, null] },
        account_id: "org_x",
      },
      last_refresh: "2026-11-25T09:08:03.059433541Z",
      future_top_field: { enabled: true },
      another_one: "kept",
    };
    const record = parseAuthRecord(JSON.stringify(original), SOURCE);
    expect(record.tokens?.oauth_provenance).toEqual(original.tokens.oauth_provenance);
    expect(record.tokens?.login_owner_id).toBe(original.tokens.login_owner_id);
    expect(record.tokens?.extra).toEqual({ future_token_field: original.tokens.future_token_field });
    expect(record.extra).toEqual({ future_top_field: { enabled: true }, another_one: "kept" });
    expect(JSON.parse(serializeAuthRecord(record))).toEqual(original);
    expect(parseAuthRecord(serializeAuthRecord(record), SOURCE)).toEqual(record);
  });

  // Regression: `k in out` skipped fields named like Object.prototype members, and
  // assignment turned a "__proto__" field into a prototype change: both were dropped.
  it("fields named __proto__, constructor, toString survive at both levels", () => {
    const text =
      '{"OPENAI_API_KEY":"sk-k","constructor":1,"toString":"x","__proto__":{"a":1},"hasOwnProperty":null,' +
      `"tokens":{"id_token":"${VALID_ID_TOKEN}","access_token":"a","refresh_token":"r","__proto__":{"z":2},"valueOf":3}}`;
    const record = parseAuthRecord(text, SOURCE);
    const again = JSON.parse(serializeAuthRecord(record));
    const expected: Array<[string, unknown]> = [
      ["constructor", 1],
      ["toString", "x"],
      ["__proto__", { a: 1 }],
      ["hasOwnProperty", null],
    ];
    for (const [key, value] of expected) {
      expect(Object.hasOwn(again, key)).toBe(true);
      expect(again[key]).toEqual(value);
    }
    expect(Object.hasOwn(again.tokens, "__proto__")).toBe(true);
    expect(Object.getOwnPropertyDescriptor(again.tokens, "__proto__")?.value).toEqual({ z: 2 });
    expect(again.tokens.valueOf).toBe(3);
    expect(Object.getPrototypeOf(record.extra)).toBe(Object.prototype);
  });
});

describe("malformed auth.json: same decision as Codex 0.169 (reference §2.8, §2.11)", () => {
  it.each(MALFORMED_CASES)("$text → deserializes=$deserializes ($codexSays)", (c) => {
    if (c.deserializes) {
      const record = parseAuthRecord(c.text, SOURCE);
      expect(resolvedMode(record)).toBe(c.mode);
    } else {
      expectGoodError(malformed(c.text), c.problem, ALL_SECRETS);
    }
  });

  it("unknown fields are ignored on read, kept for write", () => {
    const record = parseAuthRecord(`{"OPENAI_API_KEY":"${SECRETS.apiKey}","unknown_field":1}`, SOURCE);
    expect(record.extra).toEqual({ unknown_field: 1 });
  });

  it("accepts every auth_mode Codex knows, case-sensitively", () => {
    for (const mode of KNOWN_AUTH_MODES) {
      expect(parseAuthRecord(JSON.stringify({ auth_mode: mode }), SOURCE).auth_mode).toBe(mode);
      expectGoodError(
        malformed(JSON.stringify({ auth_mode: mode.toUpperCase() })),
        /"auth_mode" must be one of/,
        [],
      );
    }
  });

  it("a syntax error next to a secret does not carry the secret (not even in the SyntaxError cause)", () => {
    // V8 quotes the text around an unexpected token: `…"_API_KEY":sk-proj-SEC…`.
    const err = malformed(`{"OPENAI_API_KEY":${SECRETS.apiKey}}`);
    expectGoodError(err, /invalid JSON/, [SECRETS.apiKey, SECRETS.apiKey.slice(0, 10)]);
  });

  it("validateAuthRecord applies the same rules to an already-parsed value", () => {
    expect(() => validateAuthRecord([], SOURCE)).toThrow(AuthFileMalformedError);
    expect(validateAuthRecord({ OPENAI_API_KEY: "k" }, SOURCE)).toEqual({ OPENAI_API_KEY: "k" });
  });
});

describe("id_token parsing: same decision as Codex 0.169 (reference §2.9)", () => {
  it.each(ID_TOKEN_CASES)(
    "id_token=$idToken → deserializes=$deserializes",
    ({ idToken, deserializes, problem }) => {
      const text = idTokenCaseText(idToken);
      if (deserializes) {
        expect(parseAuthRecord(text, SOURCE).tokens?.id_token).toBe(idToken);
      } else {
        const err = malformed(text);
        expectGoodError(err, problem, [SECRETS.accessToken, SECRETS.refreshToken]);
        expect(err.message).toMatch(/"tokens\.id_token" is not a usable JWT/);
      }
    },
  );
});

describe("more shapes: same decision as the codex binary (see codex-differential.test.ts)", () => {
  const decision = (text: string) => {
    try {
      parseAuthRecord(text, SOURCE);
      return true;
    } catch (err) {
      expect(err).toBeInstanceOf(AuthFileMalformedError);
      return false;
    }
  };

  it.each(MORE_RECORD_CASES)("$text → deserializes=$deserializes", ({ text, deserializes }) => {
    expect(decision(text)).toBe(deserializes);
  });

  it.each(CLAIM_CASES)(
    "id_token claims $payload → deserializes=$deserializes",
    ({ payload, deserializes }) => {
      expect(decision(claimCaseText(payload))).toBe(deserializes);
    },
  );

  it.each(LAST_REFRESH_ACCEPTED)("last_refresh %s is accepted", (value) => {
    expect(isRfc3339(value)).toBe(true);
    expect(decision(lastRefreshCaseText(value))).toBe(true);
  });

  it.each(LAST_REFRESH_REFUSED)("last_refresh %s is refused", (value) => {
    expect(isRfc3339(value)).toBe(false);
    const err = malformed(lastRefreshCaseText(value));
    expectGoodError(err, /"last_refresh" must be an RFC 3339 timestamp/, [
      SECRETS.accessToken,
      SECRETS.refreshToken,
    ]);
  });
});

// ---------------------------------------------------------------- properties

const NS = "https://api.openai.com/auth";
const text = fc.string({ unit: "binary", maxLength: 30 });
/** JSON values as they come back from a JSON file (fast-check's jsonValue includes -0, which JSON writes as 0). */
const json = (maxDepth: number) =>
  fc.jsonValue({ maxDepth }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);
const claims = fc.record(
  {
    email: text,
    exp: fc.integer({ min: 0, max: 2 ** 40 }),
    [NS]: fc.record(
      { chatgpt_plan_type: text, chatgpt_user_id: text, user_id: text, chatgpt_account_id: text },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);
const two = (n: number) => String(n).padStart(2, "0");
const timestamp = fc
  .tuple(
    fc.date({
      min: new Date("0001-01-01T00:00:00Z"),
      max: new Date("9999-12-31T23:59:59Z"),
      noInvalidDate: true,
    }),
    fc.constantFrom("", ".1", ".123", ".123456", ".059433541"),
    fc.constantFrom("Z", "+00:00", "-05:30", "+14:00", "z"),
    fc.constantFrom("T", " ", "t"),
  )
  .map(
    ([d, frac, offset, sep]) =>
      `${String(d.getUTCFullYear()).padStart(4, "0")}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}${sep}` +
      `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}${frac}${offset}`,
  );
const extraFields = (known: readonly string[]) =>
  fc.dictionary(
    fc.oneof(
      fc.string().filter((k) => !known.includes(k)),
      fc.constantFrom("__proto__", "constructor", "toString", "valueOf"),
    ),
    json(3),
    { minKeys: 1, maxKeys: 4 },
  );
const TOKEN_KEYS = [
  "id_token",
  "access_token",
  "refresh_token",
  "account_id",
  "oauth_provenance",
  "login_owner_id",
];
const TOP_KEYS = [
  "auth_mode",
  "OPENAI_API_KEY",
  "tokens",
  "last_refresh",
  "agent_identity",
  "personal_access_token",
  "bedrock_api_key",
  "bedrock_access_keys",
];
const tokens = fc.record(
  {
    id_token: claims.map(fakeJwt),
    access_token: text,
    refresh_token: text,
    account_id: fc.option(text, { nil: null }),
    oauth_provenance: fc
      .tuple(text, text, fc.option(extraFields(["issuer", "client_id"]), { nil: undefined }))
      .map(([issuer, client_id, more]) => ({ ...more, issuer, client_id })),
    login_owner_id: text,
    extra: extraFields(TOKEN_KEYS),
  },
  { requiredKeys: ["id_token", "access_token", "refresh_token", "account_id"] },
);
const agentIdentity = fc.oneof(
  text,
  fc.record(
    {
      agent_runtime_id: text,
      agent_private_key: text,
      account_id: text,
      chatgpt_user_id: text,
      email: fc.option(text, { nil: null }),
      plan_type: text,
      chatgpt_account_is_fedramp: fc.boolean(),
      task_id: fc.option(text, { nil: null }),
      more: json(2),
    },
    {
      requiredKeys: [
        "agent_runtime_id",
        "agent_private_key",
        "account_id",
        "chatgpt_user_id",
        "plan_type",
        "chatgpt_account_is_fedramp",
      ],
    },
  ),
);
const validRecord = fc.record(
  {
    auth_mode: fc.constantFrom(...KNOWN_AUTH_MODES),
    OPENAI_API_KEY: fc.option(text, { nil: null }),
    tokens,
    last_refresh: timestamp,
    agent_identity: agentIdentity,
    personal_access_token: text,
    bedrock_api_key: fc.record(
      { api_key: text, region: text, more: json(2) },
      { requiredKeys: ["api_key", "region"] },
    ),
    bedrock_access_keys: fc.record(
      {
        access_key_id: text,
        secret_access_key: text,
        session_token: fc.option(text, { nil: null }),
        more: json(2),
      },
      { requiredKeys: ["access_key_id", "secret_access_key"] },
    ),
    extra: extraFields(TOP_KEYS),
  },
  { requiredKeys: ["auth_mode", "OPENAI_API_KEY"] },
) as fc.Arbitrary<AuthRecord>;

/** Either a record or an AuthFileMalformedError naming the source; anything else is a crash. */
function parseOutcome(input: string): AuthRecord | AuthFileMalformedError {
  try {
    const record = parseAuthRecord(input, SOURCE);
    expect(record.OPENAI_API_KEY === null || typeof record.OPENAI_API_KEY === "string").toBe(true);
    return record;
  } catch (err) {
    if (!(err instanceof AuthFileMalformedError)) throw err;
    expect(err.source).toBe(SOURCE);
    expect(err.message).toContain(SOURCE);
    return err;
  }
}

describe("properties", () => {
  it("valid records round-trip: parse(serialize(r)) deep-equals r", () => {
    fc.assert(
      fc.property(validRecord, (record) => {
        expect(parseAuthRecord(serializeAuthRecord(record), SOURCE)).toEqual(record);
        expect(parseAuthRecord(serializeAuthRecordCompact(record), SOURCE)).toEqual(record);
      }),
      { numRuns: 300 },
    );
  });

  it("records without auth_mode round-trip with the mode Codex would resolve", () => {
    fc.assert(
      fc.property(validRecord, (record) => {
        const { auth_mode: _dropped, ...modeless } = record;
        const again = parseAuthRecord(serializeAuthRecord(modeless), SOURCE);
        const written = writtenMode(modeless);
        expect(again).toEqual(written === undefined ? modeless : { ...modeless, auth_mode: written });
        expect(resolvedMode(again)).toBe(resolvedMode(modeless));
      }),
      { numRuns: 100 },
    );
  });

  it("random bytes never crash parseAuthRecord", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        parseOutcome(Buffer.from(bytes).toString("utf8"));
      }),
      { numRuns: 500 },
    );
  });

  it("random JSON values never crash parseAuthRecord", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        parseOutcome(JSON.stringify(value));
      }),
      { numRuns: 500 },
    );
  });

  // Record-shaped JSON with every known field randomly well- or ill-typed: exercises each validation branch.
  const marker = fc.string({ maxLength: 12 }).map((s) => `S3cr3t-${s}`);
  const anyJson = fc.jsonValue({ maxDepth: 2 });
  const jwtLike = fc.oneof(
    marker,
    claims.map(fakeJwt),
    fc.jsonValue({ maxDepth: 2 }).map((v) => `h.${Buffer.from(JSON.stringify(v)).toString("base64url")}.s`),
    fc.constantFrom("a.e30.c", "a..c", "a.e31.c", "a.e30", ""),
  );
  const tokensLike = fc.oneof(
    anyJson,
    fc.record(
      {
        id_token: fc.oneof(jwtLike, anyJson),
        access_token: fc.oneof(marker, anyJson),
        refresh_token: fc.oneof(marker, anyJson),
        account_id: fc.oneof(marker, anyJson),
        oauth_provenance: fc.oneof(
          anyJson,
          fc.record({ issuer: fc.oneof(marker, anyJson), client_id: marker }),
        ),
        login_owner_id: fc.oneof(marker, anyJson),
        other: anyJson,
      },
      { requiredKeys: [] },
    ),
  );
  const recordLike = fc.record(
    {
      auth_mode: fc.oneof(fc.constantFrom(...KNOWN_AUTH_MODES, "apiKey", "bogus", "APIKEY"), anyJson),
      OPENAI_API_KEY: fc.oneof(marker, fc.constant(null), anyJson),
      tokens: fc.oneof(fc.constant(null), tokensLike),
      last_refresh: fc.oneof(timestamp, marker, anyJson, fc.constant(null)),
      personal_access_token: fc.oneof(marker, fc.constant(null), anyJson),
      bedrock_api_key: fc.oneof(
        anyJson,
        fc.record(
          { api_key: fc.oneof(marker, anyJson), region: fc.oneof(marker, anyJson) },
          { requiredKeys: [] },
        ),
      ),
      bedrock_access_keys: fc.oneof(
        anyJson,
        fc.record(
          {
            access_key_id: fc.oneof(marker, anyJson),
            secret_access_key: fc.oneof(marker, anyJson),
            session_token: fc.oneof(marker, anyJson),
          },
          { requiredKeys: [] },
        ),
      ),
      agent_identity: fc.oneof(
        marker,
        anyJson,
        fc.record(
          {
            agent_runtime_id: fc.oneof(marker, anyJson),
            agent_private_key: fc.oneof(marker, anyJson),
            account_id: marker,
            chatgpt_user_id: marker,
            email: fc.oneof(marker, anyJson),
            plan_type: fc.oneof(marker, anyJson),
            chatgpt_account_is_fedramp: fc.oneof(fc.boolean(), anyJson),
            task_id: fc.oneof(marker, anyJson),
          },
          { requiredKeys: [] },
        ),
      ),
      other: anyJson,
    },
    { requiredKeys: [] },
  );

  it("record-shaped JSON: never a crash, errors never quote a value, accepted records are a fixed point", () => {
    fc.assert(
      fc.property(recordLike, (value) => {
        const outcome = parseOutcome(JSON.stringify(value));
        if (outcome instanceof AuthFileMalformedError) {
          expect(outcome.message).not.toContain("S3cr3t-");
          expect(inspect(outcome, { depth: 10 })).not.toContain("S3cr3t-");
          return;
        }
        const written = serializeAuthRecord(outcome);
        const again = parseAuthRecord(written, SOURCE);
        const mode = writtenMode(outcome);
        expect(again).toEqual(mode === undefined ? outcome : { ...outcome, auth_mode: mode });
        expect(serializeAuthRecord(again)).toBe(written);
      }),
      { numRuns: 1000 },
    );
  });
});
