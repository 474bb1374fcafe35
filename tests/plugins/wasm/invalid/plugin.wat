;; tests/plugins/wasm/invalid/plugin.wat — ping returns nothing where its type says i32: the module fails validation.
(module
  (memory (export "memory") 1)
  (func (export "bay_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "ping") (param i32 i32) (result i32) nop))
