/**
 * Progress of the downloads in flight, for the export page's progress bar.
 *
 * The download stays a plain GET with `Content-Disposition: attachment`: the browser streams it to
 * disk with its own download manager (no file buffered in the page, none kept on the server), and
 * it works without script. The page adds a random `job` id to the form; while the response streams,
 * the server records here the share of the range written, the rows and bytes; the page polls
 * `/export/progress?job=ID` once a second and draws the bar until the state is done or failed.
 * A Content-Length is never known in advance (values, gaps and quoting vary), so this is what
 * tells the user how far a year-long export has got. Jobs are per user, few, and forgotten a
 * few minutes after they end.
 */

export interface ExportJob {
  id: string;
  user: string;
  what: string;
  state: "running" | "done" | "failed" | "cancelled";
  /** 0..1, or null when the export cannot tell (then rows and bytes still grow). */
  done: number | null;
  rows: number;
  bytes: number;
  error?: string;
  started: number;
  ended?: number;
}

const KEEP_MS = 5 * 60_000;
const MAX_JOBS = 200;
export const JOB_ID = /^[A-Za-z0-9_-]{8,64}$/;

export class ExportJobs {
  private readonly jobs = new Map<string, ExportJob>();

  constructor(private readonly now = () => Date.now()) {}

  /** A new job, or undefined when no (valid) id was given: the download then runs untracked. */
  start(id: string | undefined, user: string, what: string): ExportJob | undefined {
    if (!id || !JOB_ID.test(id)) return undefined;
    this.prune();
    const job: ExportJob = { id, user, what, state: "running", done: 0, rows: 0, bytes: 0, started: this.now() };
    this.jobs.set(id, job);
    return job;
  }

  /** A job only its own user sees (an id guessed by someone else reads as unknown). */
  get(id: string, user: string): ExportJob | undefined {
    const j = this.jobs.get(id);
    return j && j.user === user ? j : undefined;
  }

  end(job: ExportJob | undefined, state: ExportJob["state"], error?: string): void {
    if (!job || job.state !== "running") return;
    job.state = state;
    job.ended = this.now();
    if (state === "done") job.done = 1;
    if (error) job.error = error;
  }

  private prune(): void {
    const t = this.now();
    for (const [id, j] of this.jobs) if (j.ended !== undefined && t - j.ended > KEEP_MS) this.jobs.delete(id);
    // Bounded whatever clients send: the oldest go first.
    while (this.jobs.size >= MAX_JOBS) this.jobs.delete(this.jobs.keys().next().value!);
  }
}

/**
 * Pieces passed through, the job ended with them (done, failed, or cancelled when the reader goes
 * away); text pieces are counted into it: rows (line ends) and bytes. A zip's byte pieces are not
 * counted again: its entries' text is, by `tracked` inside with no job end (`endJob` false).
 */
export function* tracked<T extends string | Uint8Array>(jobs: ExportJobs, job: ExportJob | undefined, pieces: Iterable<T>, endJob = true): Generator<T> {
  if (!job) {
    yield* pieces;
    return;
  }
  let finished = false;
  try {
    for (const p of pieces) {
      if (typeof p === "string") {
        job.bytes += Buffer.byteLength(p);
        for (let k = p.indexOf("\n"); k >= 0; k = p.indexOf("\n", k + 1)) job.rows++;
      }
      yield p;
    }
    finished = true;
    if (endJob) jobs.end(job, "done");
  } catch (e) {
    finished = true;
    jobs.end(job, "failed", (e as Error).message);
    throw e;
  } finally {
    // The reader went away (download cancelled): the generator is closed without finishing.
    if (!finished && endJob) jobs.end(job, "cancelled");
  }
}

const perApp = new WeakMap<object, ExportJobs>();
/** The export jobs of one running Busbar (the export and journal routes share them). */
export function jobsFor(ctx: object): ExportJobs {
  let j = perApp.get(ctx);
  if (!j) perApp.set(ctx, (j = new ExportJobs()));
  return j;
}
