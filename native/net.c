/*
 * tsbpf native layer, networking: netlink sockets (XDP and TC attachment on kernels without
 * bpf_link for them), socket options (SO_ATTACH_BPF), and interface name lookup.
 * Registered by tsbpf_register_net().
 *
 * Like the rest of native/, these return the kernel's answer unchanged: a non-negative result or
 * -errno. Message layouts (nlmsghdr, ifinfomsg, tcmsg, attributes) are built and parsed in
 * TypeScript (src/sys/net.ts).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <node_api.h>

#define CHECK(call)                                                                   \
  do {                                                                                \
    if ((call) != napi_ok) {                                                          \
      napi_throw_error(env, "E_NATIVE", "tsbpf native: bad arguments to " #call);     \
      return NULL;                                                                    \
    }                                                                                 \
  } while (0)

#define GET_ARGS(n)                                                                   \
  size_t argc = (n);                                                                  \
  napi_value argv[(n)];                                                               \
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL))

#define ARG_I32(i, name) int32_t name; CHECK(napi_get_value_int32(env, argv[i], &name))

static napi_value make_int(napi_env env, int64_t v) {
  napi_value out;
  napi_create_int64(env, v, &out);
  return out;
}

/* Pointer and byte length of a typed array or DataView. Returns -1 for anything else. */
static int view_of(napi_env env, napi_value v, void **data, size_t *len) {
  bool is;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type tt;
    size_t n, off;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &tt, &n, data, &ab, &off) != napi_ok) return -1;
    if (tt != napi_uint8_array && tt != napi_int8_array && tt != napi_uint8_clamped_array) return -1;
    *len = n;
    return 0;
  }
  if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    napi_value ab;
    size_t off;
    return napi_get_dataview_info(env, v, len, data, &ab, &off) == napi_ok ? 0 : -1;
  }
  return -1;
}

#define ARG_VIEW(i, p, l)                                                             \
  void *p; size_t l;                                                                  \
  if (view_of(env, argv[i], &p, &l) != 0) {                                           \
    napi_throw_type_error(env, "E_NATIVE", "tsbpf native: expected a Uint8Array");    \
    return NULL;                                                                      \
  }

/* netlinkOpen(protocol) -> a close-on-exec AF_NETLINK raw socket bound to an automatic port id, or -errno */
static napi_value js_netlink_open(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  ARG_I32(0, protocol);
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (fd < 0) return make_int(env, -errno);
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof(sa));
  sa.nl_family = AF_NETLINK;
  if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
    int e = errno;
    close(fd);
    return make_int(env, -e);
  }
  return make_int(env, fd);
}

/* netlinkSend(fd, message) -> bytes sent to the kernel (port id 0), or -errno */
static napi_value js_netlink_send(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  ARG_I32(0, fd);
  ARG_VIEW(1, msg, len);
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof(sa));
  sa.nl_family = AF_NETLINK;
  ssize_t r;
  do {
    r = sendto(fd, msg, len, 0, (struct sockaddr *)&sa, sizeof(sa));
  } while (r < 0 && errno == EINTR);
  return make_int(env, r < 0 ? -errno : r);
}

/*
 * netlinkRecv(fd, buffer, timeoutMs) -> bytes received into buffer, or -errno (-EAGAIN when
 * nothing arrived within timeoutMs). A datagram larger than the buffer returns -EMSGSIZE and is
 * consumed; use a buffer of at least 32 KiB (the kernel's netlink message size limit for dumps).
 */
static napi_value js_netlink_recv(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  ARG_I32(0, fd);
  ARG_VIEW(1, buf, len);
  ARG_I32(2, timeout_ms);
  struct pollfd p = { .fd = fd, .events = POLLIN };
  int pr;
  do {
    pr = poll(&p, 1, timeout_ms);
  } while (pr < 0 && errno == EINTR);
  if (pr < 0) return make_int(env, -errno);
  if (pr == 0) return make_int(env, -EAGAIN);
  ssize_t r;
  do {
    r = recv(fd, buf, len, MSG_TRUNC | MSG_DONTWAIT);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return make_int(env, -errno);
  if ((size_t)r > len) return make_int(env, -EMSGSIZE);
  return make_int(env, r);
}

/* setsockoptInt(fd, level, name, value) -> 0 or -errno (SO_ATTACH_BPF, SO_DETACH_BPF, NETLINK_EXT_ACK, ...) */
static napi_value js_setsockopt_int(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  ARG_I32(0, fd);
  ARG_I32(1, level);
  ARG_I32(2, name);
  ARG_I32(3, value);
  int v = value;
  return make_int(env, setsockopt(fd, level, name, &v, sizeof(v)) < 0 ? -errno : 0);
}

/* getsockoptInt(fd, level, name) -> the option's int value (>= 0), or -errno */
static napi_value js_getsockopt_int(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  ARG_I32(0, fd);
  ARG_I32(1, level);
  ARG_I32(2, name);
  int v = 0;
  socklen_t l = sizeof(v);
  if (getsockopt(fd, level, name, &v, &l) < 0) return make_int(env, -errno);
  return make_int(env, v);
}

/* ifNameToIndex(name) -> interface index in the caller's network namespace, or -errno (-ENODEV) */
static napi_value js_if_name_to_index(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  char name[IF_NAMESIZE + 1];
  size_t n = 0;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof(name), &n) != napi_ok) {
    napi_throw_type_error(env, "E_NATIVE", "tsbpf native: expected an interface name");
    return NULL;
  }
  if (n >= IF_NAMESIZE) return make_int(env, -ENODEV);
  unsigned int idx = if_nametoindex(name);
  return make_int(env, idx == 0 ? -(errno ? errno : ENODEV) : (int64_t)idx);
}

/* ifIndexToName(index) -> the interface's name, or -errno (-ENXIO when there is none) */
static napi_value js_if_index_to_name(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  ARG_I32(0, index);
  char name[IF_NAMESIZE];
  if (!if_indextoname((unsigned int)index, name)) return make_int(env, -(errno ? errno : ENXIO));
  napi_value out;
  CHECK(napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &out));
  return out;
}

#define EXPORT(name, fn)                                                              \
  do {                                                                                \
    napi_value f;                                                                     \
    napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f);                  \
    napi_set_named_property(env, exports, name, f);                                   \
  } while (0)

void tsbpf_register_net(napi_env env, napi_value exports) {
  EXPORT("netlinkOpen", js_netlink_open);
  EXPORT("netlinkSend", js_netlink_send);
  EXPORT("netlinkRecv", js_netlink_recv);
  EXPORT("setsockoptInt", js_setsockopt_int);
  EXPORT("getsockoptInt", js_getsockopt_int);
  EXPORT("ifNameToIndex", js_if_name_to_index);
  EXPORT("ifIndexToName", js_if_index_to_name);
}
