import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Helpers to run independent peers (Debian's pymodbus) and wait on conditions in tests. */

import { freePort } from "../../src/server/ports.ts";

export { freePort };

export type RegisterImage = Record<number, { hr?: Record<number, number>; ir?: Record<number, number>; co?: Record<number, number>; di?: Record<number, number> }>;

/** IEEE754 float32 → two registers, high word first (ABCD), as the TH40C sends it. */
export function floatWords(value: number): [number, number] {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setFloat32(0, value, false);
  return [dv.getUint16(0, false), dv.getUint16(2, false)];
}

export function putFloats(target: Record<number, number>, values: Record<number, number>): Record<number, number> {
  for (const [addr, v] of Object.entries(values)) {
    const [hi, lo] = floatWords(v);
    target[Number(addr)] = hi;
    target[Number(addr) + 1] = lo;
  }
  return target;
}

export interface PyModbusServer {
  port: number;
  proc: ChildProcess;
  /** Every write the server executed, as "write UNIT KIND ADDRESS V1,V2,..." (broadcasts once per unit). */
  writes: string[];
  stop(): Promise<void>;
}

/** Starts Debian's pymodbus TCP server (/usr/bin/python3, not the PATH python) on `port` serving `image`. */
export async function startPyModbus(image: RegisterImage, port?: number, opts: { broadcast?: boolean } = {}): Promise<PyModbusServer> {
  const p = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "busbar-pymodbus-"));
  const file = join(dir, "image.json");
  writeFileSync(file, JSON.stringify(image));
  const proc = spawn("/usr/bin/python3", [join(import.meta.dirname, "../fixtures/pymodbus_server.py"), String(p), file, ...(opts.broadcast ? ["broadcast"] : [])], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  proc.stderr!.on("data", (d) => (stderr += d));
  const writes: string[] = [];
  let pending = "";
  proc.stdout!.on("data", (d) => {
    const lines = (pending + String(d)).split("\n");
    pending = lines.pop()!;
    for (const l of lines) if (l.startsWith("write ")) writes.push(l.trim());
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pymodbus did not start: ${stderr}`)), 10_000);
    proc.stdout!.on("data", (d) => {
      if (String(d).includes("ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`pymodbus exited with ${code}: ${stderr}`));
    });
  });
  return {
    port: p,
    proc,
    writes,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once("exit", () => resolve());
        proc.kill("SIGKILL");
      }),
  };
}

export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000, stepMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
