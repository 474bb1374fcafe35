/* sdk/conformance/wasm/plugin.c — conform/wasm: the conformance plugin in C compiled to WebAssembly with the SDK (echo, fail, type, filter, stream, upload). */
#include <stdlib.h>
#include <string.h>

#include "plugbay_wasm.h"

/* The names of plugbay/error.h's codes, by code (error.h's functions are the host's, not a module's). */
static const char *const code_names[] = {
    "BAY_OK", "BAY_EINVAL", "BAY_ENOMEM", "BAY_EPROTO", "BAY_EVERSION", "BAY_ENOENT", "BAY_ENOPROVIDER",
    "BAY_ETIMEDOUT", "BAY_ECANCELED", "BAY_ECRASHED", "BAY_EUNAVAIL", "BAY_EPLUGIN", "BAY_ECONN", "BAY_EMANIFEST",
    "BAY_ESTATE", "BAY_EEXIST", "BAY_EPERM", "BAY_EBUSY", "BAY_ETYPE", "BAY_EIO", "BAY_EKIND", "BAY_EPENDING",
    "BAY_ENOSPC",
};

/* copy reads one value from in and writes it to out through the SDK's typed
 * readers and writers (not as raw bytes), so the echo is what the SDK makes of it. */
static bool copy(bay_in *in, bay_out *out)
{
    bool b;
    int64_t i;
    double d;
    const char *s;
    const uint8_t *data;
    uint32_t len, n;
    switch (bay_in_type(in)) {
    case BAY_MP_NIL: bay_out_nil(out); return bay_in_nil(in);
    case BAY_MP_BOOL: return bay_in_bool(in, &b) && (bay_out_bool(out, b), true);
    case BAY_MP_INT: return bay_in_int(in, &i) && (bay_out_int(out, i), true);
    case BAY_MP_FLOAT: return bay_in_float(in, &d) && (bay_out_float(out, d), true);
    case BAY_MP_STR: return bay_in_str(in, &s, &len) && (bay_out_str(out, s, len), true);
    case BAY_MP_BIN: return bay_in_bin(in, &data, &len) && (bay_out_bin(out, data, len), true);
    case BAY_MP_ARRAY:
        if (!bay_in_array(in, &n))
            return false;
        bay_out_array(out, n);
        for (uint32_t k = 0; k < n; k++)
            if (!copy(in, out))
                return false;
        return true;
    case BAY_MP_MAP:
        if (!bay_in_map(in, &n))
            return false;
        bay_out_map(out, n);
        for (uint32_t k = 0; k < 2 * n; k++)
            if (!copy(in, out))
                return false;
        return true;
    default: return false;
    }
}

/* conform_echo returns its first argument unchanged. */
static int conform_echo(bay_args *args, bay_out *result)
{
    bay_in v;
    int rc = bay_arg_value(args, &v);
    if (rc)
        return rc;
    return copy(&v, result) ? 0 : bay_fail(BAY_EPROTO, "conform.echo: argument 1 is not msgpack the SDK reads");
}
BAY_WASM_EXPORT(conform_echo)

/* code_of reads conform.fail's first argument, a name ("BAY_EINVAL") or a number, into *code; false for neither. */
static bool code_of(bay_args *args, int64_t *code)
{
    bay_in v;
    const char *name;
    uint32_t len;
    if (bay_arg_value(args, &v))
        return false;
    if (bay_in_int(&v, code))
        return true;
    if (!bay_in_str(&v, &name, &len))
        return false;
    for (*code = 1; *code < (int64_t)(sizeof code_names / sizeof *code_names); ++*code)
        if (strlen(code_names[*code]) == len && memcmp(code_names[*code], name, len) == 0)
            return true;
    return false;
}

/* conform_fail(code, message) fails with code (a name or a number, returned as it is) and message. */
static int conform_fail(bay_args *args, bay_out *result)
{
    int64_t code;
    if (!code_of(args, &code) || code <= 0 || code > INT32_MAX)
        return bay_fail(BAY_EINVAL,
                        "conform.fail: argument 1 must be a code's name (\"BAY_EINVAL\") or a positive number");
    const char *message;
    uint32_t len;
    int rc = bay_arg_str(args, &message, &len);
    return rc ? rc : bay_fail((int)code, "%.*s", (int)len, message);
}
BAY_WASM_EXPORT(conform_fail)

/* conform_bad_key returns the map {1: 2}, whose key is not a string, which no value can hold. */
static int conform_bad_key(bay_args *args, bay_out *result)
{
    bay_out_map(result, 1);
    bay_out_int(result, 1);
    bay_out_int(result, 2);
    return 0;
}
BAY_WASM_EXPORT(conform_bad_key)

/* conform_type returns the name of its first argument's msgpack type as the SDK's reader sees it. */
static int conform_type(bay_args *args, bay_out *result)
{
    bay_in v;
    int rc = bay_arg_value(args, &v);
    if (rc == 0)
        bay_out_cstr(result, bay_mp_type_name(bay_in_type(&v)));
    return rc;
}
BAY_WASM_EXPORT(conform_type)

