/**
 * Entry of a bus worker thread: attaches to the shared point table and runs the bus's poll loop.
 * Started and restarted by the supervisor (src/server/supervisor.ts).
 */
import { createLink } from "../protocols/modbus/link.ts";
import { PointTable } from "../points/table.ts";
import { BusPoller } from "./bus-poller.ts";
import type { FromWorker, ToWorker } from "./protocol.ts";

declare const self: Worker;

let poller: BusPoller | undefined;
const post = (msg: FromWorker) => self.postMessage(msg);

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const msg = event.data;
  switch (msg.type) {
    case "init": {
      const table = new PointTable(msg.table);
      poller = new BusPoller(msg.bus, msg.devices, table, msg.ring, createLink(msg.bus), post);
      post({ type: "ready" });
      // A rejection here is an uncaught error: the supervisor sees the worker die and restarts it.
      void poller.run();
      break;
    }
    case "write":
      if (poller) poller.enqueueWrite(msg);
      else post({ type: "write-result", id: msg.id, ok: false, error: "bus not started", ms: 0 });
      break;
    case "stop":
      poller?.stop();
      break;
    case "crash":
      // Fault injection for the supervisor's tests and drills; harmless: the supervisor restarts us.
      setTimeout(() => {
        throw new Error("crash requested");
      });
      break;
  }
};
