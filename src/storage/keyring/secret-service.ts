/**
 * Entries of the freedesktop Secret Service
 * (https://specifications.freedesktop.org/secret-service/latest/), spoken
 * over {@link DbusConnection} the way `@napi-rs/keyring` 2.1 (keyring-core's
 * dbus-secret-service store, pinned to the Secret Service) does it, so that
 * either can read and replace what the other wrote, and Codex 0.169 reads
 * both:
 *
 * - an entry is the one item matching `{service, username}` across all
 *   collections; two or more is an error (the binding's `Ambiguous`);
 * - a new item goes to the default collection, labelled
 *   `keyring:<username>@<service>`, attributes `{service, username}`,
 *   content type `application/octet-stream`; an existing one gets a new
 *   secret in place;
 * - secrets cross the bus encrypted in a `dh-ietf1024-sha256-aes128-cbc-pkcs7`
 *   session, as the binding's do.
 *
 * What needs a user's answer (locked items or collections, prompts) or a
 * store without a default collection is left to the binding:
 * {@link SecretServiceNeedsBinding}.
 */
import type { KeyObject, KeyPairKeyObjectResult } from "node:crypto";
import { nodeCrypto } from "../../lazy-require.js";
import { DbusConnection } from "./dbus-connection.js";
import type { DbusValue, Variant } from "./dbus-wire.js";

const BUS_NAME = "org.freedesktop.secrets";
const SERVICE_PATH = "/org/freedesktop/secrets";
const SERVICE = "org.freedesktop.Secret.Service";
const COLLECTION = "org.freedesktop.Secret.Collection";
const ITEM = "org.freedesktop.Secret.Item";
const ALGORITHM = "dh-ietf1024-sha256-aes128-cbc-pkcs7";
const CONTENT_TYPE = "application/octet-stream";
/** The object path the Secret Service uses for "no prompt needed" and "no such alias". */
const NONE = "/";

/** A case this client does not handle (a prompt, a locked collection, …): run the call through the binding. */
export class SecretServiceNeedsBinding extends Error {
  override readonly name = "SecretServiceNeedsBinding";
}

/** The Secret Service answered, but not with something usable (ambiguous entries, a malformed reply, …). */
export class SecretServiceRefusal extends Error {
  override readonly name = "SecretServiceRefusal";
}

/** Where secrets are exchanged: the session's object path and its AES key. */
interface SecretSession {
  path: string;
  key: Buffer;
}

/**
 * One connection and one encrypted session with the Secret Service. The
 * session is opened without waiting: the first search goes out right behind
 * `OpenSession`, and only calls that carry a secret wait for its answer.
 */
export class SecretServiceSession {
  private constructor(
    private readonly bus: DbusConnection,
    private readonly session: Promise<SecretSession>,
  ) {
    session.catch(() => {});
  }

  /**
   * Connects and starts the key exchange. Failures of the connection, the
   * bus (e.g. no Secret Service running: `DbusErrorReply`) or the exchange
   * (`SecretServiceRefusal`) surface from the first call that needs them.
   *
   * @throws {DbusConnectionError} when the bus cannot be reached or `signal` aborts.
   */
  static async open(busAddress: string, paths: string[], signal: AbortSignal): Promise<SecretServiceSession> {
    const bus = await DbusConnection.open(busAddress, paths, signal);
    const { publicKey, privateKey } = dhKeyPair();
    const session = bus
      .call({
        destination: BUS_NAME,
        path: SERVICE_PATH,
        interface: SERVICE,
        member: "OpenSession",
        signature: "sv",
        body: [ALGORITHM, { signature: "ay", value: rawDhPublicKey(publicKey) }],
      })
      .then(([output, path]) => {
        const theirs = (output as Variant | undefined)?.value;
        if (!(theirs instanceof Uint8Array) || typeof path !== "string") {
          throw new SecretServiceRefusal("OpenSession answered with an unexpected reply");
        }
        return { path, key: sessionKey(privateKey, publicKey, theirs) };
      });
    return new SecretServiceSession(bus, session);
  }

