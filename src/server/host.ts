import type { Journal } from "../journal/journal.ts";
import { startBusbar, type Busbar, type BusbarOptions } from "./runtime.ts";

/**
 * Keeps one Busbar running and can restart it in place: a restore stops it, swaps the database
 * files and starts it again on the same HTTP (and gateway) port, so pages reconnect by themselves.
 */
export interface BusbarHost {
  readonly current: Busbar;
  restart(swap: () => Promise<void> | void, after?: (journal: Journal) => void): Promise<void>;
  stop(): Promise<void>;
}

export async function hostBusbar(opts: BusbarOptions): Promise<BusbarHost> {
  let restarting: Promise<void> | undefined;
  const host: BusbarHost & { current: Busbar } = {
    current: undefined as unknown as Busbar,
    restart(swap, after) {
      restarting = (async () => {
        await host.current.stop();
        await swap();
        host.current = await startBusbar(options);
        if (after) after(host.current.journal);
      })();
      return restarting.finally(() => (restarting = undefined));
    },
    async stop() {
      await restarting?.catch(() => {});
      await host.current.stop();
    },
  };
  const options: BusbarOptions = { ...opts, restart: (swap, after) => host.restart(swap, after) };
  host.current = await startBusbar(options);
  // The same ports after a restart.
  options.httpPort = host.current.port;
  if (host.current.gateway) options.gatewayPort = host.current.gateway.port;
  return host;
}
