import type { Profile, Tag } from "../config/profile.ts";
import type { DeviceConfig } from "../config/site.ts";
import { decodeRaw, encodeRaw, registerCount } from "../protocols/modbus/codec.ts";
import { Exceptions, type ModbusException } from "../protocols/modbus/tcp-server.ts";
import { multiplierOf, toRaw } from "../drivers/modbus/scaling.ts";

/**
 * One simulated device: the register image built from its profile, and its tags' engineering
 * values. Models call `set()` with engineering values (scale, offset and KU/KI are reversed here);
 * the Modbus server reads slices of the image. Masked tags sharing a register are merged bit-wise.
 *
 * Address spaces: 0 = coils (FC1, written by FC5/15), 1 = discrete inputs (FC2), 2 = holding
 * registers (FC3, written by FC6/16), 3 = input registers (FC4). A tag lives where its read
 * function says; a writable tag also occupies the space its write function addresses.
 *
 * Valid addresses are blocks around the profile's tags: tags closer than `MERGE_GAP` registers
 * share a block (so a poller reading through small gaps gets zeros); reads that leave every block
 * answer "illegal data address", like most real devices.
 */

const MERGE_GAP = 125;

export type SimValue = number | string;

/** Called when a Modbus master writes a tag; may refuse with an exception. */
export type WriteHook = (tag: Tag, value: SimValue, dev: SimDevice) => ModbusException | void;

interface Block {
  start: number;
  end: number; // exclusive
  /** Registers: 2 bytes each, big-endian. Bits: one byte (0/1) each. */
  data: Uint8Array;
}

class Space {
  blocks: Block[] = [];
  constructor(readonly bits: boolean) {}

  build(ranges: [number, number][]): void {
    ranges.sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const [s, e] of ranges) {
      const last = merged[merged.length - 1];
      if (last && s <= last[1] + MERGE_GAP) last[1] = Math.max(last[1], e);
      else merged.push([s, e]);
    }
    this.blocks = merged.map(([start, end]) => ({ start, end, data: new Uint8Array((end - start) * (this.bits ? 1 : 2)) }));
  }

  find(address: number, count: number): Block | undefined {
    const bl = this.blocks;
    for (let i = 0; i < bl.length; i++) {
      const b = bl[i]!;
      if (address >= b.start && address + count <= b.end) return b;
    }
    return undefined;
  }
}

interface Slot {
  tag: Tag;
  /** Read location. */
  space: Space;
  block: Block;
  /** Byte offset (registers) or bit index (bits) in block.data. */
  at: number;
  /** Write location when it differs from the read location (e.g. a coil command for a register bit). */
  wspace: Space | null;
  wblock: Block | null;
  wat: number;
  mult: number;
  value: SimValue;
  pinned: boolean;
}

const INT_LIMITS: Record<string, [number, number]> = {
  int16: [-32768, 32767],
  uint16: [0, 65535],
  uint16_xy: [0, 9999],
  int16_offset: [-32768, 32767],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  int64: [-(2 ** 53), 2 ** 53],
  uint64: [0, 2 ** 53],
};

function scaled(tag: Tag, value: SimValue): SimValue {
  if (typeof value !== "number") return value;
  const f = SimDevice.unitFactor(tag);
  return f === 1 ? value : value * f;
}

function isBitFunction(fc: number): boolean {
  return fc === 1 || fc === 2;
}

export class SimDevice {
  readonly id: string;
  readonly unit: number;
  offline = false;
  private readonly spaces: [Space, Space, Space, Space] = [new Space(true), new Space(true), new Space(false), new Space(false)];
  private readonly slots = new Map<string, Slot>();
  private readonly byRole = new Map<string, Slot>();
  private readonly hooks: WriteHook[] = [];

  constructor(
    readonly cfg: DeviceConfig,
    readonly profile: Profile,
  ) {
    this.id = cfg.id;
    this.unit = cfg.unit;
    const ranges: [number, number][][] = [[], [], [], []];
    const widthOf = (t: Tag, fc: number) => (isBitFunction(fc) ? 1 : registerCount(t));
    const writeSpace = (t: Tag): number | null => (t.write === 5 || t.write === 15 ? 0 : t.write === 6 || t.write === 16 ? 2 : null);
    for (const t of profile.tags) {
      ranges[t.function - 1]!.push([t.address, t.address + widthOf(t, t.function)]);
      const ws = writeSpace(t);
      if (ws !== null && ws !== t.function - 1) ranges[ws]!.push([t.address, t.address + (ws === 0 ? 1 : registerCount(t))]);
    }
    this.spaces.forEach((s, i) => s.build(ranges[i]!));
    for (const t of profile.tags) {
      const space = this.spaces[t.function - 1];
      const w = widthOf(t, t.function);
      const block = space.find(t.address, w)!;
      const at = space.bits ? t.address - block.start : (t.address - block.start) * 2;
      const ws = writeSpace(t);
      let wspace: Space | null = null;
      let wblock: Block | null = null;
      let wat = 0;
      if (ws !== null && ws !== t.function - 1) {
        wspace = this.spaces[ws];
        wblock = wspace.find(t.address, ws === 0 ? 1 : registerCount(t))!;
        wat = wspace.bits ? t.address - wblock.start : (t.address - wblock.start) * 2;
      }
      const slot: Slot = { tag: t, space, block, at, wspace, wblock, wat, mult: multiplierOf(t, cfg), value: 0, pinned: false };
      this.slots.set(t.id, slot);
      if (t.role && !this.byRole.has(t.role)) this.byRole.set(t.role, slot);
    }
  }

