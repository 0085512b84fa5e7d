import type { Site } from "../config/site.ts";
import {
  Exceptions,
  RawReply,
  type ModbusRequestHandler,
  type ModbusTcpServer,
  startModbusTcpServer,
} from "../protocols/modbus/tcp-server.ts";
import { SimDevice, type SimValue } from "./device.ts";
import { type BusVoltage, DEAD_BUS, type Flow, NO_FLOW, NOMINAL_LL, NOMINAL_LN, totalOf } from "./electrical.ts";
import { AtsModel } from "./models/ats.ts";
import { BessModel } from "./models/bess.ts";
import { BreakerModel, type EnergyCounters } from "./models/breaker.ts";
import type { TickContext } from "./models/context.ts";
import { GeneratorModel } from "./models/generator.ts";
import { GenericModel } from "./models/generic.ts";
import { FeederLoad } from "./models/load.ts";
import { MeterModel, PulseMeterModel } from "./models/meter.ts";
import { MicrogridModel } from "./models/microgrid.ts";
import { hashString, LocalClock, rand01, randSigned, smoothNoise } from "./noise.ts";
import { profileKw, type LoadProfile } from "./load-profiles.ts";
import { UpsModel } from "./models/ups.ts";
import { BacnetSimDevice, type BacnetSimFaults } from "./bacnet-device.ts";

/**
 * The site simulator: serves every device of a site over Modbus TCP, one server per
 * `modbus-tcp` bus (its host/port, or overrides), routing by unit id, with plausible dynamics
 * computed every tick from the site topology:
 *
 *   utility / generator → ATS → main breaker → busbar → feeders (daily load shapes) + BESS feeder
 *
 * Feeder loads are pure functions of (seed, feeder, wall-clock time); integrators (energy counters,
 * pulse meters, BESS SOC, monthly consumption) accumulate over simulated time = real time × speed.
 * Buses of other kinds (RTU) are not served.
 */

export interface SimulatorOptions {
  /** Seed of every pseudo-random value (default 1). */
  seed?: number;
  /** Tick period (default 250 ms). */
  tickMs?: number;
  /** Simulated time factor for integrators: energy, SOC, consumption (default 1). */
  speed?: number;
  /** Bind every bus on this host instead of the bus's own. */
  host?: string;
  /** Per-bus port overrides (bus id → port; 0 = any free port). */
  ports?: Record<string, number>;
  /** Bind every bus on a free port (tests); read them back from `ports` / `servedSite`. */
  anyPort?: boolean;
  /** BACnet devices: Profile_Name announced (default factor_10), faults to inject (tests). */
  bacnet?: Record<string, { profileName?: string; modelName?: string; maxApdu?: number; faults?: BacnetSimFaults }>;
  /** Clock (default Date.now). */
  clock?: () => number;
  /** Tick on a timer (default true); false = only when `tick()` is called. */
  autoTick?: boolean;
  /**
   * What an offline or unknown unit gets: no answer at all (default, like a dead RS-485 device
   * behind a transparent gateway) or exception 0x0B (a gateway that reports it).
   */
  deadUnits?: "silent" | "gateway-exception";
  onError?(error: unknown): void;
}

export interface Sim {
  readonly site: Site;
  /** Bus id → the port it is served on. */
  readonly ports: ReadonlyMap<string, number>;
  /** The site with every served bus's host/port pointing at the simulator (for a poller). */
  readonly servedSite: Site;
  /** Trips a breaker (topology breaker id or its device id): open, tripped indication, no power. */
  trip(breakerOrDeviceId: string, fault?: boolean): void;
  /** Opens or closes a breaker; closing resets a trip. */
  setBreaker(breakerOrDeviceId: string, closed: boolean): void;
  /** Commands the ATS (all of them) to the emergency source or back to normal. */
  transferAts(toEmergency: boolean): void;
  /** Normal (utility) source lost / back: the ATS transfers on its own. */
  setUtility(available: boolean): void;
  /** An offline device stops answering. */
  setOffline(deviceId: string, offline: boolean): void;
  /** Pins a tag to an engineering value (scale/offset reversed); `null` releases it. */
  setValue(deviceId: string, tagId: string, value: SimValue | null): void;
  /** A tag's current engineering value. */
  getValue(deviceId: string, tagId: string): SimValue | undefined;
  /**
   * A device that answers garbage: every read reply's byte count claims the data asked for while
   * one byte less follows (a malformed frame on the wire), so the master sees bad replies, not silence.
   */
  setGarbage(deviceId: string, garbage: boolean): void;
  /** A BESS fault: its power drops to zero, AC group FAULT, fault bit set (microgrid interlocks). */
  setBessFault(deviceId: string, fault: boolean): void;
  /** Drives a feeder's load by a profile from now on (its breaker id or device id); `null` = its daily shape again. */
  setLoad(breakerOrDeviceId: string, profile: LoadProfile | null): void;
  /** What the simulation controls page shows: breakers, loads, ATS, utility, devices offline/garbage. */
  status(): SimStatus;
  device(deviceId: string): SimDevice | undefined;
  /** The simulated BACnet/IP device serving a site device. */
  bacnet(deviceId: string): BacnetSimDevice | undefined;
  /** Runs one tick now (also runs on the timer unless autoTick is false). */
  tick(): void;
  stop(): void;
}

