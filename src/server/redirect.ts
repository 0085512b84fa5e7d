/**
 * Where a `next` / `back` parameter may send the browser: a path on this site, and only one that
 * stays so after the browser's own URL rules. The WHATWG parser drops tabs and newlines and reads
 * `\` as `/`, so `/\t/evil.example` or `/\evil.example` become `//evil.example`: another origin.
 *
 * - empty or absent → the fallback;
 * - control characters or backslashes → refused (400): no legitimate link of ours has them, and
 *   a Location header cannot carry them;
 * - anything that does not resolve to this origin (`//host`, `https:`, `javascript:`) → the fallback;
 * - otherwise the path as the URL parser serializes it (percent-encoded: a valid header value).
 */

export type RedirectTarget = { ok: true; path: string } | { ok: false; error: string };

const BASE = "http://busbar.invalid";
const MAX = 2048;

export function redirectTarget(raw: unknown, fallback = "/"): RedirectTarget {
  if (raw === undefined || raw === null || raw === "") return { ok: true, path: fallback };
  if (typeof raw !== "string") return { ok: false, error: "must be a path on this site" };
  if (raw.length > MAX) return { ok: false, error: `must be a path on this site of at most ${MAX} characters` };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(raw)) return { ok: false, error: "must be a path on this site (no control characters or backslashes)" };
  if (!raw.startsWith("/") || raw.startsWith("//")) return { ok: true, path: fallback };
  let u: URL;
  try {
    u = new URL(raw, BASE);
  } catch {
    return { ok: true, path: fallback };
  }
  if (u.origin !== BASE || u.pathname.startsWith("//")) return { ok: true, path: fallback };
  return { ok: true, path: u.pathname + u.search + u.hash };
}

/** For views and links: the safe path, or the fallback when refused. */
export function safePath(raw: unknown, fallback = "/"): string {
  const r = redirectTarget(raw, fallback);
  return r.ok ? r.path : fallback;
}
