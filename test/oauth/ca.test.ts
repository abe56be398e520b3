/**
 * Custom CA bundles (CODEX_CA_CERTIFICATE, SSL_CERT_FILE) as Codex 0.169
 * reads them, and Node's NODE_EXTRA_CA_CERTS kept. The PKI is made with
 * openssl at test time; the HTTPS servers run on 127.0.0.1.
 *
 * Codex, observed (`codex login --device-auth` against an HTTPS issuer whose
 * certificate chains to a private CA):
 * - CODEX_CA_CERTIFICATE wins over SSL_CERT_FILE; an empty value is unset;
 *   the bundle is added to the roots (a bundle of several CAs works, as do
 *   OpenSSL `TRUSTED CERTIFICATE` blocks);
 * - SSL_CERT_FILE is also read as the system store, so with
 *   CODEX_CA_CERTIFICATE=other and SSL_CERT_FILE=ca the issuer is trusted,
 *   and an unusable SSL_CERT_FILE is ignored when CODEX_CA_CERTIFICATE wins;
 * - a missing, empty or garbage file chosen by either variable fails the
 *   sign-in before any request, with a message naming the file and the
 *   variable (ours: CaCertificateError with the same words);
 * - NODE_EXTRA_CA_CERTS means nothing to Codex; for us it is Node's, and a
 *   custom bundle does not drop it.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevIssuer, startDevIssuer } from "../../src/dev-issuer/index.js";
import { CaCertificateError, LoginError } from "../../src/errors.js";
import { requestDeviceCode } from "../../src/oauth/device.js";
import { requestTokenRefresh } from "../../src/oauth/refresh.js";
import { revokeRefreshToken } from "../../src/oauth/revoke.js";
import { startChild, stopChildren } from "../login/helpers.js";
import { findCodexBinary, makeCodexHome, removeCodexHome } from "../support/env.js";
import { issuedHome } from "../support/issued-home.js";
import { runOursAsync } from "../support/run.js";
import { makeTestPki, startHttpsFront, startHttpsServer, type TestPki } from "./tls.js";

const codex = findCodexBinary();

let pki: TestPki;
let noDeviceCodes: Awaited<ReturnType<typeof startHttpsServer>>;
let issuer: DevIssuer;
let front: Awaited<ReturnType<typeof startHttpsFront>>;
const file = (name: string) => join(pki.dir, name);
beforeAll(async () => {
  pki = makeTestPki();
  writeFileSync(file("bundle.pem"), `${pki.otherCaPem}\n${pki.caPem}`);
  writeFileSync(file("other.pem"), pki.otherCaPem);
  writeFileSync(file("garbage.pem"), "hello, this is not PEM\n");
  writeFileSync(file("empty.pem"), "");
  writeFileSync(file("broken.pem"), "-----BEGIN CERTIFICATE-----\nMIIBroken\n");
  writeFileSync(
    file("trusted.pem"),
    pki.caPem
      .replaceAll("BEGIN CERTIFICATE", "BEGIN TRUSTED CERTIFICATE")
      .replaceAll("END CERTIFICATE", "END TRUSTED CERTIFICATE"),
  );
  writeFileSync(file("commented.pem"), `# the test CA\n${pki.keyPem}\n${pki.caPem}`);
  // Answers every device-code request with 404: a sign-in that reaches it
  // fails with "device code login is not enabled", which proves TLS worked.
  noDeviceCodes = await startHttpsServer(pki, (_req, res) => res.writeHead(404).end("not found"));
  issuer = await startDevIssuer({ autoApprove: true });
  front = await startHttpsFront(pki, issuer.url);
});
afterAll(async () => {
  await stopChildren();
  await noDeviceCodes?.close();
  await front?.close();
  await issuer?.close();
  pki?.cleanup();
});

type Outcome = "trusted" | "untrusted" | "ca-error";

/** [name, env (FILE:x stands for the PKI dir's file x), what Codex 0.169 does]. */
const CASES: Array<[string, Record<string, string>, Outcome]> = [
  ["no custom CA: the private CA is not trusted", {}, "untrusted"],
  ["CODEX_CA_CERTIFICATE names the CA", { CODEX_CA_CERTIFICATE: "FILE:ca.pem" }, "trusted"],
  ["SSL_CERT_FILE names the CA", { SSL_CERT_FILE: "FILE:ca.pem" }, "trusted"],
  ["a bundle of several CAs", { CODEX_CA_CERTIFICATE: "FILE:bundle.pem" }, "trusted"],
  ["TRUSTED CERTIFICATE blocks", { CODEX_CA_CERTIFICATE: "FILE:trusted.pem" }, "trusted"],
  ["text, a key block and the CA", { CODEX_CA_CERTIFICATE: "FILE:commented.pem" }, "trusted"],
  ["another CA only", { CODEX_CA_CERTIFICATE: "FILE:other.pem" }, "untrusted"],
  [
    "an empty CODEX_CA_CERTIFICATE is unset",
    { CODEX_CA_CERTIFICATE: "", SSL_CERT_FILE: "FILE:ca.pem" },
    "trusted",
  ],
  [
    "CODEX_CA_CERTIFICATE wins: a missing SSL_CERT_FILE is ignored",
    { CODEX_CA_CERTIFICATE: "FILE:ca.pem", SSL_CERT_FILE: "FILE:missing.pem" },
    "trusted",
  ],
  [
    "SSL_CERT_FILE is trusted too when CODEX_CA_CERTIFICATE wins",
    { CODEX_CA_CERTIFICATE: "FILE:other.pem", SSL_CERT_FILE: "FILE:ca.pem" },
    "trusted",
  ],
  [
    "CODEX_CA_CERTIFICATE wins: its missing file is an error",
    { CODEX_CA_CERTIFICATE: "FILE:missing.pem", SSL_CERT_FILE: "FILE:ca.pem" },
    "ca-error",
  ],
  ["CODEX_CA_CERTIFICATE names a missing file", { CODEX_CA_CERTIFICATE: "FILE:missing.pem" }, "ca-error"],
  ["SSL_CERT_FILE names a missing file", { SSL_CERT_FILE: "FILE:missing.pem" }, "ca-error"],
  ["a file that is not PEM", { CODEX_CA_CERTIFICATE: "FILE:garbage.pem" }, "ca-error"],
  ["an empty file", { CODEX_CA_CERTIFICATE: "FILE:empty.pem" }, "ca-error"],
  ["a PEM block without its end", { CODEX_CA_CERTIFICATE: "FILE:broken.pem" }, "ca-error"],
  ["a directory", { CODEX_CA_CERTIFICATE: "FILE:" }, "ca-error"],
];

