/**
 * Durability: a Busbar process (demo site + simulator) is killed with SIGKILL right after the
 * acknowledgement was confirmed on screen (Chromium). After a restart on the same database the
 * acknowledgement is there (state, who, comment) and `busbar journal verify` passes; editing one
 * journal row makes it fail.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "../src/db/database.ts";
import { freePort } from "./helpers/peers.ts";

const ROOT = join(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "busbar-crash-"));
const dbPath = join(dir, "busbar.db");
const script = join(dir, "child.ts");

// The child: demo site, every device polled every 250 ms, breaker 2B3 tripped from the start.
writeFileSync(
  script,
  `
import { loadProfiles } from ${JSON.stringify(join(ROOT, "src/config/profiles.ts"))};
import { parseSite } from ${JSON.stringify(join(ROOT, "src/config/site.ts"))};
import { parseYaml } from ${JSON.stringify(join(ROOT, "src/config/profile.ts"))};
import { DEMO_SITE } from ${JSON.stringify(join(ROOT, "src/embedded.ts"))};
import { startSimulator } from ${JSON.stringify(join(ROOT, "src/sim/simulator.ts"))};
import { startBusbar } from ${JSON.stringify(join(ROOT, "src/server/runtime.ts"))};
const raw = parseYaml(DEMO_SITE, "demo-site.yaml");
for (const d of raw.devices) d.pollMs = 250;
const sim = startSimulator(parseSite(raw, loadProfiles(), "demo"), { anyPort: true, host: "127.0.0.1", tickMs: 100 });
sim.trip("2B3");
const busbar = await startBusbar({ site: sim.servedSite, dbPath: process.env.DB, httpPort: Number(process.env.PORT), httpHost: "127.0.0.1", kiosk: ["127.0.0.1"], log: () => {} });
console.log("ready " + busbar.url);
`,
);

let browser: Browser | undefined;
let child: ReturnType<typeof Bun.spawn> | undefined;

async function startChild(port: number): Promise<{ proc: ReturnType<typeof Bun.spawn>; url: string }> {
  const proc = Bun.spawn([process.execPath, script], { env: { ...process.env, DB: dbPath, PORT: String(port) }, stdout: "pipe", stderr: "inherit", cwd: ROOT });
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let buf = "";
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    const m = /ready (\S+)/.exec(buf);
    if (m) {
      reader.releaseLock();
      return { proc, url: m[1]! };
    }
  }
  proc.kill(9);
  throw new Error(`child did not start: ${buf}`);
}

async function cli(args: string[]) {
  const p = Bun.spawn([process.execPath, join(ROOT, "src/cli.ts"), ...args], { stdout: "pipe", stderr: "pipe", cwd: ROOT, stdin: new TextEncoder().encode("maintenance-password\n") });
  const out = (await new Response(p.stdout).text()) + (await new Response(p.stderr).text());
  return { code: await p.exited, out };
}

async function alarm(url: string, id: string) {
  const list = (await (await fetch(url + "api/alarms?show=all")).json()) as { id: string; state: string; ackBy: string | null; ackComment: string | null }[];
  return list.find((a) => a.id === id);
}

afterAll(async () => {
  await browser?.close();
  child?.kill(9);
});

describe("kill -9 right after an acknowledgement", () => {
  it("keeps the acknowledgement and a verifiable journal; an edited row is caught", { timeout: 60_000 }, async () => {
    expect((await cli(["user", "add", "maint", "--role", "maintenance", "--db", dbPath])).code).toBe(0);
    const port = await freePort();
    let { proc, url } = await startChild(port);
    child = proc;
    const waitState = async (want: string) => {
      const t0 = Date.now();
      for (;;) {
        const a = await alarm(url, "2B3.tripped").catch(() => undefined);
        if (a?.state === want) return a;
        if (Date.now() - t0 > 15_000) throw new Error(`2B3.tripped never ${want}: ${JSON.stringify(a)}`);
        await Bun.sleep(100);
      }
    };
    await waitState("unack_active");

    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    const page = await browser.newPage();
    await page.goto(url + "auth/login?next=/alarms");
    await page.fill('input[name="name"]', "maint");
    await page.fill('input[name="password"]', "maintenance-password");
    await page.click('.auth-form button[type="submit"]');
    await page.waitForURL(/\/alarms/);
    const form = page.locator('tr[data-alarm="2B3.tripped"] form[data-alarm-action="ack"]');
    await form.locator('input[name="comment"]').fill("avant le crash");
    await form.locator('button[data-ack="plain"]').click();
    await page.waitForSelector(".flash-ok", { timeout: 5000 });
    // Confirmed on screen: pull the plug now.
    proc.kill(9);
    await proc.exited;
    await browser.close();
    browser = undefined;

    ({ proc, url } = await startChild(port));
    child = proc;
    const a = await waitState("ack_active");
    expect(a).toMatchObject({ ackBy: "maint", ackComment: "avant le crash" });
    proc.kill(9);
    await proc.exited;
    child = undefined;

    const db = openDatabase(dbPath);
    const acks = db.sqlite.query("SELECT actor, data FROM events WHERE type = 'alarm.ack' AND source = '2B3.tripped'").all() as { actor: string; data: string }[];
    expect(acks).toHaveLength(1);
    expect(acks[0]!.actor).toBe("maint");
    const acts = db.sqlite.query("SELECT COUNT(*) AS n FROM alarm_activations WHERE alarm_id = '2B3.tripped'").get() as { n: number };
    expect(acts.n).toBe(1);
    db.close();

    let v = await cli(["journal", "verify", "--db", dbPath]);
    expect(v.code, v.out).toBe(0);

    const db2 = openDatabase(dbPath);
    db2.sqlite.exec("DROP TRIGGER events_append_only_update; UPDATE events SET actor = 'quelqu''un d''autre' WHERE type = 'alarm.ack'");
    db2.close();
    v = await cli(["journal", "verify", "--db", dbPath]);
    expect(v.code).toBe(1);
    expect(v.out).toMatch(/TAMPERED/);
  });
});
