/**
 * xdp_counter: the packet counter of the seed "TIL: The basics of writing eBPF programs". The
 * count_packets XDP program adds one to pkt_count[0] for every packet arriving on an interface;
 * this driver attaches it, prints the count every second, and detaches on Ctrl-C (SIGINT) or
 * SIGTERM.
 *
 *   sudo node dist/examples/xdp_counter/xdp_counter.js --iface eth0 [--mode generic|driver|offload] [--duration SECONDS]
 */
import { attachXdp, loadObject, type XdpMode } from "../../src/index.js";
import { exampleObject, parseOptions, usageError, usageLine } from "../common.js";

const spec = {
  iface: { kind: "text", short: "i", arg: "NAME" },
  mode: { kind: "text", arg: "generic|driver|offload" },
  duration: { kind: "seconds" },
} as const;
const values = parseOptions("xdp_counter", spec);
if (!values.iface) {
  usageError("xdp_counter", `say which interface to count packets on, e.g. --iface eth0 (\`ip link\` lists them); ${usageLine("xdp_counter", spec)}`);
}
if (values.mode !== undefined && !["generic", "driver", "offload"].includes(values.mode)) {
  usageError("xdp_counter", `--mode is generic, driver or offload, not ${values.mode}`);
}

using obj = await loadObject(exampleObject(import.meta.url, "xdp_counter"));
using attached = attachXdp(obj.programs.count_packets!, values.iface, { mode: values.mode as XdpMode | undefined });
const pktCount = obj.maps.pkt_count!;
const key = new Uint8Array(4); // key 0: the only slot
const value = new Uint8Array(8);
const count = (): bigint => (pktCount.lookupInto(key, value) ? new DataView(value.buffer).getBigUint64(0, true) : 0n);

console.log(`Counting packets on ${attached.iface} (ifindex ${attached.ifindex}) with ${attached.mechanism}; press Ctrl-C to stop.`);
await new Promise<void>((resolve) => {
  const tick = setInterval(() => console.log(`Received ${count()} packets`), 1000);
  const stop = () => {
    clearInterval(tick);
    resolve();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  if (values.duration !== undefined) setTimeout(stop, values.duration * 1000);
});
console.log(`Received ${count()} packets in total; detaching from ${attached.iface}.`);
