/**
 * Units of consumption. Electricity is kept in kWh, water and gas in m³; a meter's own unit (the
 * pulse meters' units code, a TH40C set to MWh) is converted once, on the way in.
 */
export type Commodity = "electricity" | "gas" | "water";

/** The pulse meters' "Units Code" register (data/profiles/pulse-meter.yaml states). */
export const PULSE_UNITS_CODES: Record<number, string> = { 0: "", 1: "Wh", 2: "kWh", 3: "MWh", 4: "m³", 5: "L", 6: "kg" };

const TO_BASE: Record<string, { commodity: Commodity | undefined; factor: number; base: string }> = {
  Wh: { commodity: "electricity", factor: 0.001, base: "kWh" },
  kWh: { commodity: "electricity", factor: 1, base: "kWh" },
  MWh: { commodity: "electricity", factor: 1000, base: "kWh" },
  "m³": { commodity: undefined, factor: 1, base: "m³" },
  m3: { commodity: undefined, factor: 1, base: "m³" },
  L: { commodity: undefined, factor: 0.001, base: "m³" },
};

/** Factor from `unit` to its base unit (kWh or m³), or undefined for a unit that is not a consumption. */
export function toBase(unit: string): { factor: number; base: string } | undefined {
  const u = TO_BASE[unit];
  return u ? { factor: u.factor, base: u.base } : undefined;
}

export function baseUnitOf(commodity: Commodity): string {
  return commodity === "electricity" ? "kWh" : "m³";
}

/** A quantity in the unit a person reads best: 1 234 kWh, 12.3 MWh; 850 L, 12.5 m³. */
export function displayQuantity(value: number, base: string): { value: number; unit: string } {
  if (base === "kWh") return Math.abs(value) >= 10_000 ? { value: value / 1000, unit: "MWh" } : Math.abs(value) < 1 && value !== 0 ? { value: value * 1000, unit: "Wh" } : { value, unit: "kWh" };
  if (base === "m³") return Math.abs(value) < 1 && value !== 0 ? { value: value * 1000, unit: "L" } : { value, unit: "m³" };
  return { value, unit: base };
}
