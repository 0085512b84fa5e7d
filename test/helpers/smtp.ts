import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./peers.ts";

/** Debian's aiosmtpd on loopback (test/fixtures/smtp_server.py): the messages it received, as sent. */
export interface SmtpPeer {
  port: number;
  messages: { from: string; to: string[]; tls: boolean; auth: string | null; data: string }[];
  stop(): void;
}

export async function startSmtp(opts: { port?: number; starttls?: boolean; implicit?: boolean; auth?: string } = {}): Promise<SmtpPeer> {
  const port = opts.port ?? (await freePort());
  const args = [join(import.meta.dirname, "../fixtures/smtp_server.py"), String(port)];
  if (opts.starttls || opts.implicit) {
    const { cert, key } = selfSigned();
    args.push("--starttls", cert, key);
    if (opts.implicit) args.push("--implicit");
  }
  if (opts.auth) args.push("--auth", opts.auth);
  const proc: ChildProcess = spawn("/usr/bin/python3", args, { stdio: ["ignore", "pipe", "pipe"] });
  const messages: SmtpPeer["messages"] = [];
  let stderr = "";
  proc.stderr!.on("data", (d) => (stderr += d));
  let pending = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`aiosmtpd did not start: ${stderr}`)), 10_000);
    proc.on("exit", (code) => reject(new Error(`aiosmtpd exited (${code}): ${stderr}`)));
    proc.stdout!.on("data", (d) => {
      const lines = (pending + String(d)).split("\n");
      pending = lines.pop()!;
      for (const l of lines) {
        if (l.trim() === "ready") {
          clearTimeout(timer);
          resolve();
        } else if (l.startsWith("{")) messages.push(JSON.parse(l));
      }
    });
  });
  return { port, messages, stop: () => void proc.kill("SIGKILL") };
}

let cached: { cert: string; key: string } | undefined;
function selfSigned() {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), "busbar-smtp-tls-"));
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  const r = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]);
  if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
  cached = { cert, key };
  return cached;
}
