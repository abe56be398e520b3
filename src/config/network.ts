/**
 * How requests reach the issuer and backend, read from the environment as
 * Codex 0.169 reads it: proxies (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
 * `NO_PROXY`, upper case first), custom CA bundles (`CODEX_CA_CERTIFICATE`,
 * else `SSL_CERT_FILE`; plus Node's `NODE_EXTRA_CA_CERTS`) and the
 * `originator` (`CODEX_INTERNAL_ORIGINATOR_OVERRIDE`). Pure functions of an
 * {@link Env}; the only file reads are those of the CA bundles the
 * environment names ({@link loadCaBundle}).
 */
import { CaCertificateError } from "../errors.js";
import { lazyRequire, nodeCrypto } from "../lazy-require.js";
import { DEFAULT_ORIGINATOR } from "../oauth/constants.js";
import type { Env } from "./env.js";

export type { Env } from "./env.js";

// ---------------------------------------------------------------- proxies

/**
 * The proxy variables as Codex 0.169 (reqwest 0.12 / hyper-util 0.1.20)
 * resolves them, observed against the real binary:
 * - for each of `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY` the
 *   upper-case name wins over the lower-case one when both are set, even
 *   when it is set to an empty string (which then means "none");
 * - `http://` URLs use `HTTP_PROXY`, `https://` URLs use `HTTPS_PROXY`, and
 *   both fall back to `ALL_PROXY`; `HTTP_PROXY` alone never carries an
 *   `https://` request;
 * - a proxy value without a scheme is `http://`; one that does not parse is
 *   ignored (so `ALL_PROXY` applies);
 * - under CGI (`REQUEST_METHOD` set) no proxy is used at all.
 */
export interface ProxySettings {
  http: string | undefined;
  https: string | undefined;
  noProxy: NoProxy;
}

function firstSet(env: Env, names: readonly string[]): string {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined) return value;
  }
  return "";
}

/** A proxy URL as hyper-util accepts one, normalized; undefined when it is unusable. */
export function parseProxyUrl(value: string): string | undefined {
  const trimmed = value.trim();
  if (!trimmed) return undefined;
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`);
  } catch {
    return undefined;
  }
  if (!["http:", "https:", "socks5:", "socks5h:", "socks4:", "socks4a:"].includes(url.protocol))
    return undefined;
  if (!url.hostname) return undefined;
  const auth = url.username ? `${url.username}${url.password ? `:${url.password}` : ""}@` : "";
  return `${url.protocol}//${auth}${url.host}`;
}

/** The proxy settings an environment asks for (see {@link ProxySettings}). */
export function proxySettings(env: Env): ProxySettings {
  if (env.REQUEST_METHOD !== undefined)
    return { http: undefined, https: undefined, noProxy: parseNoProxy("") };
  const all = parseProxyUrl(firstSet(env, ["ALL_PROXY", "all_proxy"]));
  return {
    http: parseProxyUrl(firstSet(env, ["HTTP_PROXY", "http_proxy"])) ?? all,
    https: parseProxyUrl(firstSet(env, ["HTTPS_PROXY", "https_proxy"])) ?? all,
    noProxy: parseNoProxy(firstSet(env, ["NO_PROXY", "no_proxy"])),
  };
}

/**
 * A parsed `NO_PROXY`, matched as Codex 0.169 matches it: comma-separated
 * entries; IP addresses and CIDR ranges match IP hosts; any other entry is a
 * domain matching itself and its subdomains (a leading dot optional); `*`
 * matches every domain name (but not an IP literal, as in Codex); an entry
 * with a port (`localhost:8080`) never matches; `localhost` does not cover
 * `127.0.0.1`.
 */
export interface NoProxy {
  matches(host: string): boolean;
}

