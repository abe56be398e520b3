/**
 * How a record lies in the keyring, under the account key `cli|<16 hex>` of
 * a CODEX_HOME (service `Codex Auth`):
 *
 * - legacy, what Codex 0.169 reads and writes: one entry whose secret is the
 *   compact JSON record;
 * - "v2", what newer Codex stores write: `KEY|v2|active` names a revision,
 *   `KEY|v2|REV|manifest` says which fields exist, and each secret field has
 *   its own entry `KEY|v2|REV|<field>`.
 *
 * Reads prefer the legacy entry; writes use only the legacy layout (Codex
 * 0.169 does not read v2) and remove v2 entries so nothing stale can shadow
 * the new record.
 */
import { AuthFileMalformedError } from "../../errors.js";
import {
  type AuthRecord,
  parseAuthRecord,
  serializeAuthRecordCompact,
  validateAuthRecord,
} from "../../record/auth-record.js";
import { KEYRING_SERVICE } from "../keyring-key.js";
import type { KeyringEntries } from "./client.js";

/** The entry names under the account key that the "v2" layout uses, one revision at a time. */
const V2_FIELDS = [
  "manifest",
  "OPENAI_API_KEY",
  "tokens.id_token",
  "tokens.access_token",
  "tokens.refresh_token",
  "tokens.account_id",
] as const;

/**
 * The record stored under `key`, or undefined when there is none.
 *
 * @throws {AuthFileMalformedError} when an entry is not a valid record (it is left as it is).
 */
export async function readRecord(keyring: KeyringEntries, key: string): Promise<AuthRecord | undefined> {
  const legacy = await keyring.get(key);
  if (legacy !== null) {
    const source = entrySource(key);
    return parseAuthRecord(decodeSecret(legacy, source), source);
  }
  return readV2(keyring, key);
}

/** Stores `record` in the legacy layout and removes any v2 entries. */
export async function writeRecord(keyring: KeyringEntries, key: string, record: AuthRecord): Promise<void> {
  await keyring.set(key, serializeAuthRecordCompact(record));
  await deleteV2(keyring, key);
}

/** Removes the legacy entry and every v2 entry; true when any existed. */
export async function removeRecord(keyring: KeyringEntries, key: string): Promise<boolean> {
  const legacy = await keyring.delete(key);
  return (await deleteV2(keyring, key)) || legacy;
}

/** How an entry is named in error messages (never its secret). */
function entrySource(account: string): string {
  return `keyring entry ${KEYRING_SERVICE}/${account}`;
}

function decodeSecret(bytes: Uint8Array, source: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new AuthFileMalformedError(source, "the secret is not UTF-8 text", { cause });
  }
}

/** Reads the "v2" layout; undefined when it has no active revision. */
async function readV2(keyring: KeyringEntries, key: string): Promise<AuthRecord | undefined> {
  const activeAccount = `${key}|v2|active`;
  const active = await keyring.get(activeAccount);
  if (active === null) return undefined;
  const revision = decodeSecret(active, entrySource(activeAccount)).trim();
  if (revision === "") {
    throw new AuthFileMalformedError(entrySource(activeAccount), "the active revision id is empty");
  }
  const prefix = `${key}|v2|${revision}|`;
  const manifestSource = entrySource(`${prefix}manifest`);
  const manifestBytes = await keyring.get(`${prefix}manifest`);
  if (manifestBytes === null) {
    throw new AuthFileMalformedError(
      manifestSource,
      `it is missing, but ${activeAccount} names that revision`,
    );
  }
  const manifest = parseManifest(decodeSecret(manifestBytes, manifestSource), manifestSource);
  const field = async (name: (typeof V2_FIELDS)[number]): Promise<string> => {
    const bytes = await keyring.get(prefix + name);
    if (bytes === null) {
      throw new AuthFileMalformedError(
        manifestSource,
        `it lists "${name}", but entry ${prefix}${name} is missing`,
      );
    }
    return decodeSecret(bytes, entrySource(prefix + name));
  };
  const record: Record<string, unknown> = {
    auth_mode: manifest.auth_mode,
    OPENAI_API_KEY: manifest.has_openai_api_key ? await field("OPENAI_API_KEY") : null,
    last_refresh: manifest.last_refresh,
  };
  if (manifest.has_tokens) {
    record.tokens = {
      id_token: await field("tokens.id_token"),
      access_token: await field("tokens.access_token"),
      refresh_token: await field("tokens.refresh_token"),
      account_id: manifest.has_account_id ? await field("tokens.account_id") : null,
    };
  }
  return validateAuthRecord(record, entrySource(`${prefix}*`));
}

interface V2Manifest {
  auth_mode: unknown;
  has_openai_api_key: boolean;
  has_tokens: boolean;
  has_account_id: boolean;
  last_refresh: unknown;
}

/** The manifest's flags; `auth_mode` and `last_refresh` are checked with the record. */
function parseManifest(text: string, source: string): V2Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new AuthFileMalformedError(source, "the manifest is not valid JSON", { cause });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new AuthFileMalformedError(source, "the manifest is not a JSON object");
  }
  const obj = value as Record<string, unknown>;
  const flag = (name: string): boolean => {
    const v = obj[name];
    if (v === undefined || v === null) return false;
    if (typeof v !== "boolean") throw new AuthFileMalformedError(source, `"${name}" must be true or false`);
    return v;
  };
  return {
    auth_mode: obj.auth_mode,
    has_openai_api_key: flag("has_openai_api_key"),
    has_tokens: flag("has_tokens"),
    has_account_id: flag("has_account_id"),
    last_refresh: obj.last_refresh,
  };
}

/**
 * Removes the "v2" entries of the active revision, then the `active` pointer
 * last, so an interrupted delete can be finished by the next one.
 */
async function deleteV2(keyring: KeyringEntries, key: string): Promise<boolean> {
  const activeAccount = `${key}|v2|active`;
  const active = await keyring.get(activeAccount);
  if (active === null) return false;
  const revision = Buffer.from(active).toString("utf8").trim();
  let removed = false;
  if (revision !== "") {
    for (const name of V2_FIELDS) {
      if (await keyring.delete(`${key}|v2|${revision}|${name}`)) removed = true;
    }
  }
  return (await keyring.delete(activeAccount)) || removed;
}
