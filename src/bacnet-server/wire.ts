import { RejectReason } from "@bacnet-js/client/dist/lib/enum.js";

/**
 * Decoding what a BACnet client sends the server: BVLC → NPDU → APDU header → the request of the
 * services Busbar serves. Strict and bounded: every read checks the end of the packet, and what
 * does not decode is a `Rejection` (the server answers Reject when it has an invoke id, else stays
 * silent), never an exception escaping to the socket. This is the path the fuzz test drives.
 *
 * Why not the client library's service decoders: they read past the end of short packets, cannot
 * tell "priority 17" from a broken encoding (both are `undefined`), and accept trailing garbage;
 * a server must answer each of those differently (ASHRAE 135 clause 18). Replies are encoded with
 * the library's encoders (encode.ts).
 */

export class Rejection extends Error {
  constructor(
    readonly reason: number,
    message: string,
  ) {
    super(message);
  }
}
const reject = (reason: number, message: string): never => {
  throw new Rejection(reason, message);
};

export interface NpduAddress {
  net: number;
  adr: number[];
}

export type Apdu =
  // The service request is `buf` from `at` to its end: offsets, not a view (a subarray per packet
  // was a visible share of a request's cost when the server runs in short bursts).
  | { pdu: "confirmed"; invokeId: number; maxApdu: number; segmented: boolean; service: number; buf: Uint8Array; at: number }
  | { pdu: "unconfirmed"; service: number; buf: Uint8Array; at: number }
  | { pdu: "simple-ack"; invokeId: number; service: number }
  | { pdu: "error"; invokeId: number; service: number }
  | { pdu: "reject" | "abort" | "complex-ack" | "segment-ack"; invokeId: number };

export interface Frame {
  bvlcFunction: number;
  /** Forwarded-NPDU: the address of the device that sent it through its BBMD. */
  forwardedFrom?: { address: string; port: number };
  source?: NpduAddress;
  /** A network-layer message (router business): not for the application. */
  network: boolean;
  /** The request was sent to a remote network that is not ours (we are no router). */
  notForUs: boolean;
  apdu?: Apdu;
}

export const BVLC = { RESULT: 0x00, FORWARDED_NPDU: 0x04, REGISTER_FOREIGN_DEVICE: 0x05, DISTRIBUTE_BROADCAST: 0x09, ORIGINAL_UNICAST: 0x0a, ORIGINAL_BROADCAST: 0x0b } as const;

/** Max APDU length accepted, by its 4-bit code (clause 20.1.2.5). */
const MAX_APDU = [50, 128, 206, 480, 1024, 1476];

/**
 * One UDP payload; undefined when it is not BACnet/IP for us (wrong type byte, bad length, a BVLC
 * function a non-BBMD ignores) — silence is the answer to those.
 */
export function decodeFrame(buf: Uint8Array): Frame | undefined {
  if (buf.length < 4 || buf[0] !== 0x81) return undefined;
  const fn = buf[1]!;
  const len = (buf[2]! << 8) | buf[3]!;
  if (len !== buf.length) return undefined;
  let pos = 4;
  let forwardedFrom: Frame["forwardedFrom"];
  if (fn === BVLC.FORWARDED_NPDU) {
    if (buf.length < 10) return undefined;
    forwardedFrom = { address: `${buf[4]}.${buf[5]}.${buf[6]}.${buf[7]}`, port: (buf[8]! << 8) | buf[9]! };
    pos = 10;
  } else if (fn === BVLC.RESULT) {
    return { bvlcFunction: fn, network: false, notForUs: false };
  } else if (fn !== BVLC.ORIGINAL_UNICAST && fn !== BVLC.ORIGINAL_BROADCAST) return undefined;

  // NPDU (clause 6.2)
  if (pos + 2 > buf.length || buf[pos] !== 0x01) return undefined;
  const control = buf[pos + 1]!;
  pos += 2;
  let notForUs = false;
  if (control & 0x20) {
    // DNET, DLEN, DADR: we are a device on the local network, not a router.
    if (pos + 3 > buf.length) return undefined;
    const dnet = (buf[pos]! << 8) | buf[pos + 1]!;
    const dlen = buf[pos + 2]!;
    pos += 3 + dlen;
    notForUs = dnet !== 0xffff;
  }
  let source: NpduAddress | undefined;
  if (control & 0x08) {
    if (pos + 3 > buf.length) return undefined;
    const snet = (buf[pos]! << 8) | buf[pos + 1]!;
    const slen = buf[pos + 2]!;
    if (snet === 0 || snet === 0xffff || slen === 0 || pos + 3 + slen > buf.length) return undefined;
    source = { net: snet, adr: Array.from(buf.subarray(pos + 3, pos + 3 + slen)) };
    pos += 3 + slen;
  }
  if (control & 0x20) pos += 1; // hop count
  if (pos > buf.length) return undefined;
  if (control & 0x80) return { bvlcFunction: fn, forwardedFrom, source, network: true, notForUs };
  if (pos >= buf.length) return undefined;
  return { bvlcFunction: fn, forwardedFrom, source, network: false, notForUs, apdu: decodeApdu(buf, pos) };
}