export interface SimStatus {
  utilityAvailable: boolean;
  atsToEmergency: boolean | null;
  breakers: { id: string; device: string | null; closed: boolean; tripped: boolean; kw: number; feeder: boolean; profile: LoadProfile | null; profileSince: number | null }[];
  devices: { id: string; offline: boolean; garbage: boolean }[];
  buildingKw: number;
  shedSetpointKw: number | null;
}

/** Feeder counters at start: peak × load factor over four years (± 20 % per feeder). */
const COUNTER_LOAD_FACTOR = 0.55;
const COUNTER_HOURS = 8760 * 4;
/** The busbar's own consumption and losses, counted by the main but by no feeder. */
const UNMETERED_SHARE = 0.015;
/**
 * The main counts at least this much above the sum of its feeders' imports. Live, the flows add up
 * exactly and the BESS's evening discharge (~600 kWh) erodes it: months of demo time at speed 1.
 */
const MIN_MAIN_MARGIN = 0.01;
/** The BESS: half a year in service, about two full-power hours of charge a day, 88 % round trip. */
const BESS_COUNTER_DAYS = 182;
const BESS_DAILY_CHARGE_H = 2;
const BESS_ROUND_TRIP = 0.88;
/** A meter and the breaker it sits beside (TH40C and 5B1) differ by at most this share (class 0.5 and 1). */
const METER_DISAGREEMENT = 0.003;

type Node = { kind: "source"; sourceKind: string; id: string } | { kind: "ats"; id: string } | { kind: "busbar"; id: string };

interface BreakerEntry {
  topo: Site["topology"]["breakers"][number];
  model: BreakerModel;
  load: FeederLoad | null;
  /** The BESS this breaker feeds (its `to` is a bess source). */
  bess: BessModel | null;
  /** A load profile replacing the daily shape, and when it started. */
  override: { profile: LoadProfile; since: number } | null;
}

