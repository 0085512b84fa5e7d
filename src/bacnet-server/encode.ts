import { ASN1_ARRAY_ALL, ConfirmedServiceChoice, ObjectType, PduType, UnconfirmedServiceChoice } from "@bacnet-js/client/dist/lib/enum.js";
import * as asn1 from "@bacnet-js/client/dist/lib/asn1.js";
import * as apdu from "@bacnet-js/client/dist/lib/apdu.js";
import * as npdu from "@bacnet-js/client/dist/lib/npdu.js";
import type { EncodeBuffer } from "@bacnet-js/client/dist/lib/types.js";
import { BVLC, type NpduAddress } from "./wire.ts";

/**
 * Reply and notification packets, encoded with @bacnet-js/client's encoders (one BACnet codec in
 * Busbar: the client driver's). Everything is encoded into one large scratch buffer first, so a
 * reply too large for the requester is measured, not thrown (the library cannot segment: the
 * server answers Abort segmentation-not-supported instead, clause 20.1.2.11).
 */

/** An application value as the library encodes it. */
export interface Value {
  type: number;
  value: unknown;
}
export type PropertyResult = { values: Value[] } | { error: [errorClass: number, errorCode: number] };

const scratch: EncodeBuffer = { buffer: Buffer.alloc(1 << 17), offset: 0 };
/** Buffer.write*BE are slow under Bun: reals through a DataView, integers byte by byte. */
const view = new DataView(scratch.buffer.buffer, scratch.buffer.byteOffset, scratch.buffer.length);
function putUint(b: EncodeBuffer, x: number, n: number): void {
  for (let i = n - 1; i >= 0; i--) b.buffer[b.offset + i] = (x >>> ((n - 1 - i) * 8)) & 0xff;
  b.offset += n;
}
/** BVLC (4) + NPDU without routing (2): where the APDU starts in a locally addressed packet. */
const HEAD = 6;

const NPDU_EXPECTING_REPLY = 0x04;

/** Starts a packet in the scratch buffer (BVLC space, NPDU); returns where its APDU starts. */
function startPacket(dest: NpduAddress | undefined, expectingReply: boolean): number {
  const b = scratch;
  b.offset = 4;
  npdu.encode(b, expectingReply ? NPDU_EXPECTING_REPLY : 0, dest ? { net: dest.net, adr: dest.adr } : undefined, undefined, dest ? 255 : undefined);
  return b.offset;
}

/** views[n]: the scratch buffer's first n octets, for every reply up to the largest APDU's size. */
const views: (Buffer | undefined)[] = new Array(1600).fill(undefined);

/** Finishes the packet started last: its BVLC header, the packet (a view) and the APDU's length. */
function finishPacket(broadcast: boolean, apduStart: number): { bytes: Buffer; apduLength: number } {
  const b = scratch;
  const len = b.offset;
  // Broadcasts of a registered foreign device go through its BBMD (server.ts rewrites the function).
  b.buffer[0] = 0x81;
  b.buffer[1] = broadcast ? BVLC.ORIGINAL_BROADCAST : BVLC.ORIGINAL_UNICAST;
  b.buffer[2] = len >> 8;
  b.buffer[3] = len & 0xff;
  // A view of the scratch buffer, valid until the next packet: the socket copies it at once
  // (send is synchronous); whoever keeps a packet (COV retries) copies it. One view per length,
  // made once: a subarray per reply was a visible share of a request served in a short burst.
  let bytes = len < views.length ? views[len] : undefined;
  if (!bytes) {
    bytes = b.buffer.subarray(0, len);
    if (len < views.length) views[len] = bytes;
  }
  return { bytes, apduLength: len - apduStart };
}

/** A packet whose APDU is written by `body`. */
function packet(broadcast: boolean, dest: NpduAddress | undefined, expectingReply: boolean, body: (b: EncodeBuffer) => void): { bytes: Buffer; apduLength: number } {
  const apduStart = startPacket(dest, expectingReply);
  body(scratch);
  return finishPacket(broadcast, apduStart);
}
void HEAD;

/** A context-tagged Unsigned/Enumerated with tag number < 15 (clause 20.2.1). */
function contextUnsigned(b: EncodeBuffer, tag: number, x: number): void {
  const n = x < 0x100 ? 1 : x < 0x10000 ? 2 : x < 0x1000000 ? 3 : 4;
  b.buffer[b.offset++] = (tag << 4) | 0x08 | n;
  putUint(b, x, n);
}

