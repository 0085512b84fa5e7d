/**
 * `busbar notify list|outbox|test` — the notification channels and the outbox from the command line
 * (a relay being fixed at 3 a.m. over SSH). `test CHANNEL --to ADDR` sends a test message now and
 * prints the server's own answer; exit 1 when it refused.
 */
import { parseArgs } from "node:util";
import { openDatabase } from "../db/database.ts";
import { Notifier } from "../notify/notifier.ts";
import { SecretBox } from "../notify/secret-box.ts";

export const NOTIFY_USAGE = `busbar notify list [--db FILE]
busbar notify outbox [--db FILE]
busbar notify test CHANNEL_ID [--to ADDRESS] [--db FILE]`;

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { db: { type: "string" }, to: { type: "string" } } });
  } catch (e) {
    console.error(`${(e as Error).message}\n${NOTIFY_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const dbPath = values.db ?? "data/busbar.db";
  const db = openDatabase(dbPath);
  try {
    const n = new Notifier({ sqlite: db.sqlite, journal: db.journal, box: SecretBox.forDatabase(dbPath), siteName: "Busbar", timezone: "UTC", lang: "en", log: () => {} });
    switch (positionals[0]) {
      case "list":
        for (const c of n.channels()) console.log(`${c.id}\t${c.type}\t${c.enabled ? "enabled" : "disabled"}\t${c.name}\tsecrets: ${c.secretsSet.join(", ") || "none"}`);
        return 0;
      case "outbox":
        console.log(JSON.stringify(n.counts()));
        for (const r of n.outbox(50)) console.log(`${r.id}\t${r.status}\t${r.attempts}\t${r.subject}\t${r.status === "sent" ? r.response : r.last_error}`);
        return 0;
      case "test": {
        const id = Number(positionals[1]);
        if (!Number.isInteger(id)) {
          console.error(`test needs a CHANNEL_ID (busbar notify list)\n${NOTIFY_USAGE}`);
          return 2;
        }
        const r = await n.sendTest(id, values.to ? [values.to] : []);
        console.log(`${r.ok ? "sent" : "FAILED"}: ${r.answer}`);
        return r.ok ? 0 : 1;
      }
      default:
        console.error(NOTIFY_USAGE);
        return 2;
    }
  } finally {
    db.close();
  }
}
