/**
 * The D-Bus wire format (https://dbus.freedesktop.org/doc/dbus-specification.html#message-protocol):
 * values marshalled by type signature, and whole messages. Pure: no I/O.
 *
 * Values in JavaScript: `y n q i u h` and `d` are numbers, `x t` bigints,
 * `b` booleans, `s o g` strings, `ay` a Uint8Array, other arrays and
 * structs arrays, dict entries `[key, value]` pairs, `v` a {@link Variant}.
 */

/** Input that is not a valid D-Bus message or value. */
export class DbusWireError extends Error {
  override readonly name = "DbusWireError";
}

export interface Variant {
  signature: string;
  value: DbusValue;
}

export type DbusValue = number | bigint | boolean | string | Uint8Array | Variant | DbusValue[];

/** One complete type of a signature. */
export interface DbusType {
  code: string;
  /** Element type of an array. */
  element?: DbusType;
  /** Members of a struct or dict entry. */
  fields?: DbusType[];
}

const BASIC = "ybnqiuxtdhsog";
const MAX_DEPTH = 32;
/** Arrays and messages longer than this are refused (the spec's limits are 64 MiB and 128 MiB). */
const MAX_ARRAY = 64 * 1024 * 1024;
const MAX_MESSAGE = 128 * 1024 * 1024;

/** Parses a signature into its complete types. @throws {DbusWireError} */
export function parseSignature(signature: string): DbusType[] {
  if (signature.length > 255) throw new DbusWireError("signature longer than 255");
  let pos = 0;
  const one = (depth: number, inArray: boolean): DbusType => {
    if (depth > MAX_DEPTH) throw new DbusWireError("signature nested too deeply");
    const code = signature[pos++];
    if (code === undefined) throw new DbusWireError(`signature "${signature}" ends early`);
    if (BASIC.includes(code) || code === "v") return { code };
    if (code === "a") return { code, element: one(depth + 1, true) };
    if (code === "(" || code === "{") {
      if (code === "{" && !inArray) throw new DbusWireError("dict entry outside an array");
      const close = code === "(" ? ")" : "}";
      const fields: DbusType[] = [];
      while (signature[pos] !== close) {
        if (pos >= signature.length) throw new DbusWireError(`signature "${signature}" ends early`);
        fields.push(one(depth + 1, false));
      }
      pos++;
      if (fields.length === 0) throw new DbusWireError("empty struct");
      if (code === "{" && (fields.length !== 2 || !BASIC.includes(fields[0]!.code))) {
        throw new DbusWireError("a dict entry needs a basic key and one value");
      }
      return { code, fields };
    }
    throw new DbusWireError(`unknown type code "${code}"`);
  };
  const types: DbusType[] = [];
  while (pos < signature.length) types.push(one(0, false));
  return types;
}

function alignment(type: DbusType): number {
  switch (type.code) {
    case "y":
    case "g":
    case "v":
      return 1;
    case "n":
    case "q":
      return 2;
    case "x":
    case "t":
    case "d":
    case "(":
    case "{":
      return 8;
    default:
      return 4;
  }
}

function signatureOf(type: DbusType): string {
  if (type.element) return `a${signatureOf(type.element)}`;
  if (type.fields)
    return `${type.code}${type.fields.map(signatureOf).join("")}${type.code === "(" ? ")" : "}"}`;
  return type.code;
}

// ---------------------------------------------------------------------------
// Marshalling

class Writer {
  private buf = Buffer.alloc(256);
  length = 0;

