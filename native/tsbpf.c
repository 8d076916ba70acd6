/*
 * tsbpf native layer: raw system calls for the TypeScript side, and nothing else.
 *
 * Every function returns the kernel's answer unchanged: a non-negative result, or -errno.
 * No policy lives here: attribute layouts, retries and error messages are TypeScript's job
 * (src/sys). Buffers arrive as typed arrays; their backing stores do not move while referenced.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/epoll.h>
#include <linux/bpf.h>
#include <node_api.h>

#define CHECK(call)                                                                   \
  do {                                                                                \
    if ((call) != napi_ok) {                                                          \
      napi_throw_error(env, "E_NATIVE", "tsbpf native: bad arguments to " #call);     \
      return NULL;                                                                    \
    }                                                                                 \
  } while (0)

static napi_value make_int(napi_env env, int64_t v) {
  napi_value out;
  napi_create_int64(env, v, &out);
  return out;
}

static long sys_bpf(int cmd, void *attr, unsigned int size) {
  long r = syscall(__NR_bpf, cmd, attr, size);
  return r < 0 ? -errno : r;
}

/* Pointer and length of a typed array, DataView, ArrayBuffer or null/undefined (NULL, 0). */
static int buffer_of(napi_env env, napi_value v, void **data, size_t *len) {
  napi_valuetype t;
  bool is;
  *data = NULL;
  *len = 0;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_null || t == napi_undefined) return 0;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type tt;
    size_t n, off;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &tt, &n, data, &ab, &off) != napi_ok) return -1;
    size_t es = 1;
    switch (tt) {
      case napi_int16_array: case napi_uint16_array: es = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: es = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: es = 8; break;
      default: es = 1;
    }
    *len = n * es;
    return 0;
  }
  if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    napi_value ab;
    size_t off;
    return napi_get_dataview_info(env, v, len, data, &ab, &off) == napi_ok ? 0 : -1;
  }
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    return napi_get_arraybuffer_info(env, v, data, len) == napi_ok ? 0 : -1;
  }
  return -1;
}

#define GET_ARGS(n)                                                                   \
  size_t argc = (n);                                                                  \
  napi_value argv[(n) > 0 ? (n) : 1];                                                 \
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL))

#define ARG_I32(i, name) int32_t name; CHECK(napi_get_value_int32(env, argv[i], &name))
#define ARG_I64(i, name) int64_t name; CHECK(napi_get_value_int64(env, argv[i], &name))
#define ARG_BUF(i, p, l)                                                              \
  void *p; size_t l;                                                                  \
  if (buffer_of(env, argv[i], &p, &l) != 0) {                                         \
    napi_throw_type_error(env, "E_NATIVE", "tsbpf native: expected a typed array");   \
    return NULL;                                                                      \
  }

/* bpf(cmd, attr) -> result or -errno. attr is the whole union bpf_attr prefix the command uses. */
static napi_value js_bpf(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  ARG_I32(0, cmd);
  ARG_BUF(1, attr, len);
  return make_int(env, sys_bpf(cmd, attr, (unsigned int)len));
}

/* addressOf(view) -> bigint address of the view's first byte (0 for null). */
static napi_value js_address_of(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  ARG_BUF(0, p, l);
  (void)l;
  napi_value out;
  CHECK(napi_create_bigint_uint64(env, (uint64_t)(uintptr_t)p, &out));
  return out;
}

/*
 * The map element hot paths build their attribute here, so a lookup from JavaScript costs one
 * N-API call and one system call. Sizes are checked by the caller (src/map).
 */
/*
 * Fast path of buffer_of for the element calls: a Uint8Array (what src/map passes) costs one
 * N-API call; anything else (null, other views) takes buffer_of.
 */
static inline int elem_buffer(napi_env env, napi_value v, void **data) {
  napi_typedarray_type tt;
  size_t n, off;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &tt, &n, data, &ab, &off) == napi_ok && tt == napi_uint8_array) return 0;
  size_t len;
  return buffer_of(env, v, data, &len);
}

