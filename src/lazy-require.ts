import { createRequire } from "node:module";

/**
 * `require` for modules loaded on first use. The CLI's start-up (`login
 * status` on every request of a tool) must not pay for modules it does not
 * use, such as `node:crypto` (~2 ms) or `node:readline`.
 */
export const lazyRequire = createRequire(import.meta.url);

/** `node:crypto`, loaded on first use. */
export function nodeCrypto(): typeof import("node:crypto") {
  return lazyRequire("node:crypto") as typeof import("node:crypto");
}

/**
 * The reason phrase of an HTTP status (`401` → `"Unauthorized"`), as Rust's
 * `http::StatusCode` prints it in Codex's messages; `undefined` for a code
 * without one. Loads `node:http` on first use only.
 */
export function httpReasonPhrase(status: number): string | undefined {
  return (lazyRequire("node:http") as typeof import("node:http")).STATUS_CODES[status];
}
