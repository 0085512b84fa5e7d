import { createServer } from "node:net";

/** Whether `port` can be bound on loopback right now. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** A currently free TCP port on loopback (the demo's simulated gateways, tests). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether UDP `port` can be bound on all addresses right now (the BACnet server binds 0.0.0.0). */
export async function udpPortIsFree(port: number): Promise<boolean> {
  try {
    const s = await Bun.udpSocket({ hostname: "0.0.0.0", port });
    s.close();
    return true;
  } catch {
    return false;
  }
}

/** A currently free UDP port other than BACnet's 47808. */
export async function freeUdpPort(): Promise<number> {
  for (;;) {
    const s = await Bun.udpSocket({ hostname: "0.0.0.0", port: 0 });
    const port = s.port;
    s.close();
    if (port !== 47808) return port;
  }
}
