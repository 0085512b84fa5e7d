import type { Database, Statement } from "bun:sqlite";
import { GENESIS, rowHash, type ChainedRow } from "./chain.ts";

/**
 * The event journal: one append-only table (`events`) of everything that happened — alarm
 * transitions, acknowledgements, shelving, logins and failures, device writes, configuration
 * changes, device communication, worker restarts. `append` returns once the row is committed
 * (WAL, synchronous=FULL), so a page may confirm an action only after its row is on disk.
 *
 * Every row is sealed into a sha256 chain (chain.ts) inside the same transaction; SQL triggers
 * refuse UPDATE of a sealed row and any DELETE; `verify()` recomputes the chain.
 *
 * Row types in use (type — source / device / actor):
 *   system.start, system.stop                                  — site
 *   device.comm                                                — device
 *   worker.restart                                             — bus
 *   alarm.active, alarm.rtn, alarm.normal, alarm.ack,
 *   alarm.shelve, alarm.unshelve, alarm.out-of-service,
 *   alarm.in-service, alarm.silence                            — alarm id / device / user
 *   auth.login, auth.logout, auth.fail, auth.lockout,
 *   auth.pin, auth.pin-fail, auth.denied, auth.setup           — user name / ip
 *   point.write                                                — point / device / user (old → new, outcome)
 *   config.user, config.alarms, config.site                    — what changed / user
 *   gateway.write, gateway.refused                             — gateway:<client address> / device
 *   auth.throttle, auth.throttle-clear                         — address / admin
 */

export interface JournalEntry {
  type: string;
  message: string;
  /** What the row is about: alarm id, point, bus, user name… */
  source?: string;
  device?: string;
  /** Who did it; '' for the system. */
  actor?: string;
  data?: unknown;
  /** Key + parameters of `message` (journal/i18n.ts journalText), stored as data.i18n so any language can show the row. */
  i18n?: { key: string; params: Record<string, unknown> };
  ts?: number;
}

export interface JournalRow extends ChainedRow {
  hash: string | null;
}

export interface JournalFilter {
  from?: number;
  to?: number;
  /** Exact type, or a family: `alarm` matches alarm.*. */
  type?: string;
  device?: string;
  actor?: string;
}

export interface VerifyResult {
  ok: boolean;
  rows: number;
  head: string;
  problems: { id: number | null; problem: string }[];
}

const HEAD_KEY = "journal.head";
const COLS = "id, ts, type, source, actor, device, message, data, hash";

export class Journal {
  private readonly insert: Statement;
  private readonly seq: Statement;
  private readonly seal1: Statement;
  private readonly last: Statement;
  private readonly setHead: Statement;
  private readonly getHead: Statement;
  /** Called after each committed append (the alarm page's live journal, tests). */
  onAppend: ((row: JournalRow) => void) | undefined;