  /** `base` is the offset of this buffer's start within the message, for alignment. */
  constructor(private readonly base = 0) {}

  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const grown = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(grown, 0, 0, this.length);
    this.buf = grown;
  }

  align(n: number): void {
    const pad = (n - ((this.base + this.length) % n)) % n;
    this.room(pad);
    this.buf.fill(0, this.length, this.length + pad);
    this.length += pad;
  }

  u8(v: number): void {
    this.room(1);
    this.buf.writeUInt8(v, this.length++);
  }

  u32(v: number): void {
    this.align(4);
    this.room(4);
    this.buf.writeUInt32LE(v, this.length);
    this.length += 4;
  }

  raw(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  patchU32(at: number, v: number): void {
    this.buf.writeUInt32LE(v, at);
  }

  write(type: DbusType, value: DbusValue, depth = 0): void {
    if (depth > MAX_DEPTH) throw new DbusWireError("value nested too deeply");
    const fail = (): never => {
      throw new DbusWireError(`cannot marshal ${typeof value} as "${signatureOf(type)}"`);
    };
    switch (type.code) {
      case "y":
        if (typeof value !== "number") fail();
        this.u8(value as number);
        return;
      case "b":
        if (typeof value !== "boolean") fail();
        this.u32(value ? 1 : 0);
        return;
      case "n":
      case "q": {
        if (typeof value !== "number") fail();
        this.align(2);
        this.room(2);
        if (type.code === "n") this.buf.writeInt16LE(value as number, this.length);
        else this.buf.writeUInt16LE(value as number, this.length);
        this.length += 2;
        return;
      }
      case "i":
      case "u":
      case "h": {
        if (typeof value !== "number") fail();
        this.align(4);
        this.room(4);
        if (type.code === "i") this.buf.writeInt32LE(value as number, this.length);
        else this.buf.writeUInt32LE(value as number, this.length);
        this.length += 4;
        return;
      }
      case "x":
      case "t": {
        if (typeof value !== "bigint") fail();
        this.align(8);
        this.room(8);
        if (type.code === "x") this.buf.writeBigInt64LE(value as bigint, this.length);
        else this.buf.writeBigUInt64LE(value as bigint, this.length);
        this.length += 8;
        return;
      }
      case "d":
        if (typeof value !== "number") fail();
        this.align(8);
        this.room(8);
        this.buf.writeDoubleLE(value as number, this.length);
        this.length += 8;
        return;
      case "s":
      case "o": {
        if (typeof value !== "string" || value.includes("\0")) fail();
        const bytes = Buffer.from(value as string, "utf8");
        this.u32(bytes.length);
        this.raw(bytes);
        this.u8(0);
        return;
      }
      case "g": {
        if (typeof value !== "string" || value.includes("\0")) fail();
        const bytes = Buffer.from(value as string, "utf8");
        if (bytes.length > 255) fail();
        this.u8(bytes.length);
        this.raw(bytes);
        this.u8(0);
        return;
      }
      case "v": {
        if (typeof value !== "object" || value === null || !("signature" in value)) fail();
        const variant = value as Variant;
        const types = parseSignature(variant.signature);
        if (types.length !== 1) throw new DbusWireError("a variant holds exactly one complete type");
        this.write({ code: "g" }, variant.signature, depth + 1);
        this.write(types[0]!, variant.value, depth + 1);
        return;
      }
      case "a": {
        const element = type.element!;
        this.u32(0);
        const lengthAt = this.length - 4;
        this.align(alignment(element));
        const start = this.length;
        if (element.code === "y" && value instanceof Uint8Array) this.raw(value);
        else {
          if (!Array.isArray(value)) fail();
          for (const item of value as DbusValue[]) this.write(element, item, depth + 1);
        }
        const length = this.length - start;
        if (length > MAX_ARRAY) throw new DbusWireError("array longer than 64 MiB");
        this.patchU32(lengthAt, length);
        return;
      }
      case "(":
      case "{": {
        const fields = type.fields!;
        if (!Array.isArray(value) || value.length !== fields.length) fail();
        this.align(8);
        fields.forEach((field, i) => {
          this.write(field, (value as DbusValue[])[i]!, depth + 1);
        });
        return;
      }
    }
  }
}

/** Marshals `values` by `signature`, aligned as a message body. @throws {DbusWireError} */
export function marshal(signature: string, values: DbusValue[]): Buffer {
  const types = parseSignature(signature);
  if (types.length !== values.length) {
    throw new DbusWireError(
      `signature "${signature}" has ${types.length} types, got ${values.length} values`,
    );
  }
  const w = new Writer();
  try {
    types.forEach((type, i) => {
      w.write(type, values[i]!);
    });
  } catch (err) {
    // Buffer's writers throw RangeError for numbers outside a type's range.
    if (err instanceof RangeError) throw new DbusWireError(`value out of range for "${signature}"`);
    throw err;
  }
  return Buffer.from(w.bytes());
}

// ---------------------------------------------------------------------------
// Unmarshalling

class Reader {
  constructor(
    private readonly buf: Buffer,
    public pos: number,
    private readonly end: number,
    private readonly le: boolean,
    /** Offset that alignment is relative to (the message's start). */
    private readonly base: number,
  ) {}

