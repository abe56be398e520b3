import { JwtMalformedError } from "../errors.js";

const BASE64URL_UNPADDED = /^[A-Za-z0-9_-]*$/;

/**
 * Decodes the payload of a JWT the way Codex does, without verifying the
 * signature: auth.json is trusted local state written by a sign-in we (or
 * Codex) performed, and its tokens are only read for display and routing.
 *
 * Rules (observed in Codex 0.169): the first three dot-separated parts must be
 * non-empty (further dots belong to the signature), the payload is unpadded
 * base64url and must decode to a JSON object.
 *
 * @throws {JwtMalformedError} naming what is wrong; the message never contains the token.
 */
export function decodeJwtPayload(jwt: string): Record<string, unknown> {
  const first = jwt.indexOf(".");
  const second = first < 0 ? -1 : jwt.indexOf(".", first + 1);
  if (first <= 0 || second < 0 || second === first + 1 || second === jwt.length - 1) {
    throw new JwtMalformedError(
      "JWT must have three non-empty parts separated by dots (header.payload.signature)",
    );
  }
  const payload = jwt.slice(first + 1, second);
  if (!BASE64URL_UNPADDED.test(payload) || payload.length % 4 === 1) {
    throw new JwtMalformedError("JWT payload is not unpadded base64url");
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
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
