import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "test/**/*.test.tsx"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Peers (pymodbus, socat, chromium) bind ports and devices; run files one at a time on 2 cores.
    fileParallelism: false,
    pool: "forks",
  },
});
