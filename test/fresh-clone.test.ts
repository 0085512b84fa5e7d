import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, waitFor } from "./helpers/peers.ts";

/**
 * Issue 9 item 12: the source tree runs as checked out. The repository's files (what a clone has:
 * tracked and not ignored, so no src/generated/) are copied to a new folder with node_modules linked
 * in, and `bun src/cli.ts` runs there with no npm pre-script.
 */
const root = join(import.meta.dirname, "..");
const bun = join(root, "node_modules/.bin/bun");

describe("a fresh clone", () => {
  const dir = mkdtempSync(join(tmpdir(), "busbar-clone-"));
  let proc: ReturnType<typeof spawn> | undefined;
  const files = spawnSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], { cwd: root, encoding: "utf8" })
    .stdout.split("\0")
    .filter((f) => f && existsSync(join(root, f)));
  for (const f of files) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    cpSync(join(root, f), join(dir, f));
  }
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));

  afterAll(() => {
    proc?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("has no generated file", () => {
    expect(files.some((f) => f.startsWith("src/generated/"))).toBe(false);
    expect(existsSync(join(dir, "src/generated"))).toBe(false);
  });

  it("checks the demo site with `bun src/cli.ts check-site`", () => {
    const r = spawnSync(bun, ["src/cli.ts", "check-site", "data/demo-site.yaml"], { cwd: dir, encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/data\/demo-site\.yaml: OK — \d+ bus\(es\), 23 device\(s\)/);
  });

  it("runs `bun src/cli.ts demo`: good values and the page assets", async () => {
    const port = await freePort();
    let out = "";
    proc = spawn(bun, ["src/cli.ts", "demo", "--http", String(port), "--db", join(dir, "demo.db")], { cwd: dir });
    proc.stdout!.on("data", (d) => (out += d));
    proc.stderr!.on("data", (d) => (out += d));
    await waitFor(
      "good values from the demo",
      async () => {
        if (proc!.exitCode !== null) throw new Error(`demo exited ${proc!.exitCode}: ${out}`);
        const res = await fetch(`http://127.0.0.1:${port}/api/points`).catch(() => undefined);
        if (!res?.ok) return false;
        const list = (await res.json()) as { quality: string }[];
        return list.filter((p) => p.quality === "good").length > 100;
      },
      30_000,
      250,
    );
    expect(out).not.toMatch(/Cannot find module|ModuleNotFound/);
    const asset = await fetch(`http://127.0.0.1:${port}/assets/htmx.min.js`);
    expect(asset.status).toBe(200);
    expect(existsSync(join(dir, "src/generated"))).toBe(false);
  }, 60_000);
});
