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
  const current = (i: number) => {
    const now = Date.now();
    const s = table.read(i, sample);
    let q = s.quality;
    if (q === Quality.GOOD && now - s.ts > points[i]!.staleAfterMs) q = Quality.STALE;
    const v = h.points[i]!.kind === "text" ? textOf(i) : Number.isNaN(s.value) ? null : s.value;
    return { v, q, ts: q === Quality.STALE || s.ts <= 0 ? now : s.ts };
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