/** Pre-encoded octets (e.g. an unspecified Time, which the library's Date-based encoder cannot write). */
export const RAW = -1;

/** An application-tagged Unsigned (tag 2) or Enumerated (tag 9), 0 ≤ x ≤ 2³²−1 (clause 20.2.4, 20.2.11). */
export function writeUnsigned(b: EncodeBuffer, tag: 2 | 9, x: number): void {
  const n = x < 0x100 ? 1 : x < 0x10000 ? 2 : x < 0x1000000 ? 3 : 4;
  b.buffer[b.offset++] = (tag << 4) | n;
  putUint(b, x, n);
}

/** An application-tagged Real (clause 20.2.6). */
export function writeReal(b: EncodeBuffer, x: number): void {
  b.buffer[b.offset++] = 0x44;
  if (b.buffer === scratch.buffer) view.setFloat32(b.offset, x);
  else b.buffer.writeFloatBE(x, b.offset);
  b.offset += 4;
}

/**
 * Unsigned, Enumerated, Real, Boolean and Null inline: they are most of every reply, and the
 * library's application encoders of integers allocate (and zero) a 1.5 kB buffer per value, which
 * made them two thirds of a ReadPropertyMultiple's cost. Same octets (clause 20.2.3–20.2.6).
 */
export function encodeValues(b: EncodeBuffer, values: Value[]): void {
  const buf = b.buffer;
  for (const v of values) {
    switch (v.type) {
      case 0: // NULL
        buf[b.offset++] = 0x00;
        continue;
      case 1: // BOOLEAN
        buf[b.offset++] = v.value ? 0x11 : 0x10;
        continue;
      case 2: // UNSIGNED
      case 9: {
        // ENUMERATED
        const x = v.value as number;
        if (Number.isInteger(x) && x >= 0 && x <= 0xffffffff) {
          writeUnsigned(b, v.type, x);
          continue;
        }
        break;
      }
      case 4: // REAL
        writeReal(b, v.value as number);
        continue;
      case 12: {
        // OBJECT IDENTIFIER (the Object_List is made of them)
        const o = v.value as { type: number; instance: number };
        buf[b.offset++] = 0xc4;
        putUint(b, ((o.type & 0x3ff) * 0x400000 + (o.instance & 0x3fffff)) >>> 0, 4);
        continue;
      }
      case 8: {
        // BIT STRING (Status_Flags in every COV and RPM): unused-bits octet, bit 0 first (20.2.10).
        const bs = v.value as { bitsUsed: number; value: number[] };
        const n = Math.ceil(bs.bitsUsed / 8);
        if (n < 4) {
          buf[b.offset++] = 0x80 | (n + 1);
          buf[b.offset++] = n * 8 - bs.bitsUsed;
          for (let i = 0; i < n; i++) {
            const x = bs.value[i] ?? 0;
            let r = 0;
            for (let k = 0; k < 8; k++) if (x & (1 << k)) r |= 0x80 >> k;
            buf[b.offset++] = r;
          }
          continue;
        }
        break;
      }
      case RAW:
        for (const x of v.value as number[]) buf[b.offset++] = x;
        continue;
    }
    asn1.bacappEncodeApplicationData(b, v as Parameters<typeof asn1.bacappEncodeApplicationData>[1]);
  }
}

export function simpleAck(dest: NpduAddress | undefined, service: number, invokeId: number): Buffer {
  return packet(false, dest, false, (b) => apdu.encodeSimpleAck(b, PduType.SIMPLE_ACK, service, invokeId)).bytes;
}

export function errorPdu(dest: NpduAddress | undefined, service: number, invokeId: number, errorClass: number, errorCode: number): Buffer {
  return packet(false, dest, false, (b) => {
    apdu.encodeError(b, PduType.ERROR, service, invokeId);
    asn1.encodeApplicationEnumerated(b, errorClass);
    asn1.encodeApplicationEnumerated(b, errorCode);
  }).bytes;
}

export function rejectPdu(dest: NpduAddress | undefined, invokeId: number, reason: number): Buffer {
  return packet(false, dest, false, (b) => {
    b.buffer[b.offset++] = PduType.REJECT;
    b.buffer[b.offset++] = invokeId;
    b.buffer[b.offset++] = reason;
  }).bytes;
}

