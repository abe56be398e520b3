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
