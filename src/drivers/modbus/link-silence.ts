/**
 * Is the link silent, or only one device? A gateway (or a serial line) that stops answering while
 * its connection stays open looks, request by request, like one silent device after another; judged
 * per device, 16 devices take 16 × (retries + 1) timeouts to be marked comm-fail. Consecutive
 * timeouts of *different* devices that were answering, with no answer of any kind in between, say
 * the link is gone: once they add up to what one device needs to fail (retries + 1 timeouts) and
 * span three devices (two when only two are answering, or without retries), every device on the link
 * is comm-fail at once.
 * Three, not two: two devices that die together (one supply) must not take the others down with them.
 *
 * Timeouts of probes of devices already comm-fail are expected and count for nothing either way;
 * nor do devices never heard since start (units absent at commissioning): the poller only reports
 * timeouts of devices that have answered.
 */
export const SILENT_LINK_DEVICES = 3;

export class LinkSilence {
  private timeouts = 0;
  private readonly devices = new Set<string>();
  private silentSince: number | null = null;

  constructor(private readonly retries: number) {}

  get silent(): boolean {
    return this.silentSince !== null;
  }

  get since(): number | null {
    return this.silentSince;
  }

  /** What the last streak held (for the message). */
  get streak(): { timeouts: number; devices: number } {
    return { timeouts: this.timeouts, devices: this.devices.size };
  }

  /** Something came back (a reply, an exception, even garbage): the link lives. True when it was judged silent. */
  answered(): boolean {
    const was = this.silent;
    this.timeouts = 0;
    this.devices.clear();
    this.silentSince = null;
    return was;
  }

  /**
   * A device that was answering timed out; `answering` is how many devices on the link were
   * answering before it. True when this timeout makes the link silent.
   */
  timedOut(device: string, answering: number, now = Date.now()): boolean {
    if (this.silent) return false;
    this.timeouts++;
    this.devices.add(device);
    // With one device answering, a silent link and a silent device look the same: it fails on its own.
    if (answering < 2) return false;
    // Without retries a device fails on its first timeout: two devices are then evidence enough.
    const needDevices = Math.min(SILENT_LINK_DEVICES, answering, this.retries + 2);
    if (this.timeouts >= this.retries + 1 && this.devices.size >= needDevices) {
      this.silentSince = now;
      return true;
    }
    return false;
  }
}
