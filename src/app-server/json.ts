/**
 * A strict JSON reader for app-server messages that keeps what `JSON.parse`
 * throws away and Codex's serde reports on: whether a number was written as
 * an integer (`0`) or a float (`0.0`), integers beyond 2^53 exactly, and
 * repeated object keys. Syntax follows RFC 8259 as serde_json reads it (no
 * lone surrogates, no control characters in strings, nesting limited to
 * 128); errors carry serde_json's words and position, for the log only.
 */

/** A parsed JSON value. Objects keep every entry, duplicates included, in document order. */
export type JsonNode =
  | { readonly kind: "null" }
  | { readonly kind: "bool"; readonly value: boolean }
  /** Written without fraction or exponent. */
  | { readonly kind: "int"; readonly value: bigint }
  | { readonly kind: "float"; readonly value: number }
  | { readonly kind: "string"; readonly value: string }
  | { readonly kind: "array"; readonly items: readonly JsonNode[] }
  | { readonly kind: "object"; readonly entries: ReadonlyArray<readonly [string, JsonNode]> };

/** A line that is not JSON. The message is serde_json's (`key must be a string at line 1 column 2`). */
export class JsonSyntaxError extends Error {
  override readonly name = "JsonSyntaxError";
}

/** serde_json's recursion limit. */
const MAX_DEPTH = 128;

const NULL: JsonNode = Object.freeze({ kind: "null" });
const TRUE: JsonNode = Object.freeze({ kind: "bool", value: true });
const FALSE: JsonNode = Object.freeze({ kind: "bool", value: false });

/**
 * Parses one JSON text.
 *
 * @throws {JsonSyntaxError} with serde_json's message and position.
 */
export function parseJson(text: string): JsonNode {
  const p = new Parser(text);
  p.skipWhitespace();
  const value = p.value(0);
  p.skipWhitespace();
  if (p.pos < text.length) p.fail("trailing characters");
  return value;
}

class Parser {
  pos = 0;
  constructor(private readonly text: string) {}

  fail(message: string, at = this.pos): never {
    let line = 1;
    let column = 0;
    for (let i = 0; i < at && i < this.text.length; i++) {
      if (this.text.charCodeAt(i) === 10) {
        line++;
        column = 0;
      } else column++;
    }
    // serde_json points at the offending character (1-based); at the end of input, at the last one.
    throw new JsonSyntaxError(
      `${message} at line ${line} column ${at < this.text.length ? column + 1 : column}`,
    );
  }