export function parseNoProxy(value: string): NoProxy {
  // node:net and node:tls are loaded on first use: `login status` never needs them.
  const { BlockList, isIP } = lazyRequire("node:net") as typeof import("node:net");
  const ips = new BlockList();
  const domains: string[] = [];
  for (const raw of value.split(",")) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    const slash = entry.indexOf("/");
    const address = slash >= 0 ? entry.slice(0, slash) : entry;
    const family = isIP(address);
    if (family && slash < 0) {
      ips.addAddress(address, family === 6 ? "ipv6" : "ipv4");
      continue;
    }
    const prefix = slash >= 0 ? Number(entry.slice(slash + 1)) : Number.NaN;
    if (family && /^\d+$/.test(entry.slice(slash + 1)) && prefix <= (family === 6 ? 128 : 32)) {
      ips.addSubnet(address, prefix, family === 6 ? "ipv6" : "ipv4");
      continue;
    }
    domains.push(entry);
  }
  return {
    matches(rawHost: string): boolean {
      const host = rawHost.replace(/^\[(.*)\]$/, "$1").toLowerCase();
      const family = isIP(host);
      if (family) return ips.check(host, family === 6 ? "ipv6" : "ipv4");
      return domains.some((d) => {
        if (d === host || d === `.${host}`) return true;
        if (host.endsWith(d)) return d.startsWith(".") || host[host.length - d.length - 1] === ".";
        return d === "*";
      });
    },
  };
}

/** The proxy for a request to `url` (normalized proxy URL), or undefined for a direct connection. */
export function proxyFor(url: string | URL, settings: ProxySettings): string | undefined {
  const target = typeof url === "string" ? new URL(url) : url;
  const proxy =
    target.protocol === "https:" ? settings.https : target.protocol === "http:" ? settings.http : undefined;
  if (!proxy || settings.noProxy.matches(target.hostname)) return undefined;
  return proxy;
}

// ---------------------------------------------------------------- originator

/** A valid HTTP header value (visible ASCII, space and tab; no control characters). */
function isHeaderValue(value: string): boolean {
  return /^[\t\x20-\x7e\x80-\xff]*$/.test(value);
}

/**
 * The `originator` sent in the authorize URL and in the `originator` header:
 * `CODEX_INTERNAL_ORIGINATOR_OVERRIDE` when set to a valid header value (it
 * wins over the host's choice, as in Codex); else the host's `requested`
 * value; else `codex_cli_rs`.
 */
export function resolveOriginator(env: Env = process.env, requested?: string): string {
  const override = env.CODEX_INTERNAL_ORIGINATOR_OVERRIDE;
  if (override !== undefined && override !== "" && isHeaderValue(override)) return override;
  if (requested !== undefined && requested !== "" && isHeaderValue(requested)) return requested;
  return DEFAULT_ORIGINATOR;
}

// ---------------------------------------------------------------- CA certificates

/** The variables that name a custom CA bundle, in Codex's order of precedence. */
export type CaVariable = "CODEX_CA_CERTIFICATE" | "SSL_CERT_FILE";

/** A CA bundle the environment names, and which variable named it. */
export interface CaBundleChoice {
  variable: CaVariable;
  path: string;
}

/**
 * The custom CA bundle, chosen as Codex 0.169 chooses it:
 * `CODEX_CA_CERTIFICATE`, else `SSL_CERT_FILE`; an empty value counts as
 * unset. Undefined when neither names a file (system roots only).
 */
export function caBundleChoice(env: Env): CaBundleChoice | undefined {
  for (const variable of ["CODEX_CA_CERTIFICATE", "SSL_CERT_FILE"] as const) {
    const path = env[variable];
    if (path) return { variable, path };
  }
  return undefined;
}

const CA_HINT =
  "If you set CODEX_CA_CERTIFICATE or SSL_CERT_FILE, ensure it points to a PEM file containing one or more CERTIFICATE blocks, or unset it to use system roots.";

