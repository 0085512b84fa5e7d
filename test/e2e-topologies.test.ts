import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { loadProfiles } from "../src/config/profiles.ts";
import { parseSite, type Site } from "../src/config/site.ts";
import { parseYaml } from "../src/config/profile.ts";
import { DEMO_SITE } from "../src/embedded.ts";
import { DICTS, LANGS, type Lang } from "../src/i18n/index.ts";
import { buildOneLineModel, type NodeModel, type OneLineModel } from "../src/hmi/oneline/model.ts";
import { Quality } from "../src/points/quality.ts";
import { startBusbar, type Busbar } from "../src/server/runtime.ts";
import { artifact, fortySite, KIOSK, launchChromium, newPage, SIZES, twinSite } from "./helpers/browser.ts";

/**
 * Other sites render sensibly from their file alone: the demo, two incomers with a tie breaker and
 * an ATS fed through a generator breaker, and 40 feeders. Drawn in Chromium at 1920×1080, on a
 * phone (390 px) and on a phone on its side, with wide values on every point, in both languages;
 * no two texts may overlap, no wire, busbar or symbol may cross a text, and nothing may leave the
 * drawing (issue 14 item 12: on the phone, labels stay clear of the wires). Checked as rendered,
 * then again with every symbol showing the widest state and quality reason it can show (live
 * updates change only those and the values). Screenshots (the widest case):
 * test/artifacts/topology-*.png.
 */

let browser: Browser;

/** Busbar on a site whose bus answers nothing; the test writes every shown point itself. */
async function staticBusbar(site: Site): Promise<Busbar> {
  const s: Site = { ...site, buses: site.buses.map((b) => ({ ...b, host: "127.0.0.1", port: 1, timeoutMs: 50, retries: 0, backoffMs: 600_000 }) as typeof b) };
  const busbar = await startBusbar({ site: s, dbPath: ":memory:", httpPort: 0, httpHost: "127.0.0.1", kiosk: KIOSK, log: () => {} });
  const model = buildOneLineModel(s, busbar.registry);
  // Wait for the worker's one failure (then it backs off for 10 min), then write good values.
  const first = busbar.registry.points[0]!;
  const deadline = Date.now() + 10_000;
  while (busbar.live.value(first).quality === "init" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 200));
  const ts = Date.now() + 120_000; // never stale during the test
  for (const id of model.points) {
    const p = busbar.registry.byId.get(id)!;
    const role = p.role ?? "";
    const v = role === "breaker.tripped" ? 0 : p.kind === "digital" ? 1 : role === "bess.soc" ? 88.8 : role === "frequency" ? 60.01 : -8888.8;
    busbar.table.write(p.index, v, ts, Quality.GOOD, 0);
  }
  return busbar;
}

/** The state texts a node can show, with the state class each comes with (mirrors state.ts/diagram.tsx). */
function stateTexts(n: NodeModel, lang: Lang): [cls: string, text: string][] {
  const d = DICTS[lang];
  const of = (prefix: string, cls: string, keys: string[]) => keys.map((k): [string, string] => [`${cls}${k}`, d[`${prefix}.${k}`]!]);
  switch (n.kind) {
    case "breaker":
      return of("brk", "st-", ["closed", "open", "tripped", "unknown"]);
    case "ats":
      return n.noData ? [["pos-unknown", d["src.nodata"]!]] : of("ats", "pos-", ["normal", "emergency", "neutral", "unknown"]);
    case "source":
      if (n.noData) return [["ss-nodata", d["src.nodata"]!]];
      if (n.running) return of("src", "ss-", ["running", "stopped", "unknown"]);
      if (n.available) return of("src", "ss-", ["live", "lost", "unknown"]);
      return n.sourceKind === "utility" || n.sourceKind === "generator" ? of("src", "ss-", ["unknown"]) : [];
    default:
      return [];
  }
}

/** The quality reasons a node can show ("no comm.", "no device"...): any bad quality of its points. */
function reasonTexts(n: NodeModel, lang: Lang): string[] {
  const d = DICTS[lang];
  const bad = Object.keys(d).filter((k) => k.startsWith("qs.") && k !== "qs.good" && k !== "qs.nodata");
  return [...(n.points.length ? bad : []), ...(n.noData ? ["qs.nodata"] : [])].map((k) => d[k]!);
}

