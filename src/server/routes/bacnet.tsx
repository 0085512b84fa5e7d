import type { Hono } from "hono";
import { Reliability, ObjectType } from "@bacnet-js/client/dist/lib/enum.js";
import { atLeast } from "../../auth/roles.ts";
import { edeFiles, zip } from "../../bacnet-server/ede.ts";
import { TYPE_SHORT } from "../../bacnet-server/objects.ts";
import { commandedValue } from "../../bacnet-server/store.ts";
import { BacnetPage, BacnetTables, type ObjectRow, type SubscriptionRow } from "../../views/bacnet/objects-page.tsx";
import { pageRequest } from "../../views/page-context.ts";
import { authOf } from "../middleware/security.ts";
import type { AppContext } from "../context.ts";

/**
 * The BACnet server for people: the served objects with live values and the COV subscriptions
 * (`/bacnet`), and the EDE file set for the BMS integrator (admin).
 */
export function registerBacnetRoutes(app: Hono, ctx: AppContext): void {
  const { site } = ctx;

  const rows = (): { objects: ObjectRow[]; subs: SubscriptionRow[] } => {
    const b = ctx.bacnetServer;
    if (!b) return { objects: [], subs: [] };
    const now = Date.now();
    const subsByObject = new Map<string, number>();
    const subs = b.covs.list().map((s) => {
      subsByObject.set(s.object.key, (subsByObject.get(s.object.key) ?? 0) + 1);
      return {
        client: `${s.address}:${s.port}`,
        processId: s.processId,
        object: `${TYPE_SHORT[s.object.type]}:${s.object.instance} ${s.object.name}`,
        confirmed: s.confirmed,
        remaining: s.expiresAt ? Math.max(0, Math.round((s.expiresAt - now) / 1000)) : null,
        notifications: s.notifications,
      };
    });
    const objects = b.set.objects.map((o) => {
      const pv = b.reader.presentValue(o);
      const h = b.reader.health(o);
      let value: string;
      const v = pv[0]!;
      if (o.type === ObjectType.DATETIME_VALUE) value = pv[0]!.value instanceof Date ? (pv[0]!.value as Date).toLocaleString("fr-CA") : "—";
      else if (o.type === ObjectType.BINARY_INPUT || o.type === ObjectType.BINARY_VALUE) value = o.states[v.value as number]?.text ?? String(v.value);
      else if (o.type === ObjectType.MULTI_STATE_INPUT || o.type === ObjectType.MULTI_STATE_VALUE) value = `${v.value} ${o.states[(v.value as number) - 1]?.text ?? ""}`;
      else value = Number.isFinite(v.value as number) ? (v.value as number).toLocaleString("fr-CA", { maximumFractionDigits: 3 }) : "NaN";
      const flags = [h.inAlarm && "IN_ALARM", h.fault && "FAULT", h.overridden && "OVERRIDDEN", h.outOfService && "OUT_OF_SERVICE"].filter(Boolean).join(", ") || "—";
      const c = o.command ? commandedValue(o.command) : undefined;
      return {
        id: `${TYPE_SHORT[o.type]}:${o.instance}`,
        name: o.name,
        point: o.point.id,
        value,
        unit: o.type === ObjectType.ANALOG_INPUT || o.type === ObjectType.ANALOG_VALUE ? o.point.unit : "",
        flags,
        reliability: Reliability[h.reliability] ?? String(h.reliability),
        writable: o.writable,
        priority: c ? (c.priority === null ? "Relinquish_Default" : `P${c.priority}`) : "",
        subscribers: subsByObject.get(o.key) ?? 0,
      };
    });
    return { objects, subs };
  };

  app.get("/bacnet", (c) => {
    const req = pageRequest(c, site.site.language);
    const r = rows();
    if (c.req.query("fragment")) return c.html(<BacnetTables lang={req.lang} objects={r.objects} subs={r.subs} />);
    const b = ctx.bacnetServer;
    const cfg = site.bacnetServer;
    const facts =
      b && cfg
        ? {
            instance: cfg.instance,
            name: cfg.name,
            endpoint: `${b.local.address}:${b.local.port}`,
            databaseRevision: b.databaseRevisionValue,
            vendorId: cfg.vendorId,
            writeClients: cfg.writeClients,
            requests: b.stats.received,
            rejected: b.stats.rejected,
            aborted: b.stats.aborted,
          }
        : undefined;
    return c.html(<BacnetPage req={req} siteName={site.site.name} facts={facts} objects={r.objects} subs={r.subs} admin={atLeast(authOf(c).user?.role, "admin")} />);
  });

  const files = () => {
    const b = ctx.bacnetServer!;
    const cfg = site.bacnetServer!;
    return edeFiles({ instance: cfg.instance, name: cfg.name, project: site.site.name }, b.set.objects).files;
  };

  app.get("/admin/bacnet/ede.zip", (c) => {
    if (!ctx.bacnetServer) return c.text("no BACnet server on this site", 404);
    const name = Object.keys(files())[0]!.replace(/_EDE\.csv$/, "");
    return c.body(zip(files()).buffer as ArrayBuffer, 200, { "content-type": "application/zip", "content-disposition": `attachment; filename="${name}_EDE.zip"` });
  });

  app.get("/admin/bacnet/ede/:file", (c) => {
    if (!ctx.bacnetServer) return c.text("no BACnet server on this site", 404);
    const f = files();
    const body = f[c.req.param("file")];
    if (body === undefined) return c.text(`no such file (have: ${Object.keys(f).join(", ")})`, 404);
    return c.body(body, 200, { "content-type": "text/csv; charset=utf-8", "content-disposition": `attachment; filename="${c.req.param("file")}"` });
  });
}
