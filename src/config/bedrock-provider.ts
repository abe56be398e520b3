/**
 * The config.toml edits Codex 0.169 makes around an Amazon Bedrock sign-in,
 * done the way its `toml_edit` does them so the rest of the user's file
 * (comments, order, other tables) is untouched:
 * - sign-in sets the top-level `model_provider = "amazon-bedrock"` (in place,
 *   or after the last top-level key), and for AWS access keys
 *   `[model_providers.amazon-bedrock.aws] region = "…"`;
 * - logout, when `model_provider` is `"amazon-bedrock"`, removes the
 *   top-level `model` and `model_provider` (with the comment lines above
 *   them) and the `[model_providers.amazon-bedrock.aws]` table (tables
 *   with a header of their own stay, even empty, as toml_edit keeps them).
 * Every edit is checked by parsing the result: when a file is written in a
 * form these line edits cannot change safely (dotted keys, inline tables),
 * nothing is written and a {@link ConfigError} says what to change by hand.
 */
import { chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, describeError } from "../errors.js";

/** Codex's provider id for Amazon Bedrock. */
export const BEDROCK_PROVIDER = "amazon-bedrock";

/**
 * The AWS regions Codex 0.169 accepts for Amazon Bedrock sign-in (asked of
 * the binary region by region; anything else is refused with `Amazon Bedrock
 * does not support region `…``).
 */
export const BEDROCK_REGIONS: readonly string[] = [
  "ap-northeast-1",
  "ap-south-1",
  "ap-southeast-3",
  "eu-central-1",
  "eu-north-1",
  "eu-south-1",
  "eu-west-1",
  "eu-west-2",
  "sa-east-1",
  "us-east-1",
  "us-east-2",
  "us-gov-east-1",
  "us-gov-west-1",
  "us-west-2",
];

type Toml = Record<string, unknown>;
type Parse = (text: string) => Toml;

const TABLE_HEADER = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/;
const AWS_TABLE = ["model_providers", "amazon-bedrock", "aws"];

/** `[a."b.c".d]` → `["a", "b.c", "d"]` (basic and literal quoted keys). */
function headerPath(raw: string): string[] | undefined {
  const parts: string[] = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*(\.|$)/y;
  let at = 0;
  while (at < raw.length) {
    re.lastIndex = at;
    const m = re.exec(raw);
    if (!m) return undefined;
    parts.push(m[1] !== undefined ? JSON.parse(`"${m[1]}"`) : (m[2] ?? m[3]!));
    at = re.lastIndex;
    if (m[4] === "") break;
  }
  return parts;
}

interface Line {
  text: string;
  /** Table path this line is in ([] = top level); for a header line, the table it opens. */
  table: string[];
  header: boolean;
  /** Bare key of a `key = value` line. */
  key: string | undefined;
}

function scan(text: string): Line[] {
  const lines = text.split("\n");
  let table: string[] = [];
  return lines.map((line) => {
    const header = TABLE_HEADER.exec(line);
    if (header && !line.trimStart().startsWith("#")) {
      table = headerPath(header[1]!) ?? ["?"];
      return { text: line, table, header: true, key: undefined };
    }
    const kv = /^\s*([A-Za-z0-9_-]+|"[^"]*")\s*=/.exec(line);
    return {
      text: line,
      table,
      header: false,
      key: kv ? kv[1]!.replace(/^"|"$/g, "") : undefined,
    };
  });
}

const same = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);
const isDecor = (line: Line) => !line.header && line.key === undefined && /^\s*(#.*)?$/.test(line.text);

/** Removes line `i` and the comment and blank lines directly above it (toml_edit's decor of that key or table). */
function removeWithDecor(lines: Line[], i: number, end = i + 1): void {
  let start = i;
  while (start > 0 && isDecor(lines[start - 1]!)) start--;
  lines.splice(start, end - start);
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object" && !(v instanceof Date)) {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Toml)[k])]),
    );
  }
  return v;
}

function clone(doc: Toml): Toml {
  return structuredClone(doc);
}

function tableAt(doc: Toml, path: readonly string[], create: boolean): Toml | undefined {
  let t: Toml = doc;
  for (const p of path) {
    const next = t[p];
    if (next === undefined) {
      if (!create) return undefined;
      t[p] = {};
    } else if (typeof next !== "object" || next === null || Array.isArray(next)) return undefined;
    t = t[p] as Toml;
  }
  return t;
}

