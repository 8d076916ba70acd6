/*
 * tsbpf native layer, event streams: ring buffer and perf buffer draining, the user ring buffer
 * producer side, epoll, and readiness polling on the libuv loop. Registered into the addon's
 * exports by tsbpf_register_events().
 *
 * Memory ordering lives here, not in JavaScript:
 *  - BPF ring buffer (kernel/bpf/ringbuf.c ABI): consumer page (RW for the reader) holds
 *    consumer_pos, producer page (RO) holds producer_pos, then the data area mapped twice so a
 *    record never wraps in virtual memory. Each record starts with an 8-byte header whose first
 *    u32 is the length with BPF_RINGBUF_BUSY_BIT (not committed yet) and BPF_RINGBUF_DISCARD_BIT;
 *    records are 8-byte aligned. producer_pos and every header are read with acquire loads;
 *    consumer_pos is published with one release store per drain (ringbufCommit).
 *  - perf ring (struct perf_event_mmap_page): data_head (acquire) and data_tail (release) at
 *    offsets 1024 and 1032 of the meta page; 2^n data pages follow. The ring is not double
 *    mapped, so it is placed in front of an anonymous scratch area and a record that wraps is
 *    made contiguous by copying its wrapped tail there.
 *
 * The drains do not call JavaScript: each ring is registered once with the arrays its drains fill
 * (offsets and lengths of the records of one drain, and counters); a drain call returns the
 * count, JavaScript reads the records in place, then commits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <node_api.h>
#include <uv.h>

#define FAIL(msg)                                                   \
  do {                                                              \
    napi_throw_error(env, "E_NATIVE", "tsbpf native: " msg);        \
    return NULL;                                                    \
  } while (0)
#define CHECK(call)                                                 \
  do {                                                              \
    if ((call) != napi_ok) FAIL("bad arguments to " #call);         \
  } while (0)
#define GET_ARGS(n)                                                 \
  size_t argc = (n);                                                \
  napi_value argv[(n)];                                             \
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));      \
  if (argc < (n)) FAIL("too few arguments")

static napi_value num(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

/* Data and byte length of an ArrayBuffer (0 length once detached/unmapped). */
static int ab_of(napi_env env, napi_value v, uint8_t **p, size_t *len) {
  void *d = NULL;
  *p = NULL;
  *len = 0;
  if (napi_get_arraybuffer_info(env, v, &d, len) != napi_ok) return -1;
  *p = d;
  if (!d) *len = 0;
  return 0;
}

/* Elements of a typed array of the expected type. */
static int ta_of(napi_env env, napi_value v, napi_typedarray_type want, void **p, size_t *n) {
  napi_typedarray_type t;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &t, n, p, &ab, &off) != napi_ok || t != want) return -1;
  return 0;
}

/* ---------------------------------------------------------------- epoll */

static napi_value js_epoll_create(napi_env env, napi_callback_info info) {
  int fd = epoll_create1(EPOLL_CLOEXEC);
  return num(env, fd < 0 ? -errno : fd);
}

/* epollCtl(epfd, op, fd, events, data) -> 0 or -errno */
static napi_value js_epoll_ctl(napi_env env, napi_callback_info info) {
  GET_ARGS(5);
  int32_t epfd, op, fd;
  uint32_t events, data;
  CHECK(napi_get_value_int32(env, argv[0], &epfd));
  CHECK(napi_get_value_int32(env, argv[1], &op));
  CHECK(napi_get_value_int32(env, argv[2], &fd));
  CHECK(napi_get_value_uint32(env, argv[3], &events));
  CHECK(napi_get_value_uint32(env, argv[4], &data));
  struct epoll_event ev = {.events = events, .data = {.u64 = data}};
  int r = epoll_ctl(epfd, op, fd, &ev);
  return num(env, r < 0 ? -errno : 0);
}

/* epollWait(epfd, out: Uint32Array, timeoutMs) -> number of ready fds (their data in out) or -errno */
static napi_value js_epoll_wait(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  int32_t epfd, timeout;
  uint32_t *out;
  size_t n;
  CHECK(napi_get_value_int32(env, argv[0], &epfd));
  if (ta_of(env, argv[1], napi_uint32_array, (void **)&out, &n) != 0) FAIL("epollWait wants a Uint32Array");
  CHECK(napi_get_value_int32(env, argv[2], &timeout));
  struct epoll_event evs[64];
  if (n > 64) n = 64;
  if (n == 0) return num(env, 0);
  int r;
  do r = epoll_wait(epfd, evs, (int)n, timeout);
  while (r < 0 && errno == EINTR && timeout == 0);
  if (r < 0) return num(env, errno == EINTR ? 0 : -errno);
  for (int i = 0; i < r; i++) out[i] = (uint32_t)evs[i].data.u64;
  return num(env, r);
}

