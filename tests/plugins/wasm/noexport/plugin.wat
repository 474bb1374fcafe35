;; tests/plugins/wasm/noexport/plugin.wat — exports ping but not pong, which its plugin.json names.
(module
  (memory (export "memory") 1)
  (func (export "bay_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "ping") (param i32 i32) (result i32) i32.const 0))