static napi_value elem_op(napi_env env, napi_callback_info info, int cmd) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  void *key, *value;
  if (elem_buffer(env, argv[1], &key) != 0 || elem_buffer(env, argv[2], &value) != 0) {
    napi_throw_type_error(env, "E_NATIVE", "tsbpf native: expected a typed array");
    return NULL;
  }
  int64_t flags = 0;
  /* undefined or absent (argc < 4 leaves argv[3] undefined) fails the conversion: flags stay 0 */
  if (argc > 3 && napi_get_value_int64(env, argv[3], &flags) != napi_ok) flags = 0;
  union bpf_attr attr;
  memset(&attr, 0, offsetof(union bpf_attr, flags) + sizeof(attr.flags));
  attr.map_fd = (uint32_t)fd;
  attr.key = (uint64_t)(uintptr_t)key;
  if (cmd == BPF_MAP_GET_NEXT_KEY) attr.next_key = (uint64_t)(uintptr_t)value;
  else attr.value = (uint64_t)(uintptr_t)value;
  attr.flags = (uint64_t)flags;
  /* The element commands return 0 or -errno: a small integer (a V8 Smi, no heap number). */
  napi_value out;
  napi_create_int32(env, (int32_t)sys_bpf(cmd, &attr, offsetof(union bpf_attr, flags) + sizeof(attr.flags)), &out);
  return out;
}

static napi_value js_map_lookup(napi_env env, napi_callback_info info) { return elem_op(env, info, BPF_MAP_LOOKUP_ELEM); }
static napi_value js_map_update(napi_env env, napi_callback_info info) { return elem_op(env, info, BPF_MAP_UPDATE_ELEM); }
static napi_value js_map_delete(napi_env env, napi_callback_info info) { return elem_op(env, info, BPF_MAP_DELETE_ELEM); }
static napi_value js_map_next_key(napi_env env, napi_callback_info info) { return elem_op(env, info, BPF_MAP_GET_NEXT_KEY); }
static napi_value js_map_lookup_and_delete(napi_env env, napi_callback_info info) { return elem_op(env, info, BPF_MAP_LOOKUP_AND_DELETE_ELEM); }

static napi_value js_close(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  ARG_I32(0, fd);
  return make_int(env, close(fd) < 0 ? -errno : 0);
}

/* perfEventOpen(attr, pid, cpu, groupFd, flags) -> fd or -errno */
static napi_value js_perf_event_open(napi_env env, napi_callback_info info) {
  GET_ARGS(5);
  ARG_BUF(0, attr, len);
  (void)len;
  ARG_I32(1, pid);
  ARG_I32(2, cpu);
  ARG_I32(3, group);
  ARG_I64(4, flags);
  long r = syscall(__NR_perf_event_open, attr, pid, cpu, group, (unsigned long)flags);
  return make_int(env, r < 0 ? -errno : r);
}

/* ioctl(fd, request, arg) where arg is a number or a typed array (passed by address). */
static napi_value js_ioctl(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  ARG_I32(0, fd);
  ARG_I64(1, req);
  napi_valuetype t;
  CHECK(napi_typeof(env, argv[2], &t));
  long r;
  if (t == napi_number) {
    int64_t arg;
    CHECK(napi_get_value_int64(env, argv[2], &arg));
    r = ioctl(fd, (unsigned long)req, (unsigned long)arg);
  } else {
    ARG_BUF(2, p, l);
    (void)l;
    r = ioctl(fd, (unsigned long)req, p);
  }
  return make_int(env, r < 0 ? -errno : r);
}

/* A mapping handed to JavaScript as an external ArrayBuffer. */
struct mapping {
  void *addr;
  size_t len;
  int unmapped;
  struct mapping *next;
};

/* Live mappings, so an explicit munmap() and the finalizer never unmap the same range twice. */
static struct mapping *mappings;

static void mapping_unlink(struct mapping *m) {
  for (struct mapping **pp = &mappings; *pp; pp = &(*pp)->next) {
    if (*pp == m) {
      *pp = m->next;
      return;
    }
  }
}

static void mapping_finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)data;
  struct mapping *m = hint;
  if (!m->unmapped) munmap(m->addr, m->len);
  mapping_unlink(m);
  free(m);
}