/*
 * Drain handles. A ring (a BPF ring buffer, or one CPU's perf ring) is registered once with the
 * memory its drains write: a state block (Float64Array(8) over `state`) and the stream's output
 * arrays (Uint32Array offsets[capacity] then lengths[capacity] over `out`). A drain then takes
 * only the handle and the most records to deliver: no per-record N-API call or allocation, no
 * per-drain lookups of buffers. The handle holds references to every buffer it points into, so
 * they stay alive while it is open; close it (ringbufClose/perfClose) before unmapping.
 *
 * State (both kinds): [0] records delivered, [1] payload bytes, [2] discarded (ring buffer) or
 * lost (perf), [3] 1 when the last drain stopped at its record or byte budget with more data
 * behind it, [4] position after the last drain, [5] lost in the last drain (perf), [6] other
 * perf records skipped.
 *
 * Each drain makes one acquire load of the producer position, one acquire load per record
 * header, and stops after `budget` bytes (so a batch is still in cache when JavaScript reads
 * it). The next record's position is predicted from the previous record's size, so the loads of
 * consecutive headers overlap instead of forming one long dependency chain (records of a stream
 * usually have one size); a wrong prediction costs one branch miss and every header is still
 * read and checked. The position is published by one release store per commit.
 */
#define ST_RECORDS 0
#define ST_BYTES 1
#define ST_DROPPED 2
#define ST_MORE 3
#define ST_POS 4
#define ST_LOST_LAST 5
#define ST_OTHER 6
#define STATE_LEN 8

enum { DRAIN_RINGBUF = 1, DRAIN_PERF = 2 };

struct drain {
  int kind;
  int closed;
  uint8_t *ctl;        /* ring buffer: consumer page; perf: the meta page */
  const uint8_t *prod; /* ring buffer: producer page */
  uint8_t *data;       /* data area (ring buffer: mapped twice; perf: followed by the scratch area) */
  uint64_t size;       /* data area size, a power of two */
  uint64_t pos;        /* position after the last drain */
  uint64_t committed;  /* position last published to the producer */
  uint32_t *offsets, *lengths;
  uint32_t capacity;
  uint32_t budget;
  uint32_t step; /* predicted distance to the next record */
  double *state;
  napi_ref refs[4];
};

#define BARRIER(x) __asm__ volatile("" : "+r"(x))
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

static void drain_release(napi_env env, struct drain *d) {
  if (d->closed) return;
  d->closed = 1;
  for (int i = 0; i < 4; i++) {
    if (d->refs[i]) napi_delete_reference(env, d->refs[i]);
    d->refs[i] = NULL;
  }
  d->ctl = d->data = NULL;
  d->prod = NULL;
  d->offsets = d->lengths = NULL;
  d->state = NULL;
}

static void drain_finalize(napi_env env, void *data, void *hint) {
  struct drain *d = data;
  drain_release(env, d);
  free(d);
}

static struct drain *drain_of(napi_env env, napi_value v, int kind) {
  void *p = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) return NULL;
  struct drain *d = p;
  return d->kind == kind && !d->closed ? d : NULL;
}

/* Common part of ringbufOpen/perfOpen: state and output buffers, references, the handle. */
static napi_value drain_make(napi_env env, struct drain *d, napi_value *bufs, int nbufs, napi_value state, napi_value out,
                             uint32_t capacity, uint32_t budget) {
  uint8_t *sp, *op;
  size_t sl, ol;
  napi_value ext;
  if (ab_of(env, state, &sp, &sl) || ab_of(env, out, &op, &ol) || !sp || !op || sl < STATE_LEN * sizeof(double) ||
      capacity == 0 || ol < (size_t)capacity * 8 || ((uintptr_t)sp & 7) || ((uintptr_t)op & 3)) {
    free(d);
    return num(env, -EINVAL);
  }
  d->state = (double *)sp;
  d->offsets = (uint32_t *)op;
  d->lengths = (uint32_t *)op + capacity;
  d->capacity = capacity;
  d->budget = budget ? budget : 1;
  d->pos = d->committed;
  d->state[ST_POS] = (double)d->pos;
  int nr = 0;
  for (int i = 0; i < nbufs; i++)
    if (napi_create_reference(env, bufs[i], 1, &d->refs[nr++]) != napi_ok) goto fail;
  if (napi_create_reference(env, state, 1, &d->refs[nr++]) != napi_ok) goto fail;
  if (napi_create_reference(env, out, 1, &d->refs[nr++]) != napi_ok) goto fail;
  if (napi_create_external(env, d, drain_finalize, NULL, &ext) != napi_ok) goto fail;
  return ext;
fail:
  drain_release(env, d);
  free(d);
  FAIL("cannot register a ring");
}

