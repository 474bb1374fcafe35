;; tests/plugins/wasm/bigmem/plugin.wat — starts with 40 memory pages, above the cap of 16 its plugin.json sets.
(module
  (memory (export "memory") 40)
  (func (export "bay_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "ping") (param i32 i32) (result i32) i32.const 0))
