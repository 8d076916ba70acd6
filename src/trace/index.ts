/** trace_pipe (bpf_printk output) reader and its pure line parser. */
export { tracePipe, TracePipe, type TracePipeOptions } from "./trace-pipe.js";
export { parseTraceLine, splitLines, type TraceLine } from "./parse.js";
