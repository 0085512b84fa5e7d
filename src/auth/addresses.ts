/**
 * Client address lists (kiosks, gateway writers): exact IPv4/IPv6 addresses or IPv4 CIDR blocks,
 * compared after folding IPv4-mapped IPv6 (`::ffff:10.0.0.5`) to plain IPv4, as sockets report
 * either form for the same peer.
 */

/** `::ffff:10.0.0.5` → `10.0.0.5`; lower-case IPv6. */
export function normalizeIp(ip: string): string {
  const s = ip.trim().toLowerCase();
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  return m ? m[1]! : s;
}

export function ipv4(s: string): number | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

/** An address or IPv4 CIDR a list may hold (site-file validation). */
export function validAddressPattern(s: string): boolean {
  const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(s.trim());
  if (cidr) return ipv4(cidr[1]!) !== undefined && Number(cidr[2]) <= 32;
  const n = normalizeIp(s);
  return ipv4(n) !== undefined || (/^[0-9a-f:]+$/.test(n) && n.includes(":"));
}

export class AddressList {
  private readonly exact = new Set<string>();
  private readonly nets: { net: number; mask: number }[] = [];

  constructor(patterns: readonly string[]) {
    for (const k of patterns) {
      const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(k.trim());
      if (cidr) {
        const bits = Number(cidr[2]);
        const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
        this.nets.push({ net: ((ipv4(cidr[1]!) ?? 0) & mask) >>> 0, mask });
      } else this.exact.add(normalizeIp(k));
    }
  }

  get addresses(): string[] {
    return [...this.exact];
  }

  has(ip: string | undefined): boolean {
    if (!ip) return false;
    const n = normalizeIp(ip);
    if (this.exact.has(n)) return true;
    const v4 = ipv4(n);
    if (v4 === undefined) return false;
    return this.nets.some((k) => ((v4 & k.mask) >>> 0) === k.net);
  }
}
