/* tests/plugins/wasm/traps/plugin.c — wasm/traps: each kind of trap, an endless loop, memory.grow past the cap, a bad pointer handed to plugbay. */
#include "plugbay_wasm.h"

/* Stores the optimiser must keep. */
static volatile int32_t sink;

/* trap.oob() writes far outside the module's memory. */
static int trap_oob(bay_args *args, bay_out *result)
{
    *(volatile int32_t *)(uintptr_t)0xfffffff0u = 1;
    return 0;
}
BAY_WASM_EXPORT(trap_oob)

/* trap.unreachable() aborts. */
static int trap_unreachable(bay_args *args, bay_out *result)
{
    __builtin_trap();
}
BAY_WASM_EXPORT(trap_unreachable)

/* trap.divzero() divides by zero. */
static int trap_divzero(bay_args *args, bay_out *result)
{
    volatile int32_t seven = 7, zero = 0;
    sink = seven / zero;
    return 0;
}
BAY_WASM_EXPORT(trap_divzero)

/* deep recurses n levels without a tail call. */
__attribute__((noinline)) static int32_t deep(int32_t n)
{
    if (n == 0)
        return 0;
    sink = n;
    int32_t r = deep(n - 1);
    sink = r;
    return r + 1;
}

/* trap.recurse(levels) recurses that deep. */
static int trap_recurse(bay_args *args, bay_out *result)
{
    int64_t levels;
    int rc = bay_arg_int(args, &levels);
    if (rc == 0)
        bay_out_int(result, deep((int32_t)levels));
    return rc;
}
BAY_WASM_EXPORT(trap_recurse)

/* trap.loop() never returns. */
static int trap_loop(bay_args *args, bay_out *result)
{
    for (;;)
        sink++;
}
BAY_WASM_EXPORT(trap_loop)

/* trap.grow() grows the memory page by page until memory.grow fails. */
static int trap_grow(bay_args *args, bay_out *result)
{
    size_t pages = __builtin_wasm_memory_size(0);
    while (__builtin_wasm_memory_grow(0, 1) != (size_t)-1)
        pages++;
    return bay_fail(BAY_ENOMEM, "memory.grow failed at %zu pages", pages);
}
BAY_WASM_EXPORT(trap_grow)

__attribute__((import_module("plugbay"), import_name("log"))) void raw_log(int32_t level, uint32_t msg, uint32_t len);

/* trap.badptr() hands plugbay.log a message outside the module's memory. */
static int trap_badptr(bay_args *args, bay_out *result)
{
    raw_log(BAY_LOG_INFO, 0xfffff000u, 100);
    return 0;
}
BAY_WASM_EXPORT(trap_badptr)

/* trap.count() answers how many times it was called in this instance: 1 after a reset. */
static int trap_count(bay_args *args, bay_out *result)
{
    static int64_t calls;
    bay_out_int(result, ++calls);
    return 0;
}
BAY_WASM_EXPORT(trap_count)