  private need(n: number): void {
    if (this.pos + n > this.end) throw new DbusWireError("value runs past the end of the message");
  }

  align(n: number): void {
    const pad = (n - ((this.pos - this.base) % n)) % n;
    this.need(pad);
    for (let i = 0; i < pad; i++) {
      if (this.buf[this.pos + i] !== 0) throw new DbusWireError("non-zero padding");
    }
    this.pos += pad;
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u32(): number {
    this.align(4);
    this.need(4);
    const v = this.le ? this.buf.readUInt32LE(this.pos) : this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  private text(length: number): string {
    this.need(length + 1);
    const bytes = this.buf.subarray(this.pos, this.pos + length);
    if (this.buf[this.pos + length] !== 0) throw new DbusWireError("string not NUL-terminated");
    this.pos += length + 1;
    let s: string;
    try {
      s = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new DbusWireError("string is not UTF-8");
    }
    if (s.includes("\0")) throw new DbusWireError("string contains NUL");
    return s;
  }

  read(type: DbusType, depth = 0): DbusValue {
    if (depth > MAX_DEPTH) throw new DbusWireError("value nested too deeply");
    const { buf, le } = this;
    switch (type.code) {
      case "y":
        return this.u8();
      case "b": {
        const v = this.u32();
        if (v > 1) throw new DbusWireError("boolean is neither 0 nor 1");
        return v === 1;
      }
      case "n":
      case "q": {
        this.align(2);
        this.need(2);
        const signed = type.code === "n";
        const v = le
          ? signed
            ? buf.readInt16LE(this.pos)
            : buf.readUInt16LE(this.pos)
          : signed
            ? buf.readInt16BE(this.pos)
            : buf.readUInt16BE(this.pos);
        this.pos += 2;
        return v;
      }
      case "i": {
        this.align(4);
        this.need(4);
        const v = le ? buf.readInt32LE(this.pos) : buf.readInt32BE(this.pos);
        this.pos += 4;
        return v;
      }
      case "u":
      case "h":
        return this.u32();
      case "x":
      case "t": {
        this.align(8);
        this.need(8);
        const signed = type.code === "x";
        const v = le
          ? signed
            ? buf.readBigInt64LE(this.pos)
            : buf.readBigUInt64LE(this.pos)
          : signed
            ? buf.readBigInt64BE(this.pos)
            : buf.readBigUInt64BE(this.pos);
        this.pos += 8;
        return v;
      }
      case "d": {
        this.align(8);
        this.need(8);
        const v = le ? buf.readDoubleLE(this.pos) : buf.readDoubleBE(this.pos);
        this.pos += 8;
        return v;
      }
      case "s":
      case "o":
        return this.text(this.u32());
      case "g":
        return this.text(this.u8());
      case "v": {
        const signature = this.text(this.u8());
        const types = parseSignature(signature);
        if (types.length !== 1) throw new DbusWireError("a variant holds exactly one complete type");
        return { signature, value: this.read(types[0]!, depth + 1) };
      }
      case "a": {
        const length = this.u32();
        if (length > MAX_ARRAY) throw new DbusWireError("array longer than 64 MiB");
        const element = type.element!;
        this.align(alignment(element));
        this.need(length);
        const end = this.pos + length;
        if (element.code === "y") {
          const bytes = Uint8Array.from(buf.subarray(this.pos, end));
          this.pos = end;
          return bytes;
        }
        const items: DbusValue[] = [];
        while (this.pos < end) items.push(this.read(element, depth + 1));
        if (this.pos !== end) throw new DbusWireError("array elements overrun its length");
        return items;
      }
      case "(":
      case "{": {
        this.align(8);
        return type.fields!.map((field) => this.read(field, depth + 1));
      }
    }
    throw new DbusWireError(`unknown type code "${type.code}"`);
  }
}

/** Unmarshals a message body (starting 8-aligned) by `signature`. @throws {DbusWireError} */
export function unmarshal(signature: string, body: Buffer, littleEndian = true): DbusValue[] {
  const types = parseSignature(signature);
  const r = new Reader(body, 0, body.length, littleEndian, 0);
  const values = types.map((t) => r.read(t));
  if (r.pos !== body.length) throw new DbusWireError("bytes left after the last value");
  return values;
}

// ---------------------------------------------------------------------------
// Messages

export const MessageType = { methodCall: 1, methodReturn: 2, error: 3, signal: 4 } as const;

/** Header flag: the sender wants no reply. */
export const NO_REPLY_EXPECTED = 0x1;

export interface DbusMessage {
  type: number;
  flags: number;
  serial: number;
  path?: string;
  interface?: string;
  member?: string;
  errorName?: string;
  replySerial?: number;
  destination?: string;
  sender?: string;
  signature: string;
  body: DbusValue[];
}

const FIELDS = [
  [1, "path", "o"],
  [2, "interface", "s"],
  [3, "member", "s"],
  [4, "errorName", "s"],
  [5, "replySerial", "u"],
  [6, "destination", "s"],
  [7, "sender", "s"],
  [8, "signature", "g"],
] as const;

const HEADER_FIELDS = parseSignature("a(yv)")[0]!;

/** Encodes a message, little-endian. @throws {DbusWireError} */
export function encodeMessage(msg: DbusMessage): Buffer {
  const body = marshal(msg.signature, msg.body);
  const w = new Writer();
  w.u8("l".charCodeAt(0));
  w.u8(msg.type);
  w.u8(msg.flags);
  w.u8(1);
  w.u32(body.length);
  w.u32(msg.serial);
  const fields: DbusValue[] = [];
  for (const [code, key, signature] of FIELDS) {
    const value = msg[key];
    if (value === undefined || (key === "signature" && value === "")) continue;
    fields.push([code, { signature, value }]);
  }
  w.write(HEADER_FIELDS, fields);
  w.align(8);
  w.raw(body);
  return Buffer.from(w.bytes());
}

/**
 * The length of the message at the start of `buf` once its fixed header is
 * there (16 bytes), else undefined.
 *
 * @throws {DbusWireError} when the header is not a D-Bus header.
 */
export function messageLength(buf: Buffer): number | undefined {
  if (buf.length < 16) return undefined;
  const le = endianness(buf);
  const bodyLength = le ? buf.readUInt32LE(4) : buf.readUInt32BE(4);
  const fieldsLength = le ? buf.readUInt32LE(12) : buf.readUInt32BE(12);
  const total = 16 + fieldsLength + ((8 - (fieldsLength % 8)) % 8) + bodyLength;
  if (total > MAX_MESSAGE) throw new DbusWireError("message longer than 128 MiB");
  return total;
}

function endianness(buf: Buffer): boolean {
  const mark = String.fromCharCode(buf[0]!);
  if (mark !== "l" && mark !== "B") throw new DbusWireError("not a D-Bus message (bad endianness mark)");
  if (buf[3] !== 1) throw new DbusWireError("unsupported D-Bus protocol version");
  return mark === "l";
}

/** Decodes one whole message. @throws {DbusWireError} */
export function decodeMessage(buf: Buffer): DbusMessage {
  const total = messageLength(buf);
  if (total === undefined || total !== buf.length) throw new DbusWireError("incomplete message");
  const le = endianness(buf);
  const r = new Reader(buf, 0, buf.length, le, 0);
  r.pos = 1;
  const type = r.u8();
  const flags = r.u8();
  r.pos = 4;
  const bodyLength = r.u32();
  const serial = r.u32();
  if (serial === 0) throw new DbusWireError("message serial is 0");
  const msg: DbusMessage = { type, flags, serial, signature: "", body: [] };
  const fields = r.read(HEADER_FIELDS) as [number, Variant][];
  for (const [code, variant] of fields) {
    const known = FIELDS.find(([c]) => c === code);
    if (!known) continue;
    if (variant.signature !== known[2]) throw new DbusWireError(`header field ${code} has the wrong type`);
    (msg as unknown as Record<string, DbusValue>)[known[1]] = variant.value;
  }
  r.align(8);
  if (r.pos + bodyLength !== buf.length) throw new DbusWireError("body length does not match");
  msg.body = unmarshalAt(msg.signature, buf, r.pos, le);
  return msg;
}

function unmarshalAt(signature: string, buf: Buffer, start: number, le: boolean): DbusValue[] {
  const types = parseSignature(signature);
  const r = new Reader(buf, start, buf.length, le, start);
  const values = types.map((t) => r.read(t));
  if (r.pos !== buf.length) throw new DbusWireError("bytes left after the last value");
  return values;
}
