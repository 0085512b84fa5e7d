import type { PointValue } from "../points/live.ts";
import { Layout } from "./layout.tsx";

/** Formats a value for a table cell; the quality is always shown beside anything that is not good. */
export function formatValue(v: PointValue): string {
  if (v.value === null) return "—";
  if (typeof v.value === "string") return v.value;
  const abs = Math.abs(v.value);
  const digits = abs >= 1000 ? 0 : abs >= 100 ? 1 : abs >= 1 ? 2 : 3;
  return v.value.toLocaleString("fr-CA", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function PointRow(props: { v: PointValue }) {
  const v = props.v;
  return (
    <tr id={`p-${v.id}`} data-point={v.id} class={`q-${v.quality}`}>
      <td>{v.device}</td>
      <td>{v.tag}</td>
      <td>{v.label}</td>
      <td class="value num">{formatValue(v)}</td>
      <td class="unit">{v.unit}</td>
      <td class="quality">
        <span class="q-badge">{v.quality}</span>
      </td>
      <td class="ts">{v.ts ? new Date(v.ts).toISOString().slice(11, 23) : "—"}</td>
    </tr>
  );
}

export function PointsPage(props: { siteName: string; values: PointValue[] }) {
  return (
    <Layout title="Points" siteName={props.siteName} scripts={["/assets/points.js"]}>
      <h1>Points</h1>
      <p class="hint">
        {props.values.length} points. A value that is not <b>good</b> is greyed and hatched with its quality beside it.
      </p>
      <table class="points" data-live-stream="/api/stream">
        <thead>
          <tr>
            <th>Device</th>
            <th>Tag</th>
            <th>Label</th>
            <th>Value</th>
            <th>Unit</th>
            <th>Quality</th>
            <th>Time (UTC)</th>
          </tr>
        </thead>
        <tbody>
          {props.values.map((v) => (
            <PointRow v={v} />
          ))}
        </tbody>
      </table>
    </Layout>
  );
}