/* conform_filter(what, ...) provides the filter conform.filter: "refuse:wasm" refuses with BAY_EPERM,
 * "bad:wasm" answers a str (which is not the arguments), "keep:wasm" passes the arguments on as they came
 * (nothing written: nil); anything else passes them on with "wasm" added at the end. */
static int conform_filter(bay_args *args, bay_out *result)
{
    bay_in first = args->in; /* a look at the first argument: args itself stays whole */
    const char *what = "";
    uint32_t len = 0;
    if (args->count == 0 || bay_in_type(&first) != BAY_MP_STR || !bay_in_str(&first, &what, &len))
        len = 0;
    if (len == 11 && memcmp(what, "refuse:wasm", 11) == 0)
        return bay_fail(BAY_EPERM, "conform/wasm refused %.*s", (int)len, what);
    if (len == 8 && memcmp(what, "bad:wasm", 8) == 0) {
        bay_out_cstr(result, "not the arguments");
        return 0;
    }
    if (len == 9 && memcmp(what, "keep:wasm", 9) == 0)
        return 0;
    bay_out_array(result, args->count + 1);
    bay_out_raw(result, args->in.p, (uint32_t)(args->in.end - args->in.p));
    bay_out_cstr(result, "wasm");
    return 0;
}
BAY_WASM_EXPORT(conform_filter)

/* conform_stream(n, size, end) streams n chunks (n < 0: until bay_emit says stop): chunk i (from 0) is i when size
 * is 0, else a binary of size bytes, each i % 256. end "error" then fails with BAY_EIO, "last" returns "last" (the
 * last chunk); anything else returns nil. */
static int conform_stream(bay_args *args, bay_out *result)
{
    int64_t n, size;
    int rc = bay_arg_int(args, &n);
    if (rc || (rc = bay_arg_int(args, &size)) != 0)
        return rc;
    if (size < 0 || size > 8 * 1024 * 1024)
        return bay_fail(BAY_EINVAL, "conform.stream: size must be 0 to 8 MiB");
    bay_in third = args->in; /* a look at the third argument, when there is one */
    const char *end = "";
    uint32_t len = 0;
    if (args->count < 3 || !bay_in_str(&third, &end, &len))
        len = 0;
    uint8_t *bytes = size ? malloc((size_t)size) : NULL;
    if (size && bytes == NULL)
        return bay_fail(BAY_ENOMEM, "conform.stream: no memory for a chunk of %lld bytes", (long long)size);
    bay_out chunk = {0};
    for (int64_t i = 0; rc == 0 && (n < 0 || i < n); i++) {
        if (size) {
            memset(bytes, (int)(i % 256), (size_t)size);
            bay_out_bin(&chunk, bytes, (uint32_t)size);
        } else
            bay_out_int(&chunk, i);
        rc = bay_emit(&chunk);
    }
    bay_out_free(&chunk);
    free(bytes);
    if (rc)
        return rc;
    if (len == 5 && memcmp(end, "error", 5) == 0)
        return bay_fail(BAY_EIO, "conform/wasm failed after %lld chunks", (long long)n);
    if (len == 4 && memcmp(end, "last", 4) == 0)
        bay_out_cstr(result, "last");
    return 0;
}
BAY_WASM_EXPORT(conform_stream)

/* conform_upload(what) takes the input its caller streams: "sum" returns {"chunks": n, "sum": the ints added up,
 * "bytes": the strings' and binaries' bytes} once the input ended; "echo" streams each chunk back as it comes;
 * "early" returns "early" after the first chunk, leaving the rest. A stop returns its code. */
static int conform_upload(bay_args *args, bay_out *result)
{
    bay_in first = args->in; /* a look at the argument, when there is one */
    const char *what = "";
    uint32_t len = 0;
    if (args->count < 1 || !bay_in_str(&first, &what, &len))
        len = 0;
    bool echo = len == 4 && memcmp(what, "echo", 4) == 0, early = len == 5 && memcmp(what, "early", 5) == 0;
    int64_t n = 0, sum = 0, bytes = 0;
    bay_out back = {0};
    bay_in chunk;
    int rc;
    while ((rc = bay_receive(&chunk)) == 0) {
        bay_in look = chunk;
        int64_t i;
        const char *text;
        const uint8_t *data;
        uint32_t size = 0;
        n++;
        if (bay_in_int(&look, &i))
            sum += i;
        else if (bay_in_str(&look, &text, &size) || bay_in_bin(&look, &data, &size))
            bytes += size;
        if (echo) {
            bay_out_raw(&back, chunk.p, (uint32_t)(chunk.end - chunk.p));
            rc = bay_emit(&back);
        }
        bay_in_free(&chunk);
        if (rc || early)
            break;
    }
    bay_out_free(&back);
    if (rc == 0) /* "early", after the first chunk */
        bay_out_cstr(result, "early");
    else if (rc != BAY_INPUT_END)
        return rc;
    else if (!echo) {
        bay_out_map(result, 3);
        bay_out_cstr(result, "chunks");
        bay_out_int(result, n);
        bay_out_cstr(result, "sum");
        bay_out_int(result, sum);
        bay_out_cstr(result, "bytes");
        bay_out_int(result, bytes);
    }
    return 0;
}
BAY_WASM_EXPORT(conform_upload)
