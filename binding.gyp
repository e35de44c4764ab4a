{
  "targets": [
    {
      "target_name": "lvsagent_netlink",
      "sources": ["core/netlink/native/netlink.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
