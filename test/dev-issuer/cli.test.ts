import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseDevIssuerArgs, runDevIssuerCli } from "../../src/dev-issuer/index.js";
import { makeCodexHome, REPO_ROOT, removeCodexHome } from "../support/env.js";
import { CLIENT_ID, refreshRequest } from "./helpers.js";

/** Runs the command in-process until `stop` is aborted; collects its output lines. */
function start(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const waiting: Array<() => void> = [];
  const io = {
    out: (text: string) => {
      out.push(...text.split("\n"));
      for (const wake of waiting.splice(0)) wake();
    },
    err: (text: string) => err.push(...text.split("\n")),
  };
  const controller = new AbortController();
  const exit = runDevIssuerCli(argv, io, controller.signal);
  /** Waits until stdout has at least `n` lines (event-driven, no polling sleeps). */
  const lines = async (n: number) => {
    while (out.length < n) {
      const settled = await Promise.race([
        new Promise<"more">((resolve) => waiting.push(() => resolve("more"))),
        exit.then(() => "exited" as const),
      ]);
      if (settled === "exited" && out.length < n) throw new Error(`exited early: ${err.join("\n")}`);
    }
    return out;
  };
  return { out, err, exit, lines, stop: () => controller.abort() };
}

describe("codex-auth dev-issuer: arguments", () => {
  it("parses every documented flag, in both spellings", () => {
    expect(
      parseDevIssuerArgs([
        "--port",
        "18999",
        "--users",
        "u.json",
        "--auto-approve",
        "--access-ttl=60",
        "--refresh-ttl",
        "120",
      ]),
    ).toEqual({
      port: 18999,
      usersFile: "u.json",
      autoApprove: true,
      accessTtlSeconds: 60,
      refreshTtlSeconds: 120,
      help: false,
    });
    expect(parseDevIssuerArgs([])).toEqual({ port: 0, autoApprove: false, help: false });
  });

  it.each([
    [["--port"], "--port expects a whole number"],
    [["--port", "70000"], "--port must be between 0 and 65535"],
    [["--access-ttl", "0"], "--access-ttl must be between"],
    [["--refresh-ttl", "1.5"], "--refresh-ttl expects a whole number"],
    [["--bogus"], "unexpected argument '--bogus'"],
    [["--auto-approve=yes"], "--auto-approve takes no value"],
  ])("refuses %j", (argv, message) => {
    expect(() => parseDevIssuerArgs(argv)).toThrow(message);
  });

  it("bad arguments exit 2 with a message on stderr and nothing on stdout", async () => {
    const run = start(["--port", "x"]);
    expect(await run.exit).toBe(2);
    expect(run.out).toEqual([]);
    expect(run.err.join("\n")).toContain("--port expects a whole number");
  });

  it("--help prints usage and exits 0", async () => {
    const run = start(["--help"]);
    expect(await run.exit).toBe(0);
    expect(run.out.join("\n")).toContain("codex-auth dev-issuer [OPTIONS]");
  });
});

describe("codex-auth dev-issuer: running", () => {
  it("prints the base URL first, then one JSON line per request, never a secret; stops cleanly", async () => {
    const run = start(["--auto-approve", "--access-ttl", "120"]);
    const [url] = await run.lines(1);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    await fetch(`${url}/.well-known/openid-configuration`);
    await run.lines(2);
    expect(JSON.parse(run.out[1]!)).toEqual({
      method: "GET",
      path: "/.well-known/openid-configuration",
      status: 200,
      outcome: "ok",
    });

    // A device sign-in and a refresh, then check no token value reached stdout.
    const post = (path: string, body: unknown) =>
      fetch(`${url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const code = (await (
      await post("/api/accounts/deviceauth/usercode", { client_id: CLIENT_ID })
    ).json()) as Record<string, string>;
    const granted = (await (
      await post("/api/accounts/deviceauth/token", {
        device_auth_id: code.device_auth_id,
        user_code: code.user_code,
      })
    ).json()) as Record<string, string>;
    const tokens = (await (
      await fetch(`${url}/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "authorization_code",
          code: granted.authorization_code!,
          redirect_uri: `${url}/deviceauth/callback`,
          client_id: CLIENT_ID,
          code_verifier: granted.code_verifier!,
        }),
      })
    ).json()) as Record<string, string>;
    await refreshRequest(url!, tokens.refresh_token!);
    await run.lines(6);
    const logged = run.out.slice(1).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged.at(-1)).toEqual({
      method: "POST",
      path: "/oauth/token",
      grant_type: "refresh_token",
      status: 200,
      outcome: "rotated",
    });
    for (const line of logged) {
      expect(
        Object.keys(line).every((k) => ["method", "path", "grant_type", "status", "outcome"].includes(k)),
      ).toBe(true);
    }
    const everything = [...run.out, ...run.err].join("\n");
    for (const secret of [
      tokens.refresh_token!,
      tokens.access_token!,
      tokens.id_token!,
      granted.authorization_code!,
      granted.code_verifier!,
      code.device_auth_id!,
      code.user_code!,
    ]) {
      expect(everything).not.toContain(secret);
    }

    run.stop();
    expect(await run.exit).toBe(0);
    await expect(fetch(`${url}/.well-known/jwks.json`)).rejects.toThrow();
  });

  it("--users loads the users file (the repository's example works)", async () => {
    const run = start(["--users", join(REPO_ROOT, "dev-issuer.users.example.json")]);
    const [url] = await run.lines(1);
    const page = await (await fetch(`${url}/codex/device`)).text();
    expect(page).toContain("lead@example.com");
    expect(page).toContain("org_team");
    expect(run.err.join("\n")).toContain("dev@example.com (default)");
    run.stop();
    expect(await run.exit).toBe(0);
  });

  it("a bad users file exits 1 naming the problem (and never the passwords)", async () => {
    const dir = makeCodexHome("dev-issuer-users");
    try {
      const file = join(dir, "users.json");
      writeFileSync(
        file,
        JSON.stringify({ users: [{ email: "a@example.com", password: "hunter2", pasword: "x" }] }),
      );
      const run = start(["--users", file]);
      expect(await run.exit).toBe(1);
      expect(run.out).toEqual([]);
      expect(run.err.join("\n")).toContain('unknown key "pasword"');
      expect(run.err.join("\n")).not.toContain("hunter2");

      const missing = start(["--users", join(dir, "nope.json")]);
      expect(await missing.exit).toBe(1);
      expect(missing.err.join("\n")).toContain("cannot read users file");
    } finally {
      removeCodexHome(dir);
    }
  });

  it("a taken port exits 1", async () => {
    const first = start([]);
    const [url] = await first.lines(1);
    const port = new URL(url!).port;
    const second = start(["--port", port]);
    expect(await second.exit).toBe(1);
    expect(second.err.join("\n")).toContain("EADDRINUSE");
    first.stop();
    await first.exit;
  });
});
