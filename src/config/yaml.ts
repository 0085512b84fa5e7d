import { statSync } from "node:fs";
import { isCollection, isDocument, isNode, isScalar, LineCounter, parseDocument, visit, type Document, type Node } from "yaml";
import { ConfigError, type ConfigIssue, formatPath } from "./validation.ts";

/**
 * YAML for site files, profiles and alarm settings: outside input, so every parser limit becomes a
 * ConfigError with a position or a path (exit 2 at the command line), never a stack trace, and a
 * hostile file is refused before it costs seconds or memory.
 */

/** A site file or a profile is a few kilobytes (the demo site: 7 kB, ~100 bytes a device): 1 MiB holds thousands of
 * devices, and the parser needs ~2 s for the worst 1 MiB (half a million flow items). */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** No label, name or description needs more; the pages show them on one line. */
export const MAX_TEXT_CHARS = 2000;
/** Alias expansions per document (the `yaml` package's default): above it, an alias bomb. */
const MAX_ALIAS_COUNT = 100;
/** Nesting depth of collections: a site file needs ~6. Deeper, the parser's recursion is the limit. */
export const MAX_DEPTH = 64;
/** Syntax errors listed before the rest are only counted. */
const MAX_LISTED_ERRORS = 20;

const sizeText = (n: number) => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${Math.ceil(n / 1024)} KiB`);

/** Refuses a file above MAX_CONFIG_BYTES before it is read. */
export function checkConfigFileSize(path: string): void {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (e) {
    throw new ConfigError(path, [{ path: "(file)", message: `cannot read: ${(e as Error).message}` }]);
  }
  if (size > MAX_CONFIG_BYTES) throw new ConfigError(path, [{ path: "(file)", message: `is ${sizeText(size)}; a configuration file may be at most ${sizeText(MAX_CONFIG_BYTES)}` }]);
}

function position(lc: LineCounter, offset: number | undefined): string {
  if (offset === undefined) return "(yaml)";
  const p = lc.linePos(offset);
  return `line ${p.line}:${p.col}`;
}

/** The alias to blame when the document cannot be resolved: an unresolved one, else one that expands aliases (the bomb). */
function aliasIssue(doc: Document, lc: LineCounter, error: Error): ConfigIssue {
  let unresolved: ConfigIssue | undefined;
  let nested: ConfigIssue | undefined;
  let first: ConfigIssue | undefined;
  visit(doc, {
    Alias(_key, node) {
      const at = position(lc, node.range?.[0]);
      const target = node.resolve(doc);
      first ??= { path: at, message: "" };
      if (!target) unresolved ??= { path: at, message: `alias *${node.source} names no anchor before it` };
      else if (!nested && isCollection(target)) {
        let inner = false;
        visit(target as Node, { Alias: () => ((inner = true), visit.BREAK) });
        if (inner) nested = { path: at, message: `alias *${node.source} expands further aliases: more than ${MAX_ALIAS_COUNT} expansions (YAML alias bomb) are refused` };
      }
    },
  });
  return unresolved ?? nested ?? { path: first?.path ?? "(yaml)", message: error.message };
}

/**
 * A linear pre-scan for nesting: the parser recurses per level and, past its stack, recovers so slowly
 * that a 4 MB `[[[[…` took 50 s (1 ms with this scan). Counts flow brackets outside quoted scalars and comments, and block
 * levels by indentation and `- ` entries per line; a block scalar's text may over-count, which only
 * matters past MAX_DEPTH brackets.
 */
function nestingIssue(text: string, lc: LineCounter): ConfigIssue | undefined {
  let depth = 0;
  let quote = "";
  let lineStart = true;
  let blockLevel = 0;
  const tooDeep = (at: number): ConfigIssue => ({ path: position(lc, at), message: `is nested more than ${MAX_DEPTH} levels deep` });
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) {
        if (quote === "'" && text[i + 1] === "'") i++;
        else quote = "";
      }
      continue;
    }
    if (lineStart) {
      // Block nesting: indentation and "- " / "? " / ": " markers opening collections on this line.
      let j = i;
      let levels = 0;
      while (j < text.length && (text[j] === " " || ((text[j] === "-" || text[j] === "?" || text[j] === ":") && (text[j + 1] === " " || text[j + 1] === "\n")))) {
        if (text[j] !== " ") levels++;
        j++;
      }
      blockLevel = (j - i) / 2 + levels;
      if (blockLevel > 4 * MAX_DEPTH) return tooDeep(i);
      lineStart = false;
    }
    if (c === "\n") {
      lineStart = true;
      continue;
    }
    if (c === "#" && (i === 0 || text[i - 1] === " " || text[i - 1] === "\t" || text[i - 1] === "\n")) {
      const nl = text.indexOf("\n", i);
      if (nl < 0) break;
      i = nl - 1;
      continue;
    }
    if ((c === '"' || c === "'") && startsScalar(text, i)) quote = c;
    else if (c === "[" || c === "{") {
      if (++depth > MAX_DEPTH) return tooDeep(i);
    } else if ((c === "]" || c === "}") && depth > 0) depth--;
  }
  return undefined;
}

/** A quote opens a quoted scalar only where a scalar starts: after an indicator or at a line's start (`a: b 'c` is plain). */
function startsScalar(text: string, i: number): boolean {
  let j = i - 1;
  while (j >= 0 && (text[j] === " " || text[j] === "\t")) j--;
  return j < 0 || "\n[{,:-?".includes(text[j]!);
}

/**
 * Duplicate keys, in linear time (the parser's own `uniqueKeys` compares every pair: 200,000 keys
 * never finished). A duplicate is an error, never "the last one wins".
 */
function duplicateKeyIssues(doc: Document, lc: LineCounter): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const k = pair.key;
        const value = isScalar(k) ? k.value : isNode(k) ? String(k) : k;
        if (seen.has(value)) {
          issues.push({ path: position(lc, isNode(k) ? k.range?.[0] : undefined), message: `duplicate key "${String(value).slice(0, 80)}"` });
          if (issues.length >= MAX_LISTED_ERRORS) return visit.BREAK;
        }
        seen.add(value);
      }
    },
  });
  return issues;
}