/**
 * Puts every symbol in its widest case: the state text (with its class: TRIPPED and EMERGENCY are
 * drawn larger) and the quality reason that measure widest, and every value marked not good (a
 * value with state texts at its widest one).
 */
async function showWidest(page: Page, orient: "wide" | "tall", model: OneLineModel, lang: Lang): Promise<void> {
  const cases = Object.fromEntries([...model.nodes.values()].map((n) => [n.id, { st: stateTexts(n, lang), qr: reasonTexts(n, lang) }]));
  await page.$eval(
    `.ol-${orient}`,
    (svg, cases) => {
      // Widths depend on the text and the state class only: measure each pair once (every
      // measurement after a class change lays the drawing out again).
      const widths = new Map<string, number>();
      const measure = (g: SVGGElement, el: SVGTextElement, cls: string, text: string) => {
        const key = `${el.getAttribute("class")}|${cls}|${text}`;
        if (!widths.has(key)) {
          g.setAttribute("class", cls);
          el.textContent = text;
          widths.set(key, el.getBBox().width);
        }
        return widths.get(key)!;
      };
      const widest = <T,>(xs: T[], width: (x: T) => number): T | undefined => {
        let best: T | undefined;
        let bestW = -1;
        for (const x of xs) {
          const w = width(x);
          if (w > bestW) [best, bestW] = [x, w];
        }
        return best;
      };
      for (const g of svg.querySelectorAll<SVGGElement>(".nd[data-id]")) {
        const c = cases[g.dataset.id!]!;
        const st = g.querySelector<SVGTextElement>(":scope > .st")!;
        const qr = g.querySelector<SVGTextElement>(":scope > .qr")!;
        const base = [...g.classList].filter((k) => !/^(st|pos|ss|q)-/.test(k) && k !== "sel" && k !== "selby");
        const q = c.qr.length ? "q-bad" : "q-good";
        const classOf = (stateCls: string) => [...base, stateCls, q].join(" ");
        const [stCls, stText] = widest(c.st, ([cls, text]) => measure(g, st, classOf(cls), text)) ?? ["", ""];
        const reason = widest(c.qr, (text) => measure(g, qr, classOf(stCls), text)) ?? "";
        g.setAttribute("class", classOf(stCls));
        st.textContent = stText;
        qr.textContent = reason;
        for (const v of g.querySelectorAll<SVGTSpanElement>(".v")) {
          v.classList.add("vb");
          // A value with state texts (a UPS's mode) shows its widest one.
          const states = v.dataset.s ? Object.values(JSON.parse(v.dataset.s) as Record<string, string>) : [];
          const text = widest(states, (t) => ((v.textContent = t), v.getComputedTextLength())) ?? v.textContent!.replace(/ \?$/, "");
          v.textContent = `${text} ?`;
        }
      }
    },
    cases,
  );
}

/** Pairs of overlapping texts (different elements, > 1 px both ways) and texts outside the drawing. */
async function textProblems(page: Page, orient: "wide" | "tall"): Promise<string[]> {
  return page.$eval(`.ol-${orient}`, (svg) => {
    const box = svg.getBoundingClientRect();
    const texts = [...svg.querySelectorAll(".nd > text, .bar-lbl, .ref")]
      .map((el) => ({ el, r: el.getBoundingClientRect(), id: `${el.closest("[data-id]")?.getAttribute("data-id") ?? "bar"}:${el.textContent}` }))
      .filter((x) => x.r.width > 0 && x.r.height > 0);
    const out: string[] = [];
    for (const t of texts) if (t.r.left < box.left - 1 || t.r.right > box.right + 1) out.push(`outside ${t.id}`);
    // Glyph boxes include line spacing: shrink them a little so touching lines do not count.
    const shrink = (r: DOMRect) => ({ l: r.left + 1, r: r.right - 1, t: r.top + r.height * 0.2, b: r.bottom - r.height * 0.2 });
    for (let i = 0; i < texts.length; i++)
      for (let j = i + 1; j < texts.length; j++) {
        const a = shrink(texts[i]!.r);
        const b = shrink(texts[j]!.r);
        if (Math.min(a.r, b.r) - Math.max(a.l, b.l) > 1 && Math.min(a.b, b.b) - Math.max(a.t, b.t) > 1) out.push(`${texts[i]!.id} × ${texts[j]!.id}`);
      }
    return out;
  });
}

