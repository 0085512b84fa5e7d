import type { Tag } from "../../config/profile.ts";
import { Quality } from "../../points/quality.ts";

/** Device-level multipliers (EnLogic KU/KI: voltage and current transformer ratios). */
export interface Multipliers {
  ku: number;
  ki: number;
}

export function multiplierOf(tag: Tag, m: Multipliers): number {
  switch (tag.multiplier) {
    case "KU":
      return m.ku;
    case "KI":
      return m.ki;
    case "KU*KI":
      return m.ku * m.ki;
    default:
      return 1;
  }
}

/**
 * Raw register value → engineering value and its quality. Sentinels are checked on the raw value
 * (that is what makers document), the range on the engineering value.
 */
export function toEngineering(raw: number, tag: Tag, mult: number, out: { value: number; quality: number }): void {
  const sentinels = tag.notAvailable;
  for (let i = 0; i < sentinels.length; i++) {
    const s = sentinels[i];
    if (s === raw || (s === "NaN" && raw !== raw)) {
      out.value = NaN;
      out.quality = Quality.NOT_AVAILABLE;
      return;
    }
  }
  const value = raw * tag.scale * mult + tag.offset;
  if (!Number.isFinite(value)) {
    out.value = NaN;
    out.quality = Quality.BAD_DATA;
    return;
  }
  out.value = value;
  const r = tag.range;
  out.quality = r && ((r.min !== undefined && value < r.min) || (r.max !== undefined && value > r.max)) ? Quality.OUT_OF_RANGE : Quality.GOOD;
}

/** Engineering value → raw value to encode for a write. Integer types are rounded. */
export function toRaw(value: number, tag: Tag, mult: number): number {
  const raw = (value - tag.offset) / (tag.scale * mult);
  return tag.type.startsWith("float") ? raw : Math.round(raw);
}
