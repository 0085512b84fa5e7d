import type { Context, Hono } from "hono";
import { loadProfiles } from "../../config/profiles.ts";
import { DEFAULT_PROBE, scanCandidate, type ScanCandidate, type ScanResult } from "../../protocols/modbus/rtu-scan.ts";
import type { AppContext } from "../context.ts";
import type { IAmInfo } from "../../drivers/bacnet/messages.ts";
import { SEGMENTATION } from "../../protocols/bacnet/objects.ts";

/**
 * Bus scanner for commissioning (admin only: a scan loads the bus), from the communication page.
 *
 * POST /api/buses/:id/scan        starts a scan of units `from`..`to` (default 1..247) with a short
 *                                  `timeoutMs` (default 100), run by the bus worker between its polls;
 *                                  while one runs, answers with that one instead of starting another.
 * POST /api/buses/:id/scan?scan=N  the state of scan N (progress, then the result): never starts one.
 * `wait=1` answers only when the scan is over. Parameters come from the query or a form/JSON body.
 *
 * htmx requests (the page's Scan button) get an HTML fragment that polls itself until the scan is
 * over; other clients get JSON.
 */

const TEXT = {
  fr: {
    running: (d: number, t: number) => `Balayage en cours : ${d} / ${t} adresses…`,
    done: (n: number, s: string) => `${n} appareil(s) ont répondu (balayage en ${s} s).`,
    none: "Aucun appareil n'a répondu.",
    cancelled: "Balayage interrompu.",
    unit: "Adresse",
    answer: "Réponse",
    ms: "ms",
    looks: "Ressemble à",
    configured: "Configuré",
    reply: "réponse",
    exception: (c: number) => `exception ${c}`,
    garbled: "réponse illisible (vitesse, parité, câblage ?)",
    missing: (u: number, d: string) => `Adresse ${u} : ${d} est configuré mais n'a pas répondu.`,
  },
  en: {
    running: (d: number, t: number) => `Scanning: ${d} / ${t} units…`,
    done: (n: number, s: string) => `${n} device(s) answered (scan took ${s} s).`,
    none: "Nobody answered.",
    cancelled: "Scan cancelled.",
    unit: "Unit",
    answer: "Answer",
    ms: "ms",
    looks: "Looks like",
    configured: "Configured",
    reply: "reply",
    exception: (c: number) => `exception ${c}`,
    garbled: "garbled answer (baud, parity, wiring?)",
    missing: (u: number, d: string) => `Unit ${u}: ${d} is configured but did not answer.`,
  },
};

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

let candidates: ScanCandidate[] | undefined;

function renderResult(r: ScanResult, tx: (typeof TEXT)["en"]): string {
  const rows = r.hits
    .map((h) => {
      const answer = h.answer === "reply" ? tx.reply : h.answer === "exception" ? tx.exception(h.exception ?? 0) : tx.garbled;
      const looks = h.identified.map((i) => `${esc(i.name)} (${esc(i.profile)})`).join(", ");
      const conf = h.configured ? `${esc(h.configured.device)} (${esc(h.configured.profile)})` : "";
      return `<tr><td>${h.unit}</td><td>${esc(answer)}</td><td>${h.ms}</td><td>${looks}</td><td>${conf}</td></tr>`;
    })
    .join("");
  const missing = r.missing.map((m) => `<p class="scan-missing">${esc(tx.missing(m.unit, m.device))}</p>`).join("");
  const head = r.cancelled ? tx.cancelled : r.hits.length ? tx.done(r.hits.length, (r.durationMs / 1000).toFixed(1)) : tx.none;
  const table = r.hits.length
    ? `<table class="scan-table"><thead><tr><th>${tx.unit}</th><th>${tx.answer}</th><th>${tx.ms}</th><th>${tx.looks}</th><th>${tx.configured}</th></tr></thead><tbody>${rows}</tbody></table>`
    : "";
  return `<div class="scan-done" data-scan-done="1"><p>${esc(head)}</p>${table}${missing}</div>`;
}

const WHOIS_TEXT = {
  fr: { none: "Aucun appareil BACnet n'a répondu au Who-Is.", done: (n: number) => `${n} appareil(s) BACnet ont répondu (I-Am).`, cols: ["Instance", "Adresse", "Fabricant", "APDU max", "Segmentation", "Configuré"] },
  en: { none: "No BACnet device answered the Who-Is.", done: (n: number) => `${n} BACnet device(s) answered (I-Am).`, cols: ["Instance", "Address", "Vendor", "Max APDU", "Segmentation", "Configured"] },
};

export function renderWhoIs(heard: IAmInfo[], lang: "fr" | "en"): string {
  const tx = WHOIS_TEXT[lang];
  const rows = heard
    .map((h) => `<tr><td>${h.instance}</td><td>${esc(h.address)}</td><td>${h.vendorId}</td><td>${h.maxApdu}</td><td>${esc(SEGMENTATION[h.segmentation] ?? h.segmentation)}</td><td>${esc(h.device ?? "")}</td></tr>`)
    .join("");
  const table = heard.length ? `<table class="scan-table"><thead><tr>${tx.cols.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>${rows}</tbody></table>` : "";
  return `<div class="scan-done" data-scan-done="1"><p>${esc(heard.length ? tx.done(heard.length) : tx.none)}</p>${table}</div>`;
}