/** Linux's words for the errors a CA path usually gives, as Codex (Rust's io::Error) prints them. */
const OS_ERRORS: Record<string, [string, number]> = {
  ENOENT: ["No such file or directory", 2],
  EACCES: ["Permission denied", 13],
  EISDIR: ["Is a directory", 21],
  ENOTDIR: ["Not a directory", 20],
  ELOOP: ["Too many levels of symbolic links", 40],
};

function osReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  const known = code ? OS_ERRORS[code] : undefined;
  if (known) return `${known[0]} (os error ${known[1]})`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * The certificates (as PEM `CERTIFICATE` blocks) in a PEM bundle, read as
 * Codex reads a custom CA file: every `CERTIFICATE` block, OpenSSL's
 * `TRUSTED CERTIFICATE` blocks too (their trust metadata dropped); other
 * blocks (keys, CRLs) ignored; text between blocks ignored.
 *
 * Only the DER framing is checked here; {@link loadCaBundle} parses the
 * certificates Node does not already trust.
 *
 * @throws {Error} `no certificates found in PEM file`, `failed to parse PEM file: …`, or `certificate #n: …`
 */
export function pemCertificates(text: string): string[] {
  const certificates: string[] = [];
  const begin = /-----BEGIN ([A-Z0-9 ]+)-----/g;
  for (let m = begin.exec(text); m; m = begin.exec(text)) {
    const label = m[1]!;
    const endMarker = `-----END ${label}-----`;
    const end = text.indexOf(endMarker, begin.lastIndex);
    if (end < 0) throw new Error(`failed to parse PEM file: missing section end marker: ${label}`);
    const body = text.slice(begin.lastIndex, end);
    begin.lastIndex = end + endMarker.length;
    if (label !== "CERTIFICATE" && label !== "TRUSTED CERTIFICATE") continue;
    const base64 = body.replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) throw new Error("failed to parse PEM file: invalid base64");
    let der: Buffer = Buffer.from(base64, "base64");
    if (label === "TRUSTED CERTIFICATE") {
      const length = derItemLength(der);
      if (length === undefined)
        throw new Error("failed to extract certificate data from TRUSTED CERTIFICATE: invalid DER length");
      der = der.subarray(0, length);
    }
    if (der[0] !== 0x30 || derItemLength(der) !== der.length)
      throw new Error(`certificate #${certificates.length + 1}: not a DER-encoded certificate`);
    const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
    certificates.push(`-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`);
  }
  if (certificates.length === 0) throw new Error("no certificates found in PEM file");
  return certificates;
}

/** Length of the first DER item (tag, length, content), or undefined when it does not fit. */
function derItemLength(der: Buffer): number | undefined {
  const first = der[1];
  if (first === undefined) return undefined;
  if ((first & 0x80) === 0) return 2 + first <= der.length ? 2 + first : undefined;
  const octets = first & 0x7f;
  if (octets === 0 || octets > 4 || der.length < 2 + octets) return undefined;
  let length = 0;
  for (let i = 0; i < octets; i++) length = length * 256 + der[2 + i]!;
  const total = 2 + octets + length;
  return total <= der.length ? total : undefined;
}

/** The base64 body of a PEM block, for comparing certificates. */
function pemBody(pem: string): string {
  return pem.replace(/-----[^-]+-----|\s+/g, "");
}

let rootBodies: Set<string> | undefined;
/** Node's bundled root certificates (node:tls, loaded on first use). */
function nodeRoots(): Set<string> {
  rootBodies ??= new Set(
    (lazyRequire("node:tls") as typeof import("node:tls")).rootCertificates.map(pemBody),
  );
  return rootBodies;
}

/** A loaded custom CA bundle: the certificates to trust besides the default roots. */
export interface CaBundle {
  choice: CaBundleChoice;
  /** Identity of what was loaded (paths, sizes, mtimes): equal keys, equal certificates. */
  key: string;
  /** PEM `CERTIFICATE` blocks to add to the default roots. */
  certificates: string[];
}

