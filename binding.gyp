{
  "targets": [
    {
      "target_name": "tsbpf_native",
      "sources": ["native/tsbpf.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
