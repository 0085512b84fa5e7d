import { raw } from "hono/html";
import type { Lang } from "../i18n/index.ts";
import { translator } from "../i18n/index.ts";
import { fmtNumber } from "../hmi/format.ts";
import { clientGraph, OneLineSvg } from "../hmi/oneline/diagram.tsx";
import type { OneLineLayout } from "../hmi/oneline/layout.ts";
import type { OneLineModel } from "../hmi/oneline/model.ts";
import { SymbolDefs } from "../hmi/oneline/symbols.tsx";
import type { PointValue } from "../points/live.ts";
import type { PointRegistry } from "../points/registry.ts";
import { Layout } from "./layout.tsx";

/**
 * The home page: the one-line diagram in two orientations (the CSS shows the wide one on a
 * control-room screen and the tall one on a phone), and the detail panel a tap opens.
 */

export interface OneLinePageProps {
  siteName: string;
  timeZone: string;
  model: OneLineModel;
  wide: OneLineLayout;
  tall: OneLineLayout;
  values: Map<string, PointValue>;
  registry: PointRegistry;
  lang: Lang;
  user?: { name: string; role: string };
  path: string;
  /** JSON of clientGraph(model), computed once per site. */
  graphJson?: string;
}

export function oneLineGraphJson(model: OneLineModel): string {
  return JSON.stringify(clientGraph(model)).replace(/</g, "\\u003c");
}

/**
 * The diagram said in words, above it: the building's total load (its incomers' power), which
 * sources feed it now (public/oneline.js keeps it up to date from the energization), and the BESS
 * sign convention.
 */
function Readouts(props: OneLinePageProps) {
  const t = translator(props.lang);
  const nodes = [...props.model.nodes.values()];
  const isSourceOrAts = (id: string | undefined) => {
    const n = id ? props.model.nodes.get(id) : undefined;
    return !!n && (n.kind === "ats" || (n.kind === "source" && (n.sourceKind === "utility" || n.sourceKind === "generator")));
  };
  const incomers = nodes.filter((n) => n.kind === "breaker" && isSourceOrAts(n.from) && n.main);
  const power = incomers.map((n) => n.main!).filter((id) => props.registry.byId.get(id)?.unit === "kW");
  const total = power.reduce<number | null>((s, id) => {
    const v = props.values.get(id);
    return s === null || !v || v.quality !== "good" || typeof v.value !== "number" ? null : s + v.value;
  }, 0);
  const bess = nodes.filter((n) => n.kind === "source" && n.sourceKind === "bess");
  const feederOf = (id: string) => nodes.find((n) => n.kind === "breaker" && n.to === id);
  return (
    <div class="ol-readouts" aria-live="polite">
      {power.length ? (
        <span class="ro">
          <span class="k">{t("hmi.totalLoad")}</span> <b data-sum={power.join(",")}>{total === null ? "—" : fmtNumber(total, props.lang)}</b> kW
        </span>
      ) : null}
      <span class="ro">
        <span class="k">{t("hmi.fedFrom")}</span> <b id="fed-from">—</b>
      </span>
      {bess.map((b) => (
        <span class="ro ro-note">{t("hmi.bessSign", { bess: b.label, feeder: feederOf(b.id)?.label ?? "" })}</span>
      ))}
    </div>
  );
}

export function OneLinePage(props: OneLinePageProps) {
  const t = translator(props.lang);
  const d = { model: props.model, values: props.values, registry: props.registry, lang: props.lang, t };
  return (
    <Layout
      title={t("oneline.title")}
      siteName={props.siteName}
      lang={props.lang}
      user={props.user}
      active="oneline"
      path={props.path}
      timeZone={props.timeZone}
      bodyClass="page-oneline"
      styles={["/assets/uPlot.min.css"]}
      scripts={["/assets/uPlot.iife.min.js", "/assets/trend.js", "/assets/oneline.js"]}
    >
      <SymbolDefs />
      <div class="ol-wrap" data-stream="/api/stream?view=oneline&fmt=c">
        <div class="ol-diagram">
          <Readouts {...props} />
          <OneLineSvg {...d} layout={props.wide} />
          <OneLineSvg {...d} layout={props.tall} />
        </div>
        <aside id="detail" class="detail" hidden></aside>
      </div>
      <script type="application/json" id="ol-graph">
        {raw(props.graphJson ?? oneLineGraphJson(props.model))}
      </script>
    </Layout>
  );
}
