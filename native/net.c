/*
 * tsbpf native layer, networking: netlink sockets (XDP and TC attachment on kernels without
 * bpf_link for them) and socket options. Registered by tsbpf_register_net().
 */
#include <node_api.h>

void tsbpf_register_net(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
}
