# kvmclone's native addon: fd_calls.c, plain C on Node-API (node_api.h only), built by npm ci
# (package.json's install script runs native/build.mjs, which runs npm's node-gyp).
{
  "targets": [
    {
      "target_name": "kvmclone_fd",
      "sources": ["fd_calls.c"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