  skipWhitespace(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else break;
    }
  }

  value(depth: number): JsonNode {
    const t = this.text;
    if (this.pos >= t.length) this.fail("EOF while parsing a value");
    const c = t.charCodeAt(this.pos);
    switch (c) {
      case 0x22: // "
        return { kind: "string", value: this.string() };
      case 0x7b: // {
        return this.object(depth + 1);
      case 0x5b: // [
        return this.array(depth + 1);
      case 0x74: // t
        this.literal("true");
        return TRUE;
      case 0x66: // f
        this.literal("false");
        return FALSE;
      case 0x6e: // n
        this.literal("null");
        return NULL;
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        return this.fail("expected value");
    }
  }

  private literal(word: string): void {
    for (let i = 0; i < word.length; i++) {
      if (this.pos >= this.text.length) this.fail("EOF while parsing a value");
      if (this.text[this.pos] !== word[i]) this.fail("expected ident");
      this.pos++;
    }
  }

  private number(): JsonNode {
    const t = this.text;
    const start = this.pos;
    const digit = () =>
      this.pos < t.length && t.charCodeAt(this.pos) >= 0x30 && t.charCodeAt(this.pos) <= 0x39;
    if (t[this.pos] === "-") this.pos++;
    if (!digit()) this.fail(this.pos >= t.length ? "EOF while parsing a value" : "invalid number");
    if (t[this.pos] === "0") {
      this.pos++;
      if (digit()) this.fail("invalid number");
    } else while (digit()) this.pos++;
    let integer = true;
    if (t[this.pos] === ".") {
      integer = false;
      this.pos++;
      if (!digit()) this.fail(this.pos >= t.length ? "EOF while parsing a value" : "invalid number");
      while (digit()) this.pos++;
    }
    if (t[this.pos] === "e" || t[this.pos] === "E") {
      integer = false;
      this.pos++;
      if (t[this.pos] === "+" || t[this.pos] === "-") this.pos++;
      if (!digit()) this.fail(this.pos >= t.length ? "EOF while parsing a value" : "invalid number");
      while (digit()) this.pos++;
    }
    const lexeme = t.slice(start, this.pos);
    if (integer) return { kind: "int", value: BigInt(lexeme) };
    const value = Number(lexeme);
    if (!Number.isFinite(value)) this.fail("number out of range", start);
    return { kind: "float", value };
  }

  string(): string {
    const t = this.text;
    this.pos++; // opening quote
    let out = "";
    let runStart = this.pos;
    for (;;) {
      if (this.pos >= t.length) this.fail("EOF while parsing a string");
      const c = t.charCodeAt(this.pos);
      if (c === 0x22) {
        out += t.slice(runStart, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) this.fail("control character (\\u0000-\\u001F) found while parsing a string");
      if (c >= 0xd800 && c <= 0xdfff) {
        // Raw text from a UTF-8 line never holds a lone surrogate; a string built in JS might.
        const next = t.charCodeAt(this.pos + 1);
        if (c > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) this.fail("invalid unicode code point");
        this.pos += 2;
        continue;
      }
      if (c !== 0x5c) {
        this.pos++;
        continue;
      }
      out += t.slice(runStart, this.pos);
      this.pos++;
      if (this.pos >= t.length) this.fail("EOF while parsing a string");
      const e = t[this.pos++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case "\\":
          out += "\\";
          break;
        case "/":
          out += "/";
          break;
        case "b":
          out += "\b";
          break;
        case "f":
          out += "\f";
          break;
        case "n":
          out += "\n";
          break;
        case "r":
          out += "\r";
          break;
        case "t":
          out += "\t";
          break;
        case "u":
          out += this.unicodeEscape();
          break;
        default:
          this.fail("invalid escape", this.pos - 1);
      }
      runStart = this.pos;
    }
  }

  private hex4(): number {
    const t = this.text;
    let n = 0;
    for (let i = 0; i < 4; i++) {
      if (this.pos >= t.length) this.fail("EOF while parsing a string");
      const h = Number.parseInt(t[this.pos]!, 16);
      if (Number.isNaN(h)) this.fail("invalid escape");
      n = n * 16 + h;
      this.pos++;
    }
    return n;
  }

  private unicodeEscape(): string {
    const first = this.hex4();
    if (first >= 0xdc00 && first <= 0xdfff) this.fail("lone leading surrogate in hex escape");
    if (first < 0xd800 || first > 0xdbff) return String.fromCharCode(first);
    if (this.text[this.pos] !== "\\" || this.text[this.pos + 1] !== "u") {
      this.fail(this.pos >= this.text.length ? "EOF while parsing a string" : "unexpected end of hex escape");
    }
    this.pos += 2;
    const second = this.hex4();
    if (second < 0xdc00 || second > 0xdfff) this.fail("lone leading surrogate in hex escape");
    return String.fromCharCode(first, second);
  }

  private array(depth: number): JsonNode {
    if (depth > MAX_DEPTH) this.fail("recursion limit exceeded");
    this.pos++; // [
    const items: JsonNode[] = [];
    this.skipWhitespace();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return { kind: "array", items };
    }
    for (;;) {
      this.skipWhitespace();
      items.push(this.value(depth));
      this.skipWhitespace();
      if (this.pos >= this.text.length) this.fail("EOF while parsing a list");
      const c = this.text[this.pos++];
      if (c === "]") return { kind: "array", items };
      if (c !== ",") this.fail("expected `,` or `]`", this.pos - 1);
      this.skipWhitespace();
      if (this.text[this.pos] === "]") this.fail("trailing comma");
    }
  }

  private object(depth: number): JsonNode {
    if (depth > MAX_DEPTH) this.fail("recursion limit exceeded");
    this.pos++; // {
    const entries: [string, JsonNode][] = [];
    this.skipWhitespace();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return { kind: "object", entries };
    }
    for (;;) {
      this.skipWhitespace();
      if (this.pos >= this.text.length) this.fail("EOF while parsing an object");
      if (this.text[this.pos] !== '"') this.fail("key must be a string");
      const key = this.string();
      this.skipWhitespace();
      if (this.pos >= this.text.length) this.fail("EOF while parsing an object");
      if (this.text[this.pos] !== ":") this.fail("expected `:`");
      this.pos++;
      this.skipWhitespace();
      entries.push([key, this.value(depth)]);
      this.skipWhitespace();
      if (this.pos >= this.text.length) this.fail("EOF while parsing an object");
      const c = this.text[this.pos++];
      if (c === "}") return { kind: "object", entries };
      if (c !== ",") this.fail("expected `,` or `}`", this.pos - 1);
      this.skipWhitespace();
      if (this.text[this.pos] === "}") this.fail("trailing comma");
    }
  }
}

/**
 * An object's entries as serde_json's `Value` keeps them (its map preserves
 * order): a repeated key keeps its first position and its last value.
 */
export function valueEntries(node: JsonNode & { kind: "object" }): Array<[string, JsonNode]> {
  const index = new Map<string, number>();
  const out: Array<[string, JsonNode]> = [];
  for (const [key, value] of node.entries) {
    const at = index.get(key);
    if (at === undefined) {
      index.set(key, out.length);
      out.push([key, value]);
    } else out[at] = [key, value];
  }
  return out;
}

/** The plain JavaScript value of a node (integers beyond 2^53 lose precision). */
export function toPlain(node: JsonNode): unknown {
  switch (node.kind) {
    case "null":
      return null;
    case "bool":
    case "string":
    case "float":
      return node.value;
    case "int":
      return Number(node.value);
    case "array":
      return node.items.map(toPlain);
    case "object": {
      const out: Record<string, unknown> = {};
      for (const [key, value] of valueEntries(node)) {
        Object.defineProperty(out, key, {
          value: toPlain(value),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
  }
}