async function loadParser(): Promise<Parse> {
  const { parse } = await import("smol-toml");
  return (text) => parse(text) as Toml;
}

function readConfig(path: string): string {
  try {
    return existsSync(path) ? readFileSync(path, "utf8") : "";
  } catch (err) {
    throw new ConfigError(`${path}: cannot be read: ${describeError(err)}`, { cause: err });
  }
}

function parseOrThrow(parse: Parse, text: string, path: string): Toml {
  try {
    return parse(text);
  } catch (err) {
    throw new ConfigError(`${path}: not valid TOML, so it was not changed: ${describeError(err)}`, {
      cause: err,
    });
  }
}

/** The edited text parsed, or undefined when the edit broke it (the caller then writes nothing). */
function parseEdited(parse: Parse, text: string): Toml | undefined {
  try {
    return parse(text);
  } catch {
    return undefined;
  }
}

/** Writes config.toml crash-safely (temp file + rename), keeping an existing file's mode (new files: 0600, as Codex). */
function writeConfig(path: string, text: string): void {
  const mode = existsSync(path) ? statSync(path).mode & 0o777 : 0o600;
  const temp = `${path}.codex-auth-${process.pid}-${Date.now()}`;
  try {
    writeFileSync(temp, text, { mode, flag: "wx" });
    chmodSync(temp, mode);
    renameSync(temp, path);
  } catch (err) {
    throw new ConfigError(`${path}: cannot be written: ${describeError(err)}`, { cause: err });
  }
}

/** The lines of a file, without the empty string `split` leaves after a final newline. */
function linesOf(text: string): { lines: Line[]; finalNewline: boolean } {
  const finalNewline = text.endsWith("\n");
  const body = finalNewline ? text.slice(0, -1) : text;
  return { lines: body === "" ? [] : scan(body), finalNewline };
}

function render(lines: Line[], finalNewline: boolean): string {
  return lines.length ? `${lines.map((l) => l.text).join("\n")}${finalNewline ? "\n" : ""}` : "";
}

function unsafe(path: string, what: string): ConfigError {
  return new ConfigError(
    `${path}: ${what} is written in a form codex-auth does not edit (a dotted key or an inline table), so the file was not changed. Set it by hand as Codex writes it: model_provider = "${BEDROCK_PROVIDER}" at the top level${
      what.includes("region") ? `, and region under [model_providers.${BEDROCK_PROVIDER}.aws]` : ""
    }.`,
  );
}

/**
 * The top-level `model_provider` of CODEX_HOME/config.toml, read now (a
 * missing file or key: undefined).
 *
 * @throws {ConfigError} when config.toml cannot be read or is not valid TOML.
 */
export async function readModelProvider(codexHome: string): Promise<string | undefined> {
  const path = join(codexHome, "config.toml");
  const text = readConfig(path);
  if (text === "") return undefined;
  const parse = await loadParser();
  let toml: Toml;
  try {
    toml = parse(text);
  } catch (err) {
    throw new ConfigError(`${path}: not valid TOML: ${describeError(err)}`, { cause: err });
  }
  return typeof toml.model_provider === "string" ? toml.model_provider : undefined;
}

/**
 * Points config.toml at Amazon Bedrock as Codex 0.169's sign-in does:
 * `model_provider = "amazon-bedrock"`, and `region` under
 * `[model_providers.amazon-bedrock.aws]` when given (AWS access keys).
 * Creates the file (0600) when missing; nothing else in it changes.
 *
 * @throws {ConfigError} when config.toml cannot be read, parsed, edited safely or written (nothing written).
 */
