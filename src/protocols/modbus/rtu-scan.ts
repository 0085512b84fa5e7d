/**
 * Bus scanner for commissioning: asks every unit id in a range one short question and reports who
 * answered — a normal reply or a Modbus exception both prove a device is there; a garbled reply
 * means something is there but the line settings or wiring are wrong. Where profiles allow, each
 * responder is then identified: a profile matches when its signature reads are answered and the
 * values fall inside the tags' ranges and states.
 *
 * The scanner only sends requests through `ScanBus.request`, so a running bus worker can interleave
 * them with its polls (the wire stays serialized) and the CLI can run them directly on a link.
 */
import type { Profile, Tag } from "../../config/profile.ts";
import { decodeBit, decodeRaw } from "./codec.ts";
import { LinkError, type ModbusLink } from "./link-error.ts";
import { planReads } from "./planner.ts";

export interface ScanProbe {
  fc: 1 | 2 | 3 | 4;
  address: number;
  count: number;
}

export interface ScanCandidate {
  profile: string;
  name: string;
  reads: { fc: 1 | 2 | 3 | 4; start: number; count: number; checks: { tag: Tag; offset: number }[] }[];
}

export interface ScanRequest {
  from: number;
  to: number;
  /** Response timeout of each probe (ms): short, a present device answers at once. */
  timeoutMs: number;
  probe: ScanProbe;
  candidates: ScanCandidate[];
  /** Devices the site already has on this bus, by unit. */
  configured?: Record<number, { device: string; profile: string }>;
}

export interface ScanHit {
  unit: number;
  answer: "reply" | "exception" | "garbled";
  exception?: number;
  error?: string;
  ms: number;
  configured?: { device: string; profile: string };
  /** Matching profiles, best first. */
  identified: { profile: string; name: string; checks: number }[];
}

export interface ScanResult {
  bus: string;
  from: number;
  to: number;
  probes: number;
  hits: ScanHit[];
  /** Configured devices that did not answer. */
  missing: { unit: number; device: string }[];
  durationMs: number;
  cancelled: boolean;
  startedAt: number;
  /** Why the scan stopped early (the bus went down). */
  error?: string;
}

/** Runs one request on the bus (a worker queues it between polls; the CLI runs it at once). */
export interface ScanBus {
  request<T>(fn: (link: ModbusLink) => Promise<T>): Promise<T>;
}

const GATEWAY_PATH_UNAVAILABLE = 0x0a;
const GATEWAY_TARGET_FAILED = 0x0b;

export const DEFAULT_PROBE: ScanProbe = { fc: 3, address: 0, count: 1 };
const MAX_SIGNATURE_READS = 3;

/** Signature reads of a profile: its fast reads that carry checkable tags (range or states). */
export function scanCandidate(p: Profile): ScanCandidate | undefined {
  const checkable = (t: Tag) =>
    t.poll && t.multiplier === "none" && t.kind !== "text" && t.kind !== "datetime" && (t.range !== undefined || t.states !== undefined);
  const tags = p.tags.filter((t) => t.poll && !t.slow);
  const reads = planReads(
    tags.map((tag, point) => ({ tag, point })),
    { maxRegistersPerRead: p.maxRegistersPerRead, maxBitsPerRead: p.maxBitsPerRead, maxGap: p.maxGap },
  )
    .map((r) => ({ fc: r.fc, start: r.start, count: r.count, checks: r.items.filter((i) => checkable(i.tag)).map((i) => ({ tag: i.tag, offset: i.offset })) }))
    .filter((r) => r.checks.length > 0)
    .sort((a, b) => b.checks.length - a.checks.length)
    .slice(0, MAX_SIGNATURE_READS);
  return reads.length ? { profile: p.profile, name: p.name, reads } : undefined;
}

function passes(tag: Tag, bytes: Uint8Array, offset: number, fc: number): boolean | null {
  let raw: number | string;
  try {
    raw = fc <= 2 ? decodeBit(bytes, offset) : decodeRaw(bytes, offset * 2, tag);
  } catch {
    return false;
  }
  if (typeof raw !== "number") return null;
  if (tag.notAvailable.some((s) => s === raw || (s === "NaN" && Number.isNaN(raw)))) return null; // says nothing
  if (tag.states) return String(raw) in tag.states;
  const v = raw * tag.scale + tag.offset;
  if (!Number.isFinite(v)) return false;
  const r = tag.range!;
  return (r.min === undefined || v >= r.min) && (r.max === undefined || v <= r.max);
}

