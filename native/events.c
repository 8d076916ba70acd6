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
 * The drains do not call JavaScript: they fill caller-owned offset/length arrays with the records
 * of one drain and return the count; JavaScript reads them in place, then commits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
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

/* ---------------------------------------------------------------- BPF ring buffer */

#define RB_BUSY BPF_RINGBUF_BUSY_BIT
#define RB_DISCARD BPF_RINGBUF_DISCARD_BIT
#define RB_HDR BPF_RINGBUF_HDR_SZ

/*
 * ringbufDrain(consumer, producer, state, offsets, lengths) -> records delivered.
 * consumer: the consumer page mapping (its length is the page size); producer: the producer page
 * plus the doubly mapped data. Fills offsets (from the start of the data area) and lengths of up
 * to offsets.length committed, non-discarded records; skips discarded ones; stops at a busy one.
 * state (Float64Array): [0] consumer position to commit, [1] records, [2] bytes, [3] discarded
 * (counters accumulate). The consumer position is not written here: see ringbufCommit.
 */
static napi_value js_ringbuf_drain(napi_env env, napi_callback_info info) {
  GET_ARGS(5);
  uint8_t *cmap, *pmap;
  size_t clen, plen, ns, no, nl;
  double *state;
  uint32_t *offsets, *lengths;
  if (ab_of(env, argv[0], &cmap, &clen) || ab_of(env, argv[1], &pmap, &plen)) FAIL("ringbufDrain wants two ArrayBuffers");
  if (ta_of(env, argv[2], napi_float64_array, (void **)&state, &ns) || ns < 4) FAIL("ringbufDrain wants a Float64Array(4) state");
  if (ta_of(env, argv[3], napi_uint32_array, (void **)&offsets, &no) ||
      ta_of(env, argv[4], napi_uint32_array, (void **)&lengths, &nl))
    FAIL("ringbufDrain wants Uint32Array offsets and lengths");
  if (!cmap || !pmap || plen <= clen) return num(env, -EBADF);
  const size_t page = clen;
  const uint64_t mask = (plen - page) / 2 - 1;
  const uint8_t *data = pmap + page;
  size_t max = no < nl ? no : nl;

  unsigned long cons = __atomic_load_n((unsigned long *)cmap, __ATOMIC_ACQUIRE);
  unsigned long prod = __atomic_load_n((unsigned long *)pmap, __ATOMIC_ACQUIRE);
  size_t n = 0;
  double bytes = 0, discarded = 0;
  while (n < max) {
    if (cons >= prod) {
      prod = __atomic_load_n((unsigned long *)pmap, __ATOMIC_ACQUIRE);
      if (cons >= prod) break;
    }
    uint32_t off = (uint32_t)(cons & mask);
    uint32_t len = __atomic_load_n((const uint32_t *)(data + off), __ATOMIC_ACQUIRE);
    if (len & RB_BUSY) break; /* reserved but not submitted yet: stop here, retry next drain */
    uint32_t size = len & ~(RB_BUSY | RB_DISCARD);
    cons += (size + RB_HDR + 7) & ~7u;
    if (len & RB_DISCARD) {
      discarded++;
      continue;
    }
    offsets[n] = off + RB_HDR;
    lengths[n] = size;
    bytes += size;
    n++;
  }
  state[0] = (double)cons;
  state[1] += (double)n;
  state[2] += bytes;
  state[3] += discarded;
  return num(env, (double)n);
}

/* ringbufCommit(consumer, pos): publishes the consumer position (release store). */
static napi_value js_ringbuf_commit(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  uint8_t *cmap;
  size_t clen;
  double pos;
  if (ab_of(env, argv[0], &cmap, &clen)) FAIL("ringbufCommit wants an ArrayBuffer");
  CHECK(napi_get_value_double(env, argv[1], &pos));
  if (!cmap) return num(env, -EBADF);
  unsigned long *cp = (unsigned long *)cmap;
  if ((unsigned long)pos != *cp) __atomic_store_n(cp, (unsigned long)pos, __ATOMIC_RELEASE);
  return num(env, 0);
}