function envFor(template: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(template).map(([k, v]) => [k, v.startsWith("FILE:") ? file(v.slice(5)) : v]),
  );
}

/** Our outcome for a device-code request to the 404 server with `env`, and the error's message. */
async function ours(env: Record<string, string>): Promise<{ outcome: Outcome; message: string }> {
  const err = await requestDeviceCode(noDeviceCodes.url, { env }).then(
    () => new Error("a device code from a server that has none"),
    (e: unknown) => e as Error,
  );
  if (err instanceof LoginError && err.code === "ERR_DEVICE_CODE_UNSUPPORTED")
    return { outcome: "trusted", message: err.message };
  if (err instanceof LoginError && err.code === "ERR_LOGIN_FAILED")
    return { outcome: "untrusted", message: err.message };
  if (err instanceof CaCertificateError) return { outcome: "ca-error", message: err.message };
  throw err;
}

function codexEnv(home: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/proxy|^OPENAI_|^CODEX_|SSL_CERT|CA_CERT/i.test(k)) continue;
    env[k] = v;
  }
  return { ...env, CODEX_HOME: home, NO_COLOR: "1", ...extra };
}

describe("custom-ca-as-codex: which bundle is trusted, and the error for an unusable one", () => {
  it.each(CASES)("%s", async (_name, template, expected) => {
    const env = envFor(template);
    const mine = await ours(env);
    expect(mine.outcome).toBe(expected);
    if (expected === "ca-error") {
      // The message names the variable that chose the file, and the file.
      const variable = env.CODEX_CA_CERTIFICATE ? "CODEX_CA_CERTIFICATE" : "SSL_CERT_FILE";
      expect(mine.message).toContain(`${env[variable]} selected by ${variable}`);
    }
    if (!codex) return;
    const home = makeCodexHome("ca-codex");
    try {
      const login = startChild(
        codex,
        ["login", "--device-auth", "--experimental_issuer", noDeviceCodes.url],
        codexEnv(home, env),
      );
      expect(await login.exit).toBe(1);
      const said = login.stderr();
      const theirs: Outcome = said.includes("device code login is not enabled")
        ? "trusted"
        : said.includes("error sending request")
          ? "untrusted"
          : said.includes("CA certificate")
            ? "ca-error"
            : (said as Outcome);
      expect(theirs).toBe(mine.outcome);
      // Same words, except the parser's own detail for a broken PEM block.
      if (theirs === "ca-error") {
        const comparable = (s: string) =>
          s.replace(/failed to parse PEM file: .*?\. If/, "failed to parse PEM file: …. If");
        expect(comparable(said)).toContain(comparable(mine.message));
      }
    } finally {
      removeCodexHome(home);
    }
  });
});

