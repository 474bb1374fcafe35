/* tests/plugins/wasm/wasi/plugin.c — wasm/wasi: a plugin using plain wasi-libc (printf, time, getentropy, getenv, fopen, opendir, exit) and raw WASI calls, within plugbay's WASI subset and outside it; files in its data folder, /data. */
#include <dirent.h>
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

/* c_string copies the string argument into buf as a C string: 0, or a code. */
static int c_string(bay_args *args, char *buf, size_t size)
{
    const char *s;
    uint32_t len;
    int rc = bay_arg_str(args, &s, &len);
    if (rc == 0 && len >= size)
        return bay_fail(BAY_EINVAL, "a string of %u bytes is too long", len);
    if (rc == 0) {
        memcpy(buf, s, len);
        buf[len] = '\0';
    }
    return rc;
}

/* wasi.write(path, text) writes text to path with fopen: answers 0, or the errno it failed with. */
static int wasi_write(bay_args *args, bay_out *result)
{
    char path[256], text[256];
    int rc = c_string(args, path, sizeof path);
    if (rc == 0)
        rc = c_string(args, text, sizeof text);
    if (rc)
        return rc;
    errno = 0;
    FILE *f = fopen(path, "w");
    int e = f && fputs(text, f) >= 0 ? 0 : errno;
    if (f && fclose(f) != 0 && e == 0)
        e = errno;
    bay_out_int(result, e);
    return 0;
}
BAY_WASM_EXPORT(wasi_write)

/* wasi.read(path) reads path with fopen: answers its text, or the errno it failed with. */
static int wasi_read(bay_args *args, bay_out *result)
{
    char path[256], text[256];
    int rc = c_string(args, path, sizeof path);
    if (rc)
        return rc;
    errno = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        bay_out_int(result, errno);
        return 0;
    }
    size_t n = fread(text, 1, sizeof text, f);
    fclose(f);
    bay_out_str(result, text, (uint32_t)n);
    return 0;
}
BAY_WASM_EXPORT(wasi_read)

/* by_name orders two names for qsort. */
static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* wasi.list(path) lists folder path with opendir/readdir: its names but . and .., sorted, joined by ",", or the
 * errno it failed with. */
static int wasi_list(bay_args *args, bay_out *result)
{
    static char text[8192];
    char path[256];
    char *names[128];
    size_t n = 0, used = 0;
    int rc = c_string(args, path, sizeof path);
    if (rc)
        return rc;
    errno = 0;
    DIR *d = opendir(path);
    if (d == NULL) {
        bay_out_int(result, errno);
        return 0;
    }
    text[0] = '\0';
    for (struct dirent *e; n < 128 && (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        used += (size_t)snprintf(text + used, used < sizeof text ? sizeof text - used : 0, "%s%s", i ? "," : "",
                                 names[i]);
        free(names[i]);
    }
    bay_out_str(result, text, (uint32_t)strlen(text));
    return 0;
}
BAY_WASM_EXPORT(wasi_list)

/* wasi.many(path) opens path until fopen fails, closes them all and answers [how many opened, the errno]. */
static int wasi_many(bay_args *args, bay_out *result)
{
    char path[256];
    FILE *open[100];
    int rc = c_string(args, path, sizeof path), n = 0;
    if (rc)
        return rc;
    errno = 0;
    while (n < 100 && (open[n] = fopen(path, "r")) != NULL)
        n++;
    int e = errno;
    for (int i = 0; i < n; i++)
        fclose(open[i]);
    bay_out_array(result, 2);
    bay_out_int(result, n);
    bay_out_int(result, e);
    return 0;
}
BAY_WASM_EXPORT(wasi_many)

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
