/**
 * `busbar user …`: accounts from the command line — the way to create the first admin on a real
 * site (there is never a default account). Passwords are read from stdin when it is not a terminal
 * (first line), else prompted twice without echo; PINs are generated and printed.
 */
import { parseArgs } from "node:util";
import { openDatabase, type BusbarDb } from "../db/database.ts";
import { isRole, ROLES, type Role } from "../auth/roles.ts";
import { generatePin, passwordProblem } from "../auth/secrets.ts";
import { SessionStore } from "../auth/sessions.ts";
import { UserError, UserStore } from "../auth/users.ts";
import { Journal } from "../journal/journal.ts";
import { journalText, type JournalParams } from "../journal/i18n.ts";

export const USER_USAGE = `busbar user add NAME --role operator|maintenance|admin [--pin] [--db FILE]
  password: first line of stdin, or prompted twice; --pin generates a touchscreen PIN and prints it
busbar user list [--db FILE]
busbar user passwd NAME [--db FILE]          new password (stdin or prompt); ends the user's sessions
busbar user pin NAME [--remove] [--db FILE]  generates a new PIN (printed), or removes it
busbar user role NAME --role ROLE [--db FILE]
busbar user disable|enable|remove NAME [--db FILE]`;

export interface UserArgs {
  sub: string | undefined;
  name: string | undefined;
  role?: string;
  pin?: boolean;
  remove?: boolean;
  db: string;
}

class CliError extends Error {}

let stdinLines: AsyncIterator<string> | undefined;
async function readLine(): Promise<string> {
  stdinLines ??= (console as unknown as AsyncIterable<string>)[Symbol.asyncIterator]();
  const r = await stdinLines.next();
  return r.done ? "" : r.value;
}

async function promptSecret(label: string): Promise<string> {
  process.stdout.write(label);
  const tty = process.stdin.isTTY;
  if (tty) Bun.spawnSync(["stty", "-echo"], { stdin: "inherit" });
  try {
    return (await readLine()).replace(/\r$/, "");
  } finally {
    if (tty) {
      Bun.spawnSync(["stty", "echo"], { stdin: "inherit" });
      process.stdout.write("\n");
    }
  }
}

async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const p = (await readLine()).replace(/\r$/, "");
    if (!p) throw new CliError("no password on stdin");
    return p;
  }
  const a = await promptSecret("Password: ");
  const problem = passwordProblem(a);
  if (problem) throw new CliError(`password ${problem}`);
  const b = await promptSecret("Password (again): ");
  if (a !== b) throw new CliError("the two passwords differ");
  return a;
}

function actor(): string {
  return `cli:${process.env.USER ?? process.env.USERNAME ?? "?"}`;
}

/** The command line knows no site language: the stored text is English, key + parameters serve every reader. */
function journalUser(journal: Journal, name: string, what: string, data: Record<string, unknown>, params: JournalParams = {}): void {
  journal.append({ type: "config.user", source: name, actor: actor(), ...journalText("en", `journal.cli.${what}`, { name, ...params }), data: { name, via: "cli", ...data } });
}

function need(name: string | undefined, sub: string): string {
  if (!name) throw new CliError(`user ${sub} needs a NAME\n\n${USER_USAGE}`);
  return name;
}

export async function runUserCommand(args: UserArgs, db: BusbarDb = openDatabase(args.db)): Promise<number> {
  const users = new UserStore(db);
  const journal = new Journal(db.sqlite);
  const sessions = new SessionStore(db);
  const find = (name: string) => {
    const u = users.byName(name);
    if (!u) throw new CliError(`no user "${name}"`);
    return u;
  };
  try {
    switch (args.sub) {
      case "add": {
        const name = need(args.name, "add");
        if (!isRole(args.role)) throw new CliError(`user add needs --role ${ROLES.join("|")}`);
        const password = await readPassword();
        const pin = args.pin ? generatePin() : null;
        const u = await users.create(name, args.role, password, pin);
        journalUser(journal, u.name, "create", { action: "create", role: u.role, pin: !!pin }, { role: { key: `role.${u.role}` } });
        console.log(`user ${u.name} created, role ${u.role}${pin ? `, PIN ${pin}` : ""}`);
        return 0;
      }
      case "list": {
        const list = users.list();
        if (!list.length) console.log("no user yet — create the first admin with: busbar user add NAME --role admin");
        for (const u of list)
          console.log(
            `${u.name.padEnd(24)} ${u.role.padEnd(12)} ${u.hasPin ? "PIN" : "   "} ${u.disabled ? "disabled" : u.lockedUntil > Date.now() ? "locked" : "active"}  last login ${u.lastLoginAt ? new Date(u.lastLoginAt).toISOString() : "never"}`,
          );
        return 0;
      }
      case "passwd": {
        const u = find(need(args.name, "passwd"));
        await users.setPassword(u.id, await readPassword());
        sessions.destroyForUser(u.id);
        journalUser(journal, u.name, "password", { action: "password" });
        console.log(`password of ${u.name} changed; their sessions are closed`);
        return 0;
      }
      case "pin": {
        const u = find(need(args.name, "pin"));
        if (args.remove) {
          await users.setPin(u.id, null);
          journalUser(journal, u.name, "pinRemove", { action: "pin-remove" });
          console.log(`PIN of ${u.name} removed`);
          return 0;
        }
        const pin = generatePin();
        await users.setPin(u.id, pin);
        journalUser(journal, u.name, "pin", { action: "pin" });
        console.log(`PIN of ${u.name}: ${pin}`);
        return 0;
      }
      case "role": {
        const u = find(need(args.name, "role"));
        if (!isRole(args.role)) throw new CliError(`user role needs --role ${ROLES.join("|")}`);
        if (u.role === "admin" && args.role !== "admin" && users.activeAdmins() <= 1 && !u.disabled) throw new CliError(`${u.name} is the last active admin`);
        users.setRole(u.id, args.role as Role);
        journalUser(journal, u.name, "role", { action: "role", from: u.role, to: args.role }, { from: { key: `role.${u.role}` }, to: { key: `role.${args.role}` } });
        console.log(`${u.name}: role ${u.role} → ${args.role}`);
        return 0;
      }
      case "disable":
      case "enable":
      case "remove": {
        const u = find(need(args.name, args.sub));
        if (args.sub !== "enable" && u.role === "admin" && !u.disabled && users.activeAdmins() <= 1) throw new CliError(`${u.name} is the last active admin`);
        if (args.sub === "remove") {
          sessions.destroyForUser(u.id);
          users.remove(u.id);
        } else {
          users.setDisabled(u.id, args.sub === "disable");
          if (args.sub === "disable") sessions.destroyForUser(u.id);
        }
        journalUser(journal, u.name, args.sub, { action: args.sub });
        console.log(`${u.name}: ${args.sub === "remove" ? "removed" : args.sub + "d"}`);
        return 0;
      }
      default:
        throw new CliError(USER_USAGE);
    }
  } catch (e) {
    if (e instanceof CliError || e instanceof UserError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  } finally {
    db.close();
  }
}

/** `busbar user …` (argv after "user"); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { role: { type: "string" }, pin: { type: "boolean" }, remove: { type: "boolean" }, db: { type: "string" }, help: { type: "boolean", short: "h" } },
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USER_USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || !positionals[0]) {
    console.log(USER_USAGE);
    return values.help ? 0 : 2;
  }
  return runUserCommand({ sub: positionals[0], name: positionals[1], role: values.role, pin: values.pin, remove: values.remove, db: values.db ?? "data/busbar.db" });
}
