/**
 * What varies between production and tests, handed down once: the HTTP
 * client, the clock, sleeping, randomness and the environment. Every
 * default is the real thing; `config/` remains the only reader of
 * `process.env` (through {@link processEnv}).
 */
import { type Env, processEnv } from "./config/env.js";
import { nodeCrypto } from "./lazy-require.js";

/** Injected dependencies. */
export interface Deps {
  /**
   * `fetch` for requests to the issuer and backend. Undefined: the
   * transport's own, which honours `HTTPS_PROXY`/`NO_PROXY` and custom CAs.
   */
  fetch: typeof fetch | undefined;
  /** Clock: ms since the epoch. */
  now(): number;
  /** Waits `ms` milliseconds; rejects with the signal's reason when `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** `n` cryptographically random bytes. */
  random(n: number): Buffer;
  /** Environment variables (read only through `config/`). */
  env: Env;
}

/** Real sleep: a timer that an abort clears. */
export function realSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** {@link Deps} with the real implementation for everything not given. */
export function resolveDeps(given: Partial<Deps> = {}): Deps {
  return {
    fetch: given.fetch,
    now: given.now ?? Date.now,
    sleep: given.sleep ?? realSleep,
    random: given.random ?? ((n) => nodeCrypto().randomBytes(n)),
    env: given.env ?? processEnv(),
  };
}
