/**
 * The file format of Codex's encrypted store (`codex-rs/secrets`, its
 * `LocalSecretsBackend`): an age file (https://age-encryption.org/v1) with
 * one scrypt recipient whose passphrase is kept in the OS keyring, holding
 * the compact JSON `{"version":1,"secrets":{"global/<NAME>":"<value>"}}`.
 *
 * age itself is `age-encryption` (typage, by age's author); its scrypt
 * stanza is supplied through typage's `Identity` / `Recipient` extension
 * points, backed by Node's native `crypto.scrypt`: Codex (rage) calibrates
 * the work factor to about a second of its own time (2^19 on the machine
 * this was measured on), which typage's pure-JS scrypt takes about twice as
 * long for. No secret is ever put into an error message.
 */
import { SecretsFileUnreadableError, SecretsFileVersionError } from "../errors.js";
import { nodeCrypto } from "../lazy-require.js";

/** The `version` Codex 0.169 writes and the newest it (and we) read. */
export const SECRETS_FILE_VERSION = 1;

/** The highest scrypt work factor (log2 N) accepted when reading: 2^22 × 1 KiB = 4 GiB of memory. */
export const MAX_SCRYPT_WORK_FACTOR = 22;

/** Work factor for a new file: age's default. A file being replaced keeps its own (Codex's calibrated one). */
export const DEFAULT_SCRYPT_WORK_FACTOR = 18;

const SCRYPT_LABEL = "age-encryption.org/v1/scrypt";

/** The decrypted contents of a secrets file: its entries by canonical key (`global/CODEX_AUTH`). */
export interface SecretsFileContents {
  secrets: Map<string, string>;
  /** The scrypt work factor the file was written with. */
  workFactor: number;
}

type AgeModule = typeof import("age-encryption");
let age: Promise<AgeModule> | undefined;
/** typage, loaded on first use (only the encrypted store needs it). */
function loadAge(): Promise<AgeModule> {
  age ??= import("age-encryption");
  return age;
}

/** A new passphrase as Codex makes one: base64 (standard, padded) of 32 random bytes. */
export function generatePassphrase(): string {
  return nodeCrypto().randomBytes(32).toString("base64");
}

/**
 * Decrypts and parses a secrets file.
 *
 * @param path named in errors.
 * @throws {SecretsFileUnreadableError} not age, the wrong key, or not Codex's JSON.
 * @throws {SecretsFileVersionError} a `version` above {@link SECRETS_FILE_VERSION}.
 */
export async function openSecretsFile(
  path: string,
  ciphertext: Uint8Array,
  passphrase: string,
): Promise<SecretsFileContents> {
  const { Decrypter } = await loadAge();
  const identity = new NativeScryptIdentity(passphrase);
  const decrypter = new Decrypter();
  decrypter.addIdentity(identity);
  let plaintext: string;
  try {
    plaintext = await decrypter.decrypt(ciphertext, "text");
  } catch (err) {
    if (err instanceof StanzaProblem) {
      throw new SecretsFileUnreadableError(path, err.problem, err.message);
    }
    if (identity.matched) {
      // The stanza opened, so the key was right: the payload is damaged.
      throw new SecretsFileUnreadableError(path, "format", "its encrypted payload is damaged", {
        cause: err,
      });
    }
    if (identity.sawStanza) {
      throw new SecretsFileUnreadableError(
        path,
        "key",
        "the key in the keyring does not open it (it was encrypted with another key, or altered)",
      );
    }
    throw new SecretsFileUnreadableError(
      path,
      "format",
      `it is not an age file with a passphrase (${safeMessage(err)})`,
      {
        cause: err,
      },
    );
  }
  return parseSecretsJson(path, plaintext, identity.workFactor ?? DEFAULT_SCRYPT_WORK_FACTOR);
}

/** Encrypts `secrets` as Codex's `save_file` does (compact JSON, keys sorted as its BTreeMap). */
export async function sealSecretsFile(
  secrets: ReadonlyMap<string, string>,
  passphrase: string,
  workFactor: number,
): Promise<Uint8Array> {
  const { Encrypter } = await loadAge();
  // A null prototype: an entry named `__proto__` stays an entry.
  const sorted: Record<string, string> = Object.create(null);
  for (const key of [...secrets.keys()].sort(compareUtf8)) sorted[key] = secrets.get(key)!;
  const plaintext = JSON.stringify({ version: SECRETS_FILE_VERSION, secrets: sorted });
  const encrypter = new Encrypter();
  encrypter.addRecipient(new NativeScryptRecipient(passphrase, workFactor));
  return encrypter.encrypt(plaintext);
}

/** Parses decrypted contents (exported for property tests). */
export function parseSecretsJson(path: string, text: string, workFactor: number): SecretsFileContents {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SecretsFileUnreadableError(path, "contents", "its decrypted contents are not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new SecretsFileUnreadableError(path, "contents", "its decrypted contents are not a JSON object");
  }
  const { version, secrets } = parsed as { version?: unknown; secrets?: unknown };
  // serde's u8: an integer 0..=255; 0 counts as the current version (as Codex).
  if (typeof version !== "number" || !Number.isInteger(version) || version < 0 || version > 255) {
    throw new SecretsFileUnreadableError(
      path,
      "contents",
      "its `version` is not a small non-negative integer",
    );
  }
  if (version > SECRETS_FILE_VERSION) throw new SecretsFileVersionError(path, version, SECRETS_FILE_VERSION);
  if (typeof secrets !== "object" || secrets === null || Array.isArray(secrets)) {
    throw new SecretsFileUnreadableError(path, "contents", "its `secrets` is not a JSON object");
  }
  const map = new Map<string, string>();
  for (const [key, value] of Object.entries(secrets)) {
    if (typeof value !== "string") {
      throw new SecretsFileUnreadableError(
        path,
        "contents",
        `its secret \`${printableKey(key)}\` is not a string`,
      );
    }
    map.set(key, value);
  }
  return { secrets: map, workFactor };
}