/** Abort sent by the server (SRV bit set). */
export function abortPdu(dest: NpduAddress | undefined, invokeId: number, reason: number): Buffer {
  return packet(false, dest, false, (b) => apdu.encodeAbort(b, PduType.ABORT | 0x01, invokeId, reason)).bytes;
}

/*
 * ReadProperty-ACK and ReadPropertyMultiple-ACK are written in place: the server starts the reply,
 * writes each value's octets as it reads the property (the hot ones straight from the point table,
 * see PropertyReader.writeHot) and finishes it. One reply at a time: the scratch buffer is the
 * module's, and the server is single-threaded.
 */
let ackStart = 0;

/** ReadProperty-ACK up to its value (clause 21): 30 id 0C, [0] object, [1] property, [2] index, [3]. */
export function startReadPropertyAck(dest: NpduAddress | undefined, invokeId: number, object: { type: number; instance: number }, property: number, index: number | undefined): EncodeBuffer {
  ackStart = startPacket(dest, false);
  const b = scratch;
  const buf = b.buffer;
  buf[b.offset++] = PduType.COMPLEX_ACK;
  buf[b.offset++] = invokeId;
  buf[b.offset++] = ConfirmedServiceChoice.READ_PROPERTY;
  buf[b.offset++] = 0x0c;
  putUint(b, ((object.type & 0x3ff) * 0x400000 + (object.instance & 0x3fffff)) >>> 0, 4);
  contextUnsigned(b, 1, property);
  if (index !== undefined) contextUnsigned(b, 2, index);
  buf[b.offset++] = 0x3e;
  return b;
}

/** Closes the ReadProperty-ACK; undefined when it does not fit in `maxApdu`. */
export function finishReadPropertyAck(maxApdu: number): Buffer | undefined {
  scratch.buffer[scratch.offset++] = 0x3f;
  const p = finishPacket(false, ackStart);
  return p.apduLength <= maxApdu ? p.bytes : undefined;
}

/** ReadProperty-ACK of known values, or undefined when it does not fit in `maxApdu`. */
export function readPropertyAck(dest: NpduAddress | undefined, invokeId: number, maxApdu: number, object: { type: number; instance: number }, property: number, index: number | undefined, values: Value[]): Buffer | undefined {
  encodeValues(startReadPropertyAck(dest, invokeId, object, property, index), values);
  return finishReadPropertyAck(maxApdu);
}

/** ReadPropertyMultiple-ACK's header; then per object rpmObject, its results, rpmObjectEnd. */
export function startRpmAck(dest: NpduAddress | undefined, invokeId: number): EncodeBuffer {
  ackStart = startPacket(dest, false);
  apdu.encodeComplexAck(scratch, PduType.COMPLEX_ACK, ConfirmedServiceChoice.READ_PROPERTY_MULTIPLE, invokeId);
  return scratch;
}

/** [0] object identifier, [1] opening (clause 21, ReadAccessResult): same octets as the library's encodeReadAccessResult, without its per-tag allocations. */
export function rpmObject(b: EncodeBuffer, object: { type: number; instance: number }): void {
  b.buffer[b.offset++] = 0x0c;
  putUint(b, ((object.type & 0x3ff) * 0x400000 + (object.instance & 0x3fffff)) >>> 0, 4);
  b.buffer[b.offset++] = 0x1e;
}

export function rpmObjectEnd(b: EncodeBuffer): void {
  b.buffer[b.offset++] = 0x1f;
}

/** A result's property identifier [2] and array index [3]. */
function rpmPropertyRef(b: EncodeBuffer, property: number, index: number | undefined): void {
  contextUnsigned(b, 2, property);
  if (index !== undefined && index !== ASN1_ARRAY_ALL) contextUnsigned(b, 3, index);
}

/** A result's property reference and the opening of its value ([4]); the caller writes the value, then rpmValueEnd. */
export function rpmValueStart(b: EncodeBuffer, property: number, index: number | undefined): void {
  rpmPropertyRef(b, property, index);
  b.buffer[b.offset++] = 0x4e;
}

export function rpmValueEnd(b: EncodeBuffer): void {
  b.buffer[b.offset++] = 0x4f;
}

/** One whole result: the value ([4]) or the property access error ([5]). */
export function rpmResult(b: EncodeBuffer, property: number, index: number | undefined, result: PropertyResult): void {
  if ("error" in result) {
    rpmPropertyRef(b, property, index);
    b.buffer[b.offset++] = 0x5e;
    writeUnsigned(b, 9, result.error[0]);
    writeUnsigned(b, 9, result.error[1]);
    b.buffer[b.offset++] = 0x5f;
  } else {
    rpmValueStart(b, property, index);
    encodeValues(b, result.values);
    rpmValueEnd(b);
  }
}

