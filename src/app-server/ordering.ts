/**
 * The order in which account requests take effect. Codex 0.169 runs every
 * account request (`account/read`, `getAuthStatus`, `account/login/*`,
 * `account/logout`) through one FIFO queue, so each sees the effects of
 * the ones before it. We keep that for everything that changes state and
 * let reads overlap each other: a read starts once every earlier change
 * has been applied (answer and its notifications sent), and a change
 * starts once every earlier request has finished.
 */
import { parseLoginId } from "./login-id.js";
import type { readRequest } from "./methods.js";

/** How a request takes part in the order: `shared` reads overlap each other; `exclusive` requests run alone. */
export type Access = "shared" | "exclusive";

type ServedRequest = Extract<ReturnType<typeof readRequest>, { served: true }>;

/**
 * A request changes state when it signs in (the synchronous part of any
 * `account/login/start`), cancels a sign-in or logs out. A cancel whose id
 * is not a login id is refused without touching anything, so it is a read.
 * Forced refreshes (`refreshToken: true`) stay reads: the refresh is
 * single-flight below, the answers overlapping it are the same, and a
 * later change still waits for it to be saved.
 */
export function accessOf(request: ServedRequest): Access {
  switch (request.method) {
    case "account/login/start":
    case "account/logout":
      return "exclusive";
    case "account/login/cancel":
      return parseLoginId(request.params.loginId) === undefined ? "shared" : "exclusive";
    default:
      return "shared";
  }
}

const settled = (): void => {};

/**
 * A reader–writer FIFO: `shared` tasks start after the last `exclusive`
 * one before them has finished; an `exclusive` task starts after
 * everything before it has finished. Tasks never overtake a change.
 */
export class RequestOrder {
  /** Finishes when the last exclusive task queued so far has finished. */
  private barrier: Promise<void> = Promise.resolve();
  /** Shared tasks queued since that exclusive one. */
  private readers: Promise<void>[] = [];

  /** Queues `task`; resolves or rejects as it does. */
  run<T>(access: Access, task: () => Promise<T>): Promise<T> {
    const start = access === "shared" ? this.barrier : Promise.all([this.barrier, ...this.readers]);
    const result = start.then(task);
    const done = result.then(settled, settled);
    if (access === "shared") {
      this.readers.push(done);
    } else {
      this.barrier = done;
      this.readers = [];
    }
    return result;
  }
}
