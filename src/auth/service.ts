import type { SecurityConfig } from "../config/site.ts";
import type { BusbarDb } from "../db/database.ts";
import type { Lang } from "../i18n/index.ts";
import { journalText, type JournalParams } from "../journal/i18n.ts";
import type { Journal } from "../journal/journal.ts";
import { AddressList, normalizeIp } from "./addresses.ts";
import { minRole, PIN_ROLE_CAP } from "./roles.ts";
import { verifySecret, dummyHash } from "./secrets.ts";
import { SessionStore, type Session } from "./sessions.ts";
import { UserStore } from "./users.ts";

/**
 * Logging in and out: password logins (any address), PIN unlocks (kiosk addresses only, short
 * sessions capped at maintenance), per-user lockout after repeated failures, a per-address throttle
 * for names that do not exist, and a journal row for every success, failure and lockout.
 *
 * The per-address throttle: 4 × loginMaxFailures failures from one address within 15 minutes
 * refuse every login from it (admin included) until the oldest of them is 15 minutes old. A shared
 * kiosk or a NAT can hit it: an admin sees the throttled addresses on /admin and may clear one.
 * While an address is throttled its refused attempts are not journaled one by one: one row when
 * the throttle starts, then at most one row a minute with the count refused since.
 */

export interface ThrottledAddress {
  ip: string;
  /** Failures counted in the window. */
  failures: number;
  /** When the throttle ends if nothing else happens (ms since 1970). */
  until: number;
  /** Attempts refused while throttled. */
  refused: number;
}

export type LoginResult =
  | { ok: true; token: string; session: Session }
  | { ok: false; reason: "bad" | "locked" | "throttled" | "not-kiosk"; retryAfterMs?: number };

const IP_WINDOW_MS = 15 * 60_000;

export class AuthService {
  readonly users: UserStore;
  readonly sessions: SessionStore;
  private readonly kiosks: AddressList;
  private readonly ipFailures = new Map<string, number[]>();
  /** Throttled addresses: refused attempts, and those not yet in a journal row. */
  private readonly throttle = new Map<string, { refused: number; unjournaled: number; lastRow: number }>();
  now: () => number = Date.now;

  constructor(
    readonly db: BusbarDb,
    readonly journal: Journal,
    readonly config: SecurityConfig,
    kiosk: readonly string[],
    readonly lang: Lang = "fr",
  ) {
    this.users = new UserStore(db);
    this.sessions = new SessionStore(db);
    this.kiosks = new AddressList([...config.kiosk, ...kiosk]);
  }

  get kioskAddresses(): string[] {
    return this.kiosks.addresses;
  }

  isKiosk(ip: string | undefined): boolean {
    return this.kiosks.has(ip);
  }

  /** A journal row's message, stored as key + parameters too (any reader's language). */
  private jt(key: string, params?: JournalParams) {
    return journalText(this.lang, key, params);
  }

  private ipThrottled(ip: string, now: number): number {
    const list = (this.ipFailures.get(ip) ?? []).filter((x) => now - x < IP_WINDOW_MS);
    this.ipFailures.set(ip, list);
    const limit = this.config.loginMaxFailures * 4;
    const ms = list.length >= limit ? list[list.length - limit]! + IP_WINDOW_MS - now : 0;
    if (ms <= 0) this.throttle.delete(ip);
    return ms;
  }

  /** A refused attempt from a throttled address: journaled when the throttle starts, then once a minute at most. */
  private throttledAttempt(kind: "password" | "pin", name: string, ip: string, now: number, retryMs: number): void {
    let th = this.throttle.get(ip);
    const first = !th;
    if (!th) this.throttle.set(ip, (th = { refused: 0, unjournaled: 0, lastRow: 0 }));
    th.refused++;
    th.unjournaled++;
    if (!first && now - th.lastRow < 60_000) return;
    const n = th.unjournaled;
    th.unjournaled = 0;
    th.lastRow = now;
    this.journal.append({
      type: "auth.throttle",
      source: ip,
      actor: "",
      ...this.jt(first ? "journal.auth.throttleStart" : "journal.auth.throttleCount", {
        ip,
        n,
        name,
        minutes: Math.max(1, Math.ceil(retryMs / 60_000)),
      }),
      data: { ip, refused: n, total: th.refused, kind, name, until: now + retryMs, first },
    });
  }

