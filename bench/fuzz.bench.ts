/**
 * Fuzzing (issue 9 item 19): every parser of outside input, ≥ 1,000,000 generated or mutated inputs
 * each (FUZZ_N to change, FUZZ_SEED for another sequence, FUZZ_ONLY=name for one target), zero
 * crashes and zero hangs. `npm run bench -- fuzz`. test/fuzz.test.ts runs a short version in CI.
 * Each target is in test/fuzz/targets.ts; a crash prints its seed and input number to reproduce it.
 */
import { readFileSync } from "node:fs";
import { TARGETS } from "../test/fuzz/targets.ts";
import { report } from "./report.ts";

const N = Number(process.env.FUZZ_N ?? 1_000_000);
const SEED = Number(process.env.FUZZ_SEED ?? 1);
const only = process.env.FUZZ_ONLY;
const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
let failed = false;
for (const [name, run] of Object.entries(TARGETS)) {
  if (only && !name.includes(only)) continue;
  const r = await run(N, SEED);
  const perS = Math.round((r.inputs / r.ms) * 1000);
  report(`fuzz ${name}: inputs`, r.inputs, "inputs", { min: N, note: `${(r.ms / 1000).toFixed(1)} s, ${perS}/s, load ${load()}` });
  report(`fuzz ${name}: crashes`, r.crashes.length, "", { max: 0 });
  report(`fuzz ${name}: hangs (> 2 s)`, r.hangs.length, "", { max: 0 });
  console.log(`  outcomes: ${JSON.stringify(r.outcomes)}`);
  for (const c of [...r.crashes, ...r.hangs].slice(0, 10)) console.log(`  !! ${c.slice(0, 1500)}`);
  if (r.crashes.length || r.hangs.length || r.inputs < N) failed = true;
}
process.exit(failed ? 1 : 0);