/* The handle and the record budget of a drain call: (handle, max). */
#define DRAIN_ARGS(kind)                                                      \
  GET_ARGS(2);                                                                \
  struct drain *d = drain_of(env, argv[0], (kind));                           \
  uint32_t max_arg;                                                           \
  if (!d) return num(env, -EBADF);                                            \
  if (napi_get_value_uint32(env, argv[1], &max_arg) != napi_ok) FAIL("bad record budget"); \
  const uint32_t max = max_arg < d->capacity ? max_arg : d->capacity

/* ---------------------------------------------------------------- BPF ring buffer */

#define RB_BUSY BPF_RINGBUF_BUSY_BIT
#define RB_DISCARD BPF_RINGBUF_DISCARD_BIT
#define RB_HDR BPF_RINGBUF_HDR_SZ

/*
 * ringbufOpen(consumer, producer, state, out, capacity, budgetBytes) -> handle or -errno.
 * consumer: the consumer page mapping (its length is the page size); producer: the producer page
 * plus the doubly mapped data.
 */
static napi_value js_ringbuf_open(napi_env env, napi_callback_info info) {
  GET_ARGS(6);
  uint8_t *cmap, *pmap;
  size_t clen, plen;
  uint32_t capacity, budget;
  if (ab_of(env, argv[0], &cmap, &clen) || ab_of(env, argv[1], &pmap, &plen)) FAIL("ringbufOpen wants two ArrayBuffers");
  CHECK(napi_get_value_uint32(env, argv[4], &capacity));
  CHECK(napi_get_value_uint32(env, argv[5], &budget));
  if (!cmap || !pmap || plen <= clen) return num(env, -EBADF);
  uint64_t size = (plen - clen) / 2;
  if (size == 0 || (size & (size - 1)) || 2 * size > UINT32_MAX) return num(env, -EINVAL);
  struct drain *d = calloc(1, sizeof(*d));
  if (!d) return num(env, -ENOMEM);
  d->kind = DRAIN_RINGBUF;
  d->ctl = cmap;
  d->prod = pmap;
  d->data = pmap + clen;
  d->size = size;
  d->committed = __atomic_load_n((uint64_t *)cmap, __ATOMIC_ACQUIRE);
  return drain_make(env, d, argv, 2, argv[2], argv[3], capacity, budget);
}

/*
 * ringbufDrain(handle, max) -> records delivered (at most max), or -EBADF once closed.
 * Fills offsets (from the start of the data area) and lengths of committed, non-discarded
 * records; skips discarded ones; stops at a busy one (reserved, not submitted yet: retried on
 * the next drain). Starts where the last drain stopped; the position is not published here
 * (ringbufCommit).
 */
static napi_value js_ringbuf_drain(napi_env env, napi_callback_info info) {
  DRAIN_ARGS(DRAIN_RINGBUF);
  uint64_t cons = d->pos;
  if (cons == d->committed) /* nothing pending: follow the published position */
    cons = d->committed = __atomic_load_n((uint64_t *)d->ctl, __ATOMIC_RELAXED);
  const uint64_t prod = __atomic_load_n((const uint64_t *)d->prod, __ATOMIC_ACQUIRE);
  const uint64_t avail = prod - cons;
  const uint8_t *data = d->data;
  uint32_t *offsets = d->offsets, *lengths = d->lengths;
  size_t off = (size_t)(cons & (d->size - 1));
  const size_t start = off;
  const size_t end = off + (size_t)(avail < d->budget ? avail : d->budget); /* < 2 * size: no wrap */
  uint32_t step = d->step, n = 0, discarded = 0;
  uint64_t bytes = 0;
  int busy = 0;
  while (off < end && n < max) {
    uint32_t len = __atomic_load_n((const uint32_t *)(data + off), __ATOMIC_ACQUIRE);
    if (UNLIKELY(len & (RB_BUSY | RB_DISCARD))) {
      if (len & RB_BUSY) {
        busy = 1;
        break;
      }
      off += ((len & ~RB_DISCARD) + RB_HDR + 7) & ~7u;
      discarded++;
      continue;
    }
    offsets[n] = (uint32_t)(off + RB_HDR);
    lengths[n] = len;
    bytes += len;
    n++;
    uint32_t stride = (len + RB_HDR + 7) & ~7u;
    if (UNLIKELY(stride != step)) {
      step = stride;
      BARRIER(step); /* keep the branch: the next position depends on the prediction, not the load */
    }
    off += step;
  }
  d->step = step;
  d->pos = cons + (off - start);
  double *st = d->state;
  st[ST_RECORDS] += n;
  st[ST_BYTES] += (double)bytes;
  st[ST_DROPPED] += discarded;
  st[ST_MORE] = !busy && d->pos < prod;
  st[ST_POS] = (double)d->pos;
  return num(env, n);
}