  /** Addresses throttled now (the admin page). */
  throttledAddresses(): ThrottledAddress[] {
    const now = this.now();
    const out: ThrottledAddress[] = [];
    for (const ip of [...this.ipFailures.keys()]) {
      const ms = this.ipThrottled(ip, now);
      if (ms > 0) out.push({ ip, failures: this.ipFailures.get(ip)!.length, until: now + ms, refused: this.throttle.get(ip)?.refused ?? 0 });
    }
    return out;
  }

  /** An admin lifts the throttle of one address (its failures are forgotten); journaled. */
  clearThrottle(ip: string, admin: string): boolean {
    const failures = this.ipFailures.get(ip)?.length ?? 0;
    const refused = this.throttle.get(ip)?.refused ?? 0;
    const was = this.ipThrottled(ip, this.now()) > 0;
    this.ipFailures.delete(ip);
    this.throttle.delete(ip);
    if (!was) return false;
    this.journal.append({
      type: "auth.throttle-clear",
      source: ip,
      actor: admin,
      ...this.jt("journal.auth.throttleClear", { ip, user: admin, failures, refused }),
      data: { ip, failures, refused },
    });
    return true;
  }

  private ipFailed(ip: string, now: number): void {
    const list = this.ipFailures.get(ip) ?? [];
    list.push(now);
    if (list.length > 1000) list.splice(0, list.length - 1000);
    this.ipFailures.set(ip, list);
    if (this.ipFailures.size > 10_000) this.ipFailures.delete(this.ipFailures.keys().next().value!);
  }

  private fail(kind: "password" | "pin", name: string, ip: string, reason: string, data?: Record<string, unknown>): void {
    this.journal.append({
      type: kind === "pin" ? "auth.pin-fail" : "auth.fail",
      source: name,
      actor: "",
      ...this.jt(kind === "pin" ? "journal.auth.pinFail" : "journal.auth.fail", { name, ip, reason: { key: `journal.reason.${reason}` } }),
      data: { name, ip, reason, ...data },
    });
  }

  async login(name: string, password: string, ip: string): Promise<LoginResult> {
    const now = this.now();
    name = name.trim().slice(0, 64);
    const throttled = this.ipThrottled(ip, now);
    if (throttled > 0) {
      this.throttledAttempt("password", name, ip, now, throttled);
      return { ok: false, reason: "throttled", retryAfterMs: throttled };
    }
    const row = name ? this.users.rowByName(name) : undefined;
    if (!row || row.disabled) {
      await verifySecret(password, await dummyHash());
      this.ipFailed(ip, now);
      this.fail("password", name, ip, row ? "disabled" : "unknown");
      return { ok: false, reason: "bad" };
    }
    if (row.lockedUntil > now) {
      this.ipFailed(ip, now);
      this.fail("password", row.name, ip, "locked");
      return { ok: false, reason: "locked", retryAfterMs: row.lockedUntil - now };
    }
    if (!(await verifySecret(password, row.passwordHash))) {
      this.ipFailed(ip, now);
      const { failures, lockedUntil } = this.users.recordFailure(row.id, now, this.config.loginMaxFailures, this.config.lockoutMinutes * 60_000);
      this.fail("password", row.name, ip, "password", { failures });
      if (lockedUntil > now && failures >= this.config.loginMaxFailures) {
        this.journal.append({
          type: "auth.lockout",
          source: row.name,
          ...this.jt("journal.auth.lockout", { name: row.name, minutes: this.config.lockoutMinutes, failures }),
          data: { name: row.name, ip, failures, until: lockedUntil },
        });
        return { ok: false, reason: "locked", retryAfterMs: lockedUntil - now };
      }
      return { ok: false, reason: "bad" };
    }
    const role = row.role as Session["role"];
    const { token, session } = this.sessions.create(
      row.id,
      "password",
      role,
      ip,
      this.config.sessionIdleMinutes * 60_000,
      this.config.sessionMaxHours * 3_600_000,
      now,
    );
    this.users.recordLogin(row.id, now);
    this.journal.append({
      type: "auth.login",
      source: row.name,
      actor: row.name,
      ...this.jt("journal.auth.login", { name: row.name, ip, role: { key: `role.${role}` } }),
      data: { ip, role },
    });
    return { ok: true, token, session };
  }

