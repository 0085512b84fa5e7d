import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PROFILES } from "../embedded.ts";
import { parseProfile, parseYaml, type Profile } from "./profile.ts";
import { isBacnetProfileData, parseBacnetProfile } from "../protocols/bacnet/profile.ts";
import { bacnetAsProfile } from "./bacnet-profile.ts";
import { ConfigError, type ConfigIssue } from "./validation.ts";
import { checkConfigFileSize } from "./yaml.ts";

/**
 * Device profiles: the built-in ones embedded in the binary, plus any `*.yaml` in an extra folder
 * (a site's own profiles), which may replace a built-in one of the same id.
 * All profiles are checked; every error of every file is reported together.
 */
export function loadProfiles(extraDir?: string): Map<string, Profile> {
  const profiles = new Map<string, Profile>();
  const issues: ConfigIssue[] = [];
  const sources: [file: string, text: string][] = Object.entries(PROFILES).map(([id, text]) => [`profiles/${id}.yaml`, text]);
  if (extraDir) {
    let names: string[];
    try {
      names = readdirSync(extraDir).sort();
    } catch (e) {
      throw new ConfigError(extraDir, [{ path: "(folder)", message: `cannot read the profiles folder: ${(e as Error).message}` }]);
    }
    for (const f of names) {
      if (!(f.endsWith(".yaml") || f.endsWith(".yml"))) continue;
      try {
        checkConfigFileSize(join(extraDir, f));
        sources.push([join(extraDir, f), readFileSync(join(extraDir, f), "utf8")]);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        issues.push(...e.issues.map((i) => ({ path: `${join(extraDir, f)}: ${i.path}`, message: i.message })));
      }
    }
  }
  for (const [file, text] of sources) {
    try {
      // One folder, one namespace of profile ids: a `protocol: bacnet` file is a BACnet object map.
      const data = parseYaml(text, file);
      const p = isBacnetProfileData(data) ? bacnetAsProfile(parseBacnetProfile(data, file)) : parseProfile(data, file);
      profiles.set(p.profile, p);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      issues.push(...e.issues.map((i) => ({ path: `${file}: ${i.path}`, message: i.message })));
    }
  }
  if (issues.length) throw new ConfigError("profiles", issues);
  return profiles;
}