/*
 * ringbufCommit(handle) -> 1 when a finished record is already waiting at the new position, else
 * 0; -EBADF once closed. Publishes the position of the last drain (release store).
 *
 * The producer wakes the reader only when, after finishing a record, it finds consumer_pos at
 * that record. A record finished while this drain was running (after the drain read its header,
 * before this store) therefore brings no wakeup. So after the store a full fence, and the header
 * at the new position is read again: either it is finished (1: drain again) or it is not (or
 * there is none), and then the producer's own fence guarantees it will see the new position when
 * it finishes the record, and wake the reader.
 */
static napi_value js_ringbuf_commit(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  struct drain *d = drain_of(env, argv[0], DRAIN_RINGBUF);
  if (!d) return num(env, -EBADF);
  if (d->pos == d->committed) return num(env, 0);
  __atomic_store_n((uint64_t *)d->ctl, d->pos, __ATOMIC_RELEASE);
  d->committed = d->pos;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  const uint64_t prod = __atomic_load_n((const uint64_t *)d->prod, __ATOMIC_ACQUIRE);
  if (d->pos >= prod) return num(env, 0);
  uint32_t len = __atomic_load_n((const uint32_t *)(d->data + (d->pos & (d->size - 1))), __ATOMIC_ACQUIRE);
  return num(env, (len & RB_BUSY) ? 0 : 1);
}

/* ringbufAvailable(handle) -> bytes between the published consumer position and the producer position. */
static napi_value js_ringbuf_available(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  struct drain *d = drain_of(env, argv[0], DRAIN_RINGBUF);
  if (!d) return num(env, -EBADF);
  uint64_t cons = __atomic_load_n((uint64_t *)d->ctl, __ATOMIC_ACQUIRE);
  uint64_t prod = __atomic_load_n((const uint64_t *)d->prod, __ATOMIC_ACQUIRE);
  return num(env, (double)(prod - cons));
}

/* ringbufClose(handle) / perfClose(handle): unregisters (later drains return -EBADF). Idempotent. */
static napi_value js_drain_close(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  void *p = NULL;
  napi_valuetype t;
  if (napi_typeof(env, argv[0], &t) != napi_ok || t != napi_external || napi_get_value_external(env, argv[0], &p) != napi_ok || !p)
    return num(env, -EBADF);
  drain_release(env, p);
  return num(env, 0);
}

/*
 * userRingbufReserve(consumer, producer, size) -> offset of the sample in the data area, or
 * -ENOSPC (no room now) / -E2BIG (never fits). consumer is mapped read-only, producer (page +
 * doubly mapped data) read-write. The header is written busy and producer_pos advanced with a
 * release store, so the kernel sees the record and waits for it to be submitted or discarded.
 * Single producer: callers must not reserve concurrently (JavaScript is single threaded).
 */
static napi_value js_user_ringbuf_reserve(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  uint8_t *cmap, *pmap;
  size_t clen, plen;
  uint32_t size;
  if (ab_of(env, argv[0], &cmap, &clen) || ab_of(env, argv[1], &pmap, &plen)) FAIL("userRingbufReserve wants two ArrayBuffers");
  CHECK(napi_get_value_uint32(env, argv[2], &size));
  if (!cmap || !pmap) return num(env, -EBADF);
  const size_t page = clen;
  const uint64_t ring = (plen - page) / 2, mask = ring - 1;
  uint8_t *data = pmap + page;
  if (size & (RB_BUSY | RB_DISCARD)) return num(env, -E2BIG);
  uint64_t cons = __atomic_load_n((unsigned long *)cmap, __ATOMIC_ACQUIRE);
  uint64_t prod = __atomic_load_n((unsigned long *)pmap, __ATOMIC_ACQUIRE);
  uint64_t total = ((uint64_t)size + RB_HDR + 7) & ~7ull;
  if (total > ring) return num(env, -E2BIG);
  if (ring - (prod - cons) < total) return num(env, -ENOSPC);
  uint32_t *hdr = (uint32_t *)(data + (prod & mask));
  hdr[0] = size | RB_BUSY;
  hdr[1] = 0;
  __atomic_store_n((unsigned long *)pmap, (unsigned long)(prod + total), __ATOMIC_RELEASE);
  return num(env, (double)((prod + RB_HDR) & mask));
}

