import { eq, lt, or, sql } from "drizzle-orm";
import type { BusbarDb } from "../db/database.ts";
import { sessions, users } from "../db/schema.ts";
import { isRole, minRole, type Role } from "./roles.ts";
import { randomToken, sha256Hex } from "./secrets.ts";

/**
 * Sessions live in SQLite (they survive a restart). The cookie carries a random token; the table keeps
 * only its sha256. A session ends after `idleMs` without activity, at `expiresAt` whatever happens,
 * at logout, or when its user is disabled or removed.
 */

export type SessionKind = "password" | "pin";

export interface Session {
  id: string;
  userId: number;
  userName: string;
  kind: SessionKind;
  /** Effective role: the user's current role, capped by the session's (PIN) ceiling. */
  role: Role;
  ip: string;
  csrf: string;
  createdAt: number;
  lastSeenAt: number;
  idleMs: number;
  expiresAt: number;
}

/** Activity is written at most this often per session (a page's asset loads are not a write each). */
const TOUCH_EVERY_MS = 15_000;

export class SessionStore {
  constructor(private readonly db: BusbarDb) {}

  create(userId: number, kind: SessionKind, role: Role, ip: string, idleMs: number, maxMs: number, now = Date.now()): { token: string; session: Session } {
    const token = randomToken();
    const id = sha256Hex(token);
    const csrf = randomToken();
    this.db.db.insert(sessions).values({ id, userId, kind, role, ip, csrf, createdAt: now, lastSeenAt: now, idleMs, expiresAt: now + maxMs }).run();
    const s = this.byId(id, now)!;
    return { token, session: s };
  }

  private byId(id: string, now: number): Session | null {
    const r = this.db.db
      .select({ s: sessions, name: users.name, userRole: users.role, disabled: users.disabled })
      .from(sessions)
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(eq(sessions.id, id))
      .get();
    if (!r) return null;
    if (r.disabled || now - r.s.lastSeenAt > r.s.idleMs || now >= r.s.expiresAt || !isRole(r.userRole) || !isRole(r.s.role)) {
      this.db.db.delete(sessions).where(eq(sessions.id, id)).run();
      return null;
    }
    return {
      id: r.s.id,
      userId: r.s.userId,
      userName: r.name,
      kind: r.s.kind === "pin" ? "pin" : "password",
      role: minRole(r.userRole, r.s.role),
      ip: r.s.ip,
      csrf: r.s.csrf,
      createdAt: r.s.createdAt,
      lastSeenAt: r.s.lastSeenAt,
      idleMs: r.s.idleMs,
      expiresAt: r.s.expiresAt,
    };
  }

  /** The live session for a cookie token, or null (unknown, idle too long, expired: deleted). */
  lookup(token: string | undefined, now = Date.now()): Session | null {
    if (!token || token.length > 100) return null;
    return this.byId(sha256Hex(token), now);
  }

  /** Records activity (throttled). */
  touch(s: Session, now = Date.now()): void {
    if (now - s.lastSeenAt < TOUCH_EVERY_MS) return;
    this.db.db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.id, s.id)).run();
    s.lastSeenAt = now;
  }

  destroy(id: string): void {
    this.db.db.delete(sessions).where(eq(sessions.id, id)).run();
  }

  destroyForUser(userId: number): void {
    this.db.db.delete(sessions).where(eq(sessions.userId, userId)).run();
  }

  /** Deletes idle and expired sessions. */
  purge(now = Date.now()): number {
    const r = this.db.db
      .delete(sessions)
      .where(or(lt(sessions.expiresAt, now), sql`${sessions.lastSeenAt} + ${sessions.idleMs} < ${now}`))
      .run();
    return (r as unknown as { changes?: number }).changes ?? 0;
  }

  /** For tests and drills: ages a session as if it had been idle `ms`. */
  age(id: string, ms: number): void {
    this.db.db
      .update(sessions)
      .set({ lastSeenAt: sql`${sessions.lastSeenAt} - ${ms}`, createdAt: sql`${sessions.createdAt} - ${ms}`, expiresAt: sql`${sessions.expiresAt} - ${ms}` })
      .where(eq(sessions.id, id))
      .run();
  }
}