  /** The secret of the entry, or null when there is none. */
  async get(service: string, account: string): Promise<Uint8Array | null> {
    const [item, session] = await Promise.all([this.uniqueItem(service, account), this.session]);
    if (item === undefined) return null;
    const [secret] = await this.bus.call({
      destination: BUS_NAME,
      path: item,
      interface: ITEM,
      member: "GetSecret",
      signature: "o",
      body: [session.path],
    });
    return decrypt(session, secret);
  }

  /** Replaces the entry's secret, creating the entry in the default collection when there is none. */
  async set(service: string, account: string, secret: Uint8Array): Promise<void> {
    const [item, session] = await Promise.all([this.uniqueItem(service, account), this.session]);
    if (item !== undefined) {
      await this.bus.call({
        destination: BUS_NAME,
        path: item,
        interface: ITEM,
        member: "SetSecret",
        signature: "(oayays)",
        body: [encrypt(session, secret)],
      });
      return;
    }
    const [collection] = await this.bus.call({
      destination: BUS_NAME,
      path: SERVICE_PATH,
      interface: SERVICE,
      member: "ReadAlias",
      signature: "s",
      body: ["default"],
    });
    if (typeof collection !== "string" || collection === NONE) {
      throw new SecretServiceNeedsBinding("the Secret Service has no default collection");
    }
    const [locked] = await this.bus.call({
      destination: BUS_NAME,
      path: collection,
      interface: "org.freedesktop.DBus.Properties",
      member: "Get",
      signature: "ss",
      body: [COLLECTION, "Locked"],
    });
    if ((locked as Variant).value !== false)
      throw new SecretServiceNeedsBinding("the default collection is locked");
    const [, prompt] = await this.bus.call({
      destination: BUS_NAME,
      path: collection,
      interface: COLLECTION,
      member: "CreateItem",
      signature: "a{sv}(oayays)b",
      body: [
        [
          ["org.freedesktop.Secret.Item.Label", { signature: "s", value: `keyring:${account}@${service}` }],
          [
            "org.freedesktop.Secret.Item.Attributes",
            { signature: "a{ss}", value: attributes(service, account) },
          ],
        ],
        encrypt(session, secret),
        true,
      ],
    });
    if (prompt !== NONE) throw new SecretServiceNeedsBinding("creating the item needs a prompt");
  }

  /** Removes the entry; false when there was none. */
  async delete(service: string, account: string): Promise<boolean> {
    const item = await this.uniqueItem(service, account);
    if (item === undefined) return false;
    const [prompt] = await this.bus.call({
      destination: BUS_NAME,
      path: item,
      interface: ITEM,
      member: "Delete",
    });
    if (prompt !== NONE) throw new SecretServiceNeedsBinding("deleting the item needs a prompt");
    return true;
  }

  /** Ends the session (the service drops it with the connection). */
  close(): void {
    this.bus.close();
  }

  private async uniqueItem(service: string, account: string): Promise<string | undefined> {
    const [unlocked, locked] = await this.bus.call({
      destination: BUS_NAME,
      path: SERVICE_PATH,
      interface: SERVICE,
      member: "SearchItems",
      signature: "a{ss}",
      body: [attributes(service, account)],
    });
    if (!Array.isArray(unlocked) || !Array.isArray(locked)) {
      throw new SecretServiceRefusal("SearchItems answered with an unexpected reply");
    }
    if (locked.length > 0) throw new SecretServiceNeedsBinding("the entry is locked");
    if (unlocked.length > 1) {
      throw new SecretServiceRefusal(
        `${unlocked.length} items match service "${service}" and username "${account}", so none can be chosen; remove the extra ones (e.g. with seahorse)`,
      );
    }
    return unlocked[0] as string | undefined;
  }
}

function encrypt(session: SecretSession, secret: Uint8Array): DbusValue[] {
  const crypto = nodeCrypto();
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv("aes-128-cbc", session.key, iv);
  const value = Buffer.concat([cipher.update(secret), cipher.final()]);
  return [session.path, iv, value, CONTENT_TYPE];
}

function decrypt(session: SecretSession, secret: DbusValue | undefined): Uint8Array {
  const [, iv, value] = Array.isArray(secret) ? secret : [];
  if (!(iv instanceof Uint8Array) || !(value instanceof Uint8Array) || iv.length !== 16) {
    throw new SecretServiceRefusal("GetSecret answered with an unexpected secret");
  }
  try {
    const decipher = nodeCrypto().createDecipheriv("aes-128-cbc", session.key, iv);
    return Buffer.concat([decipher.update(value), decipher.final()]);
  } catch {
    throw new SecretServiceRefusal("the secret could not be decrypted");
  }
}

