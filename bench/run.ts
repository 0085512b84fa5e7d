/**
 * `npm run bench`: runs every bench/*.bench.ts in its own process, one after another (they measure
 * CPU and latency, so they must not overlap), and prints each figure with its limit or ratio.
 * `npm run bench -- NAME` runs only benches whose file name contains NAME.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const dir = import.meta.dir;
const filter = process.argv[2];
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts") && (!filter || f.includes(filter)))
  .sort();
let failed = 0;
/** CPU and latency figures are only fair on a quiet machine: let the previous bench's load settle. */
async function settle(maxWaitS = 90): Promise<void> {
  const load = () => Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
  const until = Date.now() + maxWaitS * 1000;
  while (load() > 0.8 && Date.now() < until) await Bun.sleep(2000);
  console.log(`(1-min load average ${load().toFixed(2)} at start)`);
}

for (const f of files) {
  console.log(`\n=== ${f}`);
  await settle();
  const proc = Bun.spawn([process.execPath, join(dir, f)], { stdout: "inherit", stderr: "inherit", env: process.env });
  const code = await proc.exited;
  if (code !== 0) {
    failed++;
    console.log(`!!! ${f} exited with ${code}`);
  }
}
console.log(`\n${files.length} bench file(s), ${failed} failed to run`);
process.exit(failed ? 1 : 0);
