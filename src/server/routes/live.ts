import type { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { buildOneLineModel } from "../../hmi/oneline/model.ts";
import type { LiveView } from "../../points/live.ts";
import type { PointInfo } from "../../points/registry.ts";
import type { AppContext } from "../context.ts";

const HEARTBEAT_MS = 15_000;

/**
 * Live values over SSE, one stream per open page, carrying only the points that page leased and
 * only when they change (quality changes included, e.g. a value going stale):
 *
 *   GET /api/stream?points=A.x,B.y     those points (default: every point)
 *   GET /api/stream?view=oneline       the points the one-line diagram shows (plus any `points`)
 *   GET /api/stream?view=none          no point: page events only
 *   &fmt=c                             compact messages: [[id, value, quality, ts], ...]
 *
 * The first `values` message is a snapshot of the lease; every later one carries the changes of one
 * drained batch. Page events (alarms...) are forwarded as named events; `ping` (the server's time)
 * right after the snapshot and every 15 s.
 * Each change is encoded once per batch however many pages lease it.
 */

interface Lease {
  mask: Uint8Array;
  compact: boolean;
  send(data: string): void;
}

/**
 * Fans each drained batch out to every open stream, encoding each changed point once. (Gathering
 * changes for 60 ms before sending was measured with 50 pages: no better poll → DOM latency, so
 * changes go out as soon as they are drained.)
 */
class StreamHub {
  private readonly leases = new Set<Lease>();
  private readonly compactCache: (string | undefined)[];
  private readonly fullCache: (string | undefined)[];
  private readonly touched: number[] = [];

  constructor(private readonly live: LiveView) {
    const n = live.registry.points.length;
    this.compactCache = new Array(n);
    this.fullCache = new Array(n);
    live.subscribe((indexes) => this.onBatch(indexes));
  }

  add(lease: Lease): () => void {
    this.leases.add(lease);
    return () => this.leases.delete(lease);
  }

  encode(p: PointInfo, compact: boolean, now: number): string {
    const v = this.live.value(p, now);
    return compact ? JSON.stringify([v.id, v.value, v.quality, v.ts]) : JSON.stringify(v);
  }

  private onBatch(indexes: readonly number[]): void {
    if (!this.leases.size) return;
    const now = Date.now();
    const points = this.live.registry.points;
    const parts: string[] = [];
    for (const lease of this.leases) {
      const cache = lease.compact ? this.compactCache : this.fullCache;
      parts.length = 0;
      for (const i of indexes) {
        if (!lease.mask[i]) continue;
        let s = cache[i];
        if (s === undefined) {
          s = cache[i] = this.encode(points[i]!, lease.compact, now);
          this.touched.push(i);
        }
        parts.push(s);
      }
      if (parts.length) lease.send(`[${parts.join(",")}]`);
    }
    for (const i of this.touched) this.compactCache[i] = this.fullCache[i] = undefined;
    this.touched.length = 0;
  }
}

export function registerLiveRoutes(app: Hono, ctx: AppContext): void {
  const { live, pageEvents } = ctx;
  const registry = live.registry;
  const hub = new StreamHub(live);
  let oneLinePoints: string[] | undefined;
  const views: Record<string, () => string[]> = {
    oneline: () => (oneLinePoints ??= buildOneLineModel(ctx.site, registry).points),
    /** Page events only (pages that show no point still get alarms). */
    none: () => [],
  };

  app.get("/api/stream", (c) => {
    const wanted = c.req.query("points");
    const view = c.req.query("view");
    let selected: PointInfo[] = registry.points;
    if (view !== undefined || wanted) {
      const ids: string[] = [];
      if (view !== undefined) {
        const v = views[view];
        if (!v) return c.json({ error: `no view ${view} (views: ${Object.keys(views).join(", ")})` }, 404);
        ids.push(...v());
      }
      if (wanted) ids.push(...wanted.split(",").filter(Boolean));
      selected = [];
      const seen = new Set<string>();
      for (const id of ids) {
        if (seen.has(id)) continue;
        seen.add(id);
        const p = registry.byId.get(id);
        if (!p) return c.json({ error: `no point ${id}` }, 404);
        selected.push(p);
      }
    }
    const compact = c.req.query("fmt") === "c";
    const mask = new Uint8Array(registry.points.length);
    for (const p of selected) mask[p.index] = 1;
    // Proxies must not buffer the stream.
    c.header("cache-control", "no-cache");
    c.header("x-accel-buffering", "no");
    return streamSSE(c, async (stream) => {
      let closed = false;
      const write = (event: string, data: string) => {
        if (!closed) void stream.writeSSE({ event, data }).catch(() => (closed = true));
      };
      const now = Date.now();
      write("values", `[${selected.map((p) => hub.encode(p, compact, now)).join(",")}]`);
      // The server's time at once (then with every heartbeat): a page restored from the browser's
      // cache would otherwise keep the clock it was made with until the first heartbeat.
      write("ping", String(now));
      const sendEvent = (event: string, data: unknown) => write(event, JSON.stringify(data));
      for (const [event, data] of pageEvents.retained()) sendEvent(event, data);
      const unsubscribeEvents = pageEvents.subscribe(sendEvent);
      const unlease = hub.add({ mask, compact, send: (data) => write("values", data) });
      const heartbeat = setInterval(() => write("ping", String(Date.now())), HEARTBEAT_MS);
      await new Promise<void>((resolve) => stream.onAbort(() => resolve()));
      closed = true;
      clearInterval(heartbeat);
      unlease();
      unsubscribeEvents();
    });
  });
}
