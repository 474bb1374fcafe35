{
  "targets": [
    {
      "target_name": "plugbay",
      "sources": ["src/addon.cc", "src/pool.cc", "src/values.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!(node find-plugbay.js include)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-O2"],
      "libraries": [
        "-L<!(node find-plugbay.js lib)",
        "-Wl,-rpath,<!(node find-plugbay.js lib)",
        "-lplugbay"
      ]
    }
  ]
}
