/**
 * Gates for stopping a sign-in in a chosen state without sleeping: a fetch
 * that holds one kind of request until released (or until its signal
 * aborts, as a real fetch would), and a storage whose transactions wait at
 * the door, as when another process holds `auth.lock`.
 */
import { CodexAuthError } from "../../src/errors.js";
import type { AuthStorage, AuthTransaction } from "../../src/storage/index.js";

/** A one-shot signal: `reached` resolves when something arrives, `open()` lets it through. */
export interface Gate {
  reached: Promise<void>;
  open(): void;
}

function gate(): Gate & { arrive(): Promise<void> } {
  let arrived!: () => void;
  let opened!: () => void;
  const reached = new Promise<void>((r) => {
    arrived = r;
  });
  const door = new Promise<void>((r) => {
    opened = r;
  });
  return {
    reached,
    open: () => opened(),
    arrive() {
      arrived();
      return door;
    },
  };
}

/**
 * A fetch that holds the first request for which `match(url, body)` is
 * true until the gate opens (rejecting with the signal's reason if its
 * signal aborts first); every other request goes straight through.
 */
export function gatedFetch(match: (url: string, body: string) => boolean): {
  fetch: typeof fetch;
  gate: Gate;
} {
  const g = gate();
  let used = false;
  const gated = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = String(input instanceof Request ? input.url : input);
    const body = typeof init?.body === "string" ? init.body : "";
    if (!used && match(url, body)) {
      used = true;
      const signal = init?.signal;
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal?.reason);
        signal?.addEventListener("abort", onAbort, { once: true });
        void g.arrive().then(() => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        });
      });
    }
    return fetch(input, init);
  };
  return { fetch: gated as typeof fetch, gate: g };
}

/**
 * A storage whose saving transaction waits at the door until the gate opens:
 * the second one, as a sign-in's first is its up-front check that the
 * result can be stored.
 */
export function gatedStorage(inner: AuthStorage): { storage: AuthStorage; gate: Gate } {
  const g = gate();
  let transactions = 0;
  const storage: AuthStorage = {
    kind: inner.kind,
    describe: () => inner.describe(),
    load: () => inner.load(),
    save: (record) => inner.save(record),
    delete: () => inner.delete(),
    async transaction<T>(fn: (tx: AuthTransaction) => Promise<T>): Promise<T> {
      if (++transactions === 2) await g.arrive();
      return inner.transaction(fn);
    },
  };
  return { storage, gate: g };
}

/** The CodexAuthError a promise rejects with (fails the test on anything else). */
export async function rejection(p: Promise<unknown>): Promise<CodexAuthError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof CodexAuthError)) throw new Error(`expected a CodexAuthError, got ${String(err)}`);
  return err;
}
