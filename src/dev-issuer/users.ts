/**
 * The people the development issuer knows: who can sign in, with which plan,
 * in which ChatGPT workspaces, and the claims OpenAI puts in their tokens.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { ConfigError, describeError } from "../errors.js";

/** A ChatGPT workspace (OpenAI calls it an account; its id is `chatgpt_account_id`). */
export interface DevWorkspace {
  /** `chatgpt_account_id`, e.g. `org_dev`. */
  id: string;
  /** Display name (accounts/check `name`). Default: `Workspace <id>`. */
  name?: string;
  /** Plan in this workspace; default: the user's plan. */
  plan?: string;
  /** `personal` (default for the first workspace) or `workspace`. */
  structure?: "personal" | "workspace";
  /** Role in the workspace's organization claim. Default `owner`. */
  role?: string;
  /**
   * What `wham/config/bundle` answers for this workspace (its cloud-delivered
   * configuration): a JSON body answered with 200, or `{ status, text }` for
   * any other answer (a 5xx, a body that is not JSON). Default: 404, as the
   * ChatGPT backend answers a workspace without one.
   */
  configBundle?: unknown;
}

/** A user the development issuer can sign in, as written in a users file. */
export interface DevUser {
  email: string;
  /** When set, the sign-in pages ask for it; without it the user is picked with one click. */
  password?: string;
  name?: string;
  /** OIDC `sub`. Default: derived from the email (`auth0|dev-…`), stable across restarts. */
  sub?: string;
  /** `chatgpt_user_id` / `user_id`. Default: derived from the email (`user-…`). */
  userId?: string;
  /** `chatgpt_plan_type`. Default `pro`. Any string is accepted so odd plans can be tested. */
  plan?: string;
  /** Workspaces the user belongs to; the first is the default. Default: one personal `org_dev`. */
  workspaces?: DevWorkspace[];
  /**
   * Personal access tokens (`at-…`) the issuer accepts for this user (in
   * their first workspace), e.g. for `codex login --with-access-token`.
   * More can be minted with `issuePersonalAccessToken`.
   */
  personalAccessTokens?: string[];
}

/** A workspace with every default filled in. */
export interface ResolvedWorkspace {
  id: string;
  name: string;
  plan: string;
  structure: "personal" | "workspace";
  role: string;
  configBundle: unknown;
}

/** A user with every default filled in. */
export interface ResolvedUser {
  email: string;
  password: string | undefined;
  name: string;
  sub: string;
  userId: string;
  plan: string;
  workspaces: ResolvedWorkspace[];
  personalAccessTokens: string[];
}

/** The user the issuer signs in when nobody is asked (`--auto-approve`) and no users file is given. */
export const DEFAULT_DEV_USER: DevUser = {
  email: "dev@example.com",
  name: "Dev User",
  plan: "pro",
  workspaces: [{ id: "org_dev", name: "Dev Workspace", structure: "personal" }],
};

/** Claim namespace OpenAI uses for ChatGPT account data. */
export const AUTH_NAMESPACE = "https://api.openai.com/auth";
/** Claim namespace OpenAI uses for profile data in access tokens. */
export const PROFILE_NAMESPACE = "https://api.openai.com/profile";

function digest(text: string, length: number): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/** Fills in the defaults of one user. */
export function resolveUser(user: DevUser): ResolvedUser {
  const plan = user.plan ?? "pro";
  const workspaces = user.workspaces?.length ? user.workspaces : (DEFAULT_DEV_USER.workspaces ?? []);
  return {
    email: user.email,
    password: user.password,
    name: user.name ?? user.email.split("@")[0] ?? user.email,
    sub: user.sub ?? `auth0|dev-${digest(user.email, 16)}`,
    userId: user.userId ?? `user-${digest(`user:${user.email}`, 24)}`,
    plan,
    workspaces: workspaces.map((w, i) => ({
      id: w.id,
      name: w.name ?? `Workspace ${w.id}`,
      plan: w.plan ?? plan,
      structure: w.structure ?? (i === 0 ? "personal" : "workspace"),
      role: w.role ?? "owner",
      configBundle: w.configBundle,
    })),
    personalAccessTokens: [...(user.personalAccessTokens ?? [])],
  };
}

/** The ChatGPT claims OpenAI puts under `https://api.openai.com/auth` in ID tokens. */
export function idTokenAuthClaims(user: ResolvedUser, workspace: ResolvedWorkspace): Record<string, unknown> {
  return {
    chatgpt_account_id: workspace.id,
    chatgpt_plan_type: workspace.plan,
    chatgpt_user_id: user.userId,
    user_id: user.userId,
    // Codex's success page sends owners who have not finished platform
    // onboarding to platform.openai.com; a dev user has finished it.
    completed_platform_onboarding: true,
    is_org_owner: workspace.role === "owner",
    groups: [],
    organizations: user.workspaces.map((w) => ({
      id: w.id,
      is_default: w.id === workspace.id,
      role: w.role,
      title: w.name,
    })),
  };
}

/** The ChatGPT claims OpenAI puts under `https://api.openai.com/auth` in access tokens. */
export function accessTokenAuthClaims(
  user: ResolvedUser,
  workspace: ResolvedWorkspace,
): Record<string, unknown> {
  return {
    chatgpt_account_id: workspace.id,
    chatgpt_plan_type: workspace.plan,
    chatgpt_user_id: user.userId,
    user_id: user.userId,
  };
}

