/** Records an AuthManager's change events so a test can wait on each one in order (never on a timer). */
import type { AuthChangeEvent, AuthManager } from "../../src/index.js";

export class ChangeRecorder {
  readonly seen: AuthChangeEvent[] = [];
  private consumed = 0;
  private waiter: (() => void) | undefined;

  constructor(manager: AuthManager) {
    manager.onChange((event) => {
      this.seen.push(event);
      this.waiter?.();
    });
  }

  /** The next event not yet returned, waiting for it when it has not arrived. */
  async next(): Promise<AuthChangeEvent> {
    while (this.seen.length <= this.consumed) {
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
      this.waiter = undefined;
    }
    return this.seen[this.consumed++]!;
  }

  /** The kinds of every event so far. */
  kinds(): string[] {
    return this.seen.map((e) => e.kind);
  }
}

/** The API key (or undefined) an event's snapshot holds: which credentials it is about. */
export function apiKeyOf(event: AuthChangeEvent): string | undefined {
  return event.auth?.mode === "apikey" ? event.auth.apiKey : undefined;
}
