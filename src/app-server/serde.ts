/**
 * Reads request parameters the way Codex 0.169's serde-derived types read
 * them, and fails with serde's words: Codex answers a bad parameter with
 * `-32600 Invalid request: <serde message>` (``missing field `apiKey` ``,
 * ``invalid type: string "x", expected a boolean``, ``unknown variant `bogus`,
 * expected one of …``), and a drop-in must say the same. Each {@link Schema}
 * mirrors one Rust type: field order, which fields are optional
 * (`Option<T>`) or defaulted (`#[serde(default)]`), unknown fields ignored,
 * structs also readable from arrays, internally tagged enums (`type`), and
 * object keys in document order (Codex's serde_json preserves it).
 */
import { type JsonNode, valueEntries } from "./json.js";

/** A parameter that does not fit its type; the message is serde's. */
export class ParamsError extends Error {
  override readonly name = "ParamsError";
}

/** Reads one Rust type from a JSON node. */
export interface Schema<T> {
  /** serde's `expected …` text for this type (`a boolean`, `struct GetAccountParams`). */
  readonly expecting: string;
  read(node: JsonNode): T;
}

const U64_MAX = 2n ** 64n - 1n;
const I64_MIN = -(2n ** 63n);

/** How serde names a value it did not expect (`integer \`5\``, `string "x"`, `map`). */
export function unexpected(node: JsonNode): string {
  switch (node.kind) {
    case "null":
      return "null";
    case "bool":
      return `boolean \`${node.value}\``;
    case "int":
      return `integer \`${node.value}\``;
    case "float":
      return `floating point \`${floatText(node.value)}\``;
    case "string":
      return `string ${rustDebugString(node.value)}`;
    case "array":
      return "sequence";
    case "object":
      return "map";
  }
}

/** A float as serde prints it: always with a decimal point or an exponent (`0.0`, `1.5`, `1e-7`). */
function floatText(value: number): string {
  const text = String(value);
  return /[.e]/.test(text) ? text : `${text}.0`;
}

/** Rust's `{:?}` of a string: quotes, `\n`-style escapes, `\u{1}` for other unprintable characters. */
export function rustDebugString(value: string): string {
  let out = '"';
  for (const ch of value) {
    switch (ch) {
      case "\0":
        out += "\\0";
        break;
      case "\t":
        out += "\\t";
        break;
      case "\r":
        out += "\\r";
        break;
      case "\n":
        out += "\\n";
        break;
      case "\\":
        out += "\\\\";
        break;
      case '"':
        out += '\\"';
        break;
      default:
        out += UNPRINTABLE.test(ch) ? `\\u{${ch.codePointAt(0)!.toString(16)}}` : ch;
    }
  }
  return `${out}"`;
}

const UNPRINTABLE = /^(?:\p{Cc}|\p{Cf}|\p{Co}|\p{Cn}|\p{Cs}|\p{Zl}|\p{Zp}|[^\P{Zs} ]|\p{Grapheme_Extend})$/u;

function invalidType(node: JsonNode, expecting: string): ParamsError {
  return new ParamsError(`invalid type: ${unexpected(node)}, expected ${expecting}`);
}

function missingField(name: string): ParamsError {
  return new ParamsError(`missing field \`${name}\``);
}

function oneOf(names: readonly string[]): string {
  if (names.length === 0) return "there are no variants";
  if (names.length === 1) return `\`${names[0]}\``;
  if (names.length === 2) return `\`${names[0]}\` or \`${names[1]}\``;
  return `one of ${names.map((n) => `\`${n}\``).join(", ")}`;
}

/** serde's error for a variant name that is not in `names`. */
export function unknownVariant(name: string, names: readonly string[]): ParamsError {
  return new ParamsError(`unknown variant \`${name}\`, expected ${oneOf(names)}`);
}

/**
 * serde_json's `Value` cannot hold integers beyond 64 bits: Codex fails on
 * one anywhere in the parameters, even in a field it ignores.
 *
 * @throws {ParamsError}
 */
