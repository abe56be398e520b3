import { JwtMalformedError } from "../errors.js";

const BASE64URL_UNPADDED = /^[A-Za-z0-9_-]*$/;

/**
 * Decodes the payload of a JWT the way Codex does, without verifying the
 * signature: auth.json is trusted local state written by a sign-in we (or
 * Codex) performed, and its tokens are only read for display and routing.
 *
 * Rules (observed in Codex 0.169): the first three dot-separated parts must be
 * non-empty (anything after a third dot is ignored), the payload is canonical
 * unpadded base64url and must decode to a JSON object.
 *
 * @throws {JwtMalformedError} naming what is wrong; the message never contains the token.
 */
export function decodeJwtPayload(jwt: string): Record<string, unknown> {
  // Codex splits on "." and takes the first three parts; each must be
  // non-empty ("a.e30..d" is refused), anything after a third dot is ignored.
  const [header, payload, signature] = jwt.split(".", 3);
  if (!header || !payload || !signature) {
    throw new JwtMalformedError(
      "JWT must have three non-empty parts separated by dots (header.payload.signature)",
    );
  }
  if (!BASE64URL_UNPADDED.test(payload) || payload.length % 4 === 1) {
    throw new JwtMalformedError("JWT payload is not unpadded base64url");
  }
  const bytes = Buffer.from(payload, "base64url");
  // Node ignores non-zero trailing bits ("e31" decodes like "e30"); Codex's
  // decoder refuses them, so a payload must re-encode to exactly itself.
  if (bytes.toString("base64url") !== payload) {
    throw new JwtMalformedError("JWT payload is not canonical unpadded base64url");
  }
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch (cause) {
    throw new JwtMalformedError("JWT payload is not JSON", { cause });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new JwtMalformedError("JWT payload is not a JSON object");
  }
  return value as Record<string, unknown>;
}

/**
 * Expiry (`exp`, seconds since the epoch) of a JWT, or undefined when the
 * token is opaque or has no numeric `exp`. Never throws.
 */
export function jwtExpiry(token: string): Date | undefined {
  try {
    const exp = decodeJwtPayload(token).exp;
    return typeof exp === "number" && Number.isFinite(exp) ? new Date(exp * 1000) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `iat` and `exp` of a JWT in ms since the epoch (each undefined when absent
 * or not a finite number; both undefined for an opaque token). Never throws.
 */
export function jwtTimes(token: string): { issuedAtMs: number | undefined; expiresAtMs: number | undefined } {
  let payload: Record<string, unknown>;
  try {
    payload = decodeJwtPayload(token);
  } catch {
    return { issuedAtMs: undefined, expiresAtMs: undefined };
  }
  const ms = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v * 1000 : undefined);
  return { issuedAtMs: ms(payload.iat), expiresAtMs: ms(payload.exp) };
}
