/**
 * The demo's accounts: one per role, with passwords and PINs generated at every start and printed
 * in the banner, so `npm start` is usable at once. Only `busbar demo` calls this: a real site never
 * has a default account.
 */
import type { BusbarDb } from "../db/database.ts";
import { ROLES } from "../auth/roles.ts";
import { generatePassword, generatePin } from "../auth/secrets.ts";
import { SessionStore } from "../auth/sessions.ts";
import { UserStore } from "../auth/users.ts";
import { Journal } from "../journal/journal.ts";
import { journalText } from "../journal/i18n.ts";

export async function resetDemoUsers(db: BusbarDb): Promise<string[]> {
  const users = new UserStore(db);
  const sessions = new SessionStore(db);
  const journal = new Journal(db.sqlite);
  const lines: string[] = ["Demo accounts (new passwords and PINs at every start; the PIN works at the kiosk, localhost):"];
  for (const role of ROLES) {
    const name = role;
    const password = generatePassword();
    const pin = generatePin();
    const existing = users.byName(name);
    if (existing) {
      await users.setPassword(existing.id, password);
      await users.setPin(existing.id, pin);
      users.setRole(existing.id, role);
      users.setDisabled(existing.id, false);
      sessions.destroyForUser(existing.id);
    } else {
      await users.create(name, role, password, pin);
    }
    lines.push(`  ${name.padEnd(12)} password ${password}   PIN ${pin}`);
  }
  journal.append({
    type: "config.user",
    source: "demo",
    actor: "demo",
    ...journalText("en", "journal.user.demo", { roles: ROLES.join(", ") }),
    data: { action: "demo", users: [...ROLES] },
  });
  return lines;
}