export function registerScanRoutes(app: Hono, ctx: AppContext): void {
  app.post("/api/buses/:id/scan", async (c: Context) => {
    const busId = c.req.param("id")!;
    const bus = ctx.site.buses.find((b) => b.id === busId);
    if (!bus) return c.json({ error: `no bus "${busId}"` }, 404);
    // Parameters: query string, then a form or JSON body.
    const params: Record<string, string> = { ...c.req.query() };
    const type = c.req.header("content-type") ?? "";
    try {
      if (type.includes("application/json")) Object.assign(params, Object.fromEntries(Object.entries((await c.req.json()) as object).map(([k, v]) => [k, String(v)])));
      else if (type.includes("form")) for (const [k, v] of Object.entries(await c.req.parseBody())) if (typeof v === "string") params[k] = v;
    } catch {
      return c.json({ error: "unreadable body" }, 400);
    }
    const num = (k: string, dflt: number, min: number, max: number): number | string => {
      if (params[k] === undefined || params[k] === "") return dflt;
      const n = Number(params[k]);
      return Number.isInteger(n) && n >= min && n <= max ? n : `${k} must be ${min}..${max}`;
    };
    const htmx = c.req.header("hx-request") === "true";
    const tx = TEXT[ctx.site.site.language === "en" ? "en" : "fr"];
    if (bus.kind === "bacnet-ip") {
      // BACnet/IP: a Who-Is (optionally for an instance range), and the I-Ams heard within waitMs.
      const low = num("low", -1, 0, 4_194_303);
      const high = num("high", -1, 0, 4_194_303);
      const waitMs = num("waitMs", 3000, 200, 30_000);
      for (const v of [low, high, waitMs]) if (typeof v === "string") return c.json({ error: v }, 400);
      const range = (low as number) >= 0 ? { low: low as number, high: (high as number) >= 0 ? (high as number) : (low as number) } : undefined;
      const heard = await ctx.bacnet.whoIs(busId, range?.low, range?.high, waitMs as number);
      if ("error" in heard) return c.json({ error: heard.error }, 409);
      if (!htmx) return c.json({ bus: busId, heard });
      return c.html(renderWhoIs(heard, ctx.site.site.language === "en" ? "en" : "fr"));
    }
    const sup = ctx.modbus;

    let id: number;
    if (params.scan !== undefined) {
      const state = sup.scanState(busId);
      if (!state || String(state.id) !== params.scan) return c.json({ error: `no scan ${params.scan} on bus ${busId}` }, 404);
      id = state.id;
    } else {
      const from = num("from", 1, 1, 247);
      const to = num("to", 247, 1, 247);
      const timeoutMs = num("timeoutMs", 100, 20, 5000);
      for (const v of [from, to, timeoutMs]) if (typeof v === "string") return c.json({ error: v }, 400);
      if ((to as number) < (from as number)) return c.json({ error: "to must not be below from" }, 400);
      candidates ??= [...loadProfiles().values(), ...ctx.site.profiles.values()].map(scanCandidate).filter((x): x is ScanCandidate => x !== undefined);
      const configured: Record<number, { device: string; profile: string }> = {};
      for (const d of ctx.site.devices) if (d.bus === busId && d.enabled) configured[d.unit] = { device: d.id, profile: d.profile };
      const started = sup.scan(busId, { from: from as number, to: to as number, timeoutMs: timeoutMs as number, probe: DEFAULT_PROBE, candidates, configured });
      if ("error" in started) return c.json({ error: started.error }, 409);
      id = started.id;
      if (params.wait === "1" || params.wait === "true") await started.done;
    }
    if (params.wait === "1" || params.wait === "true") {
      const s = sup.scanState(busId);
      if (s && s.id === id && !s.result) await new Promise<void>((r) => {
        const t = setInterval(() => {
          const now = sup.scanState(busId);
          if (!now || now.id !== id || now.result) {
            clearInterval(t);
            r();
          }
        }, 100);
      });
    }
    const state = sup.scanState(busId)!;
    if (!htmx) return c.json({ bus: busId, ...state }, state.running ? 202 : 200);
    if (state.result) return c.html(renderResult(state.result, tx));
    // Still running: a fragment that asks again in a second (for this scan only).
    return c.html(
      `<div class="scan-running" hx-post="/api/buses/${encodeURIComponent(busId)}/scan?scan=${state.id}" hx-trigger="load delay:1s" hx-swap="outerHTML"><p>${esc(tx.running(state.done, state.total))}</p><progress max="${state.total}" value="${state.done}"></progress></div>`,
    );
  });
}
