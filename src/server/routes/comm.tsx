import type { Hono } from "hono";
import { CommBusLive, CommPage } from "../../views/comm-page.tsx";
import { pageRequest } from "../../views/page-context.ts";
import type { AppContext } from "../context.ts";

/** Communication page and the per-bus fragment its htmx poll swaps in. */
export function registerCommRoutes(app: Hono, ctx: AppContext): void {
  const { supervisor, modbus, site } = ctx;
  app.get("/comm", (c) =>
    c.html(<CommPage site={site} stats={supervisor.stats()} plans={modbus.plans} learned={(id) => modbus.plan(id)} now={Date.now()} {...pageRequest(c, site.site.language)} />),
  );
  app.get("/comm/bus/:id", (c) => {
    const bus = site.buses.find((b) => b.id === c.req.param("id"));
    if (!bus) return c.text(`no bus ${c.req.param("id")}`, 404);
    const req = pageRequest(c, site.site.language);
    return c.html(<CommBusLive site={site} bus={bus} stats={supervisor.stats().find((s) => s.bus === bus.id)} lang={req.lang} now={Date.now()} />);
  });
}
