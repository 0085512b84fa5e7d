/**
 * The journal's hash chain. Row n's hash is sha256(hash of row n-1 + "\n" + canonical content of row n),
 * starting from GENESIS. Editing a row changes its hash; deleting one breaks the next row's link;
 * removing rows at the end is caught by the head anchor kept in `settings` (journal.head).
 */

export const GENESIS = "0".repeat(64);

export interface ChainedRow {
  id: number;
  ts: number;
  type: string;
  source: string;
  actor: string;
  device: string;
  message: string;
  data: string | null;
}

export function rowHash(prev: string, r: ChainedRow): string {
  const h = new Bun.CryptoHasher("sha256");
  h.update(prev);
  h.update("\n");
  h.update(JSON.stringify([r.id, r.ts, r.type, r.source, r.actor, r.device, r.message, r.data]));
  return h.digest("hex");
}