/* userRingbufCommit(producer, pageSize, sampleOffset, discard): clears the busy bit (acq_rel). */
static napi_value js_user_ringbuf_commit(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  uint8_t *pmap;
  size_t plen;
  uint32_t page, off;
  bool discard;
  if (ab_of(env, argv[0], &pmap, &plen)) FAIL("userRingbufCommit wants an ArrayBuffer");
  CHECK(napi_get_value_uint32(env, argv[1], &page));
  CHECK(napi_get_value_uint32(env, argv[2], &off));
  CHECK(napi_get_value_bool(env, argv[3], &discard));
  if (!pmap || plen <= page) return num(env, -EBADF);
  const uint64_t ring = (plen - page) / 2, mask = ring - 1;
  uint32_t *hdr = (uint32_t *)(pmap + page + ((off + ring - RB_HDR) & mask));
  uint32_t len = hdr[0];
  if (!(len & RB_BUSY)) return num(env, -EINVAL); /* already submitted or discarded */
  len &= ~RB_BUSY;
  if (discard) len |= RB_DISCARD;
  __atomic_exchange_n(hdr, len, __ATOMIC_ACQ_REL);
  return num(env, 0);
}

/* ---------------------------------------------------------------- perf ring */

/* Mappings made here, tracked so an explicit unmap and the finalizer never unmap twice. */
struct perf_mapping {
  void *addr;
  size_t len;
  int unmapped;
  struct perf_mapping *next;
};
static struct perf_mapping *perf_mappings;

static void perf_mapping_finalize(napi_env env, void *data, void *hint) {
  struct perf_mapping *m = hint;
  if (!m->unmapped) munmap(m->addr, m->len);
  for (struct perf_mapping **pp = &perf_mappings; *pp; pp = &(*pp)->next) {
    if (*pp == m) {
      *pp = m->next;
      break;
    }
  }
  free(m);
}

static size_t perf_scratch(size_t data_size) {
  /* A record is at most 64 KiB (u16 size), and never larger than the ring. */
  return data_size < 65536 ? data_size : 65536;
}

/*
 * perfMmap(fd, pageSize, dataSize) -> ArrayBuffer [meta page][data][scratch] or -errno.
 * The meta page and data are the perf ring (shared, read-write so data_tail is honoured); the
 * scratch after them is private anonymous memory used to make wrapped records contiguous.
 */
static napi_value js_perf_mmap(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  int32_t fd;
  double page, dsz;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_double(env, argv[1], &page));
  CHECK(napi_get_value_double(env, argv[2], &dsz));
  size_t ring = (size_t)page + (size_t)dsz;
  size_t total = ring + perf_scratch((size_t)dsz);
  void *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return num(env, -errno);
  void *p = mmap(base, ring, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
  if (p == MAP_FAILED) {
    int e = errno;
    munmap(base, total);
    return num(env, -e);
  }
  struct perf_mapping *m = calloc(1, sizeof(*m));
  if (!m) {
    munmap(base, total);
    return num(env, -ENOMEM);
  }
  m->addr = base;
  m->len = total;
  napi_value ab;
  if (napi_create_external_arraybuffer(env, base, total, perf_mapping_finalize, m, &ab) != napi_ok) {
    munmap(base, total);
    free(m);
    FAIL("cannot wrap a perf ring mapping");
  }
  m->next = perf_mappings;
  perf_mappings = m;
  return ab;
}

/* perfUnmap(ab) -> 0 or -errno; detaches the buffer. Idempotent. */
static napi_value js_perf_unmap(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  void *p;
  size_t len;
  bool detached = false;
  napi_is_detached_arraybuffer(env, argv[0], &detached);
  if (detached) return num(env, 0);
  CHECK(napi_get_arraybuffer_info(env, argv[0], &p, &len));
  struct perf_mapping *m = perf_mappings;
  while (m && m->addr != p) m = m->next;
  if (!m || m->unmapped) return num(env, -EINVAL);
  if (munmap(m->addr, m->len) < 0) return num(env, -errno);
  m->unmapped = 1;
  CHECK(napi_detach_arraybuffer(env, argv[0]));
  return num(env, 0);
}

#define PERF_HEAD_OFF 1024
#define PERF_TAIL_OFF 1032

/*
 * perfOpen(ring, pageSize, dataSize, state, out, capacity, budgetBytes) -> handle or -errno.
 * ring: a perfMmap buffer ([meta page][data][scratch]).
 */
