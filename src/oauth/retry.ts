/**
 * The one rule for transient faults: which answers are worth another try,
 * how long to wait before it, and a bounded retry loop. A transient fault
 * never ends a flow that a definite answer would not end (a user's device
 * approval, a sign-in's code exchange, a refresh, a revoke).
 */

/** Answers that say "try again later": 408, 429 and every 5xx. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Longest wait a `Retry-After` header may impose (ms). */
export const RETRY_AFTER_CAP_MS = 60_000;

/**
 * A `Retry-After` header (seconds, or an HTTP date) as a wait in ms, capped
 * at {@link RETRY_AFTER_CAP_MS}; undefined when absent or unreadable.
 *
 * @param nowMs the local clock, for the date form.
 */
export function retryAfterMs(value: string | null | undefined, nowMs: number): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, RETRY_AFTER_CAP_MS);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(at - nowMs, 0), RETRY_AFTER_CAP_MS);
}

/** Exponential back-off: `baseMs · 2^attempt`, capped at `capMs` (attempt counts from 0). */
export function backoffMs(attempt: number, baseMs: number, capMs: number): number {
  return Math.min(baseMs * 2 ** Math.min(attempt, 30), capMs);
}

/** Options for {@link retryTransient}. */
export interface RetryOptions {
  /** Total tries, the first included (≥ 1). */
  attempts: number;
  /** First wait in ms; doubled each time, up to `capMs`. */
  baseMs: number;
  capMs: number;
  /** Waits ms (injected: tests never sleep for real). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  signal?: AbortSignal;
  /** Whether this failure may succeed on another try; the wait it asks for, if any, in ms. */
  transient(err: unknown): { retry: boolean; afterMs?: number };
}

/**
 * Runs `fn`, again after a back-off while it fails transiently, at most
 * `attempts` times; the last failure (or the first definite one) is thrown.
 */
export async function retryTransient<T>(fn: () => Promise<T>, o: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const verdict = o.transient(err);
      if (!verdict.retry || attempt + 1 >= o.attempts || o.signal?.aborted) throw err;
      await o.sleep(Math.max(verdict.afterMs ?? 0, backoffMs(attempt, o.baseMs, o.capMs)), o.signal);
    }
  }
}
