import type * as z from "zod";

/** One problem in a configuration file, addressed by its path (`devices[3].unit`). */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** Thrown by loaders with every issue found, never just the first. */
export class ConfigError extends Error {
  constructor(
    public readonly file: string,
    public readonly issues: ConfigIssue[],
  ) {
    super(`${file}: ${issues.length} error(s)\n` + issues.map((i) => `  ${i.path}: ${i.message}`).join("\n"));
    this.name = "ConfigError";
  }
}

/** `["devices", 3, "unit"]` → `devices[3].unit` */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || "(root)";
}

export function zodIssues(error: z.ZodError, prefix: ReadonlyArray<PropertyKey> = []): ConfigIssue[] {
  return error.issues.map((issue) => ({
    path: formatPath([...prefix, ...issue.path]),
    message: issue.message,
  }));
}