export function checkRepresentable(node: JsonNode): void {
  switch (node.kind) {
    case "int":
      if (node.value > U64_MAX)
        throw new ParamsError(`invalid type: integer \`${node.value}\` as u128, expected any value`);
      if (node.value < I64_MIN)
        throw new ParamsError(`invalid type: integer \`${node.value}\` as i128, expected any value`);
      return;
    case "array":
      for (const item of node.items) checkRepresentable(item);
      return;
    case "object":
      for (const [, value] of node.entries) checkRepresentable(value);
      return;
    default:
      return;
  }
}

/** `bool`. */
export const bool: Schema<boolean> = {
  expecting: "a boolean",
  read(node) {
    if (node.kind === "bool") return node.value;
    throw invalidType(node, this.expecting);
  },
};

/** `String`. */
export const string: Schema<string> = {
  expecting: "a string",
  read(node) {
    if (node.kind === "string") return node.value;
    throw invalidType(node, this.expecting);
  },
};

/** `Option<T>`: `null` is `None`. */
export function option<T>(inner: Schema<T>): Schema<T | null> {
  return {
    expecting: `option`,
    read: (node) => (node.kind === "null" ? null : inner.read(node)),
  };
}

/** `Vec<T>`. */
export function seq<T>(inner: Schema<T>): Schema<T[]> {
  return {
    expecting: "a sequence",
    read(node) {
      if (node.kind !== "array") throw invalidType(node, this.expecting);
      return node.items.map((item) => inner.read(item));
    },
  };
}

/** `HashMap<String, serde_json::Value>`: any object. */
export const anyMap: Schema<JsonNode & { kind: "object" }> = {
  expecting: "a map",
  read(node) {
    if (node.kind !== "object") throw invalidType(node, this.expecting);
    return node;
  },
};

/** `()`: an empty object also reads as unit, as in serde's buffered content. */
export const unit: Schema<undefined> = {
  expecting: "unit",
  read(node) {
    if (node.kind === "null" || (node.kind === "object" && node.entries.length === 0)) return undefined;
    throw invalidType(node, this.expecting);
  },
};

/** A fieldless enum serialized as its variant name (`LoginAppBrand`). */
export function stringEnum<const V extends string>(variants: readonly V[]): Schema<V> {
  return {
    expecting: "string or map",
    read(node) {
      if (node.kind === "string") {
        if ((variants as readonly string[]).includes(node.value)) return node.value as V;
        throw unknownVariant(node.value, variants);
      }
      throw invalidType(node, this.expecting);
    },
  };
}

/**
 * How a field behaves when absent: `required` (missing is an error),
 * `option` (`Option<T>`: `None` when absent from an object, but required in
 * the array form), `default` (`#[serde(default)]`: absent anywhere is fine).
 */
export type FieldKind = "required" | "option" | "default";

/** One struct field: its wire name, type and absence rule. */
export interface Field<T = unknown, N extends string = string, K extends FieldKind = FieldKind> {
  readonly name: N;
  readonly schema: Schema<T>;
  readonly kind: K;
}

/** Shorthands for {@link Field}s. */
export const field = {
  required: <T, const N extends string>(name: N, schema: Schema<T>): Field<T, N, "required"> => ({
    name,
    schema,
    kind: "required",
  }),
  option: <T, const N extends string>(name: N, schema: Schema<T>): Field<T | null, N, "option"> => ({
    name,
    schema: option(schema),
    kind: "option",
  }),
  default: <T, const N extends string>(name: N, schema: Schema<T>): Field<T, N, "default"> => ({
    name,
    schema,
    kind: "default",
  }),
};

type FieldsOf<F extends readonly Field[]> = {
  [K in F[number] as K["name"]]: K extends Field<infer T, string, infer Kind>
    ? Kind extends "required"
      ? T
      : T | undefined
    : never;
};

/** A struct schema, readable from an object's entries or an array's items (for enum variants). */
export interface StructSchema<T> extends Schema<T> {
  readEntries(entries: ReadonlyArray<readonly [string, JsonNode]>): T;
  readItems(items: readonly JsonNode[]): T;
}

