/**
 * The D-Bus wire format the keyring client speaks: values survive a
 * marshal/unmarshal round trip for any signature, and a message decoder fed
 * arbitrary or corrupted bytes either decodes or throws DbusWireError —
 * never anything else, never a hang.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type DbusMessage,
  type DbusValue,
  DbusWireError,
  decodeMessage,
  encodeMessage,
  marshal,
  messageLength,
  parseSignature,
  unmarshal,
} from "../../src/storage/keyring/dbus-wire.js";

const text = fc.string({ unit: "grapheme", maxLength: 12 }).filter((s) => !s.includes("\0"));

/** A complete type (depth-limited) with a generator of its values. */
type Typed = { signature: string; value: fc.Arbitrary<DbusValue> };

const basic: Typed[] = [
  { signature: "y", value: fc.integer({ min: 0, max: 255 }) },
  { signature: "b", value: fc.boolean() },
  { signature: "n", value: fc.integer({ min: -32768, max: 32767 }) },
  { signature: "q", value: fc.integer({ min: 0, max: 65535 }) },
  { signature: "i", value: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) },
  { signature: "u", value: fc.integer({ min: 0, max: 2 ** 32 - 1 }) },
  { signature: "x", value: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) },
  { signature: "t", value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) },
  { signature: "d", value: fc.double({ noNaN: true }) },
  { signature: "s", value: text },
  { signature: "o", value: text },
  { signature: "g", value: fc.constantFrom("", "s", "a{sv}", "(oayays)") },
];

const typed: fc.Arbitrary<Typed> = fc.letrec<{ t: Typed }>((tie) => ({
  t: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom(...basic),
    fc.constant<Typed>({ signature: "ay", value: fc.uint8Array({ maxLength: 20 }) }),
    tie("t").map((e) => ({
      signature: `a${e.signature}`,
      // `ay` is always bytes, whichever way it was built.
      value: e.signature === "y" ? fc.uint8Array({ maxLength: 4 }) : fc.array(e.value, { maxLength: 4 }),
    })),
    fc.tuple(fc.constantFrom(...basic), tie("t")).map(([k, v]) => ({
      signature: `a{${k.signature}${v.signature}}`,
      value: fc.array(fc.tuple(k.value, v.value), { maxLength: 3 }),
    })),
    fc.array(tie("t"), { minLength: 1, maxLength: 3 }).map((fields) => ({
      signature: `(${fields.map((f) => f.signature).join("")})`,
      value: fc.tuple(...fields.map((f) => f.value)),
    })),
    tie("t").map((inner) => ({
      signature: "v",
      value: inner.value.map((value) => ({ signature: inner.signature, value })),
    })),
  ),
})).t;

const valuesOf = fc
  .array(typed, { minLength: 1, maxLength: 4 })
  .chain((types) =>
    fc.tuple(fc.constant(types.map((t) => t.signature).join("")), fc.tuple(...types.map((t) => t.value))),
  );

describe("dbus-wire", () => {
  it("dbus-values-round-trip: unmarshal(marshal(v)) is v for any signature", () => {
    fc.assert(
      fc.property(valuesOf, ([signature, values]) => {
        expect(parseSignature(signature).length).toBeGreaterThan(0);
        expect(unmarshal(signature, marshal(signature, values))).toEqual(values);
      }),
      { numRuns: 400 },
    );
  });

  it("dbus-messages-round-trip: header fields and body survive encode/decode", () => {
    fc.assert(
      fc.property(
        valuesOf,
        fc.integer({ min: 1, max: 2 ** 32 - 1 }),
        text,
        ([signature, body], serial, member) => {
          const msg: DbusMessage = {
            type: 1,
            flags: 0,
            serial,
            path: "/org/freedesktop/secrets",
            interface: "org.freedesktop.Secret.Service",
            member: member || "M",
            destination: "org.freedesktop.secrets",
            signature,
            body,
          };
          const bytes = encodeMessage(msg);
          expect(messageLength(bytes)).toBe(bytes.length);
          expect(decodeMessage(bytes)).toEqual(msg);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("dbus-decoder-rejects-garbage: arbitrary and corrupted bytes give DbusWireError or a message", () => {
    const valid = encodeMessage({
      type: 2,
      flags: 0,
      serial: 7,
      replySerial: 3,
      signature: "a{sv}(oayays)",
      body: [
        [["k", { signature: "as", value: ["a", "b"] }]],
        ["/s", new Uint8Array([1]), new Uint8Array([2, 3]), "t"],
      ],
    });
    const decodeOrWireError = (bytes: Buffer): void => {
      try {
        const length = messageLength(bytes);
        if (length !== undefined && length === bytes.length) decodeMessage(bytes);
      } catch (err) {
        if (!(err instanceof DbusWireError)) throw err;
      }
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => decodeOrWireError(Buffer.from(bytes))),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        (edits) => {
          const bytes = Buffer.from(valid);
          for (const [at, byte] of edits) bytes[at] = byte;
          decodeOrWireError(bytes);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("refuses what the spec forbids", () => {
    for (const bad of ["a", "(", "()", "{sv}", "a{vs}", "a{s}", "z", `${"a".repeat(40)}y`]) {
      expect(() => parseSignature(bad), bad).toThrow(DbusWireError);
    }
    expect(() => marshal("s", ["a\0b"])).toThrow(DbusWireError);
    expect(() => marshal("y", [256])).toThrow(DbusWireError);
    expect(() => marshal("b", ["yes" as unknown as DbusValue])).toThrow(DbusWireError);
    expect(() => unmarshal("b", Buffer.from([2, 0, 0, 0]))).toThrow(DbusWireError);
    expect(() => unmarshal("s", Buffer.from([1, 0, 0, 0, 0x61, 1]))).toThrow(/NUL-terminated/);
    expect(() => unmarshal("u", Buffer.from([1, 0, 0, 0, 0]))).toThrow(/bytes left/);
  });
});
