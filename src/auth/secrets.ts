/**
 * Passwords, PINs and tokens. Passwords and PINs are hashed with argon2id (Bun.password); tokens are
 * 256-bit random strings whose sha256 is what the database keeps.
 */

export const MIN_PASSWORD_LENGTH = 10;
export const PIN_LENGTH = { min: 4, max: 8 };

export function hashSecret(secret: string): Promise<string> {
  return Bun.password.hash(secret, { algorithm: "argon2id" });
}

export function verifySecret(secret: string, hash: string): Promise<boolean> {
  return Bun.password.verify(secret, hash).catch(() => false);
}

/** A hash of nothing anyone knows, verified against when the user does not exist (same timing). */
let dummy: Promise<string> | undefined;
export function dummyHash(): Promise<string> {
  dummy ??= hashSecret(randomToken());
  return dummy;
}

export function randomToken(bytes = 32): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return Buffer.from(b).toString("base64url");
}

export function sha256Hex(s: string): string {
  return new Bun.CryptoHasher("sha256").update(s).digest("hex");
}

/** Constant-time string comparison (tokens). */
export function sameToken(a: string | undefined | null, b: string | undefined | null): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  if (x.length !== y.length) return false;
  let d = 0;
  for (let i = 0; i < x.length; i++) d |= x[i]! ^ y[i]!;
  return d === 0;
}

const WORDS_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/** A generated password: 16 characters without look-alikes (l/1, O/0). */
export function generatePassword(length = 16): string {
  const out: string[] = [];
  const max = 256 - (256 % WORDS_ALPHABET.length);
  while (out.length < length) {
    for (const x of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (x < max && out.length < length) out.push(WORDS_ALPHABET[x % WORDS_ALPHABET.length]!);
    }
  }
  return out.join("");
}

export function generatePin(length = 6): string {
  const out: string[] = [];
  while (out.length < length) {
    for (const x of crypto.getRandomValues(new Uint8Array(length * 2))) if (x < 250 && out.length < length) out.push(String(x % 10));
  }
  return out.join("");
}

export function passwordProblem(p: string): string | null {
  if (p.length < MIN_PASSWORD_LENGTH) return `must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (p.length > 200) return "must be at most 200 characters";
  return null;
}

export function pinProblem(p: string): string | null {
  if (!/^\d+$/.test(p)) return "must be digits only";
  if (p.length < PIN_LENGTH.min || p.length > PIN_LENGTH.max) return `must be ${PIN_LENGTH.min} to ${PIN_LENGTH.max} digits`;
  return null;
}
