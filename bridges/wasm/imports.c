/* bridges/wasm/imports.c — the plugbay.* functions a module may import: log, config, call, reply, result, error.
 *
 * wasm2c names an import MODULE.NAME Z_MODULEZ_NAME and passes it the host
 * pointer given at instantiation; the types here are those module.c checks
 * every import against. Every pointer a module passes is checked against its
 * memory first (bay__wasm_bytes traps on one that lies outside); the work in
 * between bay__wasm_host_enter and bay__wasm_host_leave is the worker's. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

/* A log line or error message longer than this is cut. */
#define TEXT_MAX 2000

void Z_plugbayZ_log(bay__wasm_host *h, uint32_t level, uint32_t msg, uint32_t msg_len);
uint32_t Z_plugbayZ_config(bay__wasm_host *h, uint32_t buf, uint32_t buf_len);
uint32_t Z_plugbayZ_call(bay__wasm_host *h, uint32_t name, uint32_t name_len, uint32_t args, uint32_t args_len,
                         uint32_t timeout_ms);
uint32_t Z_plugbayZ_reply(bay__wasm_host *h, uint32_t buf, uint32_t buf_len);
uint32_t Z_plugbayZ_result(bay__wasm_host *h, uint32_t value, uint32_t value_len);
void Z_plugbayZ_error(bay__wasm_host *h, uint32_t msg, uint32_t msg_len);

static int text_len(uint32_t len)
{
    return len > TEXT_MAX ? TEXT_MAX : (int)len;
}

void Z_plugbayZ_log(bay__wasm_host *h, uint32_t level, uint32_t msg, uint32_t msg_len)
{
    const char *text = (const char *)bay__wasm_bytes(h, msg, msg_len, "plugbay.log's message");
    bay__wasm_host_enter();
    bay_plugin_log(level > BAY_LOG_ERROR ? BAY_LOG_ERROR : (int)level, "%.*s", text_len(msg_len), text);
    bay__wasm_host_leave();
}

/* copy_out writes len bytes of data to buf when buf_len can hold them, and returns len. */
static uint32_t copy_out(bay__wasm_host *h, uint32_t buf, uint32_t buf_len, const void *data, size_t len,
                         const char *what)
{
    if (len <= buf_len && len > 0)
        memcpy(bay__wasm_bytes(h, buf, (uint32_t)len, what), data, len);
    return (uint32_t)len;
}

uint32_t Z_plugbayZ_config(bay__wasm_host *h, uint32_t buf, uint32_t buf_len)
{
    return copy_out(h, buf, buf_len, h->config, h->config_len, "plugbay.config's buffer");
}

uint32_t Z_plugbayZ_reply(bay__wasm_host *h, uint32_t buf, uint32_t buf_len)
{
    return copy_out(h, buf, buf_len, h->reply, h->reply_len, "plugbay.reply's buffer");
}

/* set_reply keeps len bytes of data (taking ownership) as what plugbay.reply gives next. */
static void set_reply(bay__wasm_host *h, void *data, size_t len)
{
    free(h->reply);
    h->reply = data;
    h->reply_len = data ? len : 0;
}

/* reply_text keeps a message as the reply of a failed plugbay.call. Returns code. */
static int reply_text(bay__wasm_host *h, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int reply_text(bay__wasm_host *h, int code, const char *fmt, ...)
{
    char *text = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    set_reply(h, n < 0 ? NULL : text, n < 0 ? 0 : (size_t)n);
    return code;
}

/* call_broker does plugbay.call's work once the name and arguments are
 * copied out of the module: it may run nested calls, which may move the
 * module's memory. */
static int call_broker(bay__wasm_host *h, const char *name, const uint8_t *packed, uint32_t len, int timeout_ms)
{
    bay_value *args = NULL, *result = NULL;
    char why[200];
    if (len && bay_value_unpack(packed, len, &args, why, sizeof why) != 0)
        return reply_text(h, BAY_EPROTO, "plugbay.call(\"%s\"): the arguments are not one msgpack value: %s", name,
                          why);
    if (args && bay_value_type(args) != BAY_ARRAY) {
        bay_value_free(args);
        return reply_text(h, BAY_ETYPE, "plugbay.call(\"%s\"): the arguments must be a msgpack array", name);
    }
    bay_error err = {0};
    int rc = bay_plugin_call(name, args, timeout_ms < 0 ? 0 : timeout_ms, &result, &err);
    bay_value_free(args);
    if (rc) {
        bay_value_free(result);
        return reply_text(h, rc, "%s%s%s", err.plugin, err.plugin[0] ? ": " : "", err.message);
    }
    void *out = NULL;
    size_t out_len = 0;
    rc = bay_value_pack(result, &out, &out_len);
    bay_value_free(result);
    if (rc)
        return reply_text(h, rc, "plugbay.call(\"%s\"): no memory for the result", name);
    set_reply(h, out, out_len);
    return 0;
}

uint32_t Z_plugbayZ_call(bay__wasm_host *h, uint32_t name, uint32_t name_len, uint32_t args, uint32_t args_len,
                         uint32_t timeout_ms)
{
    const char *n = (const char *)bay__wasm_bytes(h, name, name_len, "plugbay.call's extension point name");
    const uint8_t *a = bay__wasm_bytes(h, args, args_len, "plugbay.call's arguments");
    bay__wasm_host_enter();
    char point[256];
    int rc;
    if (name_len == 0 || name_len >= sizeof point || memchr(n, '\0', name_len))
        rc = reply_text(h, BAY_EINVAL, "plugbay.call: the extension point name must be 1 to %zu bytes without NUL",
                        sizeof point - 1);
    else {
        memcpy(point, n, name_len);
        point[name_len] = '\0';
        /* The arguments are unpacked before anything else runs. */
        rc = call_broker(h, point, a, args_len, (int)timeout_ms);
    }
    bay__wasm_host_leave();
    return (uint32_t)rc;
}

uint32_t Z_plugbayZ_result(bay__wasm_host *h, uint32_t value, uint32_t value_len)
{
    const uint8_t *packed = bay__wasm_bytes(h, value, value_len, "plugbay.result's value");
    bay__wasm_frame *f = h->frame;
    if (f == NULL)
        return BAY_ESTATE;
    bay__wasm_host_enter();
    bay_value *v = NULL;
    char why[200];
    int rc = bay_value_unpack(packed, value_len, &v, why, sizeof why);
    bay_value_free(f->result);
    f->result = v;
    if (rc) {
        f->code = rc;
        snprintf(f->message, sizeof f->message,
                 "%s: plugbay.result was given %u bytes that are not one msgpack value: %s", bay_call_name(f->call),
                 value_len, why);
    }
    bay__wasm_host_leave();
    return (uint32_t)rc;
}

void Z_plugbayZ_error(bay__wasm_host *h, uint32_t msg, uint32_t msg_len)
{
    const char *text = (const char *)bay__wasm_bytes(h, msg, msg_len, "plugbay.error's message");
    bay__wasm_host_enter();
    if (h->frame)
        snprintf(h->frame->message, sizeof h->frame->message, "%.*s", text_len(msg_len), text);
    bay__wasm_host_leave();
}