function decodeApdu(buf: Uint8Array, at: number): Apdu | undefined {
  const n = buf.length - at;
  const type = buf[at]! >> 4;
  switch (type) {
    case 0: {
      if (n < 4) return undefined; // no invoke id or no service: nothing to answer to
      const segmented = (buf[at]! & 0x08) !== 0;
      const head = segmented ? 6 : 4;
      if (n < head) return undefined;
      const code = buf[at + 1]! & 0x0f;
      return {
        pdu: "confirmed",
        invokeId: buf[at + 2]!,
        // Reserved codes: answer within the smallest size every device accepts.
        maxApdu: MAX_APDU[code] ?? 50,
        segmented,
        service: buf[at + head - 1]!,
        buf,
        at: at + head,
      };
    }
    case 1:
      return n < 2 ? undefined : { pdu: "unconfirmed", service: buf[at + 1]!, buf, at: at + 2 };
    case 2:
      return n < 3 ? undefined : { pdu: "simple-ack", invokeId: buf[at + 1]!, service: buf[at + 2]! };
    case 3:
      return n < 3 ? undefined : { pdu: "complex-ack", invokeId: buf[at + 1]! };
    case 4:
      return n < 2 ? undefined : { pdu: "segment-ack", invokeId: buf[at + 1]! };
    case 5:
      return n < 3 ? undefined : { pdu: "error", invokeId: buf[at + 1]!, service: buf[at + 2]! };
    case 6:
      return n < 2 ? undefined : { pdu: "reject", invokeId: buf[at + 1]! };
    case 7:
      return n < 2 ? undefined : { pdu: "abort", invokeId: buf[at + 1]! };
    default:
      return undefined;
  }
}

// ---- tags (clause 20.2.1) ----

interface TagHead {
  num: number;
  context: boolean;
  /** Length of the contents (application BOOLEAN: its value). */
  len: number;
  opening: boolean;
  closing: boolean;
}