/** The attributes that identify an entry (and the only ones its item gets). */
function attributes(service: string, account: string): DbusValue[] {
  return [
    ["service", service],
    ["username", account],
  ];
}

// ---------------------------------------------------------------------------
// dh-ietf1024-sha256-aes128-cbc-pkcs7: Diffie-Hellman over RFC 2409's 1024-bit
// group (OpenSSL's "modp2"), the shared secret left-padded to 128 bytes, HKDF
// (SHA-256, no salt, no info) to a 16-byte AES-128-CBC key with PKCS#7
// padding; the IV travels as the secret's "parameters". Key objects carry the
// public value inside DER (SubjectPublicKeyInfo), so it is taken out of ours
// and the service's is put into a copy of ours.

const DH_SECRET_BYTES = 128;

/** A DER element: tag, where it begins, where its content starts and ends. */
interface Der {
  tag: number;
  at: number;
  start: number;
  end: number;
}

function derAt(buf: Buffer, pos: number): Der {
  const tag = buf[pos]!;
  let length = buf[pos + 1]!;
  let start = pos + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[start + i]!;
    start += n;
  }
  if (start + length > buf.length) throw new SecretServiceRefusal("malformed DER in a Diffie-Hellman key");
  return { tag, at: pos, start, end: start + length };
}

function der(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length =
    n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

/** SPKI → SEQUENCE { AlgorithmIdentifier, BIT STRING { INTEGER y } }. */
function spkiParts(spki: Buffer): { algorithm: Buffer; y: Buffer } {
  const top = derAt(spki, 0);
  const algorithm = derAt(spki, top.start);
  const bits = derAt(spki, algorithm.end);
  const y = derAt(spki, bits.start + 1);
  if (top.tag !== 0x30 || algorithm.tag !== 0x30 || bits.tag !== 0x03 || y.tag !== 0x02) {
    throw new SecretServiceRefusal("unexpected DER in a Diffie-Hellman key");
  }
  return { algorithm: spki.subarray(algorithm.at, algorithm.end), y: spki.subarray(y.start, y.end) };
}

/** A key pair in RFC 2409's group 2 (@types/node 20 lacks the "dh" overload). */
function dhKeyPair(): KeyPairKeyObjectResult {
  const generate = nodeCrypto().generateKeyPairSync as unknown as (
    type: "dh",
    options: { group: string },
  ) => KeyPairKeyObjectResult;
  return generate("dh", { group: "modp2" });
}

function rawDhPublicKey(publicKey: KeyObject): Buffer {
  const { y } = spkiParts(publicKey.export({ type: "spki", format: "der" }));
  let i = 0;
  while (i < y.length - 1 && y[i] === 0) i++;
  return y.subarray(i);
}

function sessionKey(privateKey: KeyObject, ours: KeyObject, theirs: Uint8Array): Buffer {
  const crypto = nodeCrypto();
  let start = 0;
  while (start < theirs.length - 1 && theirs[start] === 0) start++;
  const y = Buffer.from(theirs.subarray(start));
  if (y.length === 0 || y.length > DH_SECRET_BYTES)
    throw new SecretServiceRefusal("the service's public key is invalid");
  const integer = der(0x02, y[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), y]) : y);
  const { algorithm } = spkiParts(ours.export({ type: "spki", format: "der" }));
  const spki = der(0x30, Buffer.concat([algorithm, der(0x03, Buffer.concat([Buffer.from([0]), integer]))]));
  let shared: Buffer;
  try {
    shared = crypto.diffieHellman({
      privateKey,
      publicKey: crypto.createPublicKey({ key: spki, format: "der", type: "spki" }),
    });
  } catch {
    throw new SecretServiceRefusal("the service's public key is invalid");
  }
  const padded = Buffer.concat([Buffer.alloc(DH_SECRET_BYTES - shared.length), shared]);
  return Buffer.from(crypto.hkdfSync("sha256", padded, Buffer.alloc(0), Buffer.alloc(0), 16));
}
