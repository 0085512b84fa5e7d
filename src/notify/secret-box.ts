import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * Channel secrets (SMTP password, webhook HMAC key, bot tokens) are stored AES-256-GCM encrypted.
 * The key is NOT in the database, so a copied database or a backup does not give the secrets away:
 *   - BUSBAR_SECRET_KEY (64 hex characters or base64 of 32 bytes) when set, else
 *   - `secret.key` beside the database (created on first use, mode 0600).
 * Losing the key loses the secrets (re-enter them), nothing else.
 */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  static forDatabase(dbPath: string, env = process.env): SecretBox {
    const fromEnv = env.BUSBAR_SECRET_KEY?.trim();
    if (fromEnv) {
      const key = /^[0-9a-f]{64}$/i.test(fromEnv) ? Buffer.from(fromEnv, "hex") : Buffer.from(fromEnv, "base64");
      if (key.length !== 32) throw new Error("BUSBAR_SECRET_KEY must be 32 bytes (64 hex characters or base64)");
      return new SecretBox(key);
    }
    if (dbPath === ":memory:") return new SecretBox(randomBytes(32));
    const file = SecretBox.keyFile(dbPath);
    if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString("hex") + "\n", { mode: 0o600, flag: "wx" });
    // A key others can read is no secret: tighten it rather than refuse to start.
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    const key = Buffer.from(readFileSync(file, "utf8").trim(), "hex");
    if (key.length !== 32) throw new Error(`${file}: not a 32-byte hex key`);
    return new SecretBox(key);
  }

  static keyFile(dbPath: string): string {
    return join(dirname(dbPath), "secret.key");
  }

  seal(plain: Record<string, string>): string {
    if (!Object.values(plain).some((v) => v)) return "";
    const iv = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", this.key, iv);
    const body = Buffer.concat([c.update(JSON.stringify(plain), "utf8"), c.final()]);
    return `v1:${iv.toString("base64")}:${c.getAuthTag().toString("base64")}:${body.toString("base64")}`;
  }

  /** Throws when the key is not the one that sealed it (the caller says so on the page). */
  open(sealed: string): Record<string, string> {
    if (!sealed) return {};
    const [v, iv, tag, body] = sealed.split(":");
    if (v !== "v1" || !iv || !tag || body === undefined) throw new Error("unknown secret format");
    const d = createDecipheriv("aes-256-gcm", this.key, Buffer.from(iv, "base64"));
    d.setAuthTag(Buffer.from(tag, "base64"));
    return JSON.parse(Buffer.concat([d.update(Buffer.from(body, "base64")), d.final()]).toString("utf8")) as Record<string, string>;
  }
}
