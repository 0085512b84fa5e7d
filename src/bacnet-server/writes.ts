import type { Journal } from "../journal/journal.ts";
import { t, type Lang } from "../i18n/index.ts";
import type { PointInfo } from "../points/registry.ts";
import { journalText } from "../journal/i18n.ts";

/**
 * The one door from the BACnet server to the write path every other writer uses (today
 * Supervisor.write, as /operate; later the core's owner-routed writes: only `relay` changes), and
 * the journal rows of BMS writes. The actor is the client's address and priority, e.g.
 * `bacnet 10.0.0.5:47808 p8`.
 */

export interface RelayResult {
  ok: boolean;
  error?: string;
  ms: number;
}
export type Relay = (point: PointInfo, value: number) => Promise<RelayResult>;

export interface BmsWriteRecord {
  point: PointInfo;
  object: string;
  client: string;
  priority: number | null;
  property: string;
  old: number | string | null;
  new: number | string | null;
  ok: boolean;
  /** Refused by Busbar (allow-list, range, type…) rather than tried on the device. */
  refused?: string;
  error?: string;
  /** The device was written (not only the priority array). */
  relayed: boolean;
  ms: number;
}

export class BmsWrites {
  constructor(
    readonly relay: Relay,
    private readonly journal: Journal,
    private readonly lang: Lang,
  ) {}

  static actor(client: string, priority: number | null): string {
    return `bacnet ${client}${priority !== null ? ` p${priority}` : ""}`;
  }

  record(r: BmsWriteRecord): void {
    const actor = BmsWrites.actor(r.client, r.priority);
    const key = r.refused ? "journal.bacnet.refused" : r.ok ? "journal.bacnet.ok" : "journal.bacnet.failed";
    this.journal.append({
      type: r.refused ? "point.write.refused" : "point.write",
      source: r.point.id,
      device: r.point.device,
      actor,
      ...journalText(this.lang, key, {
        actor,
        object: r.object,
        property: r.property,
        old: r.old === null ? "—" : String(r.old),
        new: r.new === null ? "NULL" : String(r.new),
        error: r.refused ?? r.error ?? "",
        ms: Math.round(r.ms),
      }),
      data: { client: r.client, priority: r.priority, object: r.object, property: r.property, old: r.old, new: r.new, ok: r.ok, refused: r.refused ?? null, error: r.error ?? null, relayed: r.relayed, ms: r.ms },
    });
  }
}