export function startSimulator(site: Site, opts: SimulatorOptions = {}): Sim {
  const seed = (opts.seed ?? 1) >>> 0;
  const tickMs = Math.max(10, opts.tickMs ?? 250);
  const speed = opts.speed ?? 1;
  const clock = opts.clock ?? Date.now;
  const localClock = new LocalClock(site.site.timezone);
  const topo = site.topology;

  // ---- devices ----------------------------------------------------------------------------------
  const devices = new Map<string, SimDevice>();
  for (const d of site.devices) {
    const p = site.profiles.get(d.profile);
    if (!p) throw new Error(`simulator: device ${d.id} uses unknown profile ${d.profile}`);
    devices.set(d.id, new SimDevice(d, p));
  }
  const claimed = new Set<string>();
  const claim = (id: string | undefined) => {
    if (id === undefined) return undefined;
    const dev = devices.get(id);
    if (dev) claimed.add(id);
    return dev;
  };

  const t0 = clock();
  let lastT = t0;
  const ctx: TickContext = { now: t0, dtH: 0, dtMs: 0, local: localClock.local(t0), hour: 0, weekend: false, seed, slot: 0 };
  const refreshCtx = (now: number) => {
    ctx.dtMs = Math.max(0, now - lastT);
    ctx.dtH = (ctx.dtMs * speed) / 3_600_000;
    lastT = Math.max(lastT, now);
    ctx.now = now;
    ctx.local = localClock.local(now);
    ctx.hour = ctx.local.getUTCHours() + ctx.local.getUTCMinutes() / 60 + ctx.local.getUTCSeconds() / 3600;
    const wd = ctx.local.getUTCDay();
    ctx.weekend = wd === 0 || wd === 6;
    ctx.slot = Math.floor(now / 250);
  };
  refreshCtx(t0);

  // ---- topology and models ----------------------------------------------------------------------
  const nodes = new Map<string, Node>();
  for (const s of topo.sources) nodes.set(s.id, { kind: "source", sourceKind: s.kind, id: s.id });
  for (const a of topo.ats) nodes.set(a.id, { kind: "ats", id: a.id });
  for (const b of topo.busbars) nodes.set(b.id, { kind: "busbar", id: b.id });

  let refresh = () => {};
  const changed = () => refresh();

  const generators = new Map<string, GeneratorModel>(); // by source id (or device id when not in the topology)
  for (const s of topo.sources) {
    if (s.kind !== "generator") continue;
    const g = new GeneratorModel(s.id, claim(s.device));
    g.changed = changed;
    generators.set(s.id, g);
  }
  const atsModels = topo.ats.map((a) => {
    const m = new AtsModel(a.id, claim(a.device));
    m.changed = changed;
    return { topo: a, model: m };
  });

  const bessBySource = new Map<string, BessModel>();
  const bessModels: BessModel[] = [];
  for (const s of topo.sources) {
    if (s.kind !== "bess" || !s.device) continue;
    const dev = devices.get(s.device);
    if (!dev?.hasRole("bess.soc")) continue;
    claimed.add(dev.id);
    const b = new BessModel(dev.id, dev, seed);
    bessBySource.set(s.id, b);
    bessModels.push(b);
  }

  const breakers: BreakerEntry[] = topo.breakers.map((b) => ({
    topo: b,
    model: null as unknown as BreakerModel,
    load: b.to === undefined ? new FeederLoad(b.id, seed) : null,
    bess: b.to !== undefined ? (bessBySource.get(b.to) ?? null) : null,
    override: null,
  }));
  const peakUnder = (nodeId: string, depth = 0): number =>
    depth > 32 ? 0 : breakers.filter((e) => e.topo.from === nodeId).reduce((s, e) => s + peakOf(e, depth + 1), 0);
  const peakOf = (e: BreakerEntry, depth = 0): number =>
    e.load ? e.load.peakKw : e.bess ? e.bess.maxKw * 0.1 : e.topo.to !== undefined && nodes.get(e.topo.to)?.kind !== "source" ? peakUnder(e.topo.to, depth) : 0;
  // Energy counters a few years old, seeded from the feeders up so they agree as real ones do: a
  // breaker feeding a busbar has counted its feeders' net energy plus the busbar's unmetered share,
  // so the feeders never sum above the main (issue 9 item 18). Live, the flows add up exactly.
  const seeded = new Map<BreakerEntry, EnergyCounters>();
  const childrenOf = (e: BreakerEntry) =>
    e.topo.to !== undefined && nodes.get(e.topo.to)?.kind !== "source" ? breakers.filter((c) => c.topo.from === e.topo.to) : [];
  const countersOf = (e: BreakerEntry, depth = 0): EnergyCounters => {
    const known = seeded.get(e);
    if (known) return known;
    let c: EnergyCounters = { importKwh: 0, exportKwh: 0 };
    const spread = 0.8 + 0.4 * rand01(seed, hashString(`breaker:${e.topo.id}`), 1);
    if (e.load) c = { importKwh: Math.round(e.load.peakKw * COUNTER_LOAD_FACTOR * COUNTER_HOURS * spread), exportKwh: 0 };
    else if (e.bess) {
      // Newer than the switchgear; charged at night, discharged at the evening peak.
      const charged = Math.round(e.bess.maxKw * BESS_DAILY_CHARGE_H * BESS_COUNTER_DAYS * spread);
      c = { importKwh: charged, exportKwh: Math.round(charged * BESS_ROUND_TRIP) };
    } else if (depth < 32) {
      let net = 0;
      let imported = 0;
      for (const child of childrenOf(e)) {
        const cc = countersOf(child, depth + 1);
        net += cc.importKwh - cc.exportKwh;
        imported += cc.importKwh;
      }
      // What the BESS gave back fed the loads, not the main; the unmetered share covers it, so even a
      // page that adds every feeder's import (BESS charge included) stays at or below the main.
      const main = Math.max(net * (1 + UNMETERED_SHARE), imported * (1 + MIN_MAIN_MARGIN));
      c = { importKwh: Math.round(Math.max(0, main)), exportKwh: Math.round(Math.max(0, -net)) };
    }
    seeded.set(e, c);
    return c;
  };
  for (const e of breakers) {
    e.model = new BreakerModel(e.topo.id, claim(e.topo.device), countersOf(e));
    e.model.changed = changed;
  }
  const breakerById = new Map<string, BreakerEntry>();
  for (const e of breakers) {
    breakerById.set(e.topo.id, e);
    if (e.topo.device && !breakerById.has(e.topo.device)) breakerById.set(e.topo.device, e);
  }
  const incomers = breakers.filter((e) => {
    const from = nodes.get(e.topo.from);
    return from !== undefined && (from.kind === "ats" || (from.kind === "source" && (from.sourceKind === "utility" || from.sourceKind === "generator")));
  });
  const totalPeak = breakers.reduce((s, e) => s + (e.load?.peakKw ?? 0), 0);

  const pulseMeters: { model: PulseMeterModel; at: string }[] = [];
  const meters: { model: MeterModel; at: string }[] = [];
  for (const m of topo.meters) {
    const dev = devices.get(m.device);
    if (!dev || claimed.has(dev.id)) continue;
    claimed.add(dev.id);
    if (dev.hasRole("meter.accumulated")) {
      const pm = new PulseMeterModel(dev.id, dev, seed, clock);
      pm.changed = changed;
      pulseMeters.push({ model: pm, at: m.at });
    } else {
      // A meter beside a breaker has counted the same energy, within the two devices' accuracy.
      const e = breakerById.get(m.at);
      const under = e ? [countersOf(e)] : breakers.filter((b) => b.topo.from === m.at).map((b) => countersOf(b));
      const accuracy = 1 + METER_DISAGREEMENT * randSigned(seed, hashString(`meter:${dev.id}`), 1);
      const counted = {
        importKwh: Math.round(under.reduce((sum, c) => sum + c.importKwh, 0) * accuracy),
        exportKwh: Math.round(under.reduce((sum, c) => sum + c.exportKwh, 0) * accuracy),
      };
      meters.push({ model: new MeterModel(dev.id, dev, counted), at: m.at });
    }
  }

  // A UPS on a BACnet device: fed by its feeder breaker, on battery while the feeder is dead.
  const upsModels: { model: UpsModel; feeder: BreakerEntry | undefined }[] = [];
  for (const s of topo.sources) {
    if (s.kind !== "ups" || !s.device) continue;
    const dev = devices.get(s.device);
    if (!dev?.profile.bacnet || claimed.has(dev.id)) continue;
    claimed.add(dev.id);
    const kva = Number(opts.bacnet?.[dev.id]?.modelName ?? 60);
    upsModels.push({ model: new UpsModel(dev.id, dev, Number.isFinite(kva) ? kva : 60), feeder: s.fedBy ? breakerById.get(s.fedBy) : undefined });
  }

  const microgrids: MicrogridModel[] = [];
  const generic: GenericModel[] = [];
  for (const dev of devices.values()) {
    if (claimed.has(dev.id)) continue;
    if (dev.hasRole("generator.running")) {
      const g = new GeneratorModel(dev.id, dev);
      g.changed = changed;
      generators.set(dev.id, g);
    } else if (dev.hasRole("bess.soc")) {
      bessModels.push(new BessModel(dev.id, dev, seed));
    } else if (dev.tag("shed_setpoint") || dev.tag("kw_avg_15min")) {
      microgrids.push(new MicrogridModel(dev.id, dev, seed, totalPeak * 0.6, ctx.local));
    } else {
      generic.push(new GenericModel(dev));
    }
    claimed.add(dev.id);
  }

  // ---- per-tick physics -------------------------------------------------------------------------
  let utilityAvailable = true;
  let lastBuildingKw = 0;
  const kUtil = hashString("utility");
  const voltages = new Map<string, BusVoltage>();

  const utilityVoltage = (): BusVoltage => {
    const drop = 0.012 * Math.min(1.5, lastBuildingKw / 600);
    const v = 1 + 0.004 * smoothNoise(seed, kUtil, ctx.now, 60_000) + 0.0012 * smoothNoise(seed, kUtil + 1, ctx.now, 4_000) - drop;
    const f = 60 + 0.008 * smoothNoise(seed, kUtil + 2, ctx.now, 20_000) + 0.002 * randSigned(seed, kUtil + 3, ctx.slot);
    return {
      live: true,
      vln: [NOMINAL_LN * v * 1.002, NOMINAL_LN * v * 0.999, NOMINAL_LN * v * 0.998],
      vll: [NOMINAL_LL * v * 1.001, NOMINAL_LL * v * 0.999, NOMINAL_LL * v * 1.0],
      f,
    };
  };

  const sumFlows = (flows: Flow[]): Flow => {
    if (flows.length === 0) return NO_FLOW;
    const p: [number, number, number] = [0, 0, 0];
    let s = 0;
    let q = 0;
    for (const f of flows) {
      const pt = Math.abs(totalOf(f));
      for (let i = 0; i < 3; i++) p[i]! += f.p[i]!;
      s += pt / Math.max(0.05, f.pf);
      q += pt;
    }
    return { p, pf: s > 0 ? Math.min(1, q / s) : 1 };
  };

  /** Flow out of a node through its closed downstream breakers. */
  const flowFromNode = (nodeId: string, depth = 0): Flow => {
    if (depth > 32) return NO_FLOW;
    const out: Flow[] = [];
    for (const e of breakers) if (e.topo.from === nodeId) out.push(breakerFlow(e, depth + 1));
    return sumFlows(out);
  };
  const flowMemo = new Map<BreakerEntry, Flow>();
  function breakerFlow(e: BreakerEntry, depth = 0): Flow {
    const memo = flowMemo.get(e);
    if (memo) return memo;
    let f: Flow = NO_FLOW;
    const m = e.model;
    if (m.closed && m.bus.live) {
      if (e.load) {
        f = e.load.flow(ctx);
        if (e.override) {
          // Same phase split and power factor as the feeder's own load, at the profile's power.
          const kw = profileKw(e.override.profile, ctx.now - e.override.since);
          const now = totalOf(f);
          const k = now > 0 ? kw / now : 0;
          f = now > 0 ? { p: [f.p[0] * k, f.p[1] * k, f.p[2] * k], pf: f.pf } : { p: [kw / 3, kw / 3, kw / 3], pf: f.pf };
        }
      } else if (e.bess) {
        const p = -e.bess.power / 3; // discharge feeds the busbar: negative through the feeder
        f = { p: [p, p, p], pf: 0.99 };
      } else if (e.topo.to !== undefined && nodes.get(e.topo.to)?.kind !== "source") f = flowFromNode(e.topo.to, depth);
    }
    flowMemo.set(e, f);
    return f;
  }

  const tick = () => {
    refreshCtx(Math.max(lastT, clock()));
    // Sources and the ATS.
    voltages.clear();
    for (const s of topo.sources) voltages.set(s.id, DEAD_BUS);
    const util = utilityAvailable ? utilityVoltage() : DEAD_BUS;
    for (const s of topo.sources) if (s.kind === "utility") voltages.set(s.id, util);
    const genWanted = new Map<GeneratorModel, boolean>();
    for (const { topo: a, model } of atsModels) {
      // Normal source = a source node; anything else counts as available.
      model.utilityAvailable = voltages.get(a.normal)?.live ?? true;
      const g = generators.get(a.emergency);
      if (g) genWanted.set(g, (genWanted.get(g) ?? false) || model.wantsEmergency());
    }
    for (const [id, g] of generators) {
      g.update(genWanted.get(g) ?? false);
      if (nodes.has(id)) voltages.set(id, g.voltage(ctx));
    }
    for (const { topo: a, model } of atsModels) {
      const emergencyLive = (voltages.get(a.emergency) ?? DEAD_BUS).live;
      model.update(emergencyLive);
      model.bus = (model.position === "normal" ? voltages.get(a.normal) : voltages.get(a.emergency)) ?? DEAD_BUS;
      voltages.set(a.id, model.bus);
    }
    // Energize breakers and busbars (a tree: a few passes settle it).
    for (const b of topo.busbars) voltages.set(b.id, DEAD_BUS);
    for (let pass = 0; pass < 8; pass++) {
      let moved = false;
      for (const e of breakers) {
        const line = voltages.get(e.topo.from) ?? DEAD_BUS;
        e.model.bus = line;
        const to = e.topo.to;
        if (to !== undefined && nodes.get(to)?.kind === "busbar" && e.model.closed && line.live && !voltages.get(to)!.live) {
          voltages.set(to, line);
          moved = true;
        }
      }
      if (!moved) break;
    }
    // Flows: loads first, then the BESS decides against the building's demand, then totals.
    flowMemo.clear();
    let loadsKw = 0;
    for (const e of breakers) if (e.load) loadsKw += totalOf(breakerFlow(e));
    const shedSetpoint = microgrids[0]?.setpoint() ?? 250;
    for (const b of bessModels) {
      const feeder = breakers.find((e) => e.bess === b);
      const connected = feeder ? feeder.model.closed && feeder.model.bus.live : true;
      b.update(ctx, loadsKw, shedSetpoint, connected);
    }
    for (const e of breakers) breakerFlow(e);
    for (const e of breakers) {
      e.model.flow = flowMemo.get(e)!;
      e.model.integrate(ctx);
    }
    for (const { topo: a, model } of atsModels) model.flow = flowFromNode(a.id);
    const buildingKw = incomers.length
      ? incomers.reduce((s, e) => s + totalOf(e.model.flow), 0)
      : loadsKw - bessModels.reduce((s, b) => s + b.power, 0);
    lastBuildingKw = buildingKw;
    // Meters.
    const pointFlow = (at: string): { bus: BusVoltage; flow: Flow } => {
      const e = breakerById.get(at);
      if (e) return { bus: e.model.bus, flow: e.model.closed ? e.model.flow : NO_FLOW };
      return { bus: voltages.get(at) ?? DEAD_BUS, flow: flowFromNode(at) };
    };
    for (const { model, at } of meters) {
      const pf = pointFlow(at);
      model.bus = pf.bus;
      model.flow = pf.flow;
      model.integrate(ctx);
    }
    for (const { model, at } of pulseMeters) model.integrate(ctx, totalOf(pointFlow(at).flow));
    for (const m of microgrids) m.update(ctx, buildingKw);
    for (const { model, feeder } of upsModels) {
      const input = feeder ? (feeder.model.closed ? feeder.model.bus : DEAD_BUS) : (voltages.get(topo.ats[0]?.id ?? "") ?? utilityVoltage());
      model.update(ctx, input, feeder?.load ? feeder.load.power(ctx) : 20);
    }
    // Publish into the register images.
    for (const e of breakers) e.model.publish(ctx);
    for (const { topo: a, model } of atsModels) model.publish(ctx, (voltages.get(a.emergency) ?? DEAD_BUS).live);
    for (const g of generators.values()) g.publish();
    for (const b of bessModels) b.publish(ctx);
    for (const { model } of meters) model.publish(ctx);
    for (const { model } of pulseMeters) model.publish();
    for (const m of microgrids) m.publish();
    for (const g of generic) g.publish(ctx);
    for (const b of bacnetSims.values()) b.publish(ctx.now);
  };
  const bacnetSims = new Map<string, BacnetSimDevice>();

  let ticking = false;
  const safeTick = () => {
    if (ticking) return; // a write hook inside a tick must not recurse
    ticking = true;
    try {
      tick();
    } catch (e) {
      opts.onError?.(e);
    } finally {
      ticking = false;
    }
  };
  refresh = safeTick;
  safeTick();

  // ---- Modbus servers ---------------------------------------------------------------------------
  const garbage = new Set<string>();
  // A reply whose byte count claims what was asked while one byte less follows: a malformed frame
  // the master must reject (as noise on an RS-485 line behind a transparent gateway would give).
  const garbled = (fc: number, r: ReturnType<SimDevice["readRegisters"]>, bits = false) => {
    if (!(r instanceof Uint8Array) || r.length < 1) return r;
    const data = bits ? new Uint8Array((r.length + 7) >> 3).fill(0xa5) : r;
    const pdu = new Uint8Array(1 + data.length);
    pdu[0] = fc;
    pdu[1] = data.length;
    pdu.set(data.subarray(0, data.length - 1), 2);
    return new RawReply(pdu);
  };
  const gatewayMode = opts.deadUnits === "gateway-exception";
  const servers: ModbusTcpServer[] = [];
  const ports = new Map<string, number>();
  const hosts = new Map<string, string>();
  try {
    for (const bus of site.buses) {
      if (bus.kind !== "modbus-tcp") continue;
      const units: (SimDevice | undefined)[] = new Array(256);
      const onBus: SimDevice[] = [];
      for (const d of devices.values()) {
        if (d.cfg.bus !== bus.id) continue;
        units[d.unit] = d;
        onBus.push(d);
      }
      if (onBus.length === 0) continue;
      const dead = gatewayMode ? Exceptions.gatewayTargetFailed : undefined;
      const handler: ModbusRequestHandler = {
        acceptsUnit: gatewayMode ? undefined : (u) => u === 0 || (units[u] !== undefined && !units[u]!.offline),
        readRegisters(u, fc, a, c) {
          const d = units[u];
          if (d && !d.offline && garbage.has(d.id)) return garbled(fc, d.readRegisters(fc, a, c));
          return d && !d.offline ? d.readRegisters(fc, a, c) : u === 0 ? undefined : dead;
        },
        readBits(u, fc, a, c) {
          const d = units[u];
          if (d && !d.offline && garbage.has(d.id)) return garbled(fc, d.readBits(fc, a, c), true);
          return d && !d.offline ? d.readBits(fc, a, c) : u === 0 ? undefined : dead;
        },
        writeRegisters(u, a, bytes) {
          if (u === 0) {
            // Broadcast: every device that has the registers takes it; nobody answers.
            for (const d of onBus) if (!d.offline) d.writeRegisters(a, bytes);
            return undefined;
          }
          const d = units[u];
          return d && !d.offline ? d.writeRegisters(a, bytes) : dead;
        },
        writeBits(u, a, values) {
          if (u === 0) {
            for (const d of onBus) if (!d.offline) d.writeBits(a, values);
            return undefined;
          }
          const d = units[u];
          return d && !d.offline ? d.writeBits(a, values) : dead;
        },
      };
      const host = opts.host ?? bus.host;
      const port = opts.ports?.[bus.id] ?? (opts.anyPort ? 0 : bus.port);
      const server = startModbusTcpServer({ host, port, handler, onError: opts.onError ? (e) => opts.onError!(e) : undefined });
      servers.push(server);
      ports.set(bus.id, server.port);
      hosts.set(bus.id, host);
    }
  } catch (e) {
    for (const s of servers) s.stop();
    throw e;
  }

  // ---- BACnet/IP devices --------------------------------------------------------------------------
  // One UDP port per device on loopback (peers on one host each need their own port, and a port
  // other than 47808: ../shared/peers/README.md); the served site points the bus's broadcast and each
  // device's address at them. UDP ports cannot be asked for synchronously: anyPort picks random ones.
  const randomPort = () => 20_000 + Math.floor(Math.random() * 40_000);
  const bacnetAddr = new Map<string, string>();
  const bacnetBuses = new Map<string, { port: number; broadcast: string }>();
  try {
    for (const bus of site.buses) {
      if (bus.kind !== "bacnet-ip") continue;
      const on = site.devices.filter((d) => d.bus === bus.id && d.enabled && devices.get(d.id)?.profile.bacnet);
      if (!on.length) continue;
      const host = opts.host && opts.host !== "0.0.0.0" ? opts.host : "127.0.0.1";
      let first = 0;
      on.forEach((d, i) => {
        const fromAddress = d.address ? Number(d.address.split(":")[1]) : NaN;
        const port = opts.ports?.[d.id] ?? (opts.anyPort || !Number.isFinite(fromAddress) ? (opts.anyPort ? randomPort() : bus.port + 1 + i) : fromAddress);
        if (i === 0) first = port;
        const o = opts.bacnet?.[d.id] ?? {};
        const sim = new BacnetSimDevice(devices.get(d.id)!, devices.get(d.id)!.profile.bacnet!, {
          instance: d.instance!,
          port,
          host,
          modelName: o.modelName ?? "60",
          profileName: o.profileName ?? "factor_10",
          maxApdu: o.maxApdu,
          faults: o.faults,
        });
        bacnetSims.set(d.id, sim);
        bacnetAddr.set(d.id, `${host}:${port}`);
      });
      const busPort = opts.ports?.[bus.id] ?? (opts.anyPort ? randomPort() : bus.port);
      bacnetBuses.set(bus.id, { port: busPort, broadcast: `${host === "127.0.0.1" ? "127.255.255.255" : host}:${first}` });
      ports.set(bus.id, busPort);
    }
  } catch (e) {
    for (const s of servers) s.stop();
    for (const b of bacnetSims.values()) b.close();
    throw e;
  }

  const timer = opts.autoTick === false ? null : setInterval(safeTick, tickMs);

  const servedSite: Site = {
    ...site,
    buses: site.buses.map((b) =>
      b.kind === "modbus-tcp" && ports.has(b.id)
        ? { ...b, host: hosts.get(b.id) === "0.0.0.0" ? "127.0.0.1" : hosts.get(b.id)!, port: ports.get(b.id)! }
        : b.kind === "bacnet-ip" && bacnetBuses.has(b.id)
          ? { ...b, interface: undefined, ...bacnetBuses.get(b.id)! }
          : b,
    ),
    devices: site.devices.map((d) => (bacnetAddr.has(d.id) ? { ...d, address: bacnetAddr.get(d.id)! } : d)),
  };

  const breakerOf = (id: string): BreakerEntry => {
    const e = breakerById.get(id);
    if (!e) throw new Error(`simulator: no breaker or breaker device "${id}"`);
    return e;
  };
  const deviceOf = (id: string): SimDevice => {
    const d = devices.get(id);
    if (!d) throw new Error(`simulator: no device "${id}"`);
    return d;
  };

  let stopped = false;
  return {
    site,
    ports,
    servedSite,
    trip(id, fault = true) {
      breakerOf(id).model.trip(fault);
      safeTick();
    },
    setBreaker(id, closed) {
      breakerOf(id).model.setClosed(closed);
      safeTick();
    },
    transferAts(toEmergency) {
      if (atsModels.length === 0) throw new Error("simulator: the site has no ATS");
      for (const a of atsModels) a.model.commanded = toEmergency;
      safeTick();
    },
    setUtility(available) {
      utilityAvailable = available;
      safeTick();
    },
    setOffline(id, offline) {
      deviceOf(id).offline = offline;
    },
    setValue(deviceId, tagId, value) {
      const d = deviceOf(deviceId);
      if (!d.pin(tagId, value)) throw new Error(`simulator: device ${deviceId} (${d.profile.profile}) has no tag "${tagId}"`);
    },
    getValue(deviceId, tagId) {
      return devices.get(deviceId)?.get(tagId);
    },
    setBessFault(id, on) {
      const b = [...bessBySource.values()].find((m) => m.id === id);
      if (!b) throw new Error(`simulator: no BESS "${id}"`);
      b.fault = on;
      safeTick();
    },
    setGarbage(id, on) {
      deviceOf(id);
      if (on) garbage.add(id);
      else garbage.delete(id);
    },
    setLoad(id, profile) {
      const e = breakerOf(id);
      if (!e.load) throw new Error(`simulator: breaker "${id}" feeds no load of its own`);
      e.override = profile ? { profile, since: clock() } : null;
      safeTick();
    },
    status() {
      return {
        utilityAvailable,
        atsToEmergency: atsModels.length ? atsModels[0]!.model.commanded : null,
        breakers: breakers.map((e) => ({
          id: e.topo.id,
          device: e.topo.device ?? null,
          closed: e.model.closed,
          tripped: e.model.tripped,
          kw: totalOf(e.model.flow),
          feeder: !!e.load,
          profile: e.override?.profile ?? null,
          profileSince: e.override?.since ?? null,
        })),
        devices: [...devices.values()].map((d) => ({ id: d.id, offline: d.offline, garbage: garbage.has(d.id) })),
        buildingKw: lastBuildingKw,
        shedSetpointKw: microgrids[0]?.setpoint() ?? null,
      };
    },
    device: (id) => devices.get(id),
    bacnet: (id) => bacnetSims.get(id),
    tick: safeTick,
    stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearInterval(timer);
      for (const s of servers) s.stop();
      for (const b of bacnetSims.values()) b.close();
    },
  };
}