/** A bounded reader over one service request. */
export class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start = 0,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  private byte(): number {
    if (this.pos >= this.buf.length) reject(RejectReason.MISSING_REQUIRED_PARAMETER, "packet ends inside a tag");
    return this.buf[this.pos++]!;
  }

  peek(): TagHead | undefined {
    // No try/finally: a tag that does not decode rejects the whole request anyway.
    const save = this.pos;
    const t = this.done ? undefined : this.head();
    this.pos = save;
    return t;
  }

  /** The last tag read. One object, reused: every caller reads its fields before the next tag. */
  private readonly tag: TagHead = { num: 0, context: false, len: 0, opening: false, closing: false };

  head(): TagHead {
    const t = this.tag;
    const b = this.byte();
    let num = b >> 4;
    if (num === 15) num = this.byte();
    const context = (b & 0x08) !== 0;
    const lvt = b & 0x07;
    t.num = num;
    t.context = context;
    t.opening = context && lvt === 6;
    t.closing = context && lvt === 7;
    t.len = 0;
    if (t.opening || t.closing) return t;
    let len = lvt;
    if (lvt === 5) {
      len = this.byte();
      if (len === 254) len = (this.byte() << 8) | this.byte();
      else if (len === 255) len = ((this.byte() << 24) >>> 0) + (this.byte() << 16) + (this.byte() << 8) + this.byte();
    }
    if (!context && num === 1) {
      if (lvt > 1) reject(RejectReason.INVALID_TAG, "boolean value must be 0 or 1");
      t.len = lvt;
      return t;
    }
    if (this.pos + len > this.buf.length) reject(RejectReason.MISSING_REQUIRED_PARAMETER, "tag longer than the packet");
    t.len = len;
    return t;
  }

  bytes(n: number): Uint8Array {
    if (this.pos + n > this.buf.length) reject(RejectReason.MISSING_REQUIRED_PARAMETER, "packet too short");
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  uint(n: number): number {
    if (n < 1 || n > 4) reject(RejectReason.PARAMETER_OUT_OF_RANGE, `unsigned of ${n} octets`);
    if (this.pos + n > this.buf.length) reject(RejectReason.MISSING_REQUIRED_PARAMETER, "packet too short");
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + this.buf[this.pos++]!;
    return v;
  }

  sint(n: number): number {
    if (n < 1 || n > 4) reject(RejectReason.PARAMETER_OUT_OF_RANGE, `signed of ${n} octets`);
    if (this.pos + n > this.buf.length) reject(RejectReason.MISSING_REQUIRED_PARAMETER, "packet too short");
    let v = this.buf[this.pos]! & 0x80 ? -1 : 0;
    for (let i = 0; i < n; i++) v = v * 256 + this.buf[this.pos++]!;
    return v;
  }

  /** A context tag `num` with a primitive value, or undefined when the next tag is another one. */
  optionalContext(num: number): TagHead | undefined {
    if (this.done) return undefined;
    // The first octet tells a tag number below 15 and its class: most misses end here, undecoded.
    const first = this.buf[this.pos]!;
    if (num < 15 && ((first & 0x08) === 0 || first >> 4 !== num || (first & 0x07) >= 6)) return undefined;
    const save = this.pos;
    const t = this.head();
    if (t.context && t.num === num && !t.opening && !t.closing) return t;
    this.pos = save;
    return undefined;
  }

  context(num: number, what: string): TagHead {
    const t = this.optionalContext(num);
    if (!t) reject(this.done ? RejectReason.MISSING_REQUIRED_PARAMETER : RejectReason.INVALID_TAG, `expected ${what} [${num}]`);
    return t!;
  }

  opening(num: number, what: string): void {
    const t = this.done ? undefined : this.head();
    if (!t || !t.opening || t.num !== num) reject(t ? RejectReason.INVALID_TAG : RejectReason.MISSING_REQUIRED_PARAMETER, `expected ${what} opening [${num}]`);
  }

  isClosing(num: number): boolean {
    // A closing tag numbered below 15 is one octet (clause 20.2.1.3.2).
    if (num < 15) return !this.done && this.buf[this.pos] === ((num << 4) | 0x0f);
    const t = this.peek();
    return !!t && t.closing && t.num === num;
  }

  closing(num: number): void {
    const t = this.done ? undefined : this.head();
    if (!t || !t.closing || t.num !== num) reject(t ? RejectReason.INVALID_TAG : RejectReason.MISSING_REQUIRED_PARAMETER, `expected closing [${num}]`);
  }

  end(): void {
    if (!this.done) reject(RejectReason.TOO_MANY_ARGUMENTS, "unexpected data after the request");
  }

  objectId(t: TagHead): { type: number; instance: number } {
    if (t.len !== 4) reject(RejectReason.INVALID_TAG, "object identifier must be 4 octets");
    const v = this.uint(4);
    return { type: Math.floor(v / 0x400000), instance: v % 0x400000 };
  }
}

// ---- service requests ----

export interface ObjectRef {
  type: number;
  instance: number;
}
export interface PropertyRef {
  id: number;
  /** undefined = the whole property */
  index: number | undefined;
}

export function decodeWhoIs(body: Uint8Array, at = 0): { low?: number; high?: number } {
  const r = new Reader(body, at);
  if (r.done) return {};
  const lo = r.context(0, "low limit");
  const low = r.uint(lo.len);
  const hi = r.context(1, "high limit");
  const high = r.uint(hi.len);
  r.end();
  if (low > 4_194_303 || high > 4_194_303) reject(RejectReason.PARAMETER_OUT_OF_RANGE, "device instance range");
  return { low, high };
}

export function decodeWhoHas(body: Uint8Array, at = 0): { low?: number; high?: number; object?: ObjectRef; name?: string } {
  const r = new Reader(body, at);
  let low: number | undefined;
  let high: number | undefined;
  const lo = r.optionalContext(0);
  if (lo) {
    low = r.uint(lo.len);
    high = r.uint(r.context(1, "high limit").len);
  }
  const o = r.optionalContext(2);
  if (o) {
    const object = r.objectId(o);
    r.end();
    return { low, high, object };
  }
  const n = r.context(3, "object name");
  const name = charString(r, n.len);
  r.end();
  return { low, high, name };
}

function charString(r: Reader, len: number): string {
  if (len < 1) reject(RejectReason.INVALID_TAG, "character string without its encoding octet");
  const enc = r.uint(1);
  const bytes = r.bytes(len - 1);
  if (enc === 0) return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  if (enc === 5) return String.fromCharCode(...bytes); // ISO 8859-1
  if (enc === 4 && bytes.length % 2 === 0) {
    let s = "";
    for (let i = 0; i < bytes.length; i += 2) s += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
    return s;
  }
  return reject(RejectReason.PARAMETER_OUT_OF_RANGE, `character set ${enc} is not supported`);
}

function propertyRef(r: Reader, idTag: number, indexTag: number): PropertyRef {
  const p = r.context(idTag, "property identifier");
  const id = r.uint(p.len);
  const i = r.optionalContext(indexTag);
  return { id, index: i ? r.uint(i.len) : undefined };
}