/**
 * Wires, busbars and symbols that run through a text's box (issue 14: the 2B8 → BESS wire ran
 * behind 2B8's texts, hidden only by their halo). Wires are H/V/M paths; each segment is mapped to
 * the page with the SVG's screen matrix and tested against every text's glyph box, shrunk like
 * textProblems'.
 */
async function wireProblems(page: Page, orient: "wide" | "tall"): Promise<string[]> {
  return page.$eval(`.ol-${orient}`, (svg) => {
    const m = (svg as SVGSVGElement).getScreenCTM()!;
    const at = (x: number, y: number) => ({ x: m.a * x + m.c * y + m.e, y: m.b * x + m.d * y + m.f });
    const texts = [...svg.querySelectorAll(".nd > text, .bar-lbl, .ref")]
      .map((el) => ({ r: el.getBoundingClientRect(), id: `${el.closest("[data-id]")?.getAttribute("data-id") ?? "bar"}:${el.textContent}` }))
      .filter((x) => x.r.width > 0 && x.r.height > 0);
    const out: string[] = [];
    const hits = (seg: { l: number; r: number; t: number; b: number }, what: string) => {
      for (const t of texts) {
        const r = { l: t.r.left + 1, r: t.r.right - 1, t: t.r.top + t.r.height * 0.2, b: t.r.bottom - t.r.height * 0.2 };
        if (seg.l <= r.r && seg.r >= r.l && seg.t <= r.b && seg.b >= r.t) out.push(`${what} × ${t.id}`);
      }
    };
    for (const w of svg.querySelectorAll(".wires path")) {
      const d = w.getAttribute("d")!;
      let x = 0;
      let y = 0;
      for (const [, cmd, arg] of d.matchAll(/([MHV])\s*([-\d.]+(?:[ ,]+[-\d.]+)?)/g)) {
        const [a0, a1] = arg!.split(/[ ,]+/).map(Number);
        const from = { x, y };
        if (cmd === "M") [x, y] = [a0!, a1!];
        else if (cmd === "H") x = a0!;
        else y = a0!;
        if (cmd === "M") continue;
        const p = at(from.x, from.y);
        const q = at(x, y);
        const seg = { l: Math.min(p.x, q.x), r: Math.max(p.x, q.x), t: Math.min(p.y, q.y), b: Math.max(p.y, q.y) };
        hits(seg, `wire ${w.getAttribute("data-e")} (${d})`);
      }
    }
    // The busbars are wires too.
    for (const b of svg.querySelectorAll<SVGLineElement>(".bars line")) {
      const p = at(b.x1.baseVal.value, b.y1.baseVal.value);
      const q = at(b.x2.baseVal.value, b.y2.baseVal.value);
      hits({ l: Math.min(p.x, q.x), r: Math.max(p.x, q.x), t: Math.min(p.y, q.y), b: Math.max(p.y, q.y) }, `bar ${b.getAttribute("data-e")}`);
    }
    // And no text runs over a symbol (with its "?" badge when not good), its own or another's.
    for (const g of svg.querySelectorAll(".nd > g")) {
      const r = g.getBoundingClientRect();
      hits({ l: r.left + 1, r: r.right - 1, t: r.top + 1, b: r.bottom - 1 }, `symbol ${g.parentElement!.getAttribute("data-id")}`);
    }
    return out;
  });
}

/** On the phone a tap on a text opens its own symbol: each text lies inside its node's tap target. */
async function textsOutsideTarget(page: Page, orient: "wide" | "tall"): Promise<string[]> {
  return page.$eval(`.ol-${orient}`, (svg) => {
    const out: string[] = [];
    for (const g of svg.querySelectorAll(".nd[data-id]")) {
      const hit = g.querySelector(":scope > .hit")!.getBoundingClientRect();
      for (const t of g.querySelectorAll(":scope > text")) {
        const r = t.getBoundingClientRect();
        if (r.width === 0) continue;
        // Glyph boxes include line spacing: a little slack top and bottom.
        if (r.left < hit.left - 1 || r.right > hit.right + 1 || r.top + r.height * 0.2 < hit.top - 1 || r.bottom - r.height * 0.2 > hit.bottom + 1) out.push(`${g.getAttribute("data-id")}:${t.textContent} outside its tap target`);
      }
    }
    return out;
  });
}