async function identify(bus: ScanBus, unit: number, req: ScanRequest): Promise<ScanHit["identified"]> {
  const out: ScanHit["identified"] = [];
  for (const c of req.candidates) {
    let checks = 0;
    let ok = true;
    for (const r of c.reads) {
      let bytes: Uint8Array;
      try {
        bytes = await bus.request((l) => l.read(unit, r.fc, r.start, r.count, req.timeoutMs * 2));
      } catch {
        ok = false;
        break;
      }
      for (const ch of r.checks) {
        const p = passes(ch.tag, bytes, ch.offset, r.fc);
        if (p === false) ok = false;
        if (p === true) checks++;
      }
      if (!ok) break;
    }
    if (ok && checks > 0) out.push({ profile: c.profile, name: c.name, checks });
  }
  return out.sort((a, b) => b.checks - a.checks);
}

export async function scanBus(
  busId: string,
  bus: ScanBus,
  req: ScanRequest,
  onProgress: (unit: number, done: number, total: number) => void = () => {},
  cancelled: () => boolean = () => false,
): Promise<ScanResult> {
  const started = Date.now();
  const hits: ScanHit[] = [];
  const total = req.to - req.from + 1;
  let probes = 0;
  let stopped = false;
  const p = req.probe;
  for (let unit = req.from; unit <= req.to; unit++) {
    if (cancelled()) {
      stopped = true;
      break;
    }
    const t0 = performance.now();
    probes++;
    let hit: ScanHit | undefined;
    try {
      await bus.request((l) => l.read(unit, p.fc, p.address, p.count, req.timeoutMs));
      hit = { unit, answer: "reply", ms: 0, identified: [] };
    } catch (e) {
      const err = e instanceof LinkError ? e : new LinkError("disconnected", String(e));
      // Exceptions 10 and 11 come from a gateway saying nobody is behind it at this unit: no device.
      if (err.kind === "exception" && (err.exceptionCode === GATEWAY_PATH_UNAVAILABLE || err.exceptionCode === GATEWAY_TARGET_FAILED)) hit = undefined;
      else if (err.kind === "exception") hit = { unit, answer: "exception", exception: err.exceptionCode, ms: 0, identified: [] };
      else if (err.kind === "bad-reply") hit = { unit, answer: "garbled", error: err.message, ms: 0, identified: [] };
      else if (err.kind === "disconnected") throw err;
    }
    if (hit) {
      hit.ms = Math.round((performance.now() - t0) * 10) / 10;
      const conf = req.configured?.[unit];
      if (conf) hit.configured = conf;
      if (hit.answer !== "garbled") hit.identified = await identify(bus, unit, req);
      hits.push(hit);
    }
    onProgress(unit, unit - req.from + 1, total);
  }
  const found = new Set(hits.map((h) => h.unit));
  const missing = Object.entries(req.configured ?? {})
    .filter(([u]) => Number(u) >= req.from && Number(u) <= req.to && !found.has(Number(u)) && !stopped)
    .map(([u, c]) => ({ unit: Number(u), device: c.device }));
  return { bus: busId, from: req.from, to: req.to, probes, hits, missing, durationMs: Date.now() - started, cancelled: stopped, startedAt: started };
}

/** One line per responder, for the CLI. */
export function describeScan(r: ScanResult): string[] {
  const lines = [`bus ${r.bus}: units ${r.from}..${r.to}, ${r.probes} probes in ${(r.durationMs / 1000).toFixed(1)} s${r.cancelled ? " (cancelled)" : ""}`];
  if (r.error) lines.push(`  stopped: ${r.error}`);
  if (!r.hits.length) lines.push("  nobody answered");
  for (const h of r.hits) {
    const what =
      h.answer === "reply" ? "answered" : h.answer === "exception" ? `answered with exception ${h.exception}` : `garbled answer (${h.error}) — check baud, parity, wiring`;
    const id = h.identified.length ? `; looks like ${h.identified.map((i) => `${i.profile} (${i.checks} checks)`).join(" or ")}` : "";
    const conf = h.configured ? `; configured as ${h.configured.device} (${h.configured.profile})` : "";
    lines.push(`  unit ${String(h.unit).padStart(3)}: ${what} in ${h.ms} ms${id}${conf}`);
  }
  for (const m of r.missing) lines.push(`  unit ${String(m.unit).padStart(3)}: configured as ${m.device} but did not answer`);
  return lines;
}
