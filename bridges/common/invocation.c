/* bridges/common/invocation.c — the running call as plugin.h shows it: bay_call_error, bay_call_name,
 * bay_call_context, bay_call_cancelled, bay_call_remaining_ms and the bay_arg_* readers of its arguments. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>

#include "send.h"

int bay_call_error(bay_invocation *call, int code, const char *fmt, ...)
{
    if (call == NULL)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call->message, sizeof call->message, fmt, ap);
    va_end(ap);
    call->code = code;
    return code;
}

const char *bay_call_name(const bay_invocation *call)
{
    return call->name;
}

const char *bay_call_context(const bay_invocation *call)
{
    return call->context;
}

int bay_call_cancelled(const bay_invocation *call)
{
    return bay__call_stop_code(call);
}

int bay_call_remaining_ms(const bay_invocation *call)
{
    if (call->deadline_ns == 0)
        return INT_MAX;
    int64_t left = call->deadline_ns - bay__now_ns();
    if (left <= 0)
        return 0;
    int64_t ms = (left + 999999) / 1000000; /* rounded up: 0 only once the deadline passed */
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* arg_get stores argument index of args in *out, whose C type follows want
 * (int64_t, double, const char *, bool; an int also passes for a float).
 * A missing or mistyped argument is recorded with bay_call_error: BAY_ETYPE. */
static int arg_get(bay_invocation *call, const bay_value *args, size_t index, bay_type want, void *out)
{
    size_t n = bay_value_len(args);
    if (index >= n)
        return bay_call_error(call, BAY_ETYPE, "%s: argument %zu is missing (got %zu argument%s)", call->name,
                              index + 1, n, n == 1 ? "" : "s");
    const bay_value *v = bay_array_get(args, index);
    bay_type t = bay_value_type(v);
    if (t != want && !(want == BAY_FLOAT && t == BAY_INT))
        return bay_call_error(call, BAY_ETYPE, "%s: argument %zu must be %s, got %s", call->name, index + 1,
                              bay_type_name(want), bay_type_name(t));
    switch (want) {
    case BAY_INT: *(int64_t *)out = bay_value_int(v); break;
    case BAY_FLOAT: *(double *)out = bay_value_float(v); break;
    case BAY_STR: *(const char **)out = bay_value_str(v, NULL); break;
    default: *(bool *)out = bay_value_bool(v); break;
    }
    return 0;
}

int bay_arg_int(bay_invocation *call, const bay_value *args, size_t index, int64_t *out)
{
    return arg_get(call, args, index, BAY_INT, out);
}

int bay_arg_float(bay_invocation *call, const bay_value *args, size_t index, double *out)
{
    return arg_get(call, args, index, BAY_FLOAT, out);
}

int bay_arg_str(bay_invocation *call, const bay_value *args, size_t index, const char **out)
{
    return arg_get(call, args, index, BAY_STR, out);
}

int bay_arg_bool(bay_invocation *call, const bay_value *args, size_t index, bool *out)
{
    return arg_get(call, args, index, BAY_BOOL, out);
}