/** The users of one issuer, looked up by `sub` or email. */
export class UserDirectory {
  readonly users: readonly ResolvedUser[];

  constructor(users: readonly DevUser[] = [DEFAULT_DEV_USER]) {
    const list = users.length ? users : [DEFAULT_DEV_USER];
    this.users = list.map(resolveUser);
    const seen = new Set<string>();
    for (const user of this.users) {
      for (const key of [`email:${user.email.toLowerCase()}`, `sub:${user.sub}`]) {
        if (seen.has(key)) throw new ConfigError(`dev issuer users: duplicate user ${key}`);
        seen.add(key);
      }
    }
  }

  /** The first user: the one `--auto-approve` signs in. */
  get defaultUser(): ResolvedUser {
    return this.users[0]!;
  }

  bySub(sub: string): ResolvedUser | undefined {
    return this.users.find((u) => u.sub === sub);
  }

  byEmail(email: string): ResolvedUser | undefined {
    const wanted = email.trim().toLowerCase();
    return this.users.find((u) => u.email.toLowerCase() === wanted);
  }

  /** The user's workspace with that id, or their default one when `id` is undefined. */
  workspaceOf(user: ResolvedUser, id: string | undefined): ResolvedWorkspace | undefined {
    if (id === undefined) return user.workspaces[0];
    return user.workspaces.find((w) => w.id === id);
  }
}

const USER_KEYS = new Set([
  "email",
  "password",
  "name",
  "sub",
  "userId",
  "plan",
  "workspaces",
  "personalAccessTokens",
]);
const WORKSPACE_KEYS = new Set(["id", "name", "plan", "structure", "role"]);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkString(obj: Record<string, unknown>, key: string, where: string, required: boolean): void {
  const value = obj[key];
  if (value === undefined && !required) return;
  if (typeof value !== "string" || value.trim() === "") {
    throw new ConfigError(`${where}: "${key}" must be a non-empty string`);
  }
}

/**
 * Validates the contents of a users file: either `{"users": [...]}` or a bare
 * array of {@link DevUser}. Unknown keys are errors so typos do not pass silently.
 *
 * @throws {ConfigError} naming the entry and field that is wrong (never a password).
 */
export function parseDevUsers(value: unknown, source = "users file"): DevUser[] {
  const list = Array.isArray(value) ? value : isObject(value) ? value.users : undefined;
  if (!Array.isArray(list) || list.length === 0) {
    throw new ConfigError(`${source}: expected {"users": [ ... ]} with at least one user`);
  }
  if (isObject(value)) {
    const extra = Object.keys(value).filter((k) => k !== "users");
    if (extra.length) throw new ConfigError(`${source}: unknown key "${extra[0]}"`);
  }
  return list.map((entry, i) => {
    const where = `${source}: users[${i}]`;
    if (!isObject(entry)) throw new ConfigError(`${where} must be an object`);
    const unknown = Object.keys(entry).find((k) => !USER_KEYS.has(k));
    if (unknown) throw new ConfigError(`${where}: unknown key "${unknown}"`);
    checkString(entry, "email", where, true);
    if (!String(entry.email).includes("@"))
      throw new ConfigError(`${where}: "email" must be an email address`);
    for (const key of ["password", "name", "sub", "userId", "plan"]) checkString(entry, key, where, false);
    if (entry.workspaces !== undefined) {
      if (!Array.isArray(entry.workspaces) || entry.workspaces.length === 0) {
        throw new ConfigError(`${where}: "workspaces" must be a non-empty array`);
      }
      entry.workspaces.forEach((ws, j) => {
        const wsWhere = `${where}.workspaces[${j}]`;
        if (!isObject(ws)) throw new ConfigError(`${wsWhere} must be an object`);
        const unknownWs = Object.keys(ws).find((k) => !WORKSPACE_KEYS.has(k));
        if (unknownWs) throw new ConfigError(`${wsWhere}: unknown key "${unknownWs}"`);
        checkString(ws, "id", wsWhere, true);
        for (const key of ["name", "plan", "role"]) checkString(ws, key, wsWhere, false);
        if (ws.structure !== undefined && ws.structure !== "personal" && ws.structure !== "workspace") {
          throw new ConfigError(`${wsWhere}: "structure" must be "personal" or "workspace"`);
        }
      });
    }
    const pats = entry.personalAccessTokens;
    if (pats !== undefined) {
      if (!Array.isArray(pats) || !pats.every((t) => typeof t === "string" && /^at-\S+$/.test(t))) {
        throw new ConfigError(`${where}: "personalAccessTokens" must be a list of "at-…" strings`);
      }
    }
    return entry as unknown as DevUser;
  });
}

/**
 * Reads and validates a users file (JSON).
 *
 * @throws {ConfigError} when the file cannot be read or is not a valid users file.
 */
export async function loadDevUsersFile(path: string): Promise<DevUser[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read users file ${path}: ${describeError(err)}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`users file ${path} is not valid JSON: ${describeError(err)}`, { cause: err });
  }
  return parseDevUsers(json, path);
}