/** Absent fields are left out of the result (`option`/`default` ones read as `undefined`). */
export type StructValue<F extends readonly Field[]> = FieldsOf<F>;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * A struct with named fields (`#[derive(Deserialize)]`, camelCase). Reads an
 * object (unknown keys ignored, the first bad value or missing field
 * reported) or an array (fields by position).
 */
export function struct<const F extends readonly Field[]>(
  name: string,
  fields: F,
): StructSchema<StructValue<F>> {
  const byName = new Map<string, Field>(fields.map((f) => [f.name, f]));
  const schema: StructSchema<StructValue<F>> = {
    expecting: `struct ${name}`,
    read(node) {
      if (node.kind === "object") return schema.readEntries(valueEntries(node));
      if (node.kind === "array") return schema.readItems(node.items);
      throw invalidType(node, schema.expecting);
    },
    readEntries(entries) {
      const out: Record<string, unknown> = {};
      for (const [key, value] of entries) {
        const f = byName.get(key);
        if (f) out[key] = f.schema.read(value);
      }
      for (const f of fields) {
        if (f.name in out) continue;
        if (f.kind === "required") throw missingField(f.name);
      }
      return out as StructValue<F>;
    },
    readItems(items) {
      const out: Record<string, unknown> = {};
      for (let i = 0; i < fields.length; i++) {
        const f = fields[i]!;
        const item = items[i];
        if (item !== undefined) out[f.name] = f.schema.read(item);
        else if (f.kind !== "default")
          throw new ParamsError(
            `invalid length ${i}, expected struct ${name} with ${plural(fields.length, "element")}`,
          );
      }
      const used = Math.min(items.length, fields.length);
      if (items.length > used)
        throw new ParamsError(
          `invalid length ${items.length}, expected ${plural(used, "element")} in sequence`,
        );
      return out as StructValue<F>;
    },
  };
  return schema;
}

type Variant = { readonly name: string; readonly fields: readonly Field[] };

type TaggedValue<Tag extends string, V extends readonly Variant[]> = {
  [I in keyof V]: V[I] extends { name: infer N; fields: infer F extends readonly Field[] }
    ? { [K in Tag]: N } & StructValue<F>
    : never;
}[number];

/**
 * An internally tagged enum (`#[serde(tag = "type")]`) whose variants are
 * structs. The tag may also be the variant's index, as serde allows; in the
 * array form it is the first element.
 */
export function taggedEnum<const Tag extends string, const V extends readonly Variant[]>(
  name: string,
  tag: Tag,
  variants: V,
): Schema<TaggedValue<Tag, V>> {
  const names = variants.map((v) => v.name);
  const structs: StructSchema<object>[] = variants.map((v) => struct(`${name}::${v.name}`, v.fields));
  const variantOf = (node: JsonNode): number => {
    if (node.kind === "string") {
      const i = names.indexOf(node.value);
      if (i < 0) throw unknownVariant(node.value, names);
      return i;
    }
    if (node.kind === "int" && node.value >= 0n) {
      if (node.value < BigInt(names.length)) return Number(node.value);
      throw new ParamsError(
        `invalid value: integer \`${node.value}\`, expected variant index 0 <= i < ${names.length}`,
      );
    }
    throw invalidType(node, "variant identifier");
  };
  return {
    expecting: `internally tagged enum ${name}`,
    read(node) {
      let index: number;
      let value: object;
      if (node.kind === "object") {
        const entries = valueEntries(node);
        const tagged = entries.find(([key]) => key === tag);
        if (!tagged) throw missingField(tag);
        index = variantOf(tagged[1]);
        value = structs[index]!.readEntries(entries.filter(([key]) => key !== tag));
      } else if (node.kind === "array") {
        const [first, ...rest] = node.items;
        if (first === undefined) throw missingField(tag);
        index = variantOf(first);
        value = structs[index]!.readItems(rest);
      } else throw invalidType(node, this.expecting);
      return { [tag]: names[index], ...value } as TaggedValue<Tag, V>;
    },
  };
}
