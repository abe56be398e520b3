/**
 * The `userAgent` the app server answers `initialize` with, shaped as Codex
 * 0.169 shapes it: `probe/0.169.0 (Debian 12.0.0; x86_64) xterm (probe;
 * 0.0.1)` — the client's name as product, the server's version, the OS and
 * its version, the CPU, the terminal, then the client's name and version.
 * Ours carries codex-auth's version where Codex has its own.
 */
import { readFileSync } from "node:fs";
import { arch, platform, release } from "node:os";
import { type Env, terminalEnv } from "../config/env.js";

/** Set by the build from package.json. */
declare const CODEX_AUTH_VERSION: string | undefined;

/** codex-auth's version (`0.0.0-dev` when running from source). */
export function serverVersion(): string {
  return typeof CODEX_AUTH_VERSION === "string" ? CODEX_AUTH_VERSION : "0.0.0-dev";
}

const ARCH: Record<string, string> = { x64: "x86_64", arm64: "aarch64", ia32: "x86", arm: "arm" };

/** os_info's names for `/etc/os-release` `ID`s. */
const DISTRIBUTIONS: Record<string, string> = {
  alpine: "Alpine Linux",
  amzn: "Amazon Linux AMI",
  arch: "Arch Linux",
  centos: "CentOS",
  debian: "Debian",
  fedora: "Fedora",
  linuxmint: "Linux Mint",
  manjaro: "Manjaro",
  nixos: "NixOS",
  opensuse: "openSUSE",
  "opensuse-leap": "openSUSE",
  ol: "OracleLinux",
  rhel: "Red Hat Enterprise Linux",
  rocky: "Rocky Linux",
  ubuntu: "Ubuntu",
};

/** `x.y.z` from a dotted number (os_info's semantic version: missing parts are 0). */
function semantic(version: string): string | undefined {
  if (!/^\d+(\.\d+){0,2}$/.test(version)) return undefined;
  const parts = version.split(".").map((p) => String(Number(p)));
  while (parts.length < 3) parts.push("0");
  return parts.join(".");
}

function osRelease(): Record<string, string> {
  try {
    const out: Record<string, string> = {};
    for (const line of readFileSync("/etc/os-release", "utf8").split("\n")) {
      const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
      if (m) out[m[1]!] = m[2]!.replace(/^"(.*)"$/, "$1");
    }
    return out;
  } catch {
    return {};
  }
}

let osCache: string | undefined;

/** The OS as os_info names it (`Debian 12.0.0`, `Mac OS 14.5.0`). */
export function osDescription(): string {
  if (osCache !== undefined) return osCache;
  let text: string;
  if (platform() === "linux") {
    const rel = osRelease();
    const name = DISTRIBUTIONS[rel.ID ?? ""] ?? "Linux";
    const version = rel.VERSION_ID ? (semantic(rel.VERSION_ID) ?? rel.VERSION_ID) : undefined;
    text = version ? `${name} ${version}` : name;
  } else if (platform() === "darwin") {
    text = `Mac OS ${semantic(release()) ?? release()}`;
  } else if (platform() === "win32") {
    text = `Windows ${release()}`;
  } else text = platform();
  osCache = text;
  return text;
}

/** Only header-safe characters; others become `_` (as Codex). */
function sanitize(value: string): string {
  return value.replace(/[^A-Za-z0-9._/-]/g, "_");
}

function nonBlank(value: string | undefined): string | undefined {
  return value?.trim() ? value : undefined;
}

/** The terminal as Codex names it in user agents: `TERM_PROGRAM[/version]`, a known emulator, `TERM`, or `unknown`. */
export function terminalName(env: Env): string {
  const t = terminalEnv(env);
  const program = nonBlank(t.TERM_PROGRAM);
  if (program) {
    const version = nonBlank(t.TERM_PROGRAM_VERSION);
    return sanitize(version ? `${program}/${version}` : program);
  }
  if (t.WEZTERM_VERSION !== undefined) {
    return sanitize(nonBlank(t.WEZTERM_VERSION) ? `WezTerm/${t.WEZTERM_VERSION}` : "WezTerm");
  }
  if (t.KITTY_WINDOW_ID !== undefined || t.TERM?.includes("kitty")) return "kitty";
  if (t.ALACRITTY_SOCKET !== undefined || t.TERM === "alacritty") return "Alacritty";
  if (t.KONSOLE_VERSION !== undefined) {
    return sanitize(nonBlank(t.KONSOLE_VERSION) ? `Konsole/${t.KONSOLE_VERSION}` : "Konsole");
  }
  if (t.GNOME_TERMINAL_SCREEN !== undefined) return "gnome-terminal";
  if (t.VTE_VERSION !== undefined) return sanitize(nonBlank(t.VTE_VERSION) ? `VTE/${t.VTE_VERSION}` : "VTE");
  if (t.WT_SESSION !== undefined) return "WindowsTerminal";
  return sanitize(nonBlank(t.TERM) ?? "unknown");
}

/**
 * The user agent for a client, e.g.
 * `probe/0.1.0 (Debian 12.0.0; x86_64) xterm (probe; 0.0.1)`. The product
 * is the originator (the client's name, even empty); the trailing
 * `(name; version)` is trimmed inside, as Codex does (`(;)` for empty ones).
 */
export function appServerUserAgent(
  client: { name: string; version: string },
  originator: string,
  env: Env,
): string {
  const cpu = ARCH[arch()] ?? arch();
  const suffix = `${client.name}; ${client.version}`.trim();
  return `${originator}/${serverVersion()} (${osDescription()}; ${cpu}) ${terminalName(env)} (${suffix})`;
}

/** Whether Codex accepts `value` as an HTTP header value (its check of `clientInfo.name`): no control characters but tab. */
export function isHeaderValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  return true;
}
