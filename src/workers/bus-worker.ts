/**
 * Entry of a bus worker thread: attaches to the shared point table and runs the bus's poll loop.
 * Started and restarted by the supervisor (src/server/supervisor.ts).
 */
import { createLink } from "../protocols/modbus/link.ts";
import { PointTable } from "../points/table.ts";
import { BusPoller } from "./bus-poller.ts";
import { ReplyCache } from "../gateway/reply-cache.ts";
import type { FromWorker, ToWorker } from "./protocol.ts";

declare const self: Worker;

let poller: BusPoller | undefined;
const GC_EVERY_MS = 10_000;
const post = (msg: FromWorker) => self.postMessage(msg);

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const msg = event.data;
  switch (msg.type) {
    case "init": {
      const table = new PointTable(msg.table);
      poller = new BusPoller(msg.bus, msg.devices, table, msg.ring, createLink(msg.bus), post, {
        replyCache: msg.replyCache ? new ReplyCache(msg.replyCache) : undefined,
        timezone: msg.timezone,
        lastTimeSync: msg.lastTimeSync,
      });
      post({ type: "ready" });
      // Reply buffers are short-lived garbage; a periodic collection keeps each worker's heap (and the
      // process RSS) flat instead of letting it grow to the allocator's high-water mark.
      setInterval(() => Bun.gc(true), GC_EVERY_MS);
      // A rejection here is an uncaught error: the supervisor sees the worker die and restarts it.
      void poller.run();
      break;
    }
    case "write":
      if (poller) poller.enqueueWrite(msg);
      else post({ type: "write-result", id: msg.id, ok: false, error: "bus not started", ms: 0 });
      break;
    case "forward": {
      const { id } = msg;
      if (poller) poller.enqueueForward(msg.unit, msg.device, msg.op, (r) => post({ type: "forward-result", id, ...r }));
      else post({ type: "forward-result", id, ok: false, exception: 0x0a, error: "bus not started", busMs: 0 });
      break;
    }
    case "scan":
      poller?.startScan(msg.id, msg.request);
      break;
    case "scan-cancel":
      poller?.cancelScan(msg.id);
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