describe("an HTTPS issuer with a private CA", () => {
  for (const variable of ["CODEX_CA_CERTIFICATE", "SSL_CERT_FILE"]) {
    it(`https-issuer-trusted-through-${variable}: refresh, device code and revoke are answered`, async () => {
      const env = { [variable]: pki.caPath };
      const tokens = await issuer.issueTokens();
      const refreshed = await requestTokenRefresh(tokens.refresh_token, {
        url: `${front.url}/oauth/token`,
        reason: "forced",
        env,
      });
      expect(refreshed.refresh_token).toEqual(expect.any(String));
      expect((await requestDeviceCode(front.url, { env })).userCode).toEqual(expect.any(String));
      expect(
        await revokeRefreshToken(refreshed.refresh_token!, { url: `${front.url}/oauth/revoke`, env }),
      ).toBe(true);
    });
  }

  it("refresh-with-missing-ca-file-fails-clearly: CaCertificateError naming the variable and the file", async () => {
    const tokens = await issuer.issueTokens();
    const err = await requestTokenRefresh(tokens.refresh_token, {
      url: `${front.url}/oauth/token`,
      reason: "forced",
      env: { CODEX_CA_CERTIFICATE: file("missing.pem") },
    }).then(
      () => undefined,
      (e: unknown) => e as CaCertificateError,
    );
    if (!(err instanceof CaCertificateError)) throw new Error("the refresh went through without its CA file");
    expect(err.code).toBe("ERR_CA_CERTIFICATE");
    expect(err.path).toBe(file("missing.pem"));
    expect(err.message).toBe(
      `Failed to read CA certificate file ${file("missing.pem")} selected by CODEX_CA_CERTIFICATE: No such file or directory (os error 2). If you set CODEX_CA_CERTIFICATE or SSL_CERT_FILE, ensure it points to a PEM file containing one or more CERTIFICATE blocks, or unset it to use system roots.`,
    );
    expect(err.message).not.toContain(tokens.refresh_token);
  });

  it("node-extra-ca-certs-kept-beside-a-custom-bundle: NODE_EXTRA_CA_CERTS=ca with CODEX_CA_CERTIFICATE=other", async () => {
    const env = { NODE_EXTRA_CA_CERTS: pki.caPath, CODEX_CA_CERTIFICATE: file("other.pem") };
    expect((await requestDeviceCode(front.url, { env })).userCode).toEqual(expect.any(String));
  });
});

describe("the CLI bundle with a private CA", () => {
  // each case removes its own home
  const staleHome = () => issuedHome(issuer, [], "ca-cli", { stale: true });
  const cases: Array<[string, Record<string, string | undefined>, number]> = [
    ["token-refreshes-over-https-with-codex-ca-certificate", { CODEX_CA_CERTIFICATE: "ca" }, 0],
    ["token-refreshes-over-https-with-node-extra-ca-certs", { NODE_EXTRA_CA_CERTS: "ca" }, 0],
    [
      "token-keeps-node-extra-ca-certs-beside-codex-ca-certificate",
      { NODE_EXTRA_CA_CERTS: "ca", CODEX_CA_CERTIFICATE: "other" },
      0,
    ],
    ["token-fails-without-the-ca", {}, 1],
  ];
  it.each(cases)("%s", async (_name, template, code) => {
    const home = await staleHome();
    try {
      const env: Record<string, string | undefined> = {
        SSL_CERT_FILE: undefined,
        NODE_EXTRA_CA_CERTS: undefined,
        CODEX_CA_CERTIFICATE: undefined,
        CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${front.url}/oauth/token`,
      };
      for (const [k, v] of Object.entries(template)) env[k] = v === "ca" ? pki.caPath : file("other.pem");
      const r = await runOursAsync(["token"], { home, env });
      expect(r.code, r.stderr).toBe(code);
      if (code === 0) expect(r.stdout.trim()).toMatch(/^ey/);
    } finally {
      removeCodexHome(home);
    }
  });

  it("token-with-missing-ca-file-says-which: exit 1, the message names the variable and the file", async () => {
    const home = await staleHome();
    try {
      const r = await runOursAsync(["token"], {
        home,
        env: {
          SSL_CERT_FILE: file("missing.pem"),
          CODEX_CA_CERTIFICATE: undefined,
          CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${front.url}/oauth/token`,
        },
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${file("missing.pem")} selected by SSL_CERT_FILE`);
    } finally {
      removeCodexHome(home);
    }
  });
});