  /** PIN unlock at a kiosk: a short session whose role is at most maintenance. */
  async pinUnlock(name: string, pin: string, ip: string): Promise<LoginResult> {
    const now = this.now();
    if (!this.isKiosk(ip)) {
      this.fail("pin", name, ip, "not-kiosk");
      return { ok: false, reason: "not-kiosk" };
    }
    const throttled = this.ipThrottled(ip, now);
    if (throttled > 0) {
      this.throttledAttempt("pin", name, ip, now, throttled);
      return { ok: false, reason: "throttled", retryAfterMs: throttled };
    }
    const row = name ? this.users.rowByName(name) : undefined;
    if (!row || row.disabled || !row.pinHash) {
      await verifySecret(pin, await dummyHash());
      this.ipFailed(ip, now);
      this.fail("pin", name, ip, !row ? "unknown" : row.disabled ? "disabled" : "no-pin");
      return { ok: false, reason: "bad" };
    }
    if (row.pinLockedUntil > now) {
      this.fail("pin", row.name, ip, "locked");
      return { ok: false, reason: "locked", retryAfterMs: row.pinLockedUntil - now };
    }
    if (!(await verifySecret(pin, row.pinHash))) {
      this.ipFailed(ip, now);
      const { failures, lockedUntil } = this.users.recordPinFailure(row.id, now, this.config.loginMaxFailures, this.config.lockoutMinutes * 60_000);
      this.fail("pin", row.name, ip, "pin", { failures });
      if (lockedUntil > now && failures >= this.config.loginMaxFailures) {
        this.journal.append({
          type: "auth.lockout",
          source: row.name,
          ...this.jt("journal.auth.pinLockout", { name: row.name, minutes: this.config.lockoutMinutes, failures }),
          data: { name: row.name, ip, failures, until: lockedUntil, pin: true },
        });
        return { ok: false, reason: "locked", retryAfterMs: lockedUntil - now };
      }
      return { ok: false, reason: "bad" };
    }
    const role = minRole(row.role as Session["role"], PIN_ROLE_CAP);
    const { token, session } = this.sessions.create(
      row.id,
      "pin",
      role,
      ip,
      this.config.pinSessionMinutes * 60_000,
      this.config.pinSessionMaxMinutes * 60_000,
      now,
    );
    this.users.recordLogin(row.id, now, true);
    this.journal.append({
      type: "auth.pin",
      source: row.name,
      actor: row.name,
      ...this.jt("journal.auth.pin", { name: row.name, ip, role: { key: `role.${role}` } }),
      data: { ip, role },
    });
    return { ok: true, token, session };
  }

  logout(s: Session, ip: string): void {
    this.sessions.destroy(s.id);
    this.journal.append({
      type: "auth.logout",
      source: s.userName,
      actor: s.userName,
      ...this.jt("journal.auth.logout", { name: s.userName, ip }),
      data: { ip, kind: s.kind },
    });
  }
}

export function isLoopback(ip: string | undefined): boolean {
  if (!ip) return false;
  const n = normalizeIp(ip);
  return n === "::1" || n.startsWith("127.");
}

export { normalizeIp };
