/* tests/plugins/wasm/basic/plugin.c — wasm/basic: values in and out, logging, errors, calls through the broker, configuration. */
#include <string.h>

#include "plugbay_wasm.h"

/* basic.echo(...) answers its arguments as they came. */
static int basic_echo(bay_args *args, bay_out *result)
{
    bay_out_array(result, args->count);
    bay_out_raw(result, args->in.p, (uint32_t)(args->in.end - args->in.p));
    return 0;
}
BAY_WASM_EXPORT(basic_echo)

/* basic.via(name, args) calls extension point name with args through the broker and answers its result. */
static int basic_via(bay_args *args, bay_out *result)
{
    const char *name;
    uint32_t len;
    bay_in inner, reply;
    int rc = bay_arg_str(args, &name, &len);
    if (rc == 0)
        rc = bay_arg_value(args, &inner);
    if (rc)
        return rc;
    char point[129];
    if (len >= sizeof point)
        return bay_fail(BAY_EINVAL, "extension point name of %u bytes is too long", len);
    memcpy(point, name, len);
    point[len] = '\0';
    bay_out call_args = {0};
    bay_out_raw(&call_args, inner.p, (uint32_t)(args->in.p - inner.p));
    char why[300];
    rc = bay_call(point, &call_args, 0, &reply, why, sizeof why);
    bay_out_free(&call_args);
    if (rc)
        return bay_fail(rc, "basic.via: %s failed: %s", point, why);
    bay_out_raw(result, reply.p, (uint32_t)(reply.end - reply.p));
    bay_in_free(&reply);
    return 0;
}
BAY_WASM_EXPORT(basic_via)

/* basic.log(text) logs text at info level. */
static int basic_log(bay_args *args, bay_out *result)
{
    const char *text;
    uint32_t len;
    int rc = bay_arg_str(args, &text, &len);
    if (rc == 0)
        bay_log(BAY_LOG_INFO, "basic.log: %.*s", (int)len, text);
    return rc;
}
BAY_WASM_EXPORT(basic_log)

/* basic.fail(code, message) fails with code and message. */
static int basic_fail(bay_args *args, bay_out *result)
{
    int64_t code;
    const char *text;
    uint32_t len;
    int rc = bay_arg_int(args, &code);
    if (rc == 0)
        rc = bay_arg_str(args, &text, &len);
    return rc ? rc : bay_fail((int)code, "%.*s", (int)len, text);
}
BAY_WASM_EXPORT(basic_fail)

/* basic.config() answers the plugin's configuration map. */
static int basic_config(bay_args *args, bay_out *result)
{
    bay_in config;
    if (!bay_config(&config))
        return bay_fail(BAY_ENOMEM, "no memory for the configuration");
    bay_out_raw(result, config.p, (uint32_t)(config.end - config.p));
    bay_in_free(&config);
    return 0;
}
BAY_WASM_EXPORT(basic_config)
