/**
 * The point registry: every point Busbar knows, numbered once at start, before the shared table is
 * created (the table is sized from it and a point's number is its slot). It is protocol-neutral: a
 * point says what it is (unit, kind, states, range, role, writable) and who owns it, never how a
 * device encodes it.
 *
 * Points come from sources, in a fixed order so numbering is stable for a given site file and
 * code version:
 *   1. Modbus devices: src/drivers/modbus/points.ts (the register map, `Tag`, stays there);
 *   2. BACnet devices: src/drivers/bacnet (same shape);
 *   3. computed points: src/points/computed.ts (energy totals, the microgrid controller...).
 * The list is assembled in src/drivers/index.ts (`buildRegistry`).
 *
 * A new driver plugs in by
 *   - returning its points as `PointDef`s from a `PointSource`, each with `owner: { driver, bus }`
 *     where `bus` is the id of the worker that writes it (one worker, one table ring, one writer);
 *   - mapping point ids back to its own addressing after the registry is built (look them up in
 *     `byId`: the Modbus driver finds each tag's point as `${device}.${tag.id}`);
 *   - giving the supervisor one `WorkerSpec` per worker (src/drivers/supervisor.ts). The supervisor
 *     sends writes of the worker's points to it, restarts it and reports it like any other.
 * A computed point needs no worker: declare a `ComputedPointDef` (src/points/computed.ts) and write
 * its value through `ComputedPoints.set`; writes to it go to its owner's handler.
 */

export type PointKind = "analog" | "digital" | "multi-state" | "text" | "datetime";

/** Who writes a point's live value and answers writes to it. */
export interface PointOwner {
  /** "modbus", "bacnet", "computed"… */
  driver: string;
  /** The worker (its bus id) that writes the point; absent for points the main thread writes. */
  bus?: string;
}

/** A point as its source declares it. */
export interface PointDef {
  /** The device (or group of computed points) the point belongs to. */
  device: string;
  /** Its name inside the device: the point's id is `DEVICE.name`. */
  name: string;
  label: string;
  labelFr?: string;
  unit: string;
  kind: PointKind;
  /** Names of discrete states, e.g. {0: OPEN, 1: CLOSED}. */
  states?: Record<string, string>;
  /** The same states in French where the source has them (else the HMI's built-in words). */
  statesFr?: Record<string, string>;
  writable: boolean;
  /** False for write-only commands (a reset): the point never has a value to show. Default true. */
  readable?: boolean;
  /** Plausible range of the engineering value (outside it: out-of-range). */
  range?: { min?: number; max?: number };
  /** What the point means to the rest of Busbar (topology, HMI, alarms), e.g. breaker.closed. */
  role?: string;
  /** After this long without a fresh value, a good value is shown as stale (Infinity: never). */
  staleAfterMs: number;
  owner: PointOwner;
}

/** Static facts about a point; the live value is in the shared PointTable at `index`. */
export interface PointInfo extends PointDef {
  index: number;
  /** `DEVICE.name` */
  id: string;
  labelFr: string;
  readable: boolean;
}

export interface PointRegistry {
  points: PointInfo[];
  byId: Map<string, PointInfo>;
  byDevice: Map<string, PointInfo[]>;
}

/** One origin of points (a driver's devices, the computed points). */
export interface PointSource {
  name: string;
  points(): PointDef[];
}

/** Numbers the sources' points in order. Two points with one id is a programming error. */
export function createRegistry(sources: readonly PointSource[]): PointRegistry {
  const points: PointInfo[] = [];
  const byId = new Map<string, PointInfo>();
  const byDevice = new Map<string, PointInfo[]>();
  for (const source of sources) {
    for (const def of source.points()) {
      const id = `${def.device}.${def.name}`;
      if (byId.has(id)) throw new Error(`point ${id} is declared twice (second time by ${source.name})`);
      // Only the facts a point has: 20,000 points × every absent optional field is megabytes.
      const info: PointInfo = {
        index: points.length,
        id,
        device: def.device,
        name: def.name,
        label: def.label,
        labelFr: def.labelFr ?? def.label,
        unit: def.unit,
        kind: def.kind,
        writable: def.writable,
        readable: def.readable ?? true,
        staleAfterMs: def.staleAfterMs,
        owner: def.owner,
      };
      if (def.states) info.states = def.states;
      if (def.statesFr) info.statesFr = def.statesFr;
      if (def.range) info.range = def.range;
      if (def.role) info.role = def.role;
      points.push(info);
      byId.set(id, info);
      let list = byDevice.get(def.device);
      if (!list) byDevice.set(def.device, (list = []));
      list.push(info);
    }
  }
  return { points, byId, byDevice };
}
