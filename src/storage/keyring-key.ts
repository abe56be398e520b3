import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import { nodeCrypto } from "../lazy-require.js";

/** Keyring service name Codex uses. */
export const KEYRING_SERVICE = "Codex Auth";

/** Keyring service of the key to Codex's encrypted store (`codex-rs/secrets`). */
export const SECRETS_KEYRING_SERVICE = "codex";

/**
 * The keyring account for a CODEX_HOME, as Codex computes it: `cli|` + the
 * first 16 hex characters of sha256(canonical path). The path is resolved
 * through symlinks so two spellings of one folder share credentials.
 */
export function keyringAccountKey(codexHome: string): string {
  return `cli|${homeDigest(codexHome)}`;
}

/**
 * The keyring account (service `codex`) holding the key to Codex's
 * encrypted store of a CODEX_HOME: `secrets|` + the same 16 hex characters
 * as {@link keyringAccountKey} (Codex's `compute_keyring_account`).
 */
export function secretsKeyringAccount(codexHome: string): string {
  return `secrets|${homeDigest(codexHome)}`;
}

function homeDigest(codexHome: string): string {
  let canonical: string;
  try {
    canonical = realpathSync(codexHome);
  } catch {
    canonical = resolve(codexHome);
  }
  return nodeCrypto().createHash("sha256").update(canonical).digest("hex").slice(0, 16);
}