const loaded = new Map<string, Promise<string[]>>();

async function readCertificates(path: string, variable: string): Promise<{ key: string; certs: string[] }> {
  // node:fs/promises costs ~1 ms to load: not at start-up.
  const { readFile, stat } = lazyRequire("node:fs/promises") as typeof import("node:fs/promises");
  let key: string;
  try {
    const s = await stat(path);
    key = `${path}:${s.size}:${s.mtimeMs}`;
  } catch (err) {
    throw new CaCertificateError(
      path,
      `Failed to read CA certificate file ${path} selected by ${variable}: ${osReason(err)}. ${CA_HINT}`,
      { cause: err },
    );
  }
  let pending = loaded.get(key);
  if (!pending) {
    pending = (async () => {
      let text: string;
      try {
        text = await readFile(path, "latin1");
      } catch (err) {
        throw new CaCertificateError(
          path,
          `Failed to read CA certificate file ${path} selected by ${variable}: ${osReason(err)}. ${CA_HINT}`,
          { cause: err },
        );
      }
      let certs: string[];
      try {
        certs = pemCertificates(text);
        // Parsed here only when Node does not trust them already (a system
        // bundle is mostly Node's own roots: ~0.15 ms a certificate saved).
        const roots = nodeRoots();
        certs.forEach((pem, i) => {
          if (roots.has(pemBody(pem))) return;
          try {
            new (nodeCrypto().X509Certificate)(pem);
          } catch (err) {
            throw new Error(`certificate #${i + 1}: ${err instanceof Error ? err.message : String(err)}`);
          }
        });
      } catch (err) {
        const detail = err instanceof Error ? err.message : String(err);
        const numbered = /^certificate #(\d+): (.*)$/s.exec(detail);
        throw new CaCertificateError(
          path,
          numbered
            ? `Failed to parse certificate #${numbered[1]} from ${path} selected by ${variable}: ${numbered[2]}. ${CA_HINT}`
            : `Failed to load CA certificates from ${path} selected by ${variable}: ${detail}. ${CA_HINT}`,
        );
      }
      return certs;
    })();
    loaded.set(key, pending);
    pending.catch(() => loaded.delete(key));
  }
  return { key, certs: await pending };
}

/**
 * Loads the custom CA bundle the environment names (see
 * {@link caBundleChoice}), or undefined when none is named. When
 * `CODEX_CA_CERTIFICATE` wins and `SSL_CERT_FILE` is set too, the latter's
 * certificates are trusted as well when they load (Codex's native root store
 * reads `SSL_CERT_FILE`), and ignored when they do not.
 *
 * @throws {CaCertificateError} the chosen file is missing, unreadable, or holds no usable certificate; the message names the variable and the file.
 */
export async function loadCaBundle(env: Env): Promise<CaBundle | undefined> {
  const choice = caBundleChoice(env);
  if (!choice) return undefined;
  const main = await readCertificates(choice.path, choice.variable);
  const keys = [main.key];
  const certificates = [...main.certs];
  if (choice.variable === "CODEX_CA_CERTIFICATE" && env.SSL_CERT_FILE) {
    try {
      const extra = await readCertificates(env.SSL_CERT_FILE, "SSL_CERT_FILE");
      keys.push(extra.key);
      certificates.push(...extra.certs);
    } catch {
      // Codex ignores an unusable SSL_CERT_FILE when CODEX_CA_CERTIFICATE is set.
    }
  }
  return { choice, key: keys.join("|"), certificates };
}

/**
 * The certificates of `NODE_EXTRA_CA_CERTS`, which Node adds to its default
 * roots at start-up; read again here because a TLS context made with a
 * custom `ca` list replaces Node's default store and must not lose them. Best effort, as in Node:
 * an unusable file adds nothing.
 */
