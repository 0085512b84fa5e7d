/**
 * `busbar journal verify` recomputes the journal's hash chain and names every edited, deleted or
 * unsealed row (exit 1 when any). `busbar journal export` writes the CSV the admin page downloads.
 */
import { parseArgs } from "node:util";
import { openDatabase } from "../db/database.ts";
import { csvFormat } from "../exports/format.ts";
import { csvPieces } from "../journal/csv.ts";
import { Journal } from "../journal/journal.ts";
import { parseTimeFilter } from "../journal/time.ts";

export const JOURNAL_USAGE = `busbar journal verify [--db FILE]
busbar journal export [--db FILE] [--out FILE] [--from DATE] [--to DATE] [--type TYPE] [--device ID] [--user NAME] [--tz ZONE] [--sep ';'|','|tab] [--lang fr|en]`;

export interface JournalArgs {
  sub: string | undefined;
  db: string;
  out?: string;
  from?: string;
  to?: string;
  type?: string;
  device?: string;
  user?: string;
  tz?: string;
  sep?: string;
  lang?: string;
}

export async function runJournalCommand(a: JournalArgs): Promise<number> {
  const db = openDatabase(a.db);
  try {
    const journal = new Journal(db.sqlite);
    if (a.sub === "verify") {
      const t0 = performance.now();
      const r = journal.verify();
      const ms = Math.round(performance.now() - t0);
      if (r.ok) {
        console.log(`journal OK: ${r.rows} rows, chain head ${r.head} (${ms} ms)`);
        return 0;
      }
      console.log(`journal TAMPERED: ${r.problems.length} problem(s) in ${r.rows} rows`);
      for (const p of r.problems) console.log(`  ${p.id !== null ? `row ${p.id}: ` : ""}${p.problem}`);
      return 1;
    }
    if (a.sub === "export") {
      const tz = a.tz ?? "UTC";
      const from = parseTimeFilter(a.from, tz);
      const to = parseTimeFilter(a.to, tz, true);
      if (Number.isNaN(from) || Number.isNaN(to)) {
        process.stderr.write("--from/--to: a date YYYY-MM-DD, a date-time or ms since 1970\n");
        return 2;
      }
      // The shared CSV format (src/exports/format.ts): default `--lang`'s, else the vendor's `;`.
      const format = csvFormat({ sep: a.sep }, tz, a.lang);
      if (typeof format === "string") {
        process.stderr.write(`--sep: ${format}\n`);
        return 2;
      }
      const sink = a.out ? Bun.file(a.out).writer() : Bun.stdout.writer();
      for (const piece of csvPieces(journal, { from, to, type: a.type, device: a.device, actor: a.user }, { timeZone: tz, sep: format.sep })) {
        sink.write(piece);
        await sink.flush();
      }
      await sink.end();
      return 0;
    }
    process.stderr.write(`${JOURNAL_USAGE}\n`);
    return 2;
  } finally {
    db.close();
  }
}

/** `busbar journal …` (argv after "journal"); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        db: { type: "string" },
        out: { type: "string" },
        from: { type: "string" },
        to: { type: "string" },
        type: { type: "string" },
        device: { type: "string" },
        user: { type: "string" },
        tz: { type: "string" },
        sep: { type: "string" },
        lang: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${JOURNAL_USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(JOURNAL_USAGE);
    return 0;
  }
  return runJournalCommand({ ...values, sub: positionals[0], db: values.db ?? "data/busbar.db" });
}