  // ---- values -----------------------------------------------------------------------------------

  tag(tagId: string): Tag | undefined {
    return this.slots.get(tagId)?.tag;
  }

  tagForRole(role: string): Tag | undefined {
    return this.byRole.get(role)?.tag;
  }

  hasRole(role: string): boolean {
    return this.byRole.has(role);
  }

  /**
   * Model-facing setters take values in base units (kW, kWh, kvar, kVA, V, A, Hz, %), converted to
   * the tag's unit (W, MWh...). They are ignored while the tag is pinned. NaN → "not available".
   */
  set(tagId: string, value: SimValue): void {
    const s = this.slots.get(tagId);
    if (s && !s.pinned) this.store(s, scaled(s.tag, value));
  }

  /** `set` by role; false when the profile has no tag with that role. */
  setRole(role: string, value: SimValue): boolean {
    const s = this.byRole.get(role);
    if (!s) return false;
    if (!s.pinned) this.store(s, scaled(s.tag, value));
    return true;
  }

  /** Sets the first existing tag among `role` and the fallback tag ids. */
  setAny(role: string | null, ids: readonly string[], value: SimValue): void {
    const s = (role !== null ? this.byRole.get(role) : undefined) ?? this.firstSlot(ids);
    if (s && !s.pinned) this.store(s, scaled(s.tag, value));
  }

  private firstSlot(ids: readonly string[]): Slot | undefined {
    for (const id of ids) {
      const s = this.slots.get(id);
      if (s) return s;
    }
    return undefined;
  }

  get(tagId: string): SimValue | undefined {
    return this.slots.get(tagId)?.value;
  }

  getRole(role: string): SimValue | undefined {
    return this.byRole.get(role)?.value;
  }

  /** Pins a tag to a value (models no longer change it); `null` releases it. */
  pin(tagId: string, value: SimValue | null): boolean {
    const s = this.slots.get(tagId);
    if (!s) return false;
    if (value === null) {
      s.pinned = false;
      return true;
    }
    s.pinned = false;
    this.store(s, value);
    s.pinned = true;
    return true;
  }

  onWrite(hook: WriteHook): void {
    this.hooks.push(hook);
  }

  /**
   * Factor from a model's base unit to the tag's unit. Models work in kW, kvar, kVA, kWh, kvarh,
   * V, A: a tag in W gets ×1000, one in MWh ×0.001, one in kV ×0.001.
   */
  static unitFactor(tag: Tag): number {
    switch (tag.unit) {
      case "W":
      case "var":
      case "VA":
      case "Wh":
      case "varh":
      case "VAh":
        return 1000;
      case "MW":
      case "Mvar":
      case "MVA":
      case "MWh":
      case "Mvarh":
      case "kV":
      case "kA":
        return 0.001;
      default:
        return 1;
    }
  }

  private store(s: Slot, value: SimValue): void {
    s.value = value;
    this.encodeInto(s, s.block, s.at, s.space.bits, value);
    if (s.wblock) this.encodeInto(s, s.wblock, s.wat, s.wspace!.bits, value);
  }

  private encodeInto(s: Slot, block: Block, at: number, bits: boolean, value: SimValue): void {
    const data = block.data;
    if (bits) {
      data[at] = typeof value === "number" ? (value !== 0 && value === value ? 1 : 0) : value ? 1 : 0;
      return;
    }
    const tag = s.tag;
    let raw: SimValue;
    if (typeof value === "string") {
      raw = value;
    } else if (value !== value) {
      const na = tag.notAvailable[0];
      raw = na === undefined ? (tag.type.startsWith("float") ? NaN : 0) : na === "NaN" ? NaN : na;
    } else if (tag.kind === "datetime" || tag.type.startsWith("dt")) {
      raw = value;
    } else if (tag.type === "bit") {
      raw = value ? 1 : 0;
    } else {
      raw = toRaw(value, tag, s.mult);
      const lim = INT_LIMITS[tag.type];
      if (lim) raw = Math.min(lim[1], Math.max(lim[0], raw));
    }
    let bytes: Uint8Array;
    try {
      bytes = encodeRaw(raw, tag);
    } catch {
      return; // not encodable (e.g. a date before the type's epoch): keep the previous image
    }
    if (tag.mask !== undefined && bytes.length === 2) {
      const order = tag.order === "BADC" || tag.order === "DCBA";
      const hi = order ? 1 : 0;
      const old = (data[at + hi]! << 8) | data[at + 1 - hi]!;
      const neu = (bytes[hi]! << 8) | bytes[1 - hi]!;
      const merged = (old & ~tag.mask) | (neu & tag.mask);
      data[at + hi] = (merged >> 8) & 0xff;
      data[at + 1 - hi] = merged & 0xff;
    } else {
      data.set(bytes, at);
    }
  }

