/*
 * tsbpf native layer, event streams: ring buffer and perf buffer draining, and readiness polling
 * on the libuv loop. Registered into the addon's exports by tsbpf_register_events().
 */
#include <node_api.h>

void tsbpf_register_events(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
}
