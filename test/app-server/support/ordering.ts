/**
 * Comparing the order of what an app server wrote when reads may overlap:
 * Codex answers every account request in the order sent; ours lets reads
 * between two changes finish in any order. A run of consecutive read
 * answers is put in request order, everything else stays where it is.
 */

/** `sequence` with each run of consecutive `answer <id>` entries for `reads` sorted by the order the requests were sent. */
export function upToOverlappingReads(
  sequence: readonly string[],
  reads: ReadonlySet<string>,
  sent: readonly string[],
): string[] {
  const rank = (entry: string) => sent.indexOf(entry.slice("answer ".length));
  const isRead = (entry: string) => entry.startsWith("answer ") && reads.has(entry.slice("answer ".length));
  const out: string[] = [];
  let run: string[] = [];
  const flush = () => {
    out.push(...run.sort((a, b) => rank(a) - rank(b)));
    run = [];
  };
  for (const entry of sequence) {
    if (isRead(entry)) {
      run.push(entry);
      continue;
    }
    flush();
    out.push(entry);
  }
  flush();
  return out;
}

/** Methods that only read the account (they may overlap each other). */
export const READ_METHODS: ReadonlySet<string> = new Set([
  "account/read",
  "getAuthStatus",
  "account/rateLimits/read",
]);
