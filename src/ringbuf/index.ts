/** Ring buffer readers (BPF_MAP_TYPE_RINGBUF) and the user ring buffer producer (BPF_MAP_TYPE_USER_RINGBUF). */
export { RingBuffer, RingBufferReader, Ring, type RingBufferStats } from "./ringbuf.js";
export { UserRingBuffer, type UserRingSample } from "./user-ringbuf.js";
export { EventStream, type BatchCallback, type Decoder, type EventBatch, type IterateOptions, type StreamOptions } from "./stream.js";
