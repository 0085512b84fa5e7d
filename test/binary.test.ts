import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { build } from "../scripts/build.ts";
import { freePort, waitFor } from "./helpers/peers.ts";
import { startSmtp } from "./helpers/smtp.ts";
import { openDatabase } from "../src/db/database.ts";
import { Notifier } from "../src/notify/notifier.ts";
import { SecretBox } from "../src/notify/secret-box.ts";

/** The single executable, run from a folder with no node_modules anywhere above it. */
describe("dist/busbar", () => {
  const dir = mkdtempSync(join(tmpdir(), "busbar-bin-"));
  const bin = join(dir, "busbar");
  let proc: ReturnType<typeof spawn> | undefined;

  afterAll(() => {
    proc?.kill("SIGKILL");
  });

  it("builds and runs the demo without node_modules, serving live values", async () => {
    const built = await build(join(dir, "build", "busbar"));
    copyFileSync(built, bin);
    expect(existsSync(join(dir, "node_modules"))).toBe(false);
    const port = await freePort();
    let out = "";
    proc = spawn(bin, ["demo", "--http", String(port), "--db", join(dir, "demo.db")], { cwd: dir, env: { ...process.env, NODE_PATH: "" } });
    proc.stdout!.on("data", (d) => (out += d));
    proc.stderr!.on("data", (d) => (out += d));
    const points = await waitFor(
      "good values from the binary",
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/api/points`);
        const list = (await res.json()) as { id: string; value: number | null; quality: string }[];
        // The UPS comes through the BACnet worker (its own entrypoint in the binary).
        return list.filter((p) => p.quality === "good").length > 100 && list.find((p) => p.id === "UPS.ups_output_kw")?.quality === "good" && list;
      },
      20_000,
      250,
    );
    const v = points.find((p) => p.id === "5B1.v_ab")!;
    expect(v.quality).toBe("good");
    expect(v.value).toBeGreaterThan(500); // Québec 600 V service
    expect(out).toContain("Busbar is running");
    // "report pool": the start-up prime of the report pool failed (src/reports/pool.ts).
    expect(out).not.toMatch(/worker died|ModuleNotFound|report pool/);
    const page = await fetch(`http://127.0.0.1:${port}/assets/htmx.min.js`);
    expect(page.status).toBe(200);
  }, 90_000);

  it("sends e-mail with nodemailer from inside the binary (STARTTLS, authentication, encrypted password)", async () => {
    const smtp = await startSmtp({ starttls: true, auth: "busbar:bin-relay-pass" });
    try {
      const dbPath = join(dir, "notify.db");
      const db = openDatabase(dbPath);
      const n = new Notifier({ sqlite: db.sqlite, journal: db.journal, box: SecretBox.forDatabase(dbPath, {}), siteName: "bin", timezone: "UTC", lang: "en" });
      const id = n.saveChannel(undefined, "relay", "email", { host: "127.0.0.1", port: smtp.port, tls: "starttls", user: "busbar", from: "busbar@example.org", allowSelfSigned: true }, { password: "bin-relay-pass" }, [], true);
      db.close();
      const r = spawnSync(bin, ["notify", "test", String(id), "--to", "ops@example.org", "--db", dbPath], { cwd: dir, encoding: "utf8", env: { ...process.env, BUSBAR_SECRET_KEY: "" } });
      expect(r.stdout + r.stderr).toContain("sent: 250 OK queued as busbar-test");
      expect(r.status).toBe(0);
      await waitFor("mail", () => smtp.messages.length === 1, 5000, 50);
      expect(smtp.messages[0]).toMatchObject({ tls: true, auth: "busbar", to: ["ops@example.org"] });
    } finally {
      smtp.stop();
    }
  }, 30_000);

  it("makes a PDF report in its piscina pool, with the embedded font (the demo's database, Busbar running)", () => {
    const out = join(dir, "report.pdf");
    const r = spawnSync(bin, ["report", "--db", join(dir, "demo.db"), "--lang", "fr", "--out", out], { cwd: dir, encoding: "utf8", env: { ...process.env, NODE_PATH: "" } });
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("(report pool: 1 thread)");
    expect(r.status).toBe(0);
    const text = spawnSync("pdftotext", [out, "-"], { encoding: "utf8" }).stdout;
    expect(text).toContain("Édifice de démonstration (Québec)");
    expect(text).toContain("Rapport énergétique général");
    expect(spawnSync("pdffonts", [out], { encoding: "utf8" }).stdout).toMatch(/DejaVuSans\s.*yes yes yes/);
  }, 30_000);

  it("rejects an invalid site file with every error and exit code 2", () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "site: { name: x }\nbuses: []\ndevices:\n  - { id: A, bus: gw, unit: 999, profile: nope }\n");
    const r = spawnSync(bin, ["check-site", file], { cwd: dir, encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("buses: a site needs at least one bus");
    expect(r.stderr).toContain("devices[0].unit: must be 0..255");
  });
});