  // ---- Modbus access ------------------------------------------------------------------------------

  readRegisters(fc: 3 | 4, address: number, count: number): Uint8Array | ModbusException {
    const b = this.spaces[fc - 1]!.find(address, count);
    if (!b) return Exceptions.illegalDataAddress;
    const o = (address - b.start) * 2;
    return b.data.subarray(o, o + count * 2);
  }

  readBits(fc: 1 | 2, address: number, count: number): Uint8Array | ModbusException {
    const b = this.spaces[fc - 1]!.find(address, count);
    if (!b) return Exceptions.illegalDataAddress;
    const o = address - b.start;
    return b.data.subarray(o, o + count);
  }

  /** Writable slots whose write location in `spaceIdx` overlaps [address, address + count). */
  private writableAt(spaceIdx: number, address: number, count: number): Slot[] {
    const out: Slot[] = [];
    for (const s of this.slots.values()) {
      const t = s.tag;
      if (!t.writable) continue;
      const ws = t.write === 5 || t.write === 15 ? 0 : 2;
      if (ws !== spaceIdx) continue;
      const w = ws === 0 ? 1 : registerCount(t);
      if (t.address < address + count && address < t.address + w) out.push(s);
    }
    return out;
  }

  writeRegisters(address: number, bytes: Uint8Array): true | ModbusException {
    const count = bytes.length >> 1;
    const space = this.spaces[2];
    const block = space.find(address, count);
    if (!block) return Exceptions.illegalDataAddress;
    const targets = this.writableAt(2, address, count);
    // Every written register must belong to a writable tag.
    for (let r = address; r < address + count; r++) {
      if (!targets.some((s) => r >= s.tag.address && r < s.tag.address + registerCount(s.tag))) return Exceptions.illegalDataAddress;
    }
    const o = (address - block.start) * 2;
    const backup = block.data.slice(o, o + bytes.length);
    block.data.set(bytes, o);
    const decoded: [Slot, SimValue][] = [];
    for (const s of targets) {
      const t = s.tag;
      const wb = s.wblock ?? s.block;
      const wat = s.wblock ? s.wat : s.at;
      const raw = decodeRaw(wb.data, wat, t);
      const value = typeof raw === "string" ? raw : this.engineering(t, raw, s.mult);
      if (!this.acceptable(t, value, raw)) {
        block.data.set(backup, o);
        return Exceptions.illegalDataValue;
      }
      decoded.push([s, value]);
    }
    return this.commit(decoded);
  }

  writeBits(address: number, values: Uint8Array): true | ModbusException {
    const space = this.spaces[0];
    const block = space.find(address, values.length);
    if (!block) return Exceptions.illegalDataAddress;
    const targets = this.writableAt(0, address, values.length);
    if (targets.length !== values.length) return Exceptions.illegalDataAddress;
    const decoded: [Slot, SimValue][] = targets.map((s) => [s, values[s.tag.address - address] ? 1 : 0]);
    return this.commit(decoded);
  }

  private commit(decoded: [Slot, SimValue][]): true | ModbusException {
    for (const [s, v] of decoded) {
      // A master's write lands in the image even on a pinned tag (the pin holds model updates only).
      s.value = v;
      this.encodeInto(s, s.block, s.at, s.space.bits, v);
      if (s.wblock) this.encodeInto(s, s.wblock, s.wat, s.wspace!.bits, v);
    }
    for (const [s, v] of decoded) {
      for (const h of this.hooks) {
        const r = h(s.tag, v, this);
        if (r) return r;
      }
    }
    return true;
  }

  private engineering(t: Tag, raw: number, mult: number): number {
    if (t.kind === "datetime" || t.type.startsWith("dt")) return raw;
    return raw * t.scale * mult + t.offset;
  }

  /** Values a real device would refuse: not a listed state, outside the range, not a number. */
  private acceptable(t: Tag, value: SimValue, raw: number | string): boolean {
    if (typeof value === "string") return true;
    if (!Number.isFinite(value)) return false;
    if (t.states && !(String(raw) in t.states) && !(String(value) in t.states)) return false;
    const r = t.range;
    if (r && ((r.min !== undefined && value < r.min) || (r.max !== undefined && value > r.max))) return false;
    return true;
  }
}
