/** What every model's tick gets. */
export interface TickContext {
  /** Wall-clock time of the tick, epoch ms. */
  now: number;
  /** Simulated hours since the previous tick (real elapsed time × speed), for integrators. */
  dtH: number;
  /** Real milliseconds since the previous tick. */
  dtMs: number;
  /** Site-local wall-clock time, read with getUTC* (see LocalClock). */
  local: Date;
  /** Local hour of day, 0..24 (fractional). */
  hour: number;
  weekend: boolean;
  seed: number;
  /** Index of the current 250 ms slot of wall-clock time: the key of per-tick noise. */
  slot: number;
}
