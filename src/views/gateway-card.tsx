import type { Gateway } from "../gateway/gateway.ts";
import { translator, type Lang } from "../i18n/index.ts";

/**
 * The Modbus TCP gateway on the communication page: where it listens, whether it accepts writes
 * (and from whom), and its connection counters — refused and evicted connections are what a
 * starved or probed gateway shows first.
 */
export function GatewayCard(props: { gateway: Gateway; lang: Lang; /** Admins see which addresses may write. */ showWriters: boolean }) {
  const g = props.gateway;
  const s = g.stats();
  const t = translator(props.lang);
  /** `warn`: a count that says someone was turned away (worth a look when not 0). */
  const row = (label: string, value: number, warn = false) => (
    <tr>
      <th scope="row">{label}</th>
      <td class={warn && value > 0 ? "warn" : undefined}>{value}</td>
    </tr>
  );
  return (
    <section class="bus-card" id="gateway" data-rejected={String(s.rejectedConnections)}>
      <header class="bus-head">
        <h2>{t("comm.gw.title")}</h2>
        <span class="bus-addr">
          {t("comm.gw.line", { addr: `${g.host}:${g.port}`, units: g.routes.size })} ·{" "}
          {g.writes.enabled ? (props.showWriters ? t("comm.gw.writesFrom", { clients: g.writes.clients.join(", ") }) : t("comm.gw.writes.on")) : t("comm.gw.readOnly")}
        </span>
      </header>
      <table class="comm-devices gw-stats">
        <tbody>
          {row(t("comm.gw.clients"), s.clients)}
          {row(t("comm.gw.rejected"), s.rejectedConnections, true)}
          {row(t("comm.gw.evicted"), s.evictedConnections, true)}
          {row(t("comm.gw.idleClosed"), s.idleClosed)}
          {row(t("comm.gw.frameTimeouts"), s.frameTimeouts, true)}
          {row(t("comm.requests"), s.requests)}
          {row(t("comm.gw.cacheHits"), s.cacheHits)}
          {row(t("comm.gw.writes"), s.writesForwarded)}
          {row(t("comm.gw.writesRefused"), s.writesRefused, true)}
        </tbody>
      </table>
    </section>
  );
}
