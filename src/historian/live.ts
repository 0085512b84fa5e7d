import { Quality } from "../points/quality.ts";
import type { LiveView } from "../points/live.ts";
import type { Historian } from "./historian.ts";

/**
 * Feeds the historian from the live view: every drained change (and every staleness change the
 * live view announces) is offered with its effective quality. Reads the table directly: no object
 * per change on the hot path.
 */
export function feedFromLive(live: LiveView, h: Historian): () => void {
  const table = live.table;
  const points = live.registry.points;
  const sample = { value: NaN, ts: 0, quality: 0 };
  const textOf = (i: number) => live.value(points[i]!).value as string | null;
  // One reused answer: both callers read it at once and keep nothing (2,000 changes a second at scale).
  const out: { v: number | string | null; q: number; ts: number } = { v: null, q: 0, ts: 0 };
  const current = (i: number) => {
    const now = Date.now();
    const s = table.read(i, sample);
    let q = s.quality;
    if (q === Quality.GOOD && now - s.ts > points[i]!.staleAfterMs) q = Quality.STALE;
    out.v = h.points[i]!.kind === "text" ? textOf(i) : Number.isNaN(s.value) ? null : s.value;
    out.q = q;
    out.ts = q === Quality.STALE || s.ts <= 0 ? now : s.ts;
    return out;
  };
  h.current = current;
  return live.subscribe((indexes) => {
    for (const i of indexes) {
      const c = current(i);
      if (c.q === Quality.INIT) continue;
      h.offer(i, c.ts, c.v, c.q);
    }
  });
}
