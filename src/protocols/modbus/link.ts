import type { ModbusLink } from "./link-error.ts";
import { RtuLink, type RtuLinkOptions } from "./rtu-link.ts";
import { TcpLink, type TcpLinkOptions } from "./tcp-link.ts";

// The link contract lives in link-error.ts, so the RTU and TCP links need not import this file
// (which imports them): no import cycle.
export { exceptionError, LinkError, MODBUS_EXCEPTIONS, type LinkErrorKind, type ModbusLink } from "./link-error.ts";
export { BROADCAST_UNIT, TcpLink, type TcpLinkOptions } from "./tcp-link.ts";

/** Options of any Modbus link: TCP, or RTU on a serial port or over TCP. */
export type LinkOptions = TcpLinkOptions | RtuLinkOptions;

export function createLink(bus: LinkOptions): ModbusLink {
  if (bus.kind === "modbus-tcp") return new TcpLink(bus);
  // RTU on a serial port, or RTU frames over TCP to a serial device server (rtu-link.ts).
  return new RtuLink(bus);
}
