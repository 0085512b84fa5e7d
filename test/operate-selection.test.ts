import { describe, expect, it } from "vitest";
import { Selections, type SelectionEvent } from "../src/operate/selection.ts";

/** Select-before-operate locks, with a clock the test moves. */
describe("breaker selections", () => {
  it("locks for one session, refuses others, executes once within the time, releases on cancel or timeout", () => {
    let now = 1_000_000;
    const events: SelectionEvent["kind"][] = [];
    const s = new Selections(30_000, (e) => events.push(e.kind), () => now);
    const a = s.select("2B4", "2B4.cmd_open_close", 0, "marie", "sess-a");
    expect(a.ok && a.sel.until).toBe(1_030_000);
    const b = s.select("2B4", "2B4.cmd_open_close", 1, "mathis", "sess-b");
    expect(b.ok).toBe(false);
    expect(!b.ok && b.holder.user).toBe("marie");
    expect(s.take("2B4", "2B4.cmd_open_close", 0, "sess-b")).toMatchObject({ ok: false, reason: "other" });
    expect(s.take("2B4", "2B4.cmd_open_close", 1, "sess-a")).toMatchObject({ ok: false, reason: "mismatch" });
    expect(s.cancel("2B4", "sess-b")).toBe(false);
    // Another device is free.
    expect(s.select("2B5", "2B5.cmd_open_close", 0, "mathis", "sess-b").ok).toBe(true);
    expect(s.take("2B4", "2B4.cmd_open_close", 0, "sess-a").ok).toBe(true);
    // One selection, one command.
    expect(s.take("2B4", "2B4.cmd_open_close", 0, "sess-a")).toMatchObject({ ok: false, reason: "not-selected" });
    expect(s.cancel("2B5", "sess-b")).toBe(true);
    // The time runs out: released, journaled as a timeout, and execute is refused.
    s.select("2B4", "2B4.cmd_open_close", 1, "marie", "sess-a");
    now += 30_000;
    expect(s.get("2B4")).toBeUndefined();
    expect(s.take("2B4", "2B4.cmd_open_close", 1, "sess-a")).toMatchObject({ ok: false, reason: "not-selected" });
    expect(events).toEqual(["select", "refused", "select", "execute", "cancel", "select", "timeout"]);
    s.stop();
  });
});
