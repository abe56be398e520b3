/**
 * config/network.ts: proxy, NO_PROXY, originator and CA-file choices as pure
 * functions of an environment (the routing itself is compared with the real
 * codex in proxy-codex.test.ts), and properties of the parsers that read
 * outside input (proxy URLs, NO_PROXY, PEM files).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  caBundleChoice,
  parseNoProxy,
  parseProxyUrl,
  pemCertificates,
  proxyFor,
  proxySettings,
  resolveOriginator,
} from "../../src/config/network.js";
import { makeTestPki } from "./tls.js";

describe("proxy URLs", () => {
  it.each([
    ["http://proxy:3128", "http://proxy:3128"],
    ["proxy:3128", "http://proxy:3128"],
    ["127.0.0.1:8080", "http://127.0.0.1:8080"],
    ["https://proxy.example", "https://proxy.example"],
    ["http://user:p%40ss@proxy:3128/ignored/path", "http://user:p%40ss@proxy:3128"],
    ["socks5://127.0.0.1:1080", "socks5://127.0.0.1:1080"],
    ["ftp://proxy:21", undefined],
    ["::::", undefined],
    ["", undefined],
    ["   ", undefined],
  ])("%j → %j", (value, want) => {
    expect(parseProxyUrl(value)).toBe(want);
  });

  it("proxy-url-parser-never-throws", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (s) => {
        const parsed = parseProxyUrl(s);
        if (parsed !== undefined) expect(() => new URL(parsed)).not.toThrow();
      }),
      { numRuns: 2000 },
    );
  });
});

describe("proxy settings", () => {
  it("https:// never uses HTTP_PROXY; ALL_PROXY is the fallback of both", () => {
    const s = proxySettings({ HTTP_PROXY: "http://h:1", ALL_PROXY: "http://a:1" });
    expect(proxyFor("http://issuer/x", s)).toBe("http://h:1");
    expect(proxyFor("https://issuer/x", s)).toBe("http://a:1");
    expect(proxyFor("https://issuer/x", proxySettings({ HTTP_PROXY: "http://h:1" }))).toBeUndefined();
  });

  it("the environment's process is never consulted: an empty env means direct", () => {
    expect(proxyFor("https://auth.openai.com/oauth/token", proxySettings({}))).toBeUndefined();
  });
});

describe("NO_PROXY", () => {
  const np = parseNoProxy(".example.com, internal, 10.0.0.0/8, ::1, 192.168.1.7, fd00::/8, host:8080");
  it.each([
    ["example.com", true],
    ["a.example.com", true],
    ["notexample.com", false],
    ["internal", true],
    ["svc.internal", true],
    ["xinternal", false],
    ["10.1.2.3", true],
    ["11.1.2.3", false],
    ["[::1]", true],
    ["::1", true],
    ["192.168.1.7", true],
    ["192.168.1.8", false],
    ["[fd12::1]", true],
    ["host", false],
    ["INTERNAL", true],
  ])("%s → %s", (host, want) => {
    expect(np.matches(host)).toBe(want);
  });

  it("no-proxy-parser-never-throws", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 200 }),
        fc.string({ maxLength: 60 }),
        (value, host) => {
          expect(typeof parseNoProxy(value).matches(host)).toBe("boolean");
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("originator", () => {
  it.each([
    [{}, undefined, "codex_cli_rs"],
    [{}, "host_app", "host_app"],
    [{ CODEX_INTERNAL_ORIGINATOR_OVERRIDE: "my_host" }, "host_app", "my_host"],
    [{ CODEX_INTERNAL_ORIGINATOR_OVERRIDE: "bad\nvalue" }, undefined, "codex_cli_rs"],
    [{ CODEX_INTERNAL_ORIGINATOR_OVERRIDE: "" }, "host_app", "host_app"],
    [{}, "bad\u0000value", "codex_cli_rs"],
  ])("%j with %j → %s", (env, requested, want) => {
    expect(resolveOriginator(env, requested)).toBe(want);
  });
});

describe("CA bundle choice", () => {
  it.each([
    [{}, undefined],
    [{ SSL_CERT_FILE: "/s.pem" }, { variable: "SSL_CERT_FILE", path: "/s.pem" }],
    [
      { CODEX_CA_CERTIFICATE: "/c.pem", SSL_CERT_FILE: "/s.pem" },
      { variable: "CODEX_CA_CERTIFICATE", path: "/c.pem" },
    ],
    [
      { CODEX_CA_CERTIFICATE: "", SSL_CERT_FILE: "/s.pem" },
      { variable: "SSL_CERT_FILE", path: "/s.pem" },
    ],
    [{ NODE_EXTRA_CA_CERTS: "/n.pem" }, undefined],
  ])("%j → %j", (env, want) => {
    expect(caBundleChoice(env)).toEqual(want);
  });
});

describe("PEM bundles", () => {
  const pki = makeTestPki();
  try {
    const [ca, other] = [pki.caPem, pki.otherCaPem];
    it("every CERTIFICATE block, in order; other blocks and text ignored", () => {
      const certs = pemCertificates(`comment\n${pki.keyPem}${other}\n${ca}`);
      expect(certs).toHaveLength(2);
      expect(certs[1]!.replace(/\s/g, "")).toBe(ca.replace(/\s/g, ""));
    });

    it("TRUSTED CERTIFICATE: the certificate without OpenSSL's trust metadata", () => {
      const der = Buffer.from(ca.replace(/-----[^-]+-----|\s/g, ""), "base64");
      // X509_AUX after the certificate, as `openssl x509 -trustout` appends it.
      const aux = Buffer.from([0x30, 0x0a, 0x30, 0x08, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07]);
      const trusted = `-----BEGIN TRUSTED CERTIFICATE-----\n${Buffer.concat([der, aux]).toString("base64")}\n-----END TRUSTED CERTIFICATE-----\n`;
      expect(pemCertificates(trusted)[0]!.replace(/\s/g, "")).toBe(ca.replace(/\s/g, ""));
    });

    it.each([
      ["", "no certificates found in PEM file"],
      ["just text", "no certificates found in PEM file"],
      [pki.keyPem, "no certificates found in PEM file"],
      [
        "-----BEGIN CERTIFICATE-----\nMIIB\n",
        "failed to parse PEM file: missing section end marker: CERTIFICATE",
      ],
      [
        "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
        "failed to parse PEM file: invalid base64",
      ],
      ["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "certificate #1: "],
    ])("unusable: %j", (text, message) => {
      expect(() => pemCertificates(text)).toThrow(message);
    });

    it("pem-parser-throws-only-its-own-errors", () => {
      const pemish = fc.array(
        fc.oneof(
          fc.constantFrom(
            ca,
            other,
            pki.keyPem,
            "-----BEGIN CERTIFICATE-----\n",
            "-----END CERTIFICATE-----\n",
          ),
          fc.string({ unit: "binary", maxLength: 80 }),
          fc.base64String({ maxLength: 200 }),
        ),
        { maxLength: 6 },
      );
      fc.assert(
        fc.property(pemish, (parts) => {
          try {
            const certs = pemCertificates(parts.join(""));
            expect(certs.length).toBeGreaterThan(0);
          } catch (err) {
            expect((err as Error).message).toMatch(
              /^(no certificates found in PEM file|failed to parse PEM file: |failed to extract certificate data|certificate #\d+: )/,
            );
          }
        }),
        { numRuns: 1000 },
      );
    });
  } finally {
    pki.cleanup();
  }
});
