/**
 * Entry of a BACnet/IP port's worker thread: attaches to the shared point table and runs the port's
 * driver. Started and restarted by the supervisor like the Modbus bus workers.
 */
import { PointTable } from "../points/table.ts";
import { BacnetDriver } from "../drivers/bacnet/driver.ts";
import type { FromBacnetWorker, ToBacnetWorker } from "../drivers/bacnet/messages.ts";

declare const self: Worker;

const post = (msg: FromBacnetWorker) => self.postMessage(msg);
let driver: BacnetDriver | undefined;

self.onmessage = (event: MessageEvent<ToBacnetWorker>) => {
  const msg = event.data;
  switch (msg.type) {
    case "init": {
      driver = new BacnetDriver(msg.bus, msg.devices, new PointTable(msg.table), msg.ring, post, { learned: msg.learned });
      post({ type: "ready" });
      // A rejection here is an uncaught error: the supervisor sees the worker die and restarts it.
      void driver.run();
      break;
    }
    case "write":
      if (driver) driver.enqueueWrite(msg);
      else post({ type: "write-result", id: msg.id, ok: false, error: "port not started", ms: 0 });
      break;
    case "bacnet-write":
      if (driver) driver.enqueueWrite(msg, true);
      else post({ type: "bacnet-write-result", id: msg.id, ok: false, error: "port not started", ms: 0 });
      break;
    case "whois":
      if (driver) void driver.scan(msg.id, msg.low, msg.high, msg.waitMs);
      else post({ type: "whois-done", id: msg.id, heard: [] });
      break;
    case "stop":
      driver?.stop();
      break;
    case "crash":
      setTimeout(() => {
        throw new Error("crash requested");
      });
      break;
  }
};
