/**
 * One active sign-in per CODEX_HOME in a process: starting another cancels
 * the one in progress (as Codex's app server does), and waits until it has
 * let go of what it held (the callback port) before going on.
 */
import { resolve } from "node:path";

/** What the registry needs from a sign-in in progress. */
export interface ActiveSignIn {
  readonly loginId: string;
  /** Cancels it (no effect once its outcome is decided). */
  cancel(): void;
  /** Whether its outcome is decided (saved, failed or cancelled). */
  finished(): boolean;
  /** Settles when it has released everything (callback server closed, polling stopped). */
  readonly released: Promise<void>;
}

const active = new Map<string, ActiveSignIn>();

function keyOf(codexHome: string): string {
  return resolve(codexHome);
}

/**
 * Makes `signIn` the one in progress for `codexHome` (at once, so a start
 * that comes later cancels this one), cancels the one it replaces and waits
 * until that one has released what it held. The caller checks its own
 * cancellation afterwards: a newer start may already have cancelled it.
 */
export async function beginSignIn(codexHome: string, signIn: ActiveSignIn): Promise<void> {
  const key = keyOf(codexHome);
  const previous = active.get(key);
  active.set(key, signIn);
  void signIn.released.finally(() => {
    if (active.get(key) === signIn) active.delete(key);
  });
  if (previous) {
    previous.cancel();
    await previous.released;
  }
}

/** The id of the sign-in in progress for `codexHome`, if any. */
export function activeSignInId(codexHome: string): string | undefined {
  const current = active.get(keyOf(codexHome));
  return current?.finished() ? undefined : current?.loginId;
}

/**
 * Cancels the sign-in `loginId` if it is the one in progress for
 * `codexHome`: `"canceled"`, else `"notFound"` (the words of Codex's
 * `account/login/cancel`).
 */
export function cancelSignIn(codexHome: string, loginId: string): "canceled" | "notFound" {
  const current = active.get(keyOf(codexHome));
  if (!current || current.loginId !== loginId || current.finished()) return "notFound";
  current.cancel();
  return "canceled";
}
