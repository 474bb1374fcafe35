/* plugin.c — @ID@: a C plugin compiled to WebAssembly that greets people by name (@NAME@.greet) and answers the
 * @NAME@.started event. */
#include <stdio.h>

#include "plugbay_wasm.h"

/* greet(name) answers "GREETING, NAME!", GREETING from the configuration ("Hello"). */
static int greet(bay_args *args, bay_out *result)
{
    const char *name, *greeting = "Hello";
    uint32_t name_len, greeting_len = 5;
    int rc = bay_arg_str(args, &name, &name_len);
    if (rc)
        return rc;
    bay_in config, value;
    if (!bay_config(&config))
        return bay_fail(BAY_ENOMEM, "no memory to read the configuration");
    if (bay_in_find(&config, "greeting", &value))
        bay_in_str(&value, &greeting, &greeting_len);
    char text[256];
    int n = snprintf(text, sizeof text, "%.*s, %.*s!", (int)greeting_len, greeting, (int)name_len, name);
    bay_in_free(&config); /* greeting pointed into it */
    bay_out_str(result, text, n < (int)sizeof text ? (uint32_t)n : sizeof text - 1);
    return 0;
}
BAY_WASM_EXPORT(greet)

/* started() logs a line and answers which plugin heard it. */
static int started(bay_args *args, bay_out *result)
{
    bay_log(BAY_LOG_INFO, "the application started");
    bay_out_cstr(result, "@ID@");
    return 0;
}
BAY_WASM_EXPORT(started)
