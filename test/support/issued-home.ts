/**
 * A CODEX_HOME holding a ChatGPT login issued by the real dev issuer — the
 * one fixture the refresh tests share (CLI, proxies, CAs, mounts, clocks).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DevIssuer } from "../../src/dev-issuer/index.js";
import { makeCodexHome } from "./env.js";
import { fakeJwt } from "./jwt.js";

export interface IssuedHomeOptions {
  /** Replace the access token with one that expired 30 s ago (and date `last_refresh` a day back): a refresh is due. */
  stale?: boolean;
  /** `last_refresh` in ms since the epoch (default: now, or a day ago when stale). */
  lastRefreshMs?: number;
  /** Extra files to write into the home (e.g. config.toml). */
  files?: Record<string, string>;
}

/** The auth.json record of a fresh sign-in at `issuer` (see {@link IssuedHomeOptions}). */
export async function issuedRecord(
  issuer: DevIssuer,
  o: IssuedHomeOptions = {},
): Promise<Record<string, unknown>> {
  const tokens = await issuer.issueTokens();
  return {
    auth_mode: "chatgpt",
    OPENAI_API_KEY: null,
    tokens: {
      ...tokens,
      ...(o.stale ? { access_token: fakeJwt({ exp: Math.floor(Date.now() / 1000) - 30 }) } : {}),
      account_id: "org_dev",
    },
    last_refresh: new Date(o.lastRefreshMs ?? (o.stale ? Date.now() - 86_400_000 : Date.now())).toISOString(),
  };
}

/**
 * A new CODEX_HOME (registered in `homes` for cleanup) with a login issued by
 * `issuer` as auth.json (0600, pretty, as Codex writes it).
 */
export async function issuedHome(
  issuer: DevIssuer,
  homes: string[],
  prefix: string,
  o: IssuedHomeOptions = {},
): Promise<string> {
  const home = makeCodexHome(prefix);
  homes.push(home);
  writeFileSync(join(home, "auth.json"), JSON.stringify(await issuedRecord(issuer, o), null, 2), {
    mode: 0o600,
  });
  for (const [name, content] of Object.entries(o.files ?? {})) writeFileSync(join(home, name), content);
  return home;
}
