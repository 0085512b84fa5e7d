import { asc, eq, sql } from "drizzle-orm";
import type { BusbarDb } from "../db/database.ts";
import { users } from "../db/schema.ts";
import { isRole, type Role } from "./roles.ts";
import { hashSecret, passwordProblem, pinProblem } from "./secrets.ts";

/** Accounts: name, role, argon2id password and optional kiosk PIN, lockout counters. */

export interface User {
  id: number;
  name: string;
  role: Role;
  hasPin: boolean;
  disabled: boolean;
  lockedUntil: number;
  lastLoginAt: number | null;
  createdAt: number;
}

export type UserRow = typeof users.$inferSelect;

export const USER_NAME = /^[\p{L}\p{N}][\p{L}\p{N}._@-]{0,63}$/u;

export class UserError extends Error {}

export function toUser(r: UserRow): User {
  return {
    id: r.id,
    name: r.name,
    role: isRole(r.role) ? r.role : "operator",
    hasPin: !!r.pinHash,
    disabled: !!r.disabled,
    lockedUntil: r.lockedUntil,
    lastLoginAt: r.lastLoginAt,
    createdAt: r.createdAt,
  };
}

export class UserStore {
  constructor(private readonly db: BusbarDb) {}

  count(): number {
    return (this.db.sqlite.query("SELECT COUNT(*) AS n FROM users").get() as { n: number }).n;
  }

  list(): User[] {
    return this.db.db.select().from(users).orderBy(asc(users.name)).all().map(toUser);
  }

  row(id: number): UserRow | undefined {
    return this.db.db.select().from(users).where(eq(users.id, id)).get();
  }

  rowByName(name: string): UserRow | undefined {
    return this.db.db
      .select()
      .from(users)
      .where(sql`${users.name} = ${name} COLLATE NOCASE`)
      .get();
  }

  byName(name: string): User | undefined {
    const r = this.rowByName(name);
    return r ? toUser(r) : undefined;
  }

  byId(id: number): User | undefined {
    const r = this.row(id);
    return r ? toUser(r) : undefined;
  }

  /** Creates a user; the password is checked and hashed here. */
  async create(name: string, role: Role, password: string, pin?: string | null): Promise<User> {
    if (!USER_NAME.test(name)) throw new UserError(`user name "${name}": letters, digits and . _ @ - (up to 64), starting with a letter or digit`);
    if (!isRole(role)) throw new UserError(`role must be operator, maintenance or admin`);
    const pp = passwordProblem(password);
    if (pp) throw new UserError(`password ${pp}`);
    if (pin) {
      const p = pinProblem(pin);
      if (p) throw new UserError(`PIN ${p}`);
    }
    if (this.rowByName(name)) throw new UserError(`user "${name}" already exists`);
    const now = Date.now();
    const passwordHash = await hashSecret(password);
    const pinHash = pin ? await hashSecret(pin) : null;
    const r = this.db.db.insert(users).values({ name, role, passwordHash, pinHash, createdAt: now, updatedAt: now }).returning().get();
    return toUser(r);
  }

  async setPassword(id: number, password: string): Promise<void> {
    const pp = passwordProblem(password);
    if (pp) throw new UserError(`password ${pp}`);
    const passwordHash = await hashSecret(password);
    this.db.db.update(users).set({ passwordHash, failedLogins: 0, lockedUntil: 0, updatedAt: Date.now() }).where(eq(users.id, id)).run();
  }

  async setPin(id: number, pin: string | null): Promise<void> {
    if (pin !== null) {
      const p = pinProblem(pin);
      if (p) throw new UserError(`PIN ${p}`);
    }
    const pinHash = pin === null ? null : await hashSecret(pin);
    this.db.db.update(users).set({ pinHash, pinFailures: 0, pinLockedUntil: 0, updatedAt: Date.now() }).where(eq(users.id, id)).run();
  }

  setRole(id: number, role: Role): void {
    if (!isRole(role)) throw new UserError("role must be operator, maintenance or admin");
    this.db.db.update(users).set({ role, updatedAt: Date.now() }).where(eq(users.id, id)).run();
  }

  setDisabled(id: number, disabled: boolean): void {
    this.db.db
      .update(users)
      .set({ disabled: disabled ? 1 : 0, failedLogins: 0, lockedUntil: 0, updatedAt: Date.now() })
      .where(eq(users.id, id))
      .run();
  }

  remove(id: number): void {
    this.db.db.delete(users).where(eq(users.id, id)).run();
  }

  /** Admins still able to log in (the last one cannot be removed, disabled or demoted). */
  activeAdmins(): number {
    return (this.db.sqlite.query("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0").get() as { n: number }).n;
  }

  /** One more failed password; returns the lock time when this failure locks the account. */
  recordFailure(id: number, now: number, maxFailures: number, lockoutMs: number): { failures: number; lockedUntil: number } {
    const r = this.row(id);
    if (!r) return { failures: 0, lockedUntil: 0 };
    // A lockout that has run out starts a fresh count.
    let failures = r.lockedUntil && r.lockedUntil <= now ? 0 : r.failedLogins;
    failures++;
    const lockedUntil = failures >= maxFailures ? now + lockoutMs : r.lockedUntil > now ? r.lockedUntil : 0;
    this.db.db.update(users).set({ failedLogins: failures, lockedUntil }).where(eq(users.id, id)).run();
    return { failures, lockedUntil };
  }

  recordPinFailure(id: number, now: number, maxFailures: number, lockoutMs: number): { failures: number; lockedUntil: number } {
    const r = this.row(id);
    if (!r) return { failures: 0, lockedUntil: 0 };
    let failures = r.pinLockedUntil && r.pinLockedUntil <= now ? 0 : r.pinFailures;
    failures++;
    const lockedUntil = failures >= maxFailures ? now + lockoutMs : r.pinLockedUntil > now ? r.pinLockedUntil : 0;
    this.db.db.update(users).set({ pinFailures: failures, pinLockedUntil: lockedUntil }).where(eq(users.id, id)).run();
    return { failures, lockedUntil };
  }

  recordLogin(id: number, now: number, pin = false): void {
    this.db.db
      .update(users)
      .set(pin ? { pinFailures: 0, pinLockedUntil: 0, lastLoginAt: now } : { failedLogins: 0, lockedUntil: 0, lastLoginAt: now })
      .where(eq(users.id, id))
      .run();
  }
}
