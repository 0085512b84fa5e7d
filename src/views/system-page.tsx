import { translator } from "../i18n/index.ts";
import type { HistorianConfig, BackupConfig } from "../historian/config.ts";
import type { HistorianStats } from "../historian/historian.ts";
import { Layout } from "./layout.tsx";
import type { PageRequest } from "./page-context.ts";

/** System: history database size per tier, the writer's health, backup download, restore upload. */

const TABLE_LABEL: Record<string, string> = {
  h_raw: "system.tier.raw",
  h_1m: "system.tier.1m",
  h_15m: "system.tier.15m",
  h_1h: "system.tier.1h",
  h_1d: "system.tier.1d",
  h_1mo: "system.tier.1mo",
};
const RETENTION_KEY: Record<string, keyof HistorianConfig["retention"]> = {
  h_raw: "rawDays",
  h_1m: "minuteDays",
  h_15m: "quarterDays",
  h_1h: "hourDays",
  h_1d: "dayDays",
  h_1mo: "monthDays",
};

export function fmtBytes(n: number, lang: string): string {
  const nf = new Intl.NumberFormat(lang === "en" ? "en-CA" : "fr-CA", { maximumFractionDigits: 1 });
  if (n >= 1024 ** 3) return `${nf.format(n / 1024 ** 3)} GB`;
  if (n >= 1024 ** 2) return `${nf.format(n / 1024 ** 2)} MB`;
  if (n >= 1024) return `${nf.format(n / 1024)} kB`;
  return `${n} B`;
}

export function SystemPage(props: {
  req: PageRequest;
  siteName: string;
  csrf: string;
  sizes: { table: string; bytes: number; rows: number }[] | undefined;
  stats: HistorianStats | undefined;
  queue: number;
  retention: HistorianConfig["retention"];
  schedule: BackupConfig | undefined;
  files: { name: string; bytes: number }[];
  restored: boolean;
}) {
  const lang = props.req.lang;
  const t = translator(lang);
  const nf = new Intl.NumberFormat(lang === "en" ? "en-CA" : "fr-CA");
  const total = (props.sizes ?? []).reduce((s, r) => s + r.bytes, 0);
  return (
    <Layout title={t("system.title")} siteName={props.siteName} lang={lang} path={props.req.path} user={props.req.user} active="admin" styles={["/assets/alarms.css"]} scripts={["/assets/system.js"]}>
      <h1>{t("system.title")}</h1>
      {props.restored ? <p class="notice">{t("system.restored")}</p> : null}
      <h2>{t("system.history")}</h2>
      {props.sizes ? (
        <table class="data system-sizes">
          <thead>
            <tr>
              <th>{t("system.tier")}</th>
              <th>{t("system.retention")}</th>
              <th class="num">{t("system.rows")}</th>
              <th class="num">{t("system.size")}</th>
            </tr>
          </thead>
          <tbody>
            {props.sizes.map((r) => {
              const keep = props.retention[RETENTION_KEY[r.table]!];
              return (
                <tr data-table={r.table}>
                  <td>{t(TABLE_LABEL[r.table] ?? r.table)}</td>
                  <td>{keep === "forever" ? t("system.forever") : t("system.days", { n: nf.format(keep) })}</td>
                  <td class="num">{nf.format(r.rows)}</td>
                  <td class="num">{fmtBytes(r.bytes, lang)}</td>
                </tr>
              );
            })}
            <tr class="total">
              <td colspan={3}>{t("system.total")}</td>
              <td class="num">{fmtBytes(total, lang)}</td>
            </tr>
          </tbody>
        </table>
      ) : (
        <p>{t("system.historyOff")}</p>
      )}
      {props.stats ? (
        <p class="hint">
          {t("system.writer", {
            stored: nf.format(props.stats.stored),
            queue: nf.format(props.queue),
            dropped: nf.format(props.stats.dropped),
            commit: props.stats.lastCommitMs.toFixed(1),
            maxCommit: props.stats.maxCommitMs.toFixed(1),
          })}
        </p>
      ) : null}
      <h2>{t("system.backup")}</h2>
      <p>{t("system.backupHint")}</p>
      <p>
        <a class="btn btn-big" href="/admin/system/backup" download>
          ↓ {t("system.download")}
        </a>
      </p>
      {props.schedule ? (
        <>
          <p class="hint">{t("system.scheduled", { folder: props.schedule.folder, hours: String(props.schedule.everyHours), keep: String(props.schedule.keep) })}</p>
          <ul class="backup-files">
            {props.files.map((f) => (
              <li>
                {f.name} ({fmtBytes(f.bytes, lang)})
              </li>
            ))}
          </ul>
        </>
      ) : (
        <p class="hint">{t("system.noSchedule")}</p>
      )}
      <h2>{t("system.restore")}</h2>
      <p>{t("system.restoreHint")}</p>
      <form id="restore-form" data-csrf={props.csrf}>
        <input type="file" id="restore-file" accept=".tar,.busbar.tar" required class="btn-big" />
        <button type="submit" class="btn btn-big btn-danger">
          {t("system.restoreButton")}
        </button>
      </form>
      <p id="restore-status" role="status" aria-live="polite"></p>
    </Layout>
  );
}