static napi_value js_perf_open(napi_env env, napi_callback_info info) {
  GET_ARGS(7);
  uint8_t *base;
  size_t blen;
  double page, dsz;
  uint32_t capacity, budget;
  if (ab_of(env, argv[0], &base, &blen)) FAIL("perfOpen wants an ArrayBuffer");
  CHECK(napi_get_value_double(env, argv[1], &page));
  CHECK(napi_get_value_double(env, argv[2], &dsz));
  CHECK(napi_get_value_uint32(env, argv[5], &capacity));
  CHECK(napi_get_value_uint32(env, argv[6], &budget));
  const size_t data_size = (size_t)dsz;
  if (!base || blen < (size_t)page + data_size + perf_scratch(data_size)) return num(env, -EBADF);
  if (data_size == 0 || (data_size & (data_size - 1)) || data_size + perf_scratch(data_size) > UINT32_MAX) return num(env, -EINVAL);
  struct drain *d = calloc(1, sizeof(*d));
  if (!d) return num(env, -ENOMEM);
  d->kind = DRAIN_PERF;
  d->ctl = base;
  d->data = base + (size_t)page;
  d->size = data_size;
  d->committed = __atomic_load_n((uint64_t *)(base + PERF_TAIL_OFF), __ATOMIC_RELAXED);
  return drain_make(env, d, argv, 1, argv[3], argv[4], capacity, budget);
}

/* Raw sample: perf_event_header, then u32 size and the data. */
#define PERF_RAW_OFF (sizeof(struct perf_event_header) + 4)

/*
 * perfDrain(handle, max) -> samples delivered (at most max), or -EBADF once closed.
 * Offsets are from the start of the data area (a record that wrapped is made contiguous by
 * copying its tail into the scratch area after the ring); lengths are the raw sample sizes (the
 * kernel pads raw data so that the u32 size plus data is a multiple of 8). PERF_RECORD_LOST
 * records are counted (state [2] all time, [5] this drain), others skipped ([6]).
 */
static napi_value js_perf_drain(napi_env env, napi_callback_info info) {
  DRAIN_ARGS(DRAIN_PERF);
  uint8_t *data = d->data;
  const size_t dsz = (size_t)d->size, mask = dsz - 1;
  const uint64_t head = __atomic_load_n((uint64_t *)(d->ctl + PERF_HEAD_OFF), __ATOMIC_ACQUIRE);
  uint64_t tail = d->pos;
  const uint64_t avail = head - tail;
  const uint64_t end = tail + (avail < d->budget ? avail : d->budget);
  uint32_t *offsets = d->offsets, *lengths = d->lengths;
  uint32_t step = d->step, n = 0;
  uint64_t bytes = 0, lost = 0, other = 0;
  size_t off = (size_t)(tail & mask);
  int bad = 0;
  while (tail < end && n < max) {
    const struct perf_event_header *h = (const struct perf_event_header *)(data + off);
    uint32_t type = h->type, size = h->size;
    if (UNLIKELY(type != PERF_RECORD_SAMPLE || size != step || off + size > dsz || size > head - tail)) {
      if (size < sizeof(*h) || size > head - tail) { /* cannot happen with a sane kernel */
        bad = 1;
        break;
      }
      if (off + size > dsz) memcpy(data + dsz, data, off + size - dsz);
      const uint8_t *rec = data + off;
      if (type == PERF_RECORD_SAMPLE && size >= PERF_RAW_OFF) {
        uint32_t raw;
        memcpy(&raw, rec + sizeof(*h), 4);
        if (raw > size - PERF_RAW_OFF) raw = size - PERF_RAW_OFF;
        offsets[n] = (uint32_t)(off + PERF_RAW_OFF);
        lengths[n] = raw;
        bytes += raw;
        n++;
        step = size;
        BARRIER(step);
      } else if (type == PERF_RECORD_LOST && size >= sizeof(*h) + 16) {
        uint64_t l;
        memcpy(&l, rec + sizeof(*h) + 8, 8);
        lost += l;
      } else {
        other++;
      }
      tail += size;
      off = (off + size) & mask;
      continue;
    }
    /* a sample of the predicted size, not wrapped */
    uint32_t raw;
    memcpy(&raw, data + off + sizeof(*h), 4);
    if (raw > size - PERF_RAW_OFF) raw = size - PERF_RAW_OFF;
    offsets[n] = (uint32_t)(off + PERF_RAW_OFF);
    lengths[n] = raw;
    bytes += raw;
    n++;
    tail += step;
    off = (off + step) & mask;
  }
  d->step = step;
  d->pos = tail;
  double *st = d->state;
  st[ST_RECORDS] += n;
  st[ST_BYTES] += (double)bytes;
  st[ST_DROPPED] += (double)lost;
  st[ST_MORE] = !bad && tail < head;
  st[ST_POS] = (double)tail;
  st[ST_LOST_LAST] = (double)lost;
  st[ST_OTHER] += (double)other;
  return num(env, n);
}

