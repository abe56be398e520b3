/**
 * The encrypted store's file format on its own (no keyring): property tests
 * for what reads outside input — the age file and its decrypted JSON — and
 * the round trip through our scrypt stanza, checked against typage's own.
 */
import { Decrypter, Encrypter } from "age-encryption";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SecretsFileUnreadableError, SecretsFileVersionError } from "../../src/errors.js";
import { openSecretsFile, parseSecretsJson, sealSecretsFile } from "../../src/storage/secrets-file.js";

const PATH = "/home/someone/.codex/secrets/codex_auth.age";
const KEY = Buffer.alloc(32, 5).toString("base64");

describe("secrets file format", () => {
  it("secrets-json-parser-total: any decrypted text gives entries or a typed error that echoes none of it", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
        ),
        (text) => {
          try {
            const { secrets } = parseSecretsJson(PATH, text, 18);
            const parsed = JSON.parse(text);
            expect(Object.fromEntries(secrets)).toEqual(parsed.secrets);
            expect(parsed.version === undefined ? 0 : parsed.version).toBeLessThanOrEqual(1);
          } catch (err) {
            expect(err instanceof SecretsFileUnreadableError || err instanceof SecretsFileVersionError).toBe(
              true,
            );
            if (text.length > 12) expect((err as Error).message).not.toContain(text);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("age-reader-total: arbitrary bytes are a format error, never a crash or an echo", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.string().map((s) => new TextEncoder().encode(`age-encryption.org/v1\n${s}`)),
          fc.string().map((s) => new TextEncoder().encode(`{"OPENAI_API_KEY":"sk-${s}"}`)),
        ),
        async (bytes) => {
          const err = await openSecretsFile(PATH, bytes, KEY).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(SecretsFileUnreadableError);
          expect((err as SecretsFileUnreadableError).message).not.toContain("sk-");
        },
      ),
      { numRuns: 200 },
    );
  });

  it("scrypt-stanza-round-trip: what we seal, typage opens, and what typage seals, we open", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.string({ minLength: 1 }).map((s) => `global/${s}`),
          fc.string(),
        ),
        async (entries) => {
          const secrets = new Map(Object.entries(entries));
          const sealed = await sealSecretsFile(secrets, KEY, 2);
          const d = new Decrypter();
          d.addPassphrase(KEY);
          expect(JSON.parse(await d.decrypt(sealed, "text"))).toEqual({ version: 1, secrets: entries });
          const e = new Encrypter();
          e.setPassphrase(KEY);
          e.setScryptWorkFactor(2);
          const theirs = await e.encrypt(JSON.stringify({ version: 1, secrets: entries }));
          const opened = await openSecretsFile(PATH, theirs, KEY);
          expect(opened.workFactor).toBe(2);
          expect(Object.fromEntries(opened.secrets)).toEqual(entries);
        },
      ),
      { numRuns: 50 },
    );
  });

  it("secrets-keys-sorted-as-codex: entries are written in Codex's BTreeMap order (bytewise UTF-8)", async () => {
    const secrets = new Map([
      ["global/b", "2"],
      ["global/B", "1"],
      ["global/é", "4"],
      ["global/z", "3"],
      ["__proto__", "5"],
    ]);
    const d = new Decrypter();
    d.addPassphrase(KEY);
    const text = await d.decrypt(await sealSecretsFile(secrets, KEY, 2), "text");
    expect(text).toBe(
      '{"version":1,"secrets":{"__proto__":"5","global/B":"1","global/b":"2","global/z":"3","global/é":"4"}}',
    );
    expect(parseSecretsJson(PATH, text, 2).secrets.get("__proto__")).toBe("5");
  });
});