/** A key name for a message: canonical keys are `global/NAME` or `env/ID/NAME`; anything else is not echoed. */
function printableKey(key: string): string {
  return /^[A-Za-z0-9_./-]{1,100}$/.test(key) ? key : "(unprintable name)";
}

/** BTreeMap<String, _> order: bytewise on UTF-8. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** typage's messages that name no part of the file; any other is replaced (see {@link safeMessage}). */
const KNOWN_AGE_MESSAGES = new Set([
  "invalid stanza",
  "invalid header",
  "invalid header HMAC",
  "no identity matched any of the file's recipients",
  "ciphertext is too small",
  "ciphertext size is invalid",
  "final chunk is empty",
]);

/**
 * typage's reason, without echoing the file: its "invalid version <first
 * line>" would print a plaintext record put in the file's place.
 */
function safeMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : "";
  if (KNOWN_AGE_MESSAGES.has(message)) return message;
  if (message.startsWith("invalid version")) return "its first line is not age's version line";
  return "age could not parse it";
}

/** A header problem found by the identity; turned into {@link SecretsFileUnreadableError} with the path. */
class StanzaProblem extends Error {
  constructor(
    readonly problem: "format" | "work-factor",
    detail: string,
  ) {
    super(detail);
  }
}

// ---------------------------------------------------------------------------
// The scrypt stanza (age spec, "scrypt recipient stanza"), with Node's scrypt

type Stanza = import("age-encryption").Stanza;

function scryptKey(passphrase: string, salt: Uint8Array, workFactor: number): Promise<Buffer> {
  const crypto = nodeCrypto();
  const labelAndSalt = Buffer.concat([Buffer.from(SCRYPT_LABEL, "utf8"), salt]);
  const N = 2 ** workFactor;
  // scrypt needs 128·r·N bytes (r = 8); Node's default cap is 32 MiB.
  const maxmem = 128 * 8 * N + 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    crypto.scrypt(passphrase, labelAndSalt, 32, { N, r: 8, p: 1, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** ChaCha20-Poly1305 with a zero nonce, as age wraps a file key. */
function wrapKey(key: Buffer, fileKey: Uint8Array): Uint8Array {
  const cipher = nodeCrypto().createCipheriv("chacha20-poly1305", key, Buffer.alloc(12), {
    authTagLength: 16,
  });
  return Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()]);
}

function unwrapKey(key: Buffer, body: Uint8Array): Uint8Array | null {
  if (body.length !== 32) return null;
  const decipher = nodeCrypto().createDecipheriv("chacha20-poly1305", key, Buffer.alloc(12), {
    authTagLength: 16,
  });
  decipher.setAuthTag(body.subarray(16));
  try {
    return Buffer.concat([decipher.update(body.subarray(0, 16)), decipher.final()]);
  } catch {
    return null;
  }
}

const UNPADDED_BASE64 = /^[A-Za-z0-9+/]*$/;

/** typage `Identity` for an scrypt stanza; remembers what it saw for error messages and rewrites. */
class NativeScryptIdentity {
  sawStanza = false;
  matched = false;
  workFactor: number | undefined;
  constructor(private readonly passphrase: string) {}

  async unwrapFileKey(stanzas: Stanza[]): Promise<Uint8Array | null> {
    for (const stanza of stanzas) {
      if (stanza.args[0] !== "scrypt") continue;
      this.sawStanza = true;
      const invalid = (detail: string) => new StanzaProblem("format", detail);
      if (stanzas.length !== 1) throw invalid("its scrypt recipient is not the only one (age forbids that)");
      const [, saltText, factorText] = stanza.args;
      if (stanza.args.length !== 3 || saltText === undefined || factorText === undefined) {
        throw invalid("its scrypt stanza is malformed");
      }
      if (!/^[1-9][0-9]*$/.test(factorText) || !UNPADDED_BASE64.test(saltText)) {
        throw invalid("its scrypt stanza is malformed");
      }
      const salt = Buffer.from(saltText, "base64");
      if (salt.length !== 16) throw invalid("its scrypt stanza is malformed");
      const workFactor = Number(factorText);
      if (workFactor > MAX_SCRYPT_WORK_FACTOR) {
        throw new StanzaProblem(
          "work-factor",
          `its scrypt work factor 2^${workFactor} is above the 2^${MAX_SCRYPT_WORK_FACTOR} codex-auth accepts`,
        );
      }
      this.workFactor = workFactor;
      const fileKey = unwrapKey(await scryptKey(this.passphrase, salt, workFactor), stanza.body);
      if (fileKey) this.matched = true;
      return fileKey;
    }
    return null;
  }
}

/** typage `Recipient` writing one scrypt stanza. */
class NativeScryptRecipient {
  constructor(
    private readonly passphrase: string,
    private readonly workFactor: number,
  ) {}

  async wrapFileKey(fileKey: Uint8Array): Promise<Stanza[]> {
    const { Stanza } = await loadAge();
    const salt = nodeCrypto().randomBytes(16);
    const key = await scryptKey(this.passphrase, salt, this.workFactor);
    const saltText = salt.toString("base64").replace(/=+$/, "");
    return [new Stanza(["scrypt", saltText, String(this.workFactor)], wrapKey(key, fileKey))];
  }
}
