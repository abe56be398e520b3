/** Types of scripts/pack-consumer.mjs (packs codex-auth and installs it offline into an empty folder). */
export declare const REPO: string;
export interface NpmResult {
  status: number | null;
  stdout: string;
  stderr: string;
  error: Error | undefined;
  /** Wall-clock time of the npm process, ms. */
  ms: number;
}
export declare function npmEnv(extra?: Record<string, string>): NodeJS.ProcessEnv;
export declare function npm(args: string[], cwd: string, env?: NodeJS.ProcessEnv): NpmResult;
export declare function packTarball(dest: string, repo?: string): { path: string; files: string[] };
export interface ConsumerOptions {
  lock?: { packages: Record<string, Record<string, unknown>> };
  pkg?: {
    version: string;
    license?: string;
    dependencies?: Record<string, string>;
    bin?: unknown;
    engines?: unknown;
  };
  allowScripts?: Record<string, boolean>;
}
export declare function writeConsumer(dir: string, tarball: string, options?: ConsumerOptions): void;
export declare function installConsumer(dir: string, options?: { ignoreScripts?: boolean }): NpmResult;