export async function loadNodeExtraCaCerts(env: Env): Promise<{ key: string; certificates: string[] }> {
  const path = env.NODE_EXTRA_CA_CERTS;
  if (!path) return { key: "", certificates: [] };
  try {
    const { key, certs } = await readCertificates(path, "NODE_EXTRA_CA_CERTS");
    return { key, certificates: certs };
  } catch {
    return { key: "", certificates: [] };
  }
}

/** What TLS connections trust when a custom CA bundle is configured. */
export interface TrustedCertificates {
  /** Identity of the loaded files: equal keys, equal trust. */
  key: string;
  /** The variable and file the custom bundle came from. */
  choice: CaBundleChoice;
  /**
   * Node's default roots plus `NODE_EXTRA_CA_CERTS` plus the bundle's
   * certificates, made on first use (only TLS connections need it, and
   * OpenSSL takes ~0.15 ms a certificate); undefined when Node's default
   * store already holds every certificate of the bundle, and then the
   * default store is used as it is.
   *
   * @throws {CaCertificateError} OpenSSL refused a certificate.
   */
  secureContext(): import("node:tls").SecureContext | undefined;
}

const trusted = new Map<string, TrustedCertificates>();

/**
 * What to trust, or undefined when no custom bundle is configured (then
 * Node's default store is used as it is, including `NODE_EXTRA_CA_CERTS`
 * and any `--use-openssl-ca`). A custom bundle adds to the default roots
 * rather than replacing them, as Codex adds it to its root store; the TLS
 * context is made once per bundle and process.
 *
 * @throws {CaCertificateError} see {@link loadCaBundle}.
 */
export async function loadTrustedCertificates(env: Env): Promise<TrustedCertificates | undefined> {
  const bundle = await loadCaBundle(env);
  if (!bundle) return undefined;
  const roots = nodeRoots();
  const beyondRoots = bundle.certificates.filter((pem) => !roots.has(pemBody(pem)));
  const extra = beyondRoots.length ? await loadNodeExtraCaCerts(env) : { key: "", certificates: [] };
  const key = `${bundle.key}|${extra.key}`;
  let trust = trusted.get(key);
  if (!trust) {
    let made: { context: import("node:tls").SecureContext | undefined } | undefined;
    trust = {
      key,
      choice: bundle.choice,
      secureContext() {
        made ??= {
          context: beyondRoots.length
            ? contextWith(bundle.choice, [...extra.certificates, ...beyondRoots])
            : undefined,
        };
        return made.context;
      },
    };
    trusted.set(key, trust);
  }
  return trust;
}

/** A TLS context trusting Node's roots and `more` (each certificate once). */
function contextWith(choice: CaBundleChoice, more: string[]): import("node:tls").SecureContext {
  const tls = lazyRequire("node:tls") as typeof import("node:tls");
  const ca = new Map<string, string>();
  for (const pem of [...tls.rootCertificates, ...more]) ca.set(pemBody(pem), pem);
  try {
    return tls.createSecureContext({ ca: [...ca.values()] });
  } catch (err) {
    throw new CaCertificateError(
      choice.path,
      `Failed to load CA certificates from ${choice.path} selected by ${choice.variable}: ${err instanceof Error ? err.message : String(err)}. ${CA_HINT}`,
      { cause: err },
    );
  }
}

/** Everything a request needs to know from the environment. */
export interface NetworkConfig {
  proxy: ProxySettings;
  /** The resolved `originator` (see {@link resolveOriginator}). */
  originator: string;
  /** Loads the CA bundles the environment names (see {@link loadTrustedCertificates}). */
  trust(): Promise<TrustedCertificates | undefined>;
}

/**
 * The network settings of an environment (the process environment unless
 * one is given) and a host's requested originator.
 */
export function networkConfig(env: Env = process.env, requestedOriginator?: string): NetworkConfig {
  return {
    proxy: proxySettings(env),
    originator: resolveOriginator(env, requestedOriginator),
    trust: () => loadTrustedCertificates(env),
  };
}
