import * as lib from "@bacnet-js/client";
import type BACnetClientType from "@bacnet-js/client";

/**
 * The BACnet/IP client library's class. Imported as a namespace: the package is CommonJS with an
 * `exports.default`, which `bun build --compile` exposes one level deeper than the runtime does
 * (measured: `new X.default(...)` "is not a constructor" inside dist/busbar).
 */
const mod = lib as unknown as { default?: unknown };
const inner = mod.default as { default?: unknown } | undefined;
export const BACnetClient = (typeof inner === "function" ? inner : typeof inner?.default === "function" ? inner.default : mod) as typeof BACnetClientType;
export type BACnetClient = BACnetClientType;