/** Strings too long and collections too deep, by path. */
function limitIssues(value: unknown): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const walk = (v: unknown, path: PropertyKey[]) => {
    if (issues.length >= MAX_LISTED_ERRORS) return;
    if (typeof v === "string") {
      if (v.length > MAX_TEXT_CHARS) issues.push({ path: formatPath(path), message: `is ${v.length} characters long; at most ${MAX_TEXT_CHARS}` });
    } else if (v !== null && typeof v === "object") {
      if (path.length >= MAX_DEPTH) return void issues.push({ path: formatPath(path), message: `is nested more than ${MAX_DEPTH} levels deep` });
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
      else for (const [k, x] of Object.entries(v)) {
        if (k.length > MAX_TEXT_CHARS) issues.push({ path: formatPath(path), message: `has a key ${k.length} characters long; at most ${MAX_TEXT_CHARS}` });
        else walk(x, [...path, k]);
      }
    }
  };
  walk(value, []);
  return issues;
}

/** Parses YAML text; syntax errors are reported with line and column, limits with a position or path. */
export function parseYaml(text: string, file: string): unknown {
  if (text.length > MAX_CONFIG_BYTES)
    throw new ConfigError(file, [{ path: "(file)", message: `is ${sizeText(text.length)}; a configuration file may be at most ${sizeText(MAX_CONFIG_BYTES)}` }]);
  const lineCounter = new LineCounter();
  lineCounter.addNewLine(0);
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) lineCounter.addNewLine(i + 1);
  const deep = nestingIssue(text, lineCounter);
  if (deep) throw new ConfigError(file, [deep]);
  let doc: Document;
  try {
    doc = parseDocument(text, { prettyErrors: true, uniqueKeys: false });
  } catch (e) {
    throw new ConfigError(file, [{ path: "(yaml)", message: `cannot be parsed: ${(e as Error).message}` }]);
  }
  if (doc.errors.length) {
    const issues = doc.errors.slice(0, MAX_LISTED_ERRORS).map((e) => ({
      path: e.linePos ? `line ${e.linePos[0].line}:${e.linePos[0].col}` : "(yaml)",
      message: /call stack/i.test(e.message)
        ? `nested too deeply for the parser (a configuration may nest at most ${MAX_DEPTH} levels)`
        : e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, ""),
    }));
    if (doc.errors.length > MAX_LISTED_ERRORS) issues.push({ path: "(yaml)", message: `… and ${doc.errors.length - MAX_LISTED_ERRORS} more error(s)` });
    throw new ConfigError(file, issues);
  }
  const dupes = duplicateKeyIssues(doc, lineCounter);
  if (dupes.length) throw new ConfigError(file, dupes);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    if (!isDocument(doc)) throw e;
    const issue = /alias/i.test((e as Error).message) ? aliasIssue(doc, lineCounter, e as Error) : { path: "(yaml)", message: /call stack/i.test((e as Error).message) ? `nested too deeply for the parser (a configuration may nest at most ${MAX_DEPTH} levels)` : (e as Error).message };
    throw new ConfigError(file, [issue]);
  }
  const issues = limitIssues(value);
  if (issues.length) throw new ConfigError(file, issues);
  return value;
}
