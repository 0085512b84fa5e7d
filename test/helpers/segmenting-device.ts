import { createSocket, type Socket } from "node:dgram";

/**
 * A minimal BACnet/IP device that answers in segments (ASHRAE 135 clause 5.4, 20.1.5, 20.1.6).
 * Written for the test because no real part here can: bacnet-stack 1c636cb57's TSM is "not coded
 * for segmentation" (SEGMENT=true only changes the advertised Segmentation_Supported), and the npm
 * BACnet libraries cannot send a segmented reply. tshark checks its frames like Busbar's.
 *
 * Objects: the Device and AV:0…AV:(count-1) with Present_Value `base + i + 0.25`. Services: Who-Is
 * (unicast I-Am: max APDU 128, segmentation both), ReadProperty, ReadPropertyMultiple. A reply
 * longer than 128 octets goes out in segments with a proposed window of 2, each window waiting for
 * the client's SegmentACK.
 */

const MAX_APDU = 128;
const WINDOW = 2;

export class SegmentingDevice {
  readonly socket: Socket = createSocket({ type: "udp4", reuseAddr: false });
  /** Segmented answers completed (every segment acknowledged), and SegmentACKs out of order. */
  segmentedReplies = 0;
  badAcks = 0;
  private readonly pending = new Map<string, { segments: Buffer[]; acked: number; to: { address: string; port: number } }>();

  constructor(
    readonly instance: number,
    readonly count: number,
    readonly base: number,
  ) {
    this.socket.on("message", (msg, rinfo) => {
      try {
        this.receive(msg, rinfo);
      } catch {
        /* a test peer: ignore what it does not understand */
      }
    });
  }

  async start(port: number): Promise<void> {
    await new Promise<void>((r) => this.socket.bind(port, "127.0.0.1", r));
  }

  stop(): void {
    this.socket.close();
  }

  private send(apdu: Buffer, to: { address: string; port: number }): void {
    const npdu = Buffer.from([0x01, 0x00]);
    const len = 4 + npdu.length + apdu.length;
    this.socket.send(Buffer.concat([Buffer.from([0x81, 0x0a, len >> 8, len & 0xff]), npdu, apdu]), to.port, to.address);
  }

  private receive(msg: Buffer, to: { address: string; port: number }): void {
    if (msg[0] !== 0x81 || (msg[1] !== 0x0a && msg[1] !== 0x0b)) return;
    let i = 4;
    if (msg[i++] !== 0x01) return;
    const ctrl = msg[i++]!;
    if (ctrl & 0x20) i += 3 + msg[i + 2]!; // DNET, DLEN, DADR
    if (ctrl & 0x08) i += 3 + msg[i + 2]!; // SNET, SLEN, SADR
    if (ctrl & 0x20) i++; // hop count
    if (ctrl & 0x80) return; // network layer message
    const apdu = msg.subarray(i);
    const type = apdu[0]! >> 4;
    if (type === 1 && apdu[1] === 0x08) return this.whoIs(apdu, to);
    if (type === 4) return this.segmentAck(apdu, to);
    if (type !== 0 || apdu[0]! & 0x08) return; // confirmed, unsegmented requests only
    const acceptsSegments = (apdu[0]! & 0x02) !== 0;
    const clientMax = [50, 128, 206, 480, 1024, 1476][apdu[1]! & 0x0f] ?? 50;
    const invoke = apdu[2]!;
    const service = apdu[3]!;
    const body = apdu.subarray(4);
    const reply = service === 12 ? this.readProperty(body) : service === 14 ? this.readPropertyMultiple(body) : null;
    if (!reply) return this.send(Buffer.from([0x50, invoke, service, 0x91, 5, 0x91, 45]), to); // Error services/optional-functionality-not-supported
    if ("error" in reply) return this.send(Buffer.from([0x50, invoke, service, 0x91, reply.error[0], 0x91, reply.error[1]]), to);
    const size = Math.min(MAX_APDU, clientMax);
    if (reply.length + 3 <= size) return this.send(Buffer.concat([Buffer.from([0x30, invoke, service]), reply]), to);
    if (!acceptsSegments) return this.send(Buffer.from([0x71, invoke, 4]), to); // Abort segmentation-not-supported
    const per = size - 5;
    const segments: Buffer[] = [];
    for (let k = 0; k * per < reply.length; k++) {
      const more = (k + 1) * per < reply.length;
      segments.push(Buffer.concat([Buffer.from([0x38 | (more ? 0x04 : 0), invoke, k, WINDOW, service]), reply.subarray(k * per, (k + 1) * per)]));
    }
    // Segment 0 alone; the client's SegmentACK sets the pace from there.
    this.pending.set(`${to.address}:${to.port}:${invoke}`, { segments, acked: -1, to });
    this.send(segments[0]!, to);
  }