export async function setBedrockProvider(codexHome: string, region?: string): Promise<void> {
  const path = join(codexHome, "config.toml");
  const original = readConfig(path);
  const parse = await loadParser();
  const before = parseOrThrow(parse, original, path);
  const expected = clone(before);
  expected.model_provider = BEDROCK_PROVIDER;
  if (region !== undefined) tableAt(expected, AWS_TABLE, true)!.region = region;

  const { lines } = linesOf(original);
  const providerLine = `model_provider = ${JSON.stringify(BEDROCK_PROVIDER)}`;
  const existing = lines.findIndex((l) => !l.header && l.table.length === 0 && l.key === "model_provider");
  if (existing >= 0) {
    lines[existing] = { ...lines[existing]!, text: providerLine };
  } else {
    let last = -1;
    for (const [i, l] of lines.entries()) {
      if (l.header) break;
      if (l.key !== undefined) last = i;
    }
    lines.splice(last + 1, 0, { text: providerLine, table: [], header: false, key: "model_provider" });
  }
  if (region !== undefined) {
    const regionLine = `region = ${JSON.stringify(region)}`;
    const header = lines.findIndex((l) => l.header && same(l.table, AWS_TABLE));
    if (header >= 0) {
      let end = header + 1;
      while (end < lines.length && !lines[end]!.header) end++;
      const at = lines.findIndex((l, i) => i > header && i < end && l.key === "region");
      if (at >= 0) lines[at] = { ...lines[at]!, text: regionLine };
      else lines.splice(header + 1, 0, { text: regionLine, table: AWS_TABLE, header: false, key: "region" });
    } else {
      if (lines.length) lines.push({ text: "", table: [], header: false, key: undefined });
      lines.push({ text: `[${AWS_TABLE.join(".")}]`, table: AWS_TABLE, header: true, key: undefined });
      lines.push({ text: regionLine, table: AWS_TABLE, header: false, key: "region" });
    }
  }
  const text = render(lines, true);
  const after = parseEdited(parse, text);
  if (after === undefined || !deepEqual(after, expected)) {
    throw unsafe(path, region === undefined ? "model_provider" : "model_provider or the Bedrock region");
  }
  if (text !== original) writeConfig(path, text);
}

/**
 * Undoes a Bedrock sign-in's config as Codex 0.169's logout does: when the
 * top-level `model_provider` is `"amazon-bedrock"`, removes the top-level
 * `model` and `model_provider` (and the comment lines above them) and the
 * `[model_providers.amazon-bedrock.aws]` table (and tables left empty).
 * True when the file changed (Codex then says `Successfully logged out`,
 * even with no credentials stored).
 *
 * @throws {ConfigError} when config.toml cannot be read, parsed, edited safely or written (nothing written).
 */
export async function clearBedrockProvider(codexHome: string): Promise<boolean> {
  const path = join(codexHome, "config.toml");
  const original = readConfig(path);
  if (!original.includes(BEDROCK_PROVIDER)) return false;
  const parse = await loadParser();
  const before = parseOrThrow(parse, original, path);
  if (before.model_provider !== BEDROCK_PROVIDER) return false;
  const expected = clone(before);
  delete expected.model;
  delete expected.model_provider;
  const { lines, finalNewline } = linesOf(original);
  // toml_edit drops a table left empty only when it was implicit (no header of its own).
  const explicit = (path: readonly string[]) => lines.some((l) => l.header && same(l.table, path));
  const bedrock = tableAt(expected, AWS_TABLE.slice(0, 2), false);
  if (bedrock) {
    delete bedrock.aws;
    if (Object.keys(bedrock).length === 0 && !explicit(AWS_TABLE.slice(0, 2))) {
      const providers = tableAt(expected, AWS_TABLE.slice(0, 1), false)!;
      delete providers[BEDROCK_PROVIDER];
      if (Object.keys(providers).length === 0 && !explicit(AWS_TABLE.slice(0, 1)))
        delete expected.model_providers;
    }
  }

  // The aws table and any table under it, each with the comment and blank lines above its header.
  const underAws = (l: Line) =>
    l.header && l.table.length >= AWS_TABLE.length && same(l.table.slice(0, AWS_TABLE.length), AWS_TABLE);
  for (let header = lines.findIndex(underAws); header >= 0; header = lines.findIndex(underAws)) {
    let end = header + 1;
    while (end < lines.length && !lines[end]!.header) end++;
    // The table's trailing blank and comment lines belong to whatever follows.
    while (end > header + 1 && isDecor(lines[end - 1]!) && end < lines.length) end--;
    removeWithDecor(lines, header, end);
  }
  for (const key of ["model_provider", "model"]) {
    const i = lines.findIndex((l) => !l.header && l.table.length === 0 && l.key === key);
    if (i >= 0) removeWithDecor(lines, i);
  }
  const text = render(lines, finalNewline);
  const after = parseEdited(parse, text);
  if (after === undefined || !deepEqual(after, expected)) throw unsafe(path, "the Amazon Bedrock provider");
  if (text === original) return false;
  writeConfig(path, text);
  return true;
}
