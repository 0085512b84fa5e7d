import { translator, type Lang } from "../../i18n/index.ts";
import { Layout } from "../layout.tsx";
import type { PageRequest } from "../page-context.ts";

/** What the BMS sees: each served object with its live value and health, and the COV subscriptions. */

export interface ObjectRow {
  id: string;
  name: string;
  point: string;
  value: string;
  unit: string;
  flags: string;
  reliability: string;
  writable: boolean;
  priority: string;
  subscribers: number;
}
export interface SubscriptionRow {
  client: string;
  processId: number;
  object: string;
  confirmed: boolean;
  /** seconds; null = indefinite */
  remaining: number | null;
  notifications: number;
}
export interface BacnetFacts {
  instance: number;
  name: string;
  endpoint: string;
  databaseRevision: number;
  vendorId: number;
  writeClients: string[];
  requests: number;
  rejected: number;
  aborted: number;
}

export function BacnetTables(props: { lang: Lang; objects: ObjectRow[]; subs: SubscriptionRow[] }) {
  const t = translator(props.lang);
  return (
    <div id="bacnet-live">
      <h2>{t("bacnet.subscriptions")} ({props.subs.length})</h2>
      {props.subs.length === 0 ? (
        <p class="hint">{t("bacnet.subscriptions.none")}</p>
      ) : (
        <div class="table-scroll">
          <table class="pts">
            <thead>
              <tr>
                <th>{t("bacnet.client")}</th>
                <th>{t("bacnet.object")}</th>
                <th>{t("bacnet.kind")}</th>
                <th class="num">{t("bacnet.remaining")}</th>
                <th class="num">{t("bacnet.notifications")}</th>
              </tr>
            </thead>
            <tbody>
              {props.subs.map((s) => (
                <tr>
                  <td>
                    {s.client} / {s.processId}
                  </td>
                  <td>{s.object}</td>
                  <td>{s.confirmed ? t("bacnet.confirmed") : t("bacnet.unconfirmed")}</td>
                  <td class="num">{s.remaining === null ? t("bacnet.indefinite") : `${s.remaining} s`}</td>
                  <td class="num">{s.notifications}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>{t("bacnet.objects")} ({props.objects.length})</h2>
      <div class="table-scroll">
        <table class="pts">
          <thead>
            <tr>
              <th>{t("bacnet.objectId")}</th>
              <th>Object_Name</th>
              <th>{t("bacnet.point")}</th>
              <th class="num">Present_Value</th>
              <th>Status_Flags</th>
              <th>Reliability</th>
              <th>{t("bacnet.writable")}</th>
              <th class="num">COV</th>
            </tr>
          </thead>
          <tbody>
            {props.objects.map((o) => (
              <tr data-quality={o.flags === "—" ? "good" : "bad"}>
                <td>
                  <code>{o.id}</code>
                </td>
                <td>{o.name}</td>
                <td>{o.point}</td>
                <td class="num">
                  {o.value} {o.unit}
                </td>
                <td>{o.flags}</td>
                <td>{o.reliability}</td>
                <td>{o.writable ? (o.priority ? `${t("bacnet.yes")} (${o.priority})` : t("bacnet.yes")) : "—"}</td>
                <td class="num">{o.subscribers || ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

export function BacnetPage(props: { req: PageRequest; siteName: string; facts: BacnetFacts | undefined; objects: ObjectRow[]; subs: SubscriptionRow[]; admin: boolean }) {
  const t = translator(props.req.lang);
  const f = props.facts;
  return (
    <Layout title={t("bacnet.title")} siteName={props.siteName} lang={props.req.lang} path={props.req.path} user={props.req.user} active="bacnet">
      <div class="page-pad">
        <h1>{t("bacnet.title")}</h1>
        {!f ? (
          <p class="hint">{t("bacnet.disabled")}</p>
        ) : (
          <>
            <p class="hint">
              {t("bacnet.device", { name: f.name, instance: f.instance, endpoint: f.endpoint, rev: f.databaseRevision, vendor: f.vendorId })}
            </p>
            <p class="hint">
              {t("bacnet.writeClients")}: {f.writeClients.length ? f.writeClients.join(", ") : t("bacnet.writeClients.none")} · {t("bacnet.stats", { requests: f.requests, rejected: f.rejected, aborted: f.aborted })}
            </p>
            {props.admin && (
              <p>
                <a class="btn" href="/admin/bacnet/ede.zip" download>
                  ↓ {t("bacnet.ede")}
                </a>
              </p>
            )}
            <div hx-get="/bacnet?fragment=1" hx-trigger="every 2s" hx-swap="outerHTML" hx-target="#bacnet-live">
              <BacnetTables lang={props.req.lang} objects={props.objects} subs={props.subs} />
            </div>
          </>
        )}
      </div>
    </Layout>
  );
}
