/**
 * Device profiles, the demo site and the page assets.
 * Run from source (`bun src/cli.ts`, tests), they are read from data/ and public/ as they are now,
 * so a fresh clone runs as checked out and an edited profile needs no generation step. The compiled
 * binary replaces this module with the same files rendered in (scripts/build.ts), so it reads no disk.
 */
import { join } from "node:path";
import { readEmbeddedFiles } from "./embedded-files.ts";

export const { PROFILES, DEMO_SITE, ASSETS } = readEmbeddedFiles(join(import.meta.dirname, ".."));
