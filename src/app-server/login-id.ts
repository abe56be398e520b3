/** Login ids as `account/login/cancel` reads them. */

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** A login id as Codex's `Uuid::parse_str` reads it (hyphenated, simple, braced or URN), lower-case hyphenated. */
export function parseLoginId(text: string): string | undefined {
  let body = text;
  if (/^urn:uuid:/i.test(body)) body = body.slice(9);
  else if (body.startsWith("{") && body.endsWith("}")) body = body.slice(1, -1);
  if (!UUID.test(body)) return undefined;
  if (body.includes("-") && !/^[^-]{8}-[^-]{4}-[^-]{4}-[^-]{4}-[^-]{12}$/.test(body)) return undefined;
  const hex = body.replaceAll("-", "").toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
