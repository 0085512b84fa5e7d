/**
 * `busbar import-enlogic FILE.io [--out DIR | --stdout]`: turns an EnLogic device map into Busbar
 * profiles (one per module), written as DIR/<profile>.yaml (default: the current directory).
 * Every construct not carried over is reported as FILE:LINE: level: message on stderr.
 * Exit status: 0 imported, 1 imported with some tags left out (see the errors), 2 nothing imported.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { importEnlogic } from "../enlogic/import.ts";

const USAGE = `Usage: busbar import-enlogic FILE.io [--out DIR] [--stdout] [--force]

Converts an EnLogic .io device map (Windows-1251 XML) into Busbar device profiles, one per module.
  --out DIR   where to write <profile>.yaml (default: current directory)
  --stdout    print the profiles instead of writing files
  --force     overwrite existing profile files
`;

export async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { out: { type: "string" }, stdout: { type: "boolean" }, force: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const file = args.positionals[0];
  if (args.values.help || !file) {
    (args.values.help ? process.stdout : process.stderr).write(USAGE);
    return args.values.help ? 0 : 2;
  }
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    process.stderr.write(`${file}: cannot read: ${(e as Error).message}\n`);
    return 2;
  }
  const result = importEnlogic(bytes, file);
  for (const i of result.issues) process.stderr.write(`${file}:${i.line}: ${i.level}: ${i.message}\n`);
  if (!result.modules.length) {
    process.stderr.write(`${file}: nothing imported\n`);
    return 2;
  }
  const outDir = args.values.out ?? ".";
  for (const m of result.modules) {
    if (args.values.stdout) {
      process.stdout.write(`---\n${m.yaml}`);
      continue;
    }
    mkdirSync(outDir, { recursive: true });
    const path = join(outDir, `${m.profile.profile}.yaml`);
    if (existsSync(path) && !args.values.force) {
      process.stderr.write(`${path}: exists (use --force to overwrite)\n`);
      return 2;
    }
    writeFileSync(path, m.yaml);
    process.stderr.write(`${path}: profile "${m.profile.profile}" with ${m.profile.tags.length} tag(s); in the site file: ${m.siteStub}\n`);
  }
  const errors = result.issues.filter((i) => i.level === "error").length;
  const warnings = result.issues.filter((i) => i.level === "warning").length;
  process.stderr.write(`${file} (${result.encoding}): ${result.modules.length} module(s) imported, ${errors} error(s), ${warnings} warning(s)\n`);
  return errors ? 1 : 0;
}