/* perfCommit(handle) -> 0 or -EBADF: publishes data_tail (release store). */
static napi_value js_perf_commit(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  struct drain *d = drain_of(env, argv[0], DRAIN_PERF);
  if (!d) return num(env, -EBADF);
  if (d->pos != d->committed) {
    __atomic_store_n((uint64_t *)(d->ctl + PERF_TAIL_OFF), d->pos, __ATOMIC_RELEASE);
    d->committed = d->pos;
  }
  return num(env, 0);
}

/* ---------------------------------------------------------------- poller on the libuv loop */

/*
 * A uv_poll watcher on one fd. When it is readable the JS callback is called through
 * napi_make_callback, so promise jobs and nextTick run after it as for any I/O callback. No
 * thread, no busy polling.
 *
 * Epoll mode (the event streams: an epoll fd whose ring fds are registered edge-triggered):
 * before each callback the poller empties the epoll's ready list with epoll_wait(0), so an
 * unread ring does not make the loop spin, and the stream drains every ring it holds. Perf rings
 * need one more thing: perf_poll() reports POLLIN once per wakeup (it clears the flag as it
 * reads it), and the kernel probes a watched fd when it is added to an epoll (libuv adds the
 * epoll fd whenever the watcher starts), so a wakeup can be spent by that probe without any
 * callback. The poller therefore owns an eventfd in the epoll and writes it whenever it starts
 * watching: the first callback after a start always comes, and the stream then drains what the
 * probe saw.
 */
#define POLLER_KICK UINT64_MAX

struct poller {
  uv_poll_t handle;
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  int fd;
  int kick;       /* epoll mode: the eventfd, else -1 */
  int active;
  int closed;
  int uv_closed;  /* libuv is done with the handle */
  int finalized;  /* the JavaScript external is gone */
};

/* The struct lives until both libuv and the JavaScript handle are done with it. */
static void poller_free(uv_handle_t *h) {
  struct poller *p = h->data;
  p->uv_closed = 1;
  if (p->finalized) free(p);
}

/* Epoll mode: empties the ready list (edge-triggered entries are then reported again only on a new wakeup). */
static void poller_clear(struct poller *p) {
  struct epoll_event evs[64];
  int n, kicked = 0;
  do {
    n = epoll_wait(p->fd, evs, 64, 0);
    for (int i = 0; i < n; i++) kicked |= evs[i].data.u64 == POLLER_KICK;
  } while (n == 64 || (n < 0 && errno == EINTR));
  if (kicked) {
    uint64_t v;
    while (read(p->kick, &v, sizeof(v)) < 0 && errno == EINTR) {}
  }
}

static void poller_on_ready(uv_poll_t *h, int status, int events) {
  struct poller *p = h->data;
  if (p->closed) return;
  if (p->kick >= 0 && status == 0) poller_clear(p);
  napi_env env = p->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, arg, result;
  if (napi_get_reference_value(env, p->callback, &fn) == napi_ok && fn) {
    napi_get_global(env, &recv);
    napi_create_int32(env, status, &arg);
    napi_status st = napi_make_callback(env, p->async, recv, fn, 1, &arg, &result);
    if (st == napi_pending_exception) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
  }
  napi_close_handle_scope(env, scope);
}

/* Starts watching; in epoll mode also makes sure a first callback comes (see above). */
static int poller_start(struct poller *p) {
  int r = uv_poll_start(&p->handle, UV_READABLE, poller_on_ready);
  if (r == 0 && p->kick >= 0) {
    uint64_t one = 1;
    while (write(p->kick, &one, sizeof(one)) < 0 && errno == EINTR) {}
  }
  return r;
}

static void poller_shutdown(napi_env env, struct poller *p) {
  if (p->closed) return;
  p->closed = 1;
  uv_poll_stop(&p->handle);
  if (p->kick >= 0) close(p->kick); /* also leaves the epoll */
  p->kick = -1;
  if (p->callback) napi_delete_reference(env, p->callback);
  p->callback = NULL;
  if (p->async) napi_async_destroy(env, p->async);
  p->async = NULL;
  uv_close((uv_handle_t *)&p->handle, poller_free);
}

