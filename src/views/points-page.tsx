import type { PointValue } from "../points/live.ts";
import type { PointInfo } from "../points/registry.ts";
import { translator, type Lang } from "../i18n/index.ts";
import { PointRow } from "./detail-panel.tsx";
import { Layout } from "./layout.tsx";

export { fmtValue as formatValue } from "../hmi/format.ts";

/** Every point of the site with its live value, quality and time (one SSE stream, all points). */
export function PointsPage(props: {
  siteName: string;
  timeZone?: string;
  points: PointInfo[];
  values: PointValue[];
  lang?: Lang;
  user?: { name: string; role: string };
  path?: string;
}) {
  const lang = props.lang ?? "fr";
  const t = translator(lang);
  return (
    <Layout title={t("points.title")} siteName={props.siteName} lang={lang} user={props.user} active="points" path={props.path} timeZone={props.timeZone}>
      <div class="page-pad" data-stream="/api/stream?fmt=c">
        <h1>{t("points.title")}</h1>
        <p class="hint">{t("points.count", { n: props.values.length })}</p>
        <div class="table-scroll">
          <table class="pts points">
            <thead>
              <tr>
                <th>{t("points.device")}</th>
                <th>{t("points.label")}</th>
                <th class="num">{t("points.value")}</th>
                <th>{t("points.quality")}</th>
                <th class="ts">{t("points.time")}</th>
              </tr>
            </thead>
            <tbody>
              {props.points.map((p, i) => (
                <PointRow p={p} v={props.values[i]!} lang={lang} t={t} timeZone={props.timeZone} showDevice />
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </Layout>
  );
}
