;; tests/plugins/wasm/starttrap/plugin.wat — its start function traps, so no instance can be made.
(module
  (memory (export "memory") 1)
  (func (export "bay_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "ping") (param i32 i32) (result i32) i32.const 0)
  (func $start unreachable)
  (start $start))
