/* tests/plugins/wasm/stream/plugin.c — wasm/stream: plugbay.emit misused: from the start code (no call runs),
 * with bytes outside the module's memory or that are no value, and chunks past what a plain caller takes; a chunk
 * of input read into memory the module lacks; and an endless stream, stopped by its caller, beside a count that
 * shows whether the instance is still the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugbay_wasm.h"

__attribute__((import_module("plugbay"), import_name("emit"))) int32_t raw_emit(uint32_t chunk, uint32_t len);
__attribute__((import_module("plugbay"), import_name("receive"))) int32_t raw_receive(void);
__attribute__((import_module("plugbay"), import_name("reply"))) uint32_t raw_reply(uint32_t buf, uint32_t buf_len);

/* What bay_emit and bay_receive returned in the start code: 0 before it ran. */
static int outside, received_outside;

/* stream_at_start emits a chunk and receives one when _initialize runs the constructors, where no call runs. */
__attribute__((constructor)) static void stream_at_start(void)
{
    bay_out chunk = {0};
    bay_out_int(&chunk, 1);
    outside = bay_emit(&chunk);
    bay_out_free(&chunk);
    bay_in in;
    received_outside = bay_receive(&in);
}

/* ws_outside answers [what bay_emit returned, what bay_receive returned] in the start code. */
static int ws_outside(bay_args *args, bay_out *result)
{
    bay_out_array(result, 2);
    bay_out_int(result, outside);
    bay_out_int(result, received_outside);
    return 0;
}
BAY_WASM_EXPORT(ws_outside)

/* ws_bad(what) hands plugbay.emit what is wrong: "pointer" a chunk outside the module's memory, "length" a length
 * past it, "msgpack" a byte that is no msgpack, "key" a map whose key is not a string; it returns the code. */
static int ws_bad(bay_args *args, bay_out *result)
{
    const char *what;
    uint32_t len;
    int rc = bay_arg_str(args, &what, &len);
    if (rc)
        return rc;
    if (len == 7 && memcmp(what, "pointer", 7) == 0)
        return raw_emit(0xfffff000u, 100);
    if (len == 6 && memcmp(what, "length", 6) == 0)
        return raw_emit(16, 0xfffffff0u);
    if (len == 7 && memcmp(what, "msgpack", 7) == 0)
        return raw_emit((uint32_t)(uintptr_t) "\xc1", 1);
    if (len != 3 || memcmp(what, "key", 3) != 0)
        return bay_fail(BAY_EINVAL, "ws.bad: what is pointer, length, msgpack or key, not %.*s", (int)len, what);
    bay_out chunk = {0};
    bay_out_map(&chunk, 1);
    bay_out_int(&chunk, 1);
    bay_out_int(&chunk, 2);
    rc = bay_emit(&chunk);
    bay_out_free(&chunk);
    return rc;
}
BAY_WASM_EXPORT(ws_bad)

/* ws_receive_badly takes a chunk of its input and has plugbay.reply copy it to memory the module lacks: a trap. */
static int ws_receive_badly(bay_args *args, bay_out *result)
{
    int rc = raw_receive();
    return rc ? rc : (int)raw_reply(0xfffff000u, 100);
}
BAY_WASM_EXPORT(ws_receive_badly)

/* ws_big(n) emits n chunks of 1 MiB, then answers "done": past 16 MiB, a caller taking the answer whole cannot
 * have them. */
static int ws_big(bay_args *args, bay_out *result)
{
    int64_t n;
    int rc = bay_arg_int(args, &n);
    uint8_t *mib = rc ? NULL : calloc(1, 1 << 20);
    if (rc == 0 && mib == NULL)
        rc = bay_fail(BAY_ENOMEM, "ws.big: no memory for a chunk");
    bay_out chunk = {0};
    for (int64_t i = 0; rc == 0 && i < n; i++) {
        bay_out_bin(&chunk, mib, 1 << 20);
        rc = bay_emit(&chunk);
    }
    bay_out_free(&chunk);
    free(mib);
    if (rc == 0)
        bay_out_cstr(result, "done");
    return rc;
}
BAY_WASM_EXPORT(ws_big)

/* ws_endless emits 0, 1, 2, ... until bay_emit says stop, and returns that code. */
static int ws_endless(bay_args *args, bay_out *result)
{
    bay_out chunk = {0};
    int rc = 0;
    for (int64_t i = 0; rc == 0; i++) {
        bay_out_int(&chunk, i);
        rc = bay_emit(&chunk);
    }
    bay_out_free(&chunk);
    return rc;
}
BAY_WASM_EXPORT(ws_endless)

/* The calls of ws.count this instance served: a fresh instance starts again at 1. */
static int64_t counted;

/* ws_count answers how many times it ran in this instance. */
static int ws_count(bay_args *args, bay_out *result)
{
    bay_out_int(result, ++counted);
    return 0;
}
BAY_WASM_EXPORT(ws_count)
