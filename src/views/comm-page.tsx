import { labelIn, type BusConfig, type Site } from "../config/site.ts";
import { fmtNumber } from "../hmi/format.ts";
import { translator, type Lang, type T } from "../i18n/index.ts";
import { describeRead, type PlannedRead } from "../protocols/modbus/planner.ts";
import type { LearnedPlanView } from "../protocols/modbus/learned-plan.ts";
import type { BusStats, DeviceStats } from "../drivers/protocol.ts";
import { Layout } from "./layout.tsx";
import type { BacnetStats } from "../drivers/bacnet/messages.ts";
import { SEGMENTATION } from "../protocols/bacnet/objects.ts";

/** A BACnet/IP port's devices as discovered (I-Am data) and as the driver runs them (RPM size, COV). */
function BacnetDiscovery(props: { stats: BacnetStats; t: T; now: number }) {
  const { stats, t, now } = props;
  const run = new Map(stats.bacnet.devices.map((d) => [d.id, d]));
  const fd = stats.bacnet.foreign;
  return (
    <div class="table-scroll bacnet-discovery">
      {fd ? (
        <p class={fd.error ? "bacnet-foreign err" : "bacnet-foreign"}>
          {t("comm.bacnet.foreign", { bbmd: fd.bbmd, ttl: fd.ttlS })}{" "}
          {fd.error ? t("comm.bacnet.foreign.failed", { error: fd.error }) : fd.registeredAt ? t("comm.bacnet.foreign.ok", { ago: ago(t, fd.registeredAt, now) }) : t("comm.bacnet.foreign.pending")}
        </p>
      ) : null}
      <table class="comm-devices">
        <thead>
          <tr>
            <th>{t("comm.bacnet.instance")}</th>
            <th>{t("comm.bacnet.address")}</th>
            <th class="num">{t("comm.bacnet.vendor")}</th>
            <th class="num">{t("comm.bacnet.maxApdu")}</th>
            <th>{t("comm.bacnet.segmentation")}</th>
            <th>{t("comm.device")}</th>
            <th>{t("comm.bacnet.reading")}</th>
            <th>{t("comm.bacnet.cov")}</th>
            <th>{t("comm.bacnet.seen")}</th>
          </tr>
        </thead>
        <tbody>
          {stats.bacnet.discovered.map((h) => {
            const d = h.device ? run.get(h.device) : undefined;
            return (
              <tr data-instance={h.instance}>
                <td class="num">{h.instance}</td>
                <td>{h.address}</td>
                <td class="num">{h.vendorId}</td>
                <td class="num">{h.maxApdu}</td>
                <td>{SEGMENTATION[h.segmentation] ?? h.segmentation}</td>
                <td>{h.device ?? "—"}</td>
                <td>
                  {d ? (d.rpmSize ? t("comm.bacnet.rpm", { n: d.rpmSize }) : t("comm.bacnet.rp")) : "—"}
                  {d?.missing.length ? <span class="err"> {t("comm.bacnet.missing", { list: d.missing.map((m) => `${m.object} (${m.error})`).join(", ") })}</span> : null}
                </td>
                <td>{d ? `${t(`comm.bacnet.cov.${d.cov}`)}${d.covReason && d.cov !== "active" ? ` — ${d.covReason}` : ""}` : "—"}</td>
                <td>{ago(t, h.lastSeen, now)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/**
 * Communication page: per bus and device, status, request plan, requests/s, errors, timeouts,
 * last error, response time, cycle time against the configured rate. Dead devices stand out (a
 * coloured, bold status text and a hatched row: abnormal is the only thing in colour).
 * The statistics block of each bus refreshes itself every 2 s through htmx (GET /comm/bus/:id).
 */

export type BusStatsView = BusStats & { restarts?: number };
export type StatsEntry = BusStatsView | { bus: string; kind: string; connected: false; restarting: true; restarts: number };

const isFull = (s: StatsEntry | undefined): s is BusStatsView => !!s && !("restarting" in s);

export function busAddress(b: BusConfig): string {
  if (b.kind === "bacnet-ip") return `BACnet/IP ${b.interface ?? "*"}:${b.port} → ${b.broadcast}`;
  return "host" in b ? `${b.host}:${b.port}` : `${b.port} ${b.baud} ${b.parity}`;
}

function ago(t: T, at: number | null, now: number): string {
  if (!at) return t("comm.never");
  return t("comm.ago", { s: Math.max(0, Math.round((now - at) / 1000)) });
}

function ms(v: number | null | undefined, lang: Lang): string {
  if (v === null || v === undefined) return "—";
  return `${v < 10 ? v.toLocaleString(lang === "fr" ? "fr-CA" : "en-CA", { maximumFractionDigits: 1, minimumFractionDigits: 1 }) : fmtNumber(Math.round(v), lang)} ms`;
}

export function deviceDead(d: DeviceStats): boolean {
  return d.status !== "ok" && d.status !== "unknown";
}

/** The part of a bus card that refreshes: bus figures and the devices table. */
export function CommBusLive(props: { site: Site; bus: BusConfig; stats: StatsEntry | undefined; lang: Lang; now: number }) {
  const { bus, stats, lang, now } = props;
  const t = translator(lang);
  const full = isFull(stats) ? stats : undefined;
  const devices = props.site.devices.filter((d) => d.bus === bus.id && d.enabled);
  const byId = new Map((full?.devices ?? []).map((d) => [d.id, d]));
  const status = !stats ? "restarting" : full ? (full.connected ? (full.silent ? "silent" : "connected") : "disconnected") : "restarting";
  const dead = devices.filter((d) => {
    const s = byId.get(d.id);
    return s && deviceDead(s);
  }).length;
  return (
    <div class="comm-live" data-bus={bus.id}>
      <div class="comm-figs">
        <div class={`fig status st-${status}`}>
          <span class="k">{t("comm.status")}</span>
          <span class="v">{t(`comm.${status}`)}</span>
        </div>
        <div class="fig">
          <span class="k">{t("comm.requestsPerSec")}</span>
          <span class="v">{full ? fmtNumber(full.requestsPerSec, lang) : "—"}</span>
        </div>
        <div class="fig">
          <span class="k">{t("comm.response")}</span>
          <span class="v">
            {full ? `${ms(full.responseMs, lang)} / ${ms(full.maxResponseMs, lang)}` : "—"}
          </span>
        </div>
        <div class="fig">
          <span class="k">{t("comm.busy")}</span>
          <span class="v">{full ? `${fmtNumber(Math.round(full.busy * 100), lang)} %` : "—"}</span>
        </div>
        <div class={`fig${full && full.errors ? " warn" : ""}`}>
          <span class="k">{t("comm.errors")}</span>
          <span class="v">{full ? full.errors : "—"}</span>
        </div>
        <div class={`fig${full && full.timeouts ? " warn" : ""}`}>
          <span class="k">{t("comm.timeouts")}</span>
          <span class="v">{full ? full.timeouts : "—"}</span>
        </div>
        <div class="fig">
          <span class="k">{t("comm.exceptions")}</span>
          <span class="v">{full ? full.exceptions : "—"}</span>
        </div>
        <div class="fig">
          <span class="k">{t("comm.reconnects")}</span>
          <span class="v">{full ? full.reconnects : "—"}</span>
        </div>
        <div class={`fig${stats?.restarts ? " warn" : ""}`}>
          <span class="k">{t("comm.restarts")}</span>
          <span class="v">{stats?.restarts ?? 0}</span>
        </div>
        <div class={`fig summary${dead ? " bad" : ""}`}>
          <span class="v">{dead ? t("comm.deadCount", { n: dead }) : full ? t("comm.allOk") : t("comm.noStats")}</span>
        </div>
      </div>
      <div class="table-scroll">
        <table class="comm-devices">
          <thead>
            <tr>
              <th data-col="comm.device">{t("comm.device")}</th>
              <th data-col="comm.unit">{t("comm.unit")}</th>
              <th data-col="comm.status">{t("comm.status")}</th>
              <th class="num" data-col="comm.requests">{t("comm.requests")}</th>
              <th class="num" data-col="comm.errors">{t("comm.errors")}</th>
              <th class="num" data-col="comm.timeouts">{t("comm.timeouts")}</th>
              <th class="num" data-col="comm.cycle">{t("comm.cycle")}</th>
              <th data-col="comm.lastGood">{t("comm.lastGood")}</th>
              <th data-col="comm.lastError">{t("comm.lastError")}</th>
            </tr>
          </thead>
          <tbody>
            {devices.map((d) => {
              const s = byId.get(d.id);
              const st = s?.status ?? "unknown";
              const isDead = s ? deviceDead(s) : false;
              const slow = s?.cycleMs != null && s.cycleMs > s.pollMs;
              return (
                <tr class={isDead ? "dead" : undefined} data-device={d.id} data-status={st}>
                  <td>
                    {/* To this device's own reads, the failing one marked (below, in the request plan). */}
                    <a class="dev-link" href={`/comm?device=${encodeURIComponent(d.id)}#reads-${encodeURIComponent(d.id)}`} title={t("comm.readsOf", { device: d.id })}>
                      <b>{d.id}</b>
                    </a>
                    {labelIn(d, lang) ? <span class="dev-label">{labelIn(d, lang)}</span> : null}
                  </td>
                  <td class="num">{d.instance ?? d.unit}</td>
                  <td>
                    <span class={`dev-status ds-${st}`}>{t(`comm.dev.${st}`)}</span>
                  </td>
                  <td class="num">{s ? s.requests : "—"}</td>
                  <td class="num">{s ? s.errors : "—"}</td>
                  <td class="num">{s ? s.timeouts : "—"}</td>
                  <td class={`num${slow ? " warn" : ""}`}>
                    {t("comm.cycleOf", { cycle: s ? ms(s.cycleMs, lang) : "—", period: period(s ? s.pollMs : d.pollMs, lang) })}
                    {slow ? <span class="slow"> ({t("comm.slow")})</span> : null}
                  </td>
                  <td>{s ? ago(t, s.lastGoodAt, now) : "—"}</td>
                  <td class="err">{s?.lastError ? `${s.lastError} (${ago(t, s.lastErrorAt, now)})` : "—"}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <p class="hint comm-legend">{t("comm.cycleLegend")}</p>
      {full && "bacnet" in full ? <BacnetDiscovery stats={full as BacnetStats} t={t} now={now} /> : null}
    </div>
  );
}

/** A poll period in words: "1 s", "250 ms". */
function period(msv: number, lang: Lang): string {
  return msv >= 1000 && msv % 100 === 0 ? `${(msv / 1000).toLocaleString(lang === "fr" ? "fr-CA" : "en-CA", { maximumFractionDigits: 1 })} s` : ms(msv, lang);
}

/** The read a device's last error names ("FC3 32077×2: …"), when the device is failing. */
export function failingRead(d: DeviceStats | undefined, reads: readonly PlannedRead[]): PlannedRead | undefined {
  if (!d || d.status === "ok" || d.status === "unknown" || !d.lastError) return undefined;
  const m = /^FC(\d+) (\d+)×(\d+)/.exec(d.lastError);
  if (!m) return undefined;
  return reads.find((r) => r.fc === Number(m[1]) && r.start === Number(m[2]) && r.count === Number(m[3]));
}

/**
 * A device's request plan: the configured one, or what the device taught us (reads split where it
 * refused a merged read, refused registers marked and when they are asked again).
 */
function DevicePlan(props: { configured: PlannedRead[]; learned: LearnedPlanView | undefined; lang: Lang; now: number }) {
  const t = translator(props.lang);
  const { learned } = props;
  if (!learned?.learned)
    return (
      <ol>
        {props.configured.map((r) => (
          <li>
            <code>{describeRead(r)}</code>
          </li>
        ))}
      </ol>
    );
  return (
    <div class="learned-plan">
      <p class="plan-note">
        {t("comm.planLearned", { n: learned.reads.length, configured: props.configured.length })}
        {learned.refused.length ? ` ${t("comm.planRefused", { tags: learned.refused.join(", ") })}` : ""}
      </p>
      <ol>
        {learned.reads.map((r) => (
          <li class={r.state === "refused" ? "refused" : undefined} data-state={r.state}>
            <code>{r.text}</code>
            {r.state === "refused" ? (
              <span class="refused-tag"> {t("comm.planHole", { min: Math.max(0, Math.ceil(((r.reprobeAt ?? props.now) - props.now) / 60_000)) })}</span>
            ) : null}
          </li>
        ))}
      </ol>
      <details class="plan-configured">
        <summary>{t("comm.planConfigured", { n: props.configured.length })}</summary>
        <ol>
          {props.configured.map((r) => (
            <li>
              <code>{describeRead(r)}</code>
            </li>
          ))}
        </ol>
      </details>
    </div>
  );
}

export function CommPage(props: {
  site: Site;
  stats: StatsEntry[];
  plans: Map<string, PlannedRead[]>;
  /** The plan in force per device, as its worker learned it (else the configured one is shown). */
  learned?: (device: string) => LearnedPlanView | undefined;
  lang: Lang;
  user?: { name: string; role: string };
  path: string;
  csrf?: string;
  now: number;
  /** The device whose reads are opened (`/comm?device=ID`). */
  device?: string;
  /** The site's Modbus TCP gateway card, when it runs. */
  gateway?: unknown;
}) {
  const { site, lang } = props;
  const t = translator(lang);
  const isAdmin = props.user?.role === "admin";
  const stats = (bus: string) => {
    const e = props.stats.find((s) => s.bus === bus);
    return isFull(e) ? e : undefined;
  };
  return (
    <Layout title={t("comm.title")} siteName={site.site.name} lang={lang} user={props.user} active="comm" path={props.path} timeZone={site.site.timezone}>
      <div class="page-pad comm">
        <h1>{t("comm.title")}</h1>
        {site.buses.map((bus) => (
          <section class="bus-card" id={`bus-${bus.id}`}>
            <header class="bus-head">
              <h2>{t("comm.bus", { bus: bus.id })}</h2>
              <span class="bus-addr">
                {t("comm.busLine", { kind: bus.kind, addr: busAddress(bus), timeout: bus.timeoutMs, tries: bus.retries + 1 })}
              </span>
              {isAdmin ? (
                <span class="scan">
                  <button
                    type="button"
                    class="btn"
                    hx-post={`/api/buses/${encodeURIComponent(bus.id)}/scan`}
                    hx-target={`#scan-${bus.id}`}
                    hx-headers={JSON.stringify({ "x-csrf-token": props.csrf ?? "" })}
                    title={t("comm.scanNote")}
                  >
                    {bus.kind === "bacnet-ip" ? t("comm.whois") : t("comm.scan")}
                  </button>
                </span>
              ) : null}
            </header>
            <div id={`scan-${bus.id}`} class="scan-result"></div>
            <div hx-get={`/comm/bus/${encodeURIComponent(bus.id)}`} hx-trigger="every 2s" hx-swap="innerHTML">
              <CommBusLive site={site} bus={bus} stats={props.stats.find((s) => s.bus === bus.id)} lang={lang} now={props.now} />
            </div>
            <h3 class="plans-title">
              {t("comm.plan", {
                n: site.devices
                  .filter((d) => d.bus === bus.id && d.enabled)
                  .reduce((s, d) => s + (props.learned?.(d.id)?.reads.length ?? props.plans.get(d.id)?.length ?? 0), 0),
              })}
              {site.devices.some((d) => d.bus === bus.id && d.enabled && props.learned?.(d.id)?.refused.length) ? <span class="plan-flag"> · {t("comm.planHasRefused")}</span> : null}
            </h3>
            <div class="plans">
              {site.devices
                .filter((d) => d.bus === bus.id && d.enabled)
                .map((d) => {
                  const reads = props.plans.get(d.id) ?? [];
                  const ds = stats(bus.id)?.devices.find((x) => x.id === d.id);
                  const bad = failingRead(ds, reads);
                  return (
                    <details class={`plan${bad || (ds && deviceDead(ds)) ? " plan-bad" : ""}`} id={`reads-${d.id}`} open={props.device === d.id || !!bad}>
                      <summary>
                        <b>{d.id}</b> <span class="dev-label">{t("comm.planDevice", { unit: d.unit, profile: d.profile })}</span> · {t("comm.reads", { n: reads.length })}
                      </summary>
                      {props.learned?.(d.id)?.learned ? (
                        // What the device taught us (split or refused reads); the failing read is in its last error.
                        <>
                          {ds?.lastError && deviceDead(ds) ? (
                            <div class="read-err" role="status">
                              ✖ {ds.lastError} ({ago(t, ds.lastErrorAt, props.now)})
                            </div>
                          ) : null}
                          <DevicePlan configured={reads} learned={props.learned?.(d.id)} lang={lang} now={props.now} />
                        </>
                      ) : (
                        <ol>
                          {reads.map((r) => (
                            <li class={r === bad ? "read-bad" : undefined} data-read={`FC${r.fc}:${r.start}`}>
                              <code>{describeRead(r)}</code>
                              {r === bad && ds ? (
                                <div class="read-err" role="status">
                                  ✖ {ds.lastError} ({ago(t, ds.lastErrorAt, props.now)})
                                </div>
                              ) : null}
                            </li>
                          ))}
                        </ol>
                      )}
                    </details>
                  );
                })}
            </div>
          </section>
        ))}
        {props.gateway}
      </div>
    </Layout>
  );
}