/**
 * Past what any requester accepts: a big RPM (ALL of many objects) can outgrow even the scratch
 * buffer, so the caller stops early, it is too big anyway.
 */
export function rpmTooBig(b: EncodeBuffer, maxApdu: number): boolean {
  return b.offset > maxApdu + 64;
}

/** Closes the ReadPropertyMultiple-ACK; undefined when it does not fit in `maxApdu`. */
export function finishRpmAck(maxApdu: number): Buffer | undefined {
  const p = finishPacket(false, ackStart);
  return p.apduLength <= maxApdu ? p.bytes : undefined;
}

export function iAm(dest: NpduAddress | undefined, broadcast: boolean, device: number, maxApdu: number, segmentation: number, vendorId: number): Buffer {
  return packet(broadcast, dest, false, (b) => {
    apdu.encodeUnconfirmedServiceRequest(b, PduType.UNCONFIRMED_REQUEST, UnconfirmedServiceChoice.I_AM);
    asn1.encodeApplicationObjectId(b, ObjectType.DEVICE, device);
    asn1.encodeApplicationUnsigned(b, maxApdu);
    asn1.encodeApplicationEnumerated(b, segmentation);
    asn1.encodeApplicationUnsigned(b, vendorId);
  }).bytes;
}

export function iHave(dest: NpduAddress | undefined, broadcast: boolean, device: number, object: { type: number; instance: number }, name: string): Buffer {
  return packet(broadcast, dest, false, (b) => {
    apdu.encodeUnconfirmedServiceRequest(b, PduType.UNCONFIRMED_REQUEST, UnconfirmedServiceChoice.I_HAVE);
    asn1.encodeApplicationObjectId(b, ObjectType.DEVICE, device);
    asn1.encodeApplicationObjectId(b, object.type, object.instance);
    asn1.encodeApplicationCharacterString(b, name);
  }).bytes;
}

/**
 * A COV notification (clause 13.1): Present_Value and Status_Flags. Encoded here rather than with
 * the library's CovNotify.encode, which writes an array index exactly when there is none.
 */
export function covNotification(
  dest: NpduAddress | undefined,
  confirmed: { invokeId: number } | undefined,
  processId: number,
  device: number,
  object: { type: number; instance: number },
  timeRemaining: number,
  values: { property: number; values: Value[] }[],
): Buffer {
  return Buffer.from(packet(false, dest, confirmed !== undefined, (b) => {
    if (confirmed)
      apdu.encodeConfirmedServiceRequest(b, PduType.CONFIRMED_REQUEST, ConfirmedServiceChoice.CONFIRMED_COV_NOTIFICATION, 0, 5, confirmed.invokeId);
    else apdu.encodeUnconfirmedServiceRequest(b, PduType.UNCONFIRMED_REQUEST, UnconfirmedServiceChoice.UNCONFIRMED_COV_NOTIFICATION);
    asn1.encodeContextUnsigned(b, 0, processId);
    asn1.encodeContextObjectId(b, 1, ObjectType.DEVICE, device);
    asn1.encodeContextObjectId(b, 2, object.type, object.instance);
    asn1.encodeContextUnsigned(b, 3, timeRemaining);
    asn1.encodeOpeningTag(b, 4);
    for (const v of values) {
      asn1.encodeContextEnumerated(b, 0, v.property);
      asn1.encodeOpeningTag(b, 2);
      encodeValues(b, v.values);
      asn1.encodeClosingTag(b, 2);
    }
    asn1.encodeClosingTag(b, 4);
  }).bytes);
}

/** BVLC Register-Foreign-Device (J.5.2.1): the BBMD then forwards the network's broadcasts to us. */
export function registerForeignDevice(ttlSeconds: number): Buffer {
  return Buffer.from([0x81, BVLC.REGISTER_FOREIGN_DEVICE, 0x00, 0x06, ttlSeconds >> 8, ttlSeconds & 0xff]);
}

/** A broadcast packet re-addressed for a foreign device: Distribute-Broadcast-To-Network via the BBMD. */
export function asDistributeBroadcast(p: Buffer): Buffer {
  const out = Buffer.from(p);
  out[1] = BVLC.DISTRIBUTE_BROADCAST;
  return out;
}
