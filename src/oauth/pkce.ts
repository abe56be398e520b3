import { nodeCrypto } from "../lazy-require.js";

/** `crypto.randomBytes`, with node:crypto loaded on first use (start-up of the CLI and app server). */
const randomBytes = (n: number): Buffer => nodeCrypto().randomBytes(n);

/** A PKCE pair (RFC 7636, S256), as Codex makes it: 64 random bytes → 86-char verifier. */
export interface Pkce {
  verifier: string;
  challenge: string;
}

/** The S256 challenge of a PKCE verifier: base64url(SHA-256(verifier)). */
export function s256Challenge(verifier: string): string {
  return nodeCrypto().createHash("sha256").update(verifier).digest("base64url");
}

/** An opaque random token: `bytes` random bytes, base64url. */
export function randomToken(bytes: number, random: (n: number) => Buffer = randomBytes): string {
  return random(bytes).toString("base64url");
}

/** A new PKCE verifier and its S256 challenge. */
export function generatePkce(random: (n: number) => Buffer = randomBytes): Pkce {
  const verifier = randomToken(64, random);
  return { verifier, challenge: s256Challenge(verifier) };
}

/** A new `state` value: 32 random bytes, base64url. */
export function generateState(random: (n: number) => Buffer = randomBytes): string {
  return randomToken(32, random);
}

/** Compares two secrets in constant time (hashing first so lengths do not leak either). */
export function constantTimeEqual(a: string, b: string): boolean {
  const { createHash, timingSafeEqual } = nodeCrypto();
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}
