/* tests/plugins/wasm/wasi/plugin.c — wasm/wasi: a plugin using plain wasi-libc (printf, time, getentropy, getenv, fopen, exit) and raw WASI calls, within plugbay's WASI subset and outside it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>

#include "plugbay_wasm.h"

/* wasi.print(text) prints "wasi says: TEXT" on stdout, a line at a time. */
static int wasi_print(bay_args *args, bay_out *result)
{
    const char *text;
    uint32_t len;
    int rc = bay_arg_str(args, &text, &len);
    if (rc == 0)
        printf("wasi says: %.*s\n", (int)len, text);
    return rc;
}
BAY_WASM_EXPORT(wasi_print)

/* wasi.time() answers time(NULL), seconds since 1970. */
static int wasi_time(bay_args *args, bay_out *result)
{
    bay_out_int(result, (int64_t)time(NULL));
    return 0;
}
BAY_WASM_EXPORT(wasi_time)

/* wasi.random() answers whether two draws of 32 random bytes differ. */
static int wasi_random(bay_args *args, bay_out *result)
{
    unsigned char a[32], b[32];
    if (getentropy(a, sizeof a) != 0 || getentropy(b, sizeof b) != 0)
        return bay_fail(BAY_EIO, "getentropy: %s", strerror(errno));
    bay_out_bool(result, memcmp(a, b, sizeof a) != 0);
    return 0;
}
BAY_WASM_EXPORT(wasi_random)

/* wasi.env() answers whether the environment is empty (no PATH, no HOME). */
static int wasi_env(bay_args *args, bay_out *result)
{
    bay_out_bool(result, getenv("PATH") == NULL && getenv("HOME") == NULL);
    return 0;
}
BAY_WASM_EXPORT(wasi_env)

/* wasi.open(path) opens path for reading with fopen: answers 0, or the errno it failed with. */
static int wasi_open(bay_args *args, bay_out *result)
{
    const char *path;
    uint32_t len;
    char name[256];
    int rc = bay_arg_str(args, &path, &len);
    if (rc || len >= sizeof name)
        return rc ? rc : BAY_EINVAL;
    memcpy(name, path, len);
    name[len] = '\0';
    errno = 0;
    FILE *f = fopen(name, "r");
    bay_out_int(result, f ? 0 : errno);
    if (f)
        fclose(f);
    return 0;
}
BAY_WASM_EXPORT(wasi_open)

/* wasi.nosys() calls sock_accept, outside plugbay's WASI subset, and answers its errno. */
static int wasi_nosys(bay_args *args, bay_out *result)
{
    __wasi_fd_t fd;
    bay_out_int(result, __wasi_sock_accept(3, 0, &fd));
    return 0;
}
BAY_WASM_EXPORT(wasi_nosys)

/* wasi.exit(code) calls exit(code), which ends in WASI's proc_exit. */
static int wasi_exit(bay_args *args, bay_out *result)
{
    int64_t code;
    int rc = bay_arg_int(args, &code);
    if (rc == 0)
        exit((int)code);
    return rc;
}
BAY_WASM_EXPORT(wasi_exit)

/* wasi.badwrite() hands fd_write iovecs outside the module's memory and answers its errno. */
static int wasi_badwrite(bay_args *args, bay_out *result)
{
    __wasi_size_t written;
    bay_out_int(result, __wasi_fd_write(1, (const __wasi_ciovec_t *)(uintptr_t)0xfffff000u, 1, &written));
    return 0;
}
BAY_WASM_EXPORT(wasi_badwrite)