export function decodeReadProperty(body: Uint8Array, at = 0): { object: ObjectRef; property: PropertyRef } {
  const r = new Reader(body, at);
  const object = r.objectId(r.context(0, "object identifier"));
  const property = propertyRef(r, 1, 2);
  r.end();
  return { object, property };
}

export function decodeReadPropertyMultiple(body: Uint8Array, at = 0): { object: ObjectRef; properties: PropertyRef[] }[] {
  const r = new Reader(body, at);
  const specs: { object: ObjectRef; properties: PropertyRef[] }[] = [];
  do {
    const object = r.objectId(r.context(0, "object identifier"));
    r.opening(1, "property references");
    const properties: PropertyRef[] = [];
    while (!r.isClosing(1)) properties.push(propertyRef(r, 0, 1));
    r.closing(1);
    if (properties.length === 0) reject(RejectReason.MISSING_REQUIRED_PARAMETER, "no property in a read access specification");
    specs.push({ object, properties });
  } while (!r.done);
  return specs;
}

/** An application-tagged value of a write (clause 20.2.2–20.2.14). */
export type AppValue =
  | { tag: 0; value: null }
  | { tag: 1; value: boolean }
  | { tag: 2 | 3 | 4 | 5 | 9; value: number }
  | { tag: 7; value: string }
  | { tag: number; value: "other" };

function appValue(r: Reader): AppValue {
  const t = r.head();
  if (t.context || t.opening || t.closing) reject(RejectReason.INVALID_TAG, "expected an application-tagged value");
  switch (t.num) {
    case 0:
      if (t.len !== 0) reject(RejectReason.INVALID_TAG, "null with contents");
      return { tag: 0, value: null };
    case 1:
      return { tag: 1, value: t.len === 1 };
    case 2:
      return { tag: 2, value: r.uint(t.len) };
    case 3:
      return { tag: 3, value: r.sint(t.len) };
    case 4: {
      if (t.len !== 4) reject(RejectReason.INVALID_TAG, "real must be 4 octets");
      const b = r.bytes(4);
      return { tag: 4, value: new DataView(b.buffer, b.byteOffset, 4).getFloat32(0) };
    }
    case 5: {
      if (t.len !== 8) reject(RejectReason.INVALID_TAG, "double must be 8 octets");
      const b = r.bytes(8);
      return { tag: 5, value: new DataView(b.buffer, b.byteOffset, 8).getFloat64(0) };
    }
    case 7:
      return { tag: 7, value: charString(r, t.len) };
    case 9:
      return { tag: 9, value: r.uint(t.len) };
    default:
      r.bytes(t.len);
      return { tag: t.num, value: "other" };
  }
}

export interface WriteRequest {
  object: ObjectRef;
  property: PropertyRef;
  values: AppValue[];
  /** As sent (may be out of 1..16: the service answers that); undefined = not sent (16). */
  priority: number | undefined;
}

export function decodeWriteProperty(body: Uint8Array, at = 0): WriteRequest {
  const r = new Reader(body, at);
  const object = r.objectId(r.context(0, "object identifier"));
  const property = propertyRef(r, 1, 2);
  r.opening(3, "property value");
  const values: AppValue[] = [];
  while (!r.isClosing(3)) {
    if (values.length >= 64) reject(RejectReason.BUFFER_OVERFLOW, "too many values");
    values.push(appValue(r));
  }
  r.closing(3);
  const p = r.optionalContext(4);
  const priority = p ? r.uint(p.len) : undefined;
  r.end();
  return { object, property, values, priority };
}

export interface SubscribeCovRequest {
  processId: number;
  object: ObjectRef;
  cancel: boolean;
  confirmed: boolean;
  /** Seconds; 0 = indefinite. */
  lifetime: number;
}

export function decodeSubscribeCov(body: Uint8Array, at = 0): SubscribeCovRequest {
  const r = new Reader(body, at);
  const processId = r.uint(r.context(0, "subscriber process identifier").len);
  const object = r.objectId(r.context(1, "monitored object identifier"));
  const c = r.optionalContext(2);
  let confirmed = false;
  if (c) {
    if (c.len !== 1) reject(RejectReason.INVALID_TAG, "boolean must be 1 octet");
    const b = r.uint(1);
    if (b > 1) reject(RejectReason.PARAMETER_OUT_OF_RANGE, "boolean must be 0 or 1");
    confirmed = b === 1;
  }
  const l = r.optionalContext(3);
  const lifetime = l ? r.uint(l.len) : 0;
  r.end();
  // Clause 13.14.1.1.4: both left out is a cancellation.
  return { processId, object, cancel: !c && !l, confirmed, lifetime };
}
