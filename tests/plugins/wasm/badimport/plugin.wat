;; tests/plugins/wasm/badimport/plugin.wat — imports env.system, which plugbay does not offer.
(module
  (import "env" "system" (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "bay_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "ping") (param i32 i32) (result i32) i32.const 0))