static void poller_finalize(napi_env env, void *data, void *hint) {
  struct poller *p = data;
  p->finalized = 1;
  poller_shutdown(env, p);
  if (p->uv_closed) free(p);
}

static struct poller *poller_of(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return p;
}

/* pollerOpen(fd, callback, epollMode) -> handle (started, referenced) or -errno */
static napi_value js_poller_open(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  int32_t fd;
  bool epoll_mode;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_bool(env, argv[2], &epoll_mode));
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  int kick = -1;
  if (epoll_mode) {
    kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (kick < 0) return num(env, -errno);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data = {.u64 = POLLER_KICK}};
    if (epoll_ctl(fd, EPOLL_CTL_ADD, kick, &ev) < 0) {
      int e = errno;
      close(kick);
      return num(env, -e);
    }
  }
  struct poller *p = calloc(1, sizeof(*p));
  if (!p) {
    if (kick >= 0) close(kick);
    return num(env, -ENOMEM);
  }
  p->fd = fd;
  p->kick = kick;
  int r = uv_poll_init(loop, &p->handle, fd);
  if (r < 0) {
    if (kick >= 0) close(kick);
    free(p);
    return num(env, r); /* libuv errors are -errno on Unix */
  }
  p->handle.data = p;
  p->env = env;
  napi_value resource, name, ext;
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "tsbpf:EventPoller", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, argv[1], 1, &p->callback) != napi_ok ||
      napi_async_init(env, resource, name, &p->async) != napi_ok ||
      napi_create_external(env, p, poller_finalize, NULL, &ext) != napi_ok) {
    p->finalized = 1;
    poller_shutdown(env, p);
    FAIL("cannot create a poller");
  }
  r = poller_start(p);
  if (r < 0) {
    poller_shutdown(env, p); /* freed when the external is collected */
    return num(env, r);
  }
  p->active = 1;
  return ext;
}

/* pollerSetActive(handle, on) -> 0 or -errno: start or stop watching. */
static napi_value js_poller_set_active(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  struct poller *p = poller_of(env, argv[0]);
  bool on;
  CHECK(napi_get_value_bool(env, argv[1], &on));
  if (!p || p->closed) return num(env, -EBADF);
  if (on == (bool)p->active) return num(env, 0);
  int r = on ? poller_start(p) : uv_poll_stop(&p->handle);
  if (r == 0) p->active = on;
  return num(env, r);
}

/* pollerRef(handle, ref): whether the watcher keeps the event loop alive. */
static napi_value js_poller_ref(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  struct poller *p = poller_of(env, argv[0]);
  bool ref;
  CHECK(napi_get_value_bool(env, argv[1], &ref));
  if (!p || p->closed) return num(env, -EBADF);
  if (ref) uv_ref((uv_handle_t *)&p->handle);
  else uv_unref((uv_handle_t *)&p->handle);
  return num(env, 0);
}

/* pollerClose(handle): stops watching (the fd may be closed right after) and releases the callback. */
static napi_value js_poller_close(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  struct poller *p = poller_of(env, argv[0]);
  if (!p) return num(env, -EBADF);
  poller_shutdown(env, p);
  return num(env, 0);
}

#define EXPORT(name, fn)                                                  \
  do {                                                                    \
    napi_value f;                                                         \
    napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f);      \
    napi_set_named_property(env, exports, name, f);                       \
  } while (0)

void tsbpf_register_events(napi_env env, napi_value exports) {
  EXPORT("epollCreate", js_epoll_create);
  EXPORT("epollCtl", js_epoll_ctl);
  EXPORT("epollWait", js_epoll_wait);
  EXPORT("ringbufOpen", js_ringbuf_open);
  EXPORT("ringbufDrain", js_ringbuf_drain);
  EXPORT("ringbufCommit", js_ringbuf_commit);
  EXPORT("ringbufAvailable", js_ringbuf_available);
  EXPORT("ringbufClose", js_drain_close);
  EXPORT("userRingbufReserve", js_user_ringbuf_reserve);
  EXPORT("userRingbufCommit", js_user_ringbuf_commit);
  EXPORT("perfMmap", js_perf_mmap);
  EXPORT("perfUnmap", js_perf_unmap);
  EXPORT("perfOpen", js_perf_open);
  EXPORT("perfDrain", js_perf_drain);
  EXPORT("perfCommit", js_perf_commit);
  EXPORT("perfClose", js_drain_close);
  EXPORT("pollerOpen", js_poller_open);
  EXPORT("pollerSetActive", js_poller_set_active);
  EXPORT("pollerRef", js_poller_ref);
  EXPORT("pollerClose", js_poller_close);
}