/* ringbufAvailable(consumer, producer) -> bytes between the consumer and producer positions. */
static napi_value js_ringbuf_available(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  uint8_t *cmap, *pmap;
  size_t clen, plen;
  if (ab_of(env, argv[0], &cmap, &clen) || ab_of(env, argv[1], &pmap, &plen)) FAIL("ringbufAvailable wants two ArrayBuffers");
  if (!cmap || !pmap) return num(env, -EBADF);
  unsigned long cons = __atomic_load_n((unsigned long *)cmap, __ATOMIC_ACQUIRE);
  unsigned long prod = __atomic_load_n((unsigned long *)pmap, __ATOMIC_ACQUIRE);
  return num(env, (double)(prod - cons));
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
 * perfDrain(ring, pageSize, dataSize, state, offsets, lengths) -> samples delivered.
 * Offsets are from the start of the data area (a record that wrapped is contiguous there thanks to
 * the scratch copy); lengths are the raw sample sizes (the kernel pads raw data so that the u32
 * size plus data is a multiple of 8). state (Float64Array(6)): [0] tail to commit, [1] samples,
 * [2] bytes, [3] lost (all time), [4] lost in this drain, [5] other records.
 */
static napi_value js_perf_drain(napi_env env, napi_callback_info info) {
  GET_ARGS(6);
  uint8_t *base;
  size_t blen, ns, no, nl;
  double page, dsz, *state;
  uint32_t *offsets, *lengths;
  if (ab_of(env, argv[0], &base, &blen)) FAIL("perfDrain wants an ArrayBuffer");
  CHECK(napi_get_value_double(env, argv[1], &page));
  CHECK(napi_get_value_double(env, argv[2], &dsz));
  if (ta_of(env, argv[3], napi_float64_array, (void **)&state, &ns) || ns < 6) FAIL("perfDrain wants a Float64Array(6) state");
  if (ta_of(env, argv[4], napi_uint32_array, (void **)&offsets, &no) ||
      ta_of(env, argv[5], napi_uint32_array, (void **)&lengths, &nl))
    FAIL("perfDrain wants Uint32Array offsets and lengths");
  const size_t data_size = (size_t)dsz;
  if (!base || blen < (size_t)page + data_size + perf_scratch(data_size)) return num(env, -EBADF);
  uint8_t *data = base + (size_t)page;
  const uint64_t mask = data_size - 1;
  size_t max = no < nl ? no : nl;

  uint64_t head = __atomic_load_n((uint64_t *)(base + PERF_HEAD_OFF), __ATOMIC_ACQUIRE);
  uint64_t tail = *(volatile uint64_t *)(base + PERF_TAIL_OFF);
  size_t n = 0;
  double bytes = 0, lost = 0, other = 0;
  while (tail < head && n < max) {
    size_t off = (size_t)(tail & mask);
    const struct perf_event_header *h = (const struct perf_event_header *)(data + off);
    size_t size = h->size;
    if (size < sizeof(*h) || size > head - tail) break; /* cannot happen with a sane kernel */
    if (off + size > data_size) memcpy(data + data_size, data, off + size - data_size);
    const uint8_t *rec = data + off;
    if (h->type == PERF_RECORD_SAMPLE && size >= sizeof(*h) + 4) {
      uint32_t raw;
      memcpy(&raw, rec + sizeof(*h), 4);
      if (raw > size - sizeof(*h) - 4) raw = (uint32_t)(size - sizeof(*h) - 4);
      offsets[n] = (uint32_t)(off + sizeof(*h) + 4);
      lengths[n] = raw;
      bytes += raw;
      n++;
    } else if (h->type == PERF_RECORD_LOST && size >= sizeof(*h) + 16) {
      uint64_t l;
      memcpy(&l, rec + sizeof(*h) + 8, 8);
      lost += (double)l;
    } else {
      other++;
    }
    tail += size;
  }
  state[0] = (double)tail;
  state[1] += (double)n;
  state[2] += bytes;
  state[3] += lost;
  state[4] = lost;
  state[5] += other;
  return num(env, (double)n);
}

/* perfCommit(ring, tail): publishes data_tail (release store). */
static napi_value js_perf_commit(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  uint8_t *base;
  size_t blen;
  double tail;
  if (ab_of(env, argv[0], &base, &blen)) FAIL("perfCommit wants an ArrayBuffer");
  CHECK(napi_get_value_double(env, argv[1], &tail));
  if (!base || blen < PERF_TAIL_OFF + 8) return num(env, -EBADF);
  uint64_t *tp = (uint64_t *)(base + PERF_TAIL_OFF);
  if ((uint64_t)tail != *tp) __atomic_store_n(tp, (uint64_t)tail, __ATOMIC_RELEASE);
  return num(env, 0);
}

/* ---------------------------------------------------------------- poller on the libuv loop */

/*
 * A uv_poll watcher on one fd (an epoll fd holding the ring fds). When it is readable the JS
 * callback is called through napi_make_callback, so promise jobs and nextTick run after it as
 * for any I/O callback. No thread, no busy polling.
 */
struct poller {
  uv_poll_t handle;
  napi_env env;
  napi_ref callback;
  napi_async_context async;
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

static void poller_on_ready(uv_poll_t *h, int status, int events) {
  struct poller *p = h->data;
  if (p->closed) return;
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

static void poller_shutdown(napi_env env, struct poller *p) {
  if (p->closed) return;
  p->closed = 1;
  uv_poll_stop(&p->handle);
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

/* pollerOpen(fd, callback) -> handle (started, referenced) or -errno */
static napi_value js_poller_open(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int32_t fd;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  struct poller *p = calloc(1, sizeof(*p));
  if (!p) return num(env, -ENOMEM);
  int r = uv_poll_init(loop, &p->handle, fd);
  if (r < 0) {
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
  r = uv_poll_start(&p->handle, UV_READABLE, poller_on_ready);
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
  int r = on ? uv_poll_start(&p->handle, UV_READABLE, poller_on_ready) : uv_poll_stop(&p->handle);
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
  EXPORT("ringbufDrain", js_ringbuf_drain);
  EXPORT("ringbufCommit", js_ringbuf_commit);
  EXPORT("ringbufAvailable", js_ringbuf_available);
  EXPORT("userRingbufReserve", js_user_ringbuf_reserve);
  EXPORT("userRingbufCommit", js_user_ringbuf_commit);
  EXPORT("perfMmap", js_perf_mmap);
  EXPORT("perfUnmap", js_perf_unmap);
  EXPORT("perfDrain", js_perf_drain);
  EXPORT("perfCommit", js_perf_commit);
  EXPORT("pollerOpen", js_poller_open);
  EXPORT("pollerSetActive", js_poller_set_active);
  EXPORT("pollerRef", js_poller_ref);
  EXPORT("pollerClose", js_poller_close);
}
