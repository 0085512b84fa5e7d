import type { Hono } from "hono";
import { devicesOfNode, buildOneLineModel, type OneLineModel } from "../../hmi/oneline/model.ts";
import { siteIn } from "../../config/site.ts";
import type { Lang } from "../../i18n/index.ts";
import { layoutOneLine } from "../../hmi/oneline/layout.ts";
import { translator } from "../../i18n/index.ts";
import type { PointValue } from "../../points/live.ts";
import { DetailPanel } from "../../views/detail-panel.tsx";
import { OneLinePage, oneLineGraphJson } from "../../views/oneline-page.tsx";
import { pageRequest } from "../../views/page-context.ts";
import type { AppContext } from "../context.ts";
import { atLeast } from "../../auth/roles.ts";
import { authOf } from "../middleware/security.ts";
import { selectionsOf } from "./operate.tsx";
import { servicesOf } from "../middleware/services.ts";

/**
 * The one-line diagram (home page) and its detail panel fragment. Model and layouts are computed
 * once from the site file; each request only reads the current values.
 */
export function registerHmiRoutes(app: Hono, ctx: AppContext): void {
  const { live, site } = ctx;
  const registry = live.registry;
  // One model per language: site labels may differ (labelFr / labelEn); built once each, on first use.
  const built = new Map<Lang, { model: OneLineModel; wide: ReturnType<typeof layoutOneLine>; tall: ReturnType<typeof layoutOneLine>; graphJson: string }>();
  const forLang = (lang: Lang) => {
    let b = built.get(lang);
    if (!b) {
      const model = buildOneLineModel(siteIn(site, lang), registry);
      b = { model, wide: layoutOneLine(model, "wide"), tall: layoutOneLine(model, "tall"), graphJson: oneLineGraphJson(model) };
      built.set(lang, b);
    }
    return b;
  };
  const model = forLang(site.site.language).model;
  forLang(site.site.language === "fr" ? "en" : "fr"); // both at start: no page pays for a layout
  const snapshot = () => {
    const now = Date.now();
    const values = new Map<string, PointValue>();
    for (const id of model.points) values.set(id, live.value(registry.byId.get(id)!, now));
    return values;
  };

  app.get("/", async (c) => {
    const t0 = performance.now();
    const req = pageRequest(c, site.site.language);
    const b = forLang(req.lang);
    const html = await (
      <OneLinePage
        siteName={site.site.name}
        timeZone={site.site.timezone}
        model={b.model}
        wide={b.wide}
        tall={b.tall}
        values={snapshot()}
        registry={registry}
        graphJson={b.graphJson}
        {...req}
      />
    ).toString();
    // How long the page took to render, for the browser's devtools and the bench.
    c.header("server-timing", `render;dur=${(performance.now() - t0).toFixed(2)}`);
    return c.html(html);
  });

  app.get("/hmi/detail/:id", (c) => {
    const req = pageRequest(c, site.site.language);
    const node = forLang(req.lang).model.nodes.get(c.req.param("id"));
    if (!node) return c.text(`no node ${c.req.param("id")}`, 404);
    const now = Date.now();
    const devices = devicesOfNode(site, node).filter((d) => registry.byDevice.has(d));
    const a = authOf(c);
    const { alarms } = servicesOf(ctx);
    return c.html(
      <DetailPanel
        site={site}
        node={node}
        devices={devices}
        registry={registry}
        values={(p) => live.value(p, now)}
        alarms={{
          list: devices.flatMap((d) => alarms.list({ device: d, show: "active" })),
          canAck: atLeast(a.user?.role, "maintenance"),
          kioskLocked: !a.user && a.kiosk,
          csrf: a.csrf,
          notesRequired: alarms.config.notesRequired ?? [],
        }}
        lang={req.lang}
        t={translator(req.lang)}
        rights={{ canOperate: atLeast(authOf(c).user?.role, "maintenance"), kioskLocked: !authOf(c).user && authOf(c).kiosk }}
        selectedBy={(d) => selectionsOf(ctx).get(d)?.user}
      />,
    );
  });
}
