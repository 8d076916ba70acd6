{
  "targets": [
    {
      "target_name": "tsbpf_native",
      "sources": ["native/tsbpf.c", "native/events.c", "native/net.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
