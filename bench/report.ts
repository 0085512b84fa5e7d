/** One line per figure: name, value, unit and how it compares with its target. */
export function report(name: string, value: number, unit: string, target?: { max?: number; min?: number; note?: string }): boolean {
  const v = Number.isInteger(value) ? String(value) : value.toFixed(value < 10 ? 3 : 1);
  let verdict = "";
  let ok = true;
  if (target?.max !== undefined) {
    ok = value <= target.max;
    verdict = `target ≤ ${target.max} ${unit} → ${ok ? "MET" : "MISSED"}`;
  } else if (target?.min !== undefined) {
    ok = value >= target.min;
    verdict = `target ≥ ${target.min} ${unit} → ${ok ? "MET" : "MISSED"}`;
  }
  console.log(`${name.padEnd(58)} ${v.padStart(12)} ${unit.padEnd(8)} ${verdict}${target?.note ? `  (${target.note})` : ""}`);
  return ok;
}
