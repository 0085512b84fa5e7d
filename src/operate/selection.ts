/**
 * Select-before-operate for breakers: selecting a device locks it for one person (one session) for
 * a short time; only that session may execute, and only before the time runs out. Cancel, execute
 * or the timeout release it; every step is reported to `onEvent` (the journal), the timeout too,
 * by its own timer, so an abandoned selection is on record even if nobody looks again.
 */

export interface Selection {
  device: string;
  point: string;
  /** The value chosen at selection (the confirm screen's). */
  value: number;
  user: string;
  session: string;
  since: number;
  until: number;
}

export type SelectionEvent =
  | { kind: "select"; sel: Selection }
  | { kind: "refused"; device: string; point: string; user: string; holder: Selection }
  | { kind: "cancel"; sel: Selection }
  | { kind: "timeout"; sel: Selection }
  | { kind: "execute"; sel: Selection };

export class Selections {
  private readonly byDevice = new Map<string, { sel: Selection; timer: ReturnType<typeof setTimeout> }>();

  constructor(
    readonly timeoutMs: number,
    private readonly onEvent: (e: SelectionEvent) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** The device's live selection, if any. */
  get(device: string): Selection | undefined {
    const e = this.byDevice.get(device);
    if (!e) return undefined;
    if (e.sel.until <= this.now()) {
      this.expire(device);
      return undefined;
    }
    return e.sel;
  }

  all(): Selection[] {
    return [...this.byDevice.keys()].map((d) => this.get(d)).filter((x): x is Selection => !!x);
  }

  /** Locks `device` for this session; refused while someone else holds it. Selecting again renews. */
  select(device: string, point: string, value: number, user: string, session: string): { ok: true; sel: Selection } | { ok: false; holder: Selection } {
    const held = this.get(device);
    if (held && held.session !== session) {
      this.onEvent({ kind: "refused", device, point, user, holder: held });
      return { ok: false, holder: held };
    }
    if (held) this.drop(device);
    const now = this.now();
    const sel: Selection = { device, point, value, user, session, since: now, until: now + this.timeoutMs };
    const timer = setTimeout(() => this.get(device), this.timeoutMs + 50);
    (timer as { unref?: () => void }).unref?.();
    this.byDevice.set(device, { sel, timer });
    this.onEvent({ kind: "select", sel });
    return { ok: true, sel };
  }

  /**
   * Execute may go ahead: the device is selected by this session, for this point and value, and
   * the time has not run out. The selection is consumed (one selection, one command).
   */
  take(device: string, point: string, value: number, session: string): { ok: true; sel: Selection } | { ok: false; reason: "not-selected" | "other" | "mismatch"; holder?: Selection } {
    const sel = this.get(device);
    if (!sel) return { ok: false, reason: "not-selected" };
    if (sel.session !== session) return { ok: false, reason: "other", holder: sel };
    if (sel.point !== point || sel.value !== value) return { ok: false, reason: "mismatch", holder: sel };
    this.drop(device);
    this.onEvent({ kind: "execute", sel });
    return { ok: true, sel };
  }

  /** Cancel by its holder; false when this session holds nothing there. */
  cancel(device: string, session: string): boolean {
    const sel = this.get(device);
    if (!sel || sel.session !== session) return false;
    this.drop(device);
    this.onEvent({ kind: "cancel", sel });
    return true;
  }

  stop(): void {
    for (const e of this.byDevice.values()) clearTimeout(e.timer);
    this.byDevice.clear();
  }

  private drop(device: string): void {
    const e = this.byDevice.get(device);
    if (e) clearTimeout(e.timer);
    this.byDevice.delete(device);
  }

  private expire(device: string): void {
    const e = this.byDevice.get(device);
    if (!e) return;
    this.drop(device);
    this.onEvent({ kind: "timeout", sel: e.sel });
  }
}