  constructor(readonly sqlite: Database) {
    this.insert = sqlite.prepare("INSERT INTO events (id, ts, type, source, actor, device, message, data, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    this.seq = sqlite.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'events'");
    this.seal1 = sqlite.prepare("UPDATE events SET hash = ? WHERE id = ? AND hash IS NULL");
    this.last = sqlite.prepare("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1");
    this.setHead = sqlite.prepare("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    this.getHead = sqlite.prepare("SELECT value FROM settings WHERE key = ?");
    this.seal();
  }

  /** Runs `fn` in one write transaction (or inside the caller's); returns its result once committed. */
  transaction<T>(fn: () => T): T {
    if (this.sqlite.inTransaction) return fn();
    return this.sqlite.transaction(fn).immediate();
  }

  /** Appends one row; returns it once committed (or once the caller's transaction commits). */
  append(e: JournalEntry): JournalRow {
    const row = this.transaction(() => this.appendInTx(e));
    this.onAppend?.(row);
    return row;
  }

  /** Appends rows in one transaction (one disk sync for all). */
  appendMany(entries: readonly JournalEntry[]): JournalRow[] {
    if (!entries.length) return [];
    const rows = this.transaction(() => {
      const out: JournalRow[] = [];
      let prev: { hash: string; id: number } | undefined;
      for (const e of entries) {
        const r = this.appendInTx(e, prev, false);
        prev = { hash: r.hash!, id: r.id };
        out.push(r);
      }
      const last = out[out.length - 1]!;
      this.setHead.run(HEAD_KEY, `${last.id} ${last.hash}`);
      return out;
    });
    if (this.onAppend) for (const r of rows) this.onAppend(r);
    return rows;
  }

  /**
   * One row, inside the caller's write transaction. Its id is the one AUTOINCREMENT would give
   * (sqlite_sequence + 1: never reused, so rows deleted at the end leave a gap verify reports), which
   * lets the row be written with its hash in a single statement.
   */
  private appendInTx(e: JournalEntry, known?: { hash: string; id: number }, head = true): JournalRow {
    let prevHash: string;
    let id: number;
    if (known) {
      prevHash = known.hash;
      id = known.id + 1;
    } else {
      const prev = this.last.get() as { id: number; hash: string | null } | null;
      prevHash = prev ? (prev.hash ?? this.sealTail()) : GENESIS;
      id = ((this.seq.get() as { seq: number } | null)?.seq ?? 0) + 1;
    }
    const r: ChainedRow = {
      id,
      ts: e.ts ?? Date.now(),
      type: e.type,
      source: e.source ?? "",
      actor: e.actor ?? "",
      device: e.device ?? "",
      message: e.message,
      data: dataOf(e),
    };
    const hash = rowHash(prevHash, r);
    this.insert.run(r.id, r.ts, r.type, r.source, r.actor, r.device, r.message, r.data, hash);
    if (head) this.setHead.run(HEAD_KEY, `${r.id} ${hash}`);
    return { ...r, hash };
  }

  /**
   * Seals rows appended without a hash at the end of the journal (rows from before the chain
   * existed, or written by code that bypassed `append`). An unsealed row *before* a sealed one is
   * never sealed: verify reports it.
   */
  seal(): number {
    let n = 0;
    this.transaction(() => {
      const before = (this.sqlite.query("SELECT COUNT(*) AS n FROM events WHERE hash IS NULL").get() as { n: number }).n;
      if (before) this.sealTail();
      n = before;
    });
    return n;
  }

  private sealTail(): string {
    const lastSealed = this.sqlite.query("SELECT id, hash FROM events WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1").get() as {
      id: number;
      hash: string;
    } | null;
    let prev = lastSealed?.hash ?? GENESIS;
    const rows = this.sqlite.query(`SELECT ${COLS} FROM events WHERE id > ? ORDER BY id`).all(lastSealed?.id ?? 0) as JournalRow[];
    let lastId = lastSealed?.id ?? 0;
    for (const r of rows) {
      prev = rowHash(prev, r);
      this.seal1.run(prev, r.id);
      lastId = r.id;
    }
    if (rows.length) this.setHead.run(HEAD_KEY, `${lastId} ${prev}`);
    return prev;
  }

  /** Recomputes the whole chain; reports every edited, deleted or unsealed row found. */
  verify(maxProblems = 50): VerifyResult {
    const v = this.verifier(maxProblems);
    while (!v.step(Infinity));
    return v.result();
  }

  /** The same, a chunk at a time with the event loop turning in between (the admin page). */
  async verifyAsync(maxProblems = 50, chunk = 20_000): Promise<VerifyResult> {
    const v = this.verifier(maxProblems);
    while (!v.step(chunk)) await new Promise<void>((r) => setImmediate(r));
    return v.result();
  }

  private verifier(maxProblems: number) {
    const problems: VerifyResult["problems"] = [];
    let prev = GENESIS;
    let prevId = 0;
    let rows = 0;
    const add = (id: number | null, problem: string) => {
      if (problems.length < maxProblems) problems.push({ id, problem });
    };
    const stmt = this.sqlite.prepare(`SELECT ${COLS} FROM events WHERE id > ? ORDER BY id LIMIT ?`);
    return {
      /** Checks up to `n` more rows; true when the end is reached. */
      step: (n: number): boolean => {
        const limit = Number.isFinite(n) ? n : 50_000;
        for (;;) {
          const batch = stmt.all(prevId, limit) as JournalRow[];
          for (const r of batch) {
            rows++;
            if (r.hash === null) {
              add(r.id, "row is not sealed (written around the journal or its hash was erased)");
              prevId = r.id;
              continue;
            }
            if (rowHash(prev, r) !== r.hash) {
              // Edited row: its own content no longer matches. Deleted predecessor: the id gap says so.
              add(r.id, r.id !== prevId + 1 ? `chain broken: row(s) ${prevId + 1}..${r.id - 1} deleted, or row ${r.id} edited` : `row ${r.id} was edited (hash mismatch)`);
            } else if (r.id !== prevId + 1) {
              // Ids are never reused: a gap is rows deleted at the end before this one was appended.
              add(r.id, `row(s) ${prevId + 1}..${r.id - 1} missing (deleted)`);
            }
            prev = r.hash;
            prevId = r.id;
          }
          if (batch.length < limit) return true;
          if (Number.isFinite(n)) return false;
        }
      },
      result: (): VerifyResult => {
        const head = (this.getHead.get(HEAD_KEY) as { value: string } | null)?.value;
        if (rows > 0) {
          if (!head) add(null, "journal head anchor is missing (settings journal.head)");
          else if (head !== `${prevId} ${prev}`)
            add(null, `journal ends at row ${prevId} but its head anchor says row ${head.split(" ")[0]}: row(s) at the end were deleted or edited`);
        }
        return { ok: problems.length === 0, rows, head: `${prevId} ${prev}`, problems };
      },
    };
  }

  /** Rows newest first, for the journal page: `beforeId` pages back. */
  list(filter: JournalFilter, limit = 100, beforeId?: number): JournalRow[] {
    const { where, params } = whereOf(filter);
    if (beforeId !== undefined) {
      where.push("id < ?");
      params.push(beforeId);
    }
    return this.sqlite
      .query(`SELECT ${COLS} FROM events ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY id DESC LIMIT ?`)
      .all(...params, limit) as JournalRow[];
  }

  /** Ids that bound a filter's time range, so an export walks the primary key (no sort, no big scan). */
  idRange(filter: JournalFilter): { lo: number; hi: number } {
    const lo =
      filter.from === undefined
        ? 0
        : ((this.sqlite.query("SELECT MIN(id) AS id FROM events WHERE ts >= ?").get(filter.from) as { id: number | null }).id ?? Number.MAX_SAFE_INTEGER);
    const hi =
      filter.to === undefined
        ? ((this.sqlite.query("SELECT MAX(id) AS id FROM events").get() as { id: number | null }).id ?? 0)
        : ((this.sqlite.query("SELECT MAX(id) AS id FROM events WHERE ts <= ?").get(filter.to) as { id: number | null }).id ?? 0);
    return { lo, hi };
  }

  /**
   * Walks the rows matching `filter` in id order, `chunk` rows per synchronous query: the caller
   * yields between chunks, so a million-row export neither holds the rows in memory nor blocks.
   */
  *chunks(filter: JournalFilter, chunk = 2000): Generator<JournalRow[]> {
    const { lo, hi } = this.idRange(filter);
    if (lo > hi) return;
    const { where, params } = whereOf(filter);
    const stmt = this.sqlite.prepare(
      `SELECT ${COLS} FROM events WHERE id >= ? AND id <= ? ${where.length ? "AND " + where.join(" AND ") : ""} ORDER BY id LIMIT ${chunk | 0}`,
    );
    let next = lo;
    for (;;) {
      const rows = stmt.all(next, hi, ...params) as JournalRow[];
      if (!rows.length) return;
      yield rows;
      next = rows[rows.length - 1]!.id + 1;
      if (rows.length < chunk) return;
    }
  }

  /** Distinct types seen (for the filter's choices). */
  types(): string[] {
    return (this.sqlite.query("SELECT DISTINCT type FROM events ORDER BY type").all() as { type: string }[]).map((r) => r.type);
  }
}

function dataOf(e: JournalEntry): string | null {
  if (e.i18n) {
    const d = e.data && typeof e.data === "object" && !Array.isArray(e.data) ? e.data : e.data === undefined || e.data === null ? {} : { value: e.data };
    return JSON.stringify({ ...d, i18n: e.i18n });
  }
  return e.data === undefined || e.data === null ? null : JSON.stringify(e.data);
}

function whereOf(f: JournalFilter): { where: string[]; params: (string | number)[] } {
  const where: string[] = [];
  const params: (string | number)[] = [];
  if (f.from !== undefined) {
    where.push("ts >= ?");
    params.push(f.from);
  }
  if (f.to !== undefined) {
    where.push("ts <= ?");
    params.push(f.to);
  }
  if (f.type) {
    where.push("(type = ? OR type LIKE ? ESCAPE '\\')");
    params.push(f.type, f.type.replace(/[\\%_]/g, (m) => "\\" + m) + ".%");
  }
  if (f.device) {
    where.push("device = ?");
    params.push(f.device);
  }
  if (f.actor) {
    where.push("actor = ? COLLATE NOCASE");
    params.push(f.actor);
  }
  return { where, params };
}
