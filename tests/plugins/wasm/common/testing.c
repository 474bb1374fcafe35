/* tests/plugins/wasm/common/testing.c — helpers the wasm test plugins share: string arguments, and the answer of an import handed bad bytes. */
#include "testing.h"

#include <string.h>

__attribute__((import_module("plugbay"), import_name("reply"))) uint32_t raw_reply(char *buf, uint32_t len);

int arg_cstr(bay_args *args, char *buf, size_t size)
{
    const char *s;
    uint32_t len;
    int rc = bay_arg_str(args, &s, &len);
    if (rc == 0 && len >= size)
        rc = bay_fail(BAY_EINVAL, "argument %u: %u bytes is too long", args->next, len);
    if (rc == 0) {
        memcpy(buf, s, len);
        buf[len] = '\0';
    }
    return rc;
}

void out_answer(bay_out *result, int rc)
{
    char text[300];
    uint32_t n = raw_reply(text, sizeof text);
    bay_out_array(result, 2);
    bay_out_int(result, rc);
    bay_out_str(result, text, n <= sizeof text ? n : 0);
}
