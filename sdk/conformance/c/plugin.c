/* sdk/conformance/c/plugin.c — conform/c: the conformance plugin in C (echo, fail, type, filter, stream, upload), as sdk/conformance/cases.json calls it. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <plugbay/plugin.h>

/* conform_echo returns its first argument (nil without one) unchanged. */
static int conform_echo(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const bay_value *v = bay_array_get(args, 0);
    *result = v ? bay_value_copy(v) : bay_nil();
    return *result ? 0 : bay_call_error(call, BAY_ENOMEM, "conform.echo: no memory for a copy");
}

/* code_of turns conform.fail's first argument, a name ("BAY_EINVAL") or a number, into a code; 0 for neither. */
static int64_t code_of(const bay_value *v)
{
    return bay_value_type(v) == BAY_INT ? bay_value_int(v) : bay_errcode(bay_value_str(v, NULL));
}

/* conform_fail(code, message) fails with code (a name or a number, returned as it is) and message. */
static int conform_fail(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const char *message;
    if (bay_arg_str(call, args, 1, &message))
        return BAY_ETYPE;
    int64_t code = code_of(bay_array_get(args, 0));
    if (code <= 0 || code > INT32_MAX)
        return bay_call_error(call, BAY_EINVAL,
                              "conform.fail: argument 1 must be a code's name (\"BAY_EINVAL\") or a positive number");
    return bay_call_error(call, (int)code, "%s", message);
}

/* conform_type returns the name of its first argument's type as C sees it (bay_type_name). */
static int conform_type(bay_invocation *call, const bay_value *args, bay_value **result)
{
    *result = bay_str(bay_type_name(bay_value_type(bay_array_get(args, 0))));
    return *result ? 0 : bay_call_error(call, BAY_ENOMEM, "conform.type: no memory");
}

/* conform_filter(what, ...) provides the filter conform.filter: "refuse:c" refuses with BAY_EPERM, "bad:c"
 * answers a str (which is not the arguments), "keep:c" passes the arguments on as they came (nil); anything
 * else passes them on with "c" added at the end. */
static int conform_filter(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const char *what = bay_value_str(bay_array_get(args, 0), NULL);
    if (what && strcmp(what, "refuse:c") == 0)
        return bay_call_error(call, BAY_EPERM, "conform/c refused %s", what);
    if (what && strcmp(what, "bad:c") == 0)
        return (*result = bay_str("not the arguments")) ? 0 : BAY_ENOMEM;
    if (what && strcmp(what, "keep:c") == 0)
        return 0;
    *result = bay_value_copy(args);
    if (*result == NULL || bay_array_push(*result, bay_str("c")) != 0)
        return bay_call_error(call, BAY_ENOMEM, "conform.filter: no memory");
    return 0;
}

/* conform_stream(n, size, end) streams n chunks (n < 0: until the caller stops it): chunk i (from 0) is i when
 * size is 0, else a binary of size bytes, each i % 256. end "error" then fails with BAY_EIO, "last" returns
 * "last" (the last chunk); anything else returns nil. */
static int conform_stream(bay_invocation *call, const bay_value *args, bay_value **result)
{
    int64_t n, size;
    if (bay_arg_int(call, args, 0, &n) || bay_arg_int(call, args, 1, &size))
        return BAY_ETYPE;
    if (size < 0 || size > 8 * 1024 * 1024)
        return bay_call_error(call, BAY_EINVAL, "conform.stream: size must be 0 to 8 MiB");
    const char *end = bay_value_str(bay_array_get(args, 2), NULL);
    static unsigned char buf[8 * 1024 * 1024];
    for (int64_t i = 0; n < 0 || i < n; i++) {
        if (size)
            memset(buf, (int)(i % 256), (size_t)size);
        bay_value *chunk = size ? bay_bin(buf, (size_t)size) : bay_int(i);
        int rc = chunk ? bay_call_emit(call, chunk) : BAY_ENOMEM;
        bay_value_free(chunk);
        if (rc)
            return rc;
    }
    if (end && strcmp(end, "error") == 0)
        return bay_call_error(call, BAY_EIO, "conform/c failed after %lld chunks", (long long)n);
    if (end && strcmp(end, "last") == 0)
        *result = bay_str("last");
    return 0;
}

/* conform_upload(what) takes the input its caller streams: "sum" returns {"chunks": n, "sum": the ints added up,
 * "bytes": the strings' and binaries' bytes} once the input ended; "echo" streams each chunk back as it comes;
 * "early" returns "early" after the first chunk, leaving the rest. A stop (cancel, deadline) returns its code. */
static int conform_upload(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const char *what = bay_value_str(bay_array_get(args, 0), NULL);
    bool echo = what && strcmp(what, "echo") == 0, early = what && strcmp(what, "early") == 0;
    int64_t n = 0, sum = 0, bytes = 0;
    for (;;) {
        bay_value *chunk = NULL;
        int rc = bay_call_receive(call, &chunk);
        if (rc)
            return rc;
        if (chunk == NULL)
            break;
        size_t len = 0;
        n++;
        if (bay_value_type(chunk) == BAY_INT)
            sum += bay_value_int(chunk);
        else if (bay_value_str(chunk, &len))
            bytes += (int64_t)len;
        rc = echo ? bay_call_emit(call, chunk) : 0;
        bay_value_free(chunk);
        if (rc)
            return rc;
        if (early)
            return (*result = bay_str("early")) ? 0 : BAY_ENOMEM;
    }
    if (echo)
        return 0;
    *result = bay_map();
    if (*result == NULL || bay_map_set(*result, "chunks", bay_int(n)) || bay_map_set(*result, "sum", bay_int(sum)) ||
        bay_map_set(*result, "bytes", bay_int(bytes)))
        return bay_call_error(call, BAY_ENOMEM, "conform.upload: no memory");
    return 0;
}

BAY_PLUGIN(NULL, NULL, {"conform_echo", conform_echo}, {"conform_fail", conform_fail}, {"conform_type", conform_type},
           {"conform_filter", conform_filter}, {"conform_stream", conform_stream},
           {"conform_upload", conform_upload});
