// postinstall: Busbar talks to serial ports through its own tty binding (src/protocols/serial).
// modbus-serial still `require`s serialport (in a try/catch), whose prebuilt native binding
// sometimes aborts the whole Bun process while it loads ("Napi::Error", seen in a test run).
// Without the prebuilds that require fails as a plain, caught JavaScript error instead.
import { existsSync, rmSync } from "node:fs";

const prebuilds = new URL("../node_modules/@serialport/bindings-cpp/prebuilds", import.meta.url);
if (existsSync(prebuilds)) rmSync(prebuilds, { recursive: true, force: true });
