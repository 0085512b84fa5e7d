/**
 * A small, strict XML reader for EnLogic `.io` files: elements, attributes, text, comments,
 * processing instructions and CDATA, with the line of every element and attribute so problems can be
 * reported where they are. Several top-level elements are accepted (the seed's fragments have no
 * single root). No DTDs, no namespaces (a prefix stays part of the name).
 */

export interface XmlElement {
  name: string;
  attrs: Map<string, string>;
  /** Line of each attribute (1-based). */
  attrLines: Map<string, number>;
  children: XmlElement[];
  text: string;
  line: number;
}

export class XmlError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function decodeEntities(s: string, line: number): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z]+);/g, (m, e: string) => {
    if (e[0] === "#") {
      const code = e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      // XML's Char production: no NUL, no surrogate halves, nothing above U+10FFFF.
      if (!(code >= 1 && code <= 0x10ffff) || (code >= 0xd800 && code <= 0xdfff)) throw new XmlError(line, `character reference ${m} is not a character`);
      return String.fromCodePoint(code);
    }
    const v = ENTITIES[e];
    if (v === undefined) throw new XmlError(line, `unknown entity ${m}`);
    return v;
  });
}

const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;

/** Parses `text` into its top-level elements. */
export function parseXml(text: string): XmlElement[] {
  let pos = 0;
  let line = 1;
  const roots: XmlElement[] = [];
  const stack: XmlElement[] = [];
  const advance = (to: number) => {
    for (let i = pos; i < to; i++) if (text.charCodeAt(i) === 10) line++;
    pos = to;
  };
  const expectAt = (re: RegExp, what: string): string => {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw new XmlError(line, `expected ${what} at "${text.slice(pos, pos + 20).split("\n")[0]}"`);
    advance(pos + m[0].length);
    return m[0];
  };
  const skipSpace = () => {
    while (pos < text.length && /\s/.test(text[pos]!)) advance(pos + 1);
  };

  while (pos < text.length) {
    const lt = text.indexOf("<", pos);
    if (lt < 0) {
      const rest = text.slice(pos);
      if (rest.trim() && stack.length) stack[stack.length - 1]!.text += decodeEntities(rest, line);
      else if (rest.trim()) throw new XmlError(line, "text outside any element");
      advance(text.length);
      break;
    }
    if (lt > pos) {
      const t = text.slice(pos, lt);
      if (stack.length) stack[stack.length - 1]!.text += decodeEntities(t, line);
      else if (t.trim()) throw new XmlError(line, `text outside any element: "${t.trim().slice(0, 30)}"`);
      advance(lt);
    }
    if (text.startsWith("<!--", pos)) {
      const end = text.indexOf("-->", pos + 4);
      if (end < 0) throw new XmlError(line, "comment never closed (missing -->)");
      advance(end + 3);
      continue;
    }
    if (text.startsWith("<![CDATA[", pos)) {
      const end = text.indexOf("]]>", pos);
      if (end < 0) throw new XmlError(line, "CDATA never closed");
      if (stack.length) stack[stack.length - 1]!.text += text.slice(pos + 9, end);
      advance(end + 3);
      continue;
    }
    if (text.startsWith("<?", pos)) {
      const end = text.indexOf("?>", pos);
      if (end < 0) throw new XmlError(line, "processing instruction never closed (missing ?>)");
      advance(end + 2);
      continue;
    }
    if (text.startsWith("<!", pos)) {
      const end = text.indexOf(">", pos);
      if (end < 0) throw new XmlError(line, "declaration never closed");
      advance(end + 1);
      continue;
    }
    if (text.startsWith("</", pos)) {
      advance(pos + 2);
      const name = expectAt(NAME, "an element name");
      skipSpace();
      if (text[pos] !== ">") throw new XmlError(line, `expected > after </${name}`);
      advance(pos + 1);
      const open = stack.pop();
      if (!open) throw new XmlError(line, `</${name}> closes nothing`);
      if (open.name !== name) throw new XmlError(line, `</${name}> closes <${open.name}> opened on line ${open.line}`);
      continue;
    }
    // Start tag
    advance(pos + 1);
    const el: XmlElement = { name: "", attrs: new Map(), attrLines: new Map(), children: [], text: "", line };
    el.name = expectAt(NAME, "an element name");
    for (;;) {
      const before = pos;
      skipSpace();
      if (pos >= text.length) throw new XmlError(el.line, `<${el.name}> never ends (missing >)`);
      if (text.startsWith("/>", pos)) {
        advance(pos + 2);
        (stack.length ? stack[stack.length - 1]!.children : roots).push(el);
        break;
      }
      if (text[pos] === ">") {
        advance(pos + 1);
        (stack.length ? stack[stack.length - 1]!.children : roots).push(el);
        stack.push(el);
        break;
      }
      if (text[pos] === "<") throw new XmlError(el.line, `<${el.name}> is not closed with > before the next tag (line ${line})`);
      if (pos === before) throw new XmlError(line, `expected a space between attributes of <${el.name}>`);
      const attrLine = line;
      const an = expectAt(NAME, `an attribute name in <${el.name}>`);
      skipSpace();
      if (text[pos] !== "=") throw new XmlError(line, `attribute ${an} of <${el.name}> has no value`);
      advance(pos + 1);
      skipSpace();
      const q = text[pos];
      if (q !== '"' && q !== "'") throw new XmlError(line, `the value of ${an} must be quoted`);
      const end = text.indexOf(q, pos + 1);
      if (end < 0) throw new XmlError(line, `the value of ${an} is never closed`);
      const raw = text.slice(pos + 1, end);
      if (el.attrs.has(an)) throw new XmlError(attrLine, `attribute ${an} given twice in <${el.name}>`);
      el.attrs.set(an, decodeEntities(raw, attrLine));
      el.attrLines.set(an, attrLine);
      advance(end + 1);
    }
  }
  if (stack.length) throw new XmlError(stack[stack.length - 1]!.line, `<${stack[stack.length - 1]!.name}> is never closed`);
  return roots;
}

/**
 * Decodes a `.io` file's bytes: a UTF-8 byte-order mark or the XML declaration's encoding wins,
 * else Windows-1251 (EnLogic stores its files in the Windows code page).
 */
export function decodeIoBytes(bytes: Uint8Array): { text: string; encoding: string } {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return { text: new TextDecoder("utf-8").decode(bytes.subarray(3)), encoding: "utf-8" };
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, 200));
  const m = /^\s*<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']/i.exec(head);
  const declared = m?.[1]?.toLowerCase();
  const encoding = declared ?? "windows-1251";
  try {
    return { text: new TextDecoder(encoding, { fatal: false }).decode(bytes), encoding };
  } catch {
    return { text: new TextDecoder("windows-1251").decode(bytes), encoding: "windows-1251" };
  }
}
