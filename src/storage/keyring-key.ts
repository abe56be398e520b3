import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import { nodeCrypto } from "../lazy-require.js";

/** Keyring service name Codex uses. */
export const KEYRING_SERVICE = "Codex Auth";

/**
 * The keyring account for a CODEX_HOME, as Codex computes it: `cli|` + the
 * first 16 hex characters of sha256(canonical path). The path is resolved
 * through symlinks so two spellings of one folder share credentials.
 */
export function keyringAccountKey(codexHome: string): string {
  let canonical: string;
  try {
    canonical = realpathSync(codexHome);
  } catch {
    canonical = resolve(codexHome);
  }
  return `cli|${nodeCrypto().createHash("sha256").update(canonical).digest("hex").slice(0, 16)}`;
}
