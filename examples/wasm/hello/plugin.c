/* examples/wasm/hello/plugin.c — example/wasm-hello: a C plugin compiled to WebAssembly that greets people and counts the greetings. */
#include <stdio.h>

#include "plugbay_wasm.h"

/* Kept between calls: the module's memory lives as long as its instance. */
static int64_t greetings;

/* wasm.greet(name) answers "GREETING, name!", GREETING from the configuration. */
static int wasm_greet(bay_args *args, bay_out *result)
{
    const char *name, *greeting = "Hello";
    uint32_t name_len, greeting_len = 5;
    int rc = bay_arg_str(args, &name, &name_len);
    if (rc)
        return rc;
    bay_in config, value;
    if (!bay_config(&config))
        return bay_fail(BAY_ENOMEM, "no memory to read the configuration");
    if (bay_in_find(&config, "greeting", &value) && !bay_in_str(&value, &greeting, &greeting_len))
        rc = bay_fail(BAY_EINVAL, "config \"greeting\" must be a string, got %s",
                      bay_mp_type_name(bay_in_type(&value)));
    char text[256];
    int n = snprintf(text, sizeof text, "%.*s, %.*s!", (int)greeting_len, greeting, (int)name_len, name);
    bay_in_free(&config); /* greeting pointed into it */
    if (rc)
        return rc;
    bay_out_str(result, text, n < (int)sizeof text ? (uint32_t)n : sizeof text - 1);
    greetings++;
    return 0;
}
BAY_WASM_EXPORT(wasm_greet)

/* app.started() logs a line and answers {"language": "wasm", "greetings": N}. */
static int app_started(bay_args *args, bay_out *result)
{
    bay_log(BAY_LOG_INFO, "the application started; %lld greetings so far", (long long)greetings);
    bay_out_map(result, 2);
    bay_out_cstr(result, "language");
    bay_out_cstr(result, "wasm");
    bay_out_cstr(result, "greetings");
    bay_out_int(result, greetings);
    return 0;
}
BAY_WASM_EXPORT(app_started)
