import type { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { PointValue } from "../../points/live.ts";
import type { PointInfo } from "../../points/registry.ts";
import type { AppContext } from "../context.ts";

const HEARTBEAT_MS = 15_000;

/**
 * Live values over SSE: `?points=A.x,B.y` (default: all). The first message is a snapshot; after
 * that each message carries only the subscribed points that changed (a page leases what it shows).
 */
export function registerLiveRoutes(app: Hono, ctx: AppContext): void {
  const { live, pageEvents } = ctx;
  const registry = live.registry;
  app.get("/api/stream", (c) => {
    const wanted = c.req.query("points");
    let selected: PointInfo[] = registry.points;
    if (wanted) {
      selected = [];
      for (const id of wanted.split(",")) {
        const p = registry.byId.get(id);
        if (!p) return c.json({ error: `no point ${id}` }, 404);
        selected.push(p);
      }
    }
    const mask = new Uint8Array(registry.points.length);
    for (const p of selected) mask[p.index] = 1;
    return streamSSE(c, async (stream) => {
      let closed = false;
      const send = (values: PointValue[]) => {
        if (!closed && values.length) void stream.writeSSE({ event: "values", data: JSON.stringify(values) });
      };
      const now = Date.now();
      send(selected.map((p) => live.value(p, now)));
      const sendEvent = (event: string, data: unknown) => {
        if (!closed) void stream.writeSSE({ event, data: JSON.stringify(data) });
      };
      for (const [event, data] of pageEvents.retained()) sendEvent(event, data);
      const unsubscribeEvents = pageEvents.subscribe(sendEvent);
      const unsubscribe = live.subscribe((indexes) => {
        const t = Date.now();
        const out: PointValue[] = [];
        for (const i of indexes) if (mask[i]) out.push(live.value(registry.points[i]!, t));
        send(out);
      });
      const heartbeat = setInterval(() => void stream.writeSSE({ event: "ping", data: String(Date.now()) }), HEARTBEAT_MS);
      await new Promise<void>((resolve) => stream.onAbort(() => resolve()));
      closed = true;
      clearInterval(heartbeat);
      unsubscribe();
      unsubscribeEvents();
    });
  });
}