/* mmap(fd, length, prot, flags, offset) -> ArrayBuffer, or -errno as a number. */
static napi_value js_mmap(napi_env env, napi_callback_info info) {
  GET_ARGS(5);
  ARG_I32(0, fd);
  ARG_I64(1, len);
  ARG_I32(2, prot);
  ARG_I32(3, flags);
  ARG_I64(4, off);
  void *p = mmap(NULL, (size_t)len, prot, flags, fd, (off_t)off);
  if (p == MAP_FAILED) return make_int(env, -errno);
  struct mapping *m = calloc(1, sizeof(*m));
  if (!m) {
    munmap(p, (size_t)len);
    return make_int(env, -ENOMEM);
  }
  m->addr = p;
  m->len = (size_t)len;
  napi_value ab;
  if (napi_create_external_arraybuffer(env, p, (size_t)len, mapping_finalize, m, &ab) != napi_ok) {
    munmap(p, (size_t)len);
    free(m);
    napi_throw_error(env, "E_NATIVE", "tsbpf native: cannot wrap a mapping (external array buffers disabled?)");
    return NULL;
  }
  m->next = mappings;
  mappings = m;
  return ab;
}

/* munmap(arrayBuffer) -> 0 or -errno; detaches the buffer so later access sees length 0. */
static napi_value js_munmap(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  void *p;
  size_t len;
  CHECK(napi_get_arraybuffer_info(env, argv[0], &p, &len));
  bool detached = false;
  napi_is_detached_arraybuffer(env, argv[0], &detached);
  if (detached || p == NULL) return make_int(env, 0);
  struct mapping *m = mappings;
  while (m && m->addr != p) m = m->next;
  if (!m || m->unmapped) return make_int(env, -EINVAL);
  int r = munmap(p, len);
  if (r < 0) return make_int(env, -errno);
  m->unmapped = 1;
  CHECK(napi_detach_arraybuffer(env, argv[0]));
  return make_int(env, 0);
}

/* mount(source, target, fstype, flags, data) -> 0 or -errno */
static napi_value js_mount(napi_env env, napi_callback_info info) {
  GET_ARGS(5);
  char src[256], tgt[4096], fst[64], data[1024];
  size_t n;
  CHECK(napi_get_value_string_utf8(env, argv[0], src, sizeof src, &n));
  CHECK(napi_get_value_string_utf8(env, argv[1], tgt, sizeof tgt, &n));
  CHECK(napi_get_value_string_utf8(env, argv[2], fst, sizeof fst, &n));
  ARG_I64(3, flags);
  CHECK(napi_get_value_string_utf8(env, argv[4], data, sizeof data, &n));
  int r = mount(src, tgt, fst, (unsigned long)flags, n ? data : NULL);
  return make_int(env, r < 0 ? -errno : 0);
}

/* setrlimit(resource, soft, hard) with -1 meaning RLIM_INFINITY */
static napi_value js_setrlimit(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  ARG_I32(0, res);
  ARG_I64(1, soft);
  ARG_I64(2, hard);
  struct rlimit rl = {
    .rlim_cur = soft < 0 ? RLIM_INFINITY : (rlim_t)soft,
    .rlim_max = hard < 0 ? RLIM_INFINITY : (rlim_t)hard,
  };
  return make_int(env, setrlimit(res, &rl) < 0 ? -errno : 0);
}

/* dup(fd) -> a new close-on-exec descriptor for the same object, or -errno */
static napi_value js_dup(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  ARG_I32(0, fd);
  int r = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  return make_int(env, r < 0 ? -errno : r);
}

#define EXPORT(name, fn)                                                              \
  do {                                                                                \
    napi_value f;                                                                     \
    napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f);                  \
    napi_set_named_property(env, exports, name, f);                                   \
  } while (0)

/* Other native files register their functions here (events.c: ring/perf buffers and polling;
 * net.c: netlink and socket calls). */
void tsbpf_register_events(napi_env env, napi_value exports);
void tsbpf_register_net(napi_env env, napi_value exports);

static napi_value init(napi_env env, napi_value exports) {
  EXPORT("bpf", js_bpf);
  EXPORT("addressOf", js_address_of);
  EXPORT("mapLookup", js_map_lookup);
  EXPORT("mapUpdate", js_map_update);
  EXPORT("mapDelete", js_map_delete);
  EXPORT("mapNextKey", js_map_next_key);
  EXPORT("mapLookupAndDelete", js_map_lookup_and_delete);
  EXPORT("close", js_close);
  EXPORT("perfEventOpen", js_perf_event_open);
  EXPORT("ioctl", js_ioctl);
  EXPORT("mmap", js_mmap);
  EXPORT("munmap", js_munmap);
  EXPORT("mount", js_mount);
  EXPORT("setrlimit", js_setrlimit);
  EXPORT("dup", js_dup);
  tsbpf_register_events(env, exports);
  tsbpf_register_net(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
