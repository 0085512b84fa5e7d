import type { Hono } from "hono";
import { CommBusLive, CommPage } from "../../views/comm-page.tsx";
import { GatewayCard } from "../../views/gateway-card.tsx";
import { pageRequest } from "../../views/page-context.ts";
import type { AppContext } from "../context.ts";
import { can } from "../middleware/security.ts";

/** Communication page and the per-bus fragment its htmx poll swaps in. */
export function registerCommRoutes(app: Hono, ctx: AppContext): void {
  const { supervisor, modbus, site } = ctx;
  app.get("/comm", (c) => {
    const req = pageRequest(c, site.site.language);
    const gateway = ctx.gateway ? <GatewayCard gateway={ctx.gateway} lang={req.lang} showWriters={can(c, "admin")} /> : undefined;
    return c.html(
      <CommPage site={site} stats={supervisor.stats()} plans={modbus.plans} learned={(id) => modbus.plan(id)} now={Date.now()} gateway={gateway} device={c.req.query("device")} {...req} />,
    );
  });
  /** The gateway's routes, write rule and counters (refused/evicted connections, writes). */
  app.get("/api/gateway", (c) => {
    const g = ctx.gateway;
    if (!g) return c.json({ error: "no Modbus TCP gateway on this site" }, 404);
    // Which addresses may write is for admins: a kiosk viewer learns only whether writes are on.
    const writes = can(c, "admin") ? g.writes : { enabled: g.writes.enabled };
    return c.json({ host: g.host, port: g.port, units: g.routes.size, writes, ...g.stats() });
  });
  app.get("/comm/bus/:id", (c) => {
    const bus = site.buses.find((b) => b.id === c.req.param("id"));
    if (!bus) return c.text(`no bus ${c.req.param("id")}`, 404);
    const req = pageRequest(c, site.site.language);
    return c.html(<CommBusLive site={site} bus={bus} stats={supervisor.stats().find((s) => s.bus === bus.id)} lang={req.lang} now={Date.now()} />);
  });
}
