import type { SimDevice } from "../device.ts";
import { hashString, smoothNoise } from "../noise.ts";
import type { TickContext } from "./context.ts";

/**
 * A device no other model knows (e.g. the generic profile): its read-only analog tags wander
 * slowly around 100 (scaled to fit small integer types), so a poller sees live values.
 */
export class GenericModel {
  private readonly tags: { id: string; key: number; amp: number; base: number }[] = [];

  constructor(readonly dev: SimDevice) {
    for (const t of dev.profile.tags) {
      if (t.writable || t.kind !== "analog") continue;
      const key = hashString(`generic:${dev.id}:${t.id}`);
      this.tags.push({ id: t.id, key, base: 100, amp: 10 });
    }
  }

  publish(ctx: TickContext): void {
    for (const t of this.tags) this.dev.set(t.id, Math.round((t.base + t.amp * smoothNoise(ctx.seed, t.key, ctx.now, 20_000)) * 100) / 100);
  }
}