/** The smallest text of the drawing as the screen shows it (font size × the SVG's scale), in px. */
async function smallestText(page: Page, orient: "wide" | "tall"): Promise<number> {
  return page.$eval(`.ol-${orient}`, (svg) => {
    const scale = (svg as SVGSVGElement).getScreenCTM()!.a;
    const sizes = [...svg.querySelectorAll("text")].filter((t) => t.getBoundingClientRect().width > 0).map((t) => parseFloat(getComputedStyle(t).fontSize) * scale);
    return Math.min(...sizes);
  });
}

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

const demoSite = () => parseSite(parseYaml(DEMO_SITE, "demo-site.yaml"), loadProfiles(), "demo-site.yaml");

describe("one-line of other topologies", () => {
  for (const [name, make] of [
    ["demo", demoSite],
    ["twin", twinSite],
    ["forty", fortySite],
  ] as const) {
    it(`draws the ${name} site without overlapping texts or wires at 1920×1080, 390 px and 844 × 390, in both languages`, async () => {
      const busbar = await staticBusbar(make());
      const model = buildOneLineModel(busbar.site, busbar.registry);
      // Every case is drawn and photographed before the verdict, so one failure shows them all.
      const problems: string[] = [];
      const check = async (page: Page, orient: "wide" | "tall", what: string) => {
        for (const p of await textProblems(page, orient)) problems.push(`${what}: ${p}`);
        for (const p of await wireProblems(page, orient)) problems.push(`${what}: ${p}`);
      };
      try {
        // One page per language: both drawings are in it (CSS shows one per width), so the phone's
        // is checked after resizing the same page.
        for (const lang of LANGS) {
          const { page, context } = await newPage(browser, SIZES.control, { lang });
          await page.goto(busbar.url);
          await page.waitForFunction(() => document.body.dataset.link === "live", undefined, { timeout: 15_000 });
          // The phone upright and on its side: both show the phone's drawing (checked as rendered
          // and at its widest upright; on its side only its size on screen differs).
          const seen = new Set<string>();
          for (const [size, dims] of [...Object.entries(SIZES), ["phone on its side", { width: 844, height: 390 }] as const]) {
            const orient = size === "control" ? "wide" : "tall";
            const what = `${name} ${size} (${orient}) ${lang}`;
            await page.setViewportSize(dims);
            if (!seen.has(orient)) {
              seen.add(orient);
              await check(page, orient, what);
              const breakers = await page.$$eval(`.ol-${orient} .nd[data-k="breaker"]`, (els) => els.map((e) => [e.getAttribute("data-id"), e.querySelector(":scope > .st")!.textContent]));
              expect(breakers.length).toBe(busbar.site.topology.breakers.length);
              // Breakers with a device read CLOSED; one without a device can only be UNKNOWN.
              for (const [id, st] of breakers) expect(st, id!).toBe(DICTS[lang][busbar.site.topology.breakers.find((b) => b.id === id)!.device ? "brk.closed" : "brk.unknown"]);
              await showWidest(page, orient, model, lang);
            }
            await check(page, orient, `${what} widest`);
            if (orient === "tall") {
              expect(await page.$eval(".ol-wide", (svg) => getComputedStyle(svg).display), size).toBe("none");
              expect(await page.evaluate(() => document.documentElement.scrollWidth), size).toBeLessThanOrEqual(dims.width);
              // Legible on a touchscreen: no text under 12 px as shown (the quality reason is the smallest).
              expect(await smallestText(page, orient), size).toBeGreaterThanOrEqual(12);
              for (const p of await textsOutsideTarget(page, orient)) problems.push(`${what}: ${p}`);
            }
            await page.screenshot({ path: artifact(`topology-${name}-${dims.width}-${lang}.png`), fullPage: size === "phone" });
          }
          await context.close();
        }
        expect(problems).toEqual([]);
      } finally {
        await busbar.stop();
      }
    }, 60_000);
  }
});