  private segmentAck(apdu: Buffer, to: { address: string; port: number }): void {
    const key = `${to.address}:${to.port}:${apdu[1]}`;
    const p = this.pending.get(key);
    if (!p) return;
    const nak = (apdu[0]! & 0x02) !== 0;
    const seq = apdu[2]!;
    const window = Math.max(1, apdu[3]!);
    if (nak || seq <= p.acked || seq >= p.segments.length) this.badAcks++;
    p.acked = nak ? Math.min(p.acked, seq) : Math.max(p.acked, seq);
    if (p.acked === p.segments.length - 1) {
      this.pending.delete(key);
      this.segmentedReplies++;
      return;
    }
    for (let k = p.acked + 1; k <= Math.min(p.segments.length - 1, p.acked + window); k++) this.send(p.segments[k]!, to);
  }

  private whoIs(apdu: Buffer, to: { address: string; port: number }): void {
    if (apdu.length > 2) {
      const [lo, n1] = readContextUnsigned(apdu, 2);
      const [hi] = readContextUnsigned(apdu, n1);
      if (this.instance < lo || this.instance > hi) return;
    }
    const id = objectId(8, this.instance);
    // I-Am: device id, max APDU 128, segmentation both (0), vendor 999.
    this.send(Buffer.concat([Buffer.from([0x10, 0x00, 0xc4]), id, Buffer.from([0x21, MAX_APDU, 0x91, 0x00, 0x22, 0x03, 0xe7])]), to);
  }

  private value(type: number, inst: number, prop: number, index?: number): Buffer | [number, number] {
    if (type === 8 && inst === this.instance) {
      if (prop === 76) {
        const list = [objectId(8, this.instance), ...Array.from({ length: this.count }, (_, i) => objectId(2, i))];
        if (index === 0) return Buffer.from([0x21, list.length]);
        if (index !== undefined) return list[index - 1] ? Buffer.concat([Buffer.from([0xc4]), list[index - 1]!]) : [2, 42];
        return Buffer.concat(list.map((o) => Buffer.concat([Buffer.from([0xc4]), o])));
      }
      if (prop === 112) return Buffer.from([0x91, 0x00]);
      return [2, 32];
    }
    if (type === 2 && inst < this.count) {
      if (prop !== 85) return [2, 32];
      const b = Buffer.alloc(5);
      b[0] = 0x44;
      b.writeFloatBE(this.base + inst + 0.25, 1);
      return b;
    }
    return [1, 31];
  }

  private readProperty(body: Buffer): Buffer | { error: [number, number] } {
    const obj = body.readUInt32BE(1);
    let i = 5;
    const [prop, n] = readContextUnsigned(body, i);
    i = n;
    let index: number | undefined;
    if (i < body.length && body[i]! >> 4 === 2) [index] = readContextUnsigned(body, i);
    const v = this.value(obj >>> 22, obj & 0x3fffff, prop, index);
    if (Array.isArray(v)) return { error: v as [number, number] };
    const head = [Buffer.from([0x0c]), body.subarray(1, 5), contextUnsigned(1, prop)];
    if (index !== undefined) head.push(contextUnsigned(2, index));
    return Buffer.concat([...head, Buffer.from([0x3e]), v, Buffer.from([0x3f])]);
  }

  private readPropertyMultiple(body: Buffer): Buffer {
    const out: Buffer[] = [];
    let i = 0;
    while (i < body.length) {
      const idBytes = body.subarray(i + 1, i + 5);
      const obj = idBytes.readUInt32BE(0);
      i += 5;
      if (body[i++] !== 0x1e) throw new Error("RPM: no property list");
      out.push(Buffer.from([0x0c]), idBytes, Buffer.from([0x1e]));
      while (body[i] !== 0x1f) {
        const [prop, n] = readContextUnsigned(body, i);
        i = n;
        let index: number | undefined;
        if (body[i]! >> 4 === 1 && (body[i]! & 0x08) !== 0 && body[i] !== 0x1f) [index, i] = readContextUnsigned(body, i);
        out.push(contextUnsigned(2, prop));
        if (index !== undefined) out.push(contextUnsigned(3, index));
        const v = this.value(obj >>> 22, obj & 0x3fffff, prop, index);
        if (Array.isArray(v)) out.push(Buffer.from([0x5e, 0x91, v[0], 0x91, v[1], 0x5f]));
        else out.push(Buffer.from([0x4e]), v, Buffer.from([0x4f]));
      }
      i++;
      out.push(Buffer.from([0x1f]));
    }
    return Buffer.concat(out);
  }
}

function objectId(type: number, instance: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(((type << 22) | instance) >>> 0);
  return b;
}

/** A context-tagged unsigned at `i`: [value, offset after it]. */
function readContextUnsigned(b: Buffer, i: number): [number, number] {
  const len = b[i]! & 0x07;
  let v = 0;
  for (let k = 1; k <= len; k++) v = v * 256 + b[i + k]!;
  return [v, i + 1 + len];
}

function contextUnsigned(tag: number, v: number): Buffer {
  const bytes: number[] = [];
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  return Buffer.from([(tag << 4) | 0x08 | bytes.length, ...bytes]);
}
