/* bridges/wasm/imports.c — the plugbay.* functions a module may import: log, config, call, reply, result, emit, receive, error, settings, the store_* functions, the timer_* ones and plugins_list and plugins_manage.
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
#include "value_convert.h"

/* A log line or error message longer than this is cut. */
#define TEXT_MAX 2000
/* What plugbay.receive returns at the end of the input: -1 as the module's i32, no code of plugbay/error.h. */
#define INPUT_END UINT32_MAX

void Z_plugbayZ_log(bay__wasm_host *h, uint32_t level, uint32_t msg, uint32_t msg_len);
uint32_t Z_plugbayZ_config(bay__wasm_host *h, uint32_t buf, uint32_t buf_len);
uint32_t Z_plugbayZ_call(bay__wasm_host *h, uint32_t name, uint32_t name_len, uint32_t args, uint32_t args_len,
                         uint32_t timeout_ms);
uint32_t Z_plugbayZ_reply(bay__wasm_host *h, uint32_t buf, uint32_t buf_len);
uint32_t Z_plugbayZ_result(bay__wasm_host *h, uint32_t value, uint32_t value_len);
uint32_t Z_plugbayZ_emit(bay__wasm_host *h, uint32_t chunk, uint32_t chunk_len);
uint32_t Z_plugbayZ_receive(bay__wasm_host *h);
void Z_plugbayZ_error(bay__wasm_host *h, uint32_t msg, uint32_t msg_len);
uint32_t Z_plugbayZ_settings(bay__wasm_host *h, uint32_t buf, uint32_t buf_len);
uint32_t Z_plugbayZ_store_get(bay__wasm_host *h, uint32_t key, uint32_t key_len);
uint32_t Z_plugbayZ_store_put(bay__wasm_host *h, uint32_t key, uint32_t key_len, uint32_t value, uint32_t value_len);
uint32_t Z_plugbayZ_store_delete(bay__wasm_host *h, uint32_t key, uint32_t key_len);
uint32_t Z_plugbayZ_store_keys(bay__wasm_host *h, uint32_t prefix, uint32_t prefix_len);
uint32_t Z_plugbayZ_store_sql(bay__wasm_host *h, uint32_t sql, uint32_t sql_len, uint32_t params, uint32_t params_len);
uint32_t Z_plugbayZ_timer_set(bay__wasm_host *h, uint32_t name, uint32_t name_len, uint32_t interval_ms,
                              uint32_t function, uint32_t function_len);
uint32_t Z_plugbayZ_timer_remove(bay__wasm_host *h, uint32_t name, uint32_t name_len);
uint32_t Z_plugbayZ_timer_list(bay__wasm_host *h);
uint32_t Z_plugbayZ_plugins_list(bay__wasm_host *h);
uint32_t Z_plugbayZ_plugins_manage(bay__wasm_host *h, uint32_t what, uint32_t what_len, uint32_t id, uint32_t id_len);

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

/* keep_reply packs value (taken; NULL is nil) as what plugbay.reply gives
 * next. Returns 0, or BAY_ENOMEM with the reply saying so. */
static int keep_reply(bay__wasm_host *h, const char *import, bay_value *value)
{
    void *out = NULL;
    size_t len = 0;
    if (value == NULL)
        value = bay_nil();
    int rc = value ? bay_value_pack(value, &out, &len) : BAY_ENOMEM;
    bay_value_free(value);
    if (rc)
        return reply_text(h, BAY_ENOMEM, "plugbay.%s: no memory for the answer", import);
    set_reply(h, out, len);
    return 0;
}

/* answer ends import, whose plugin.h function returned rc with out (taken;
 * NULL is nil) or err: the value, or the error's message, is what
 * plugbay.reply gives next. Returns the code. */
static int answer(bay__wasm_host *h, const char *import, int rc, bay_value *out, const bay_error *err)
{
    if (rc == 0)
        return keep_reply(h, import, out);
    bay_value_free(out);
    return reply_text(h, rc, "plugbay.%s: %s", import, err->message);
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
    return keep_reply(h, "call", result);
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

/* take_answer reads the len bytes at ptr that the running call gives import
 * (result, emit) as its answer or part of it, noun naming them ("value"), into
 * *out (NULL when *rc is not 0), and returns the call's frame with the
 * worker's code entered (bay__wasm_host_enter); NULL outside a call. Bytes
 * outside the module's memory trap; bytes that are no value set *rc and fail
 * the call whatever the export returns (the frame's code and message). */
static bay__wasm_frame *take_answer(bay__wasm_host *h, const char *import, const char *noun, uint32_t ptr,
                                    uint32_t len, bay_value **out, int *rc)
{
    char what[64];
    snprintf(what, sizeof what, "plugbay.%s's %s", import, noun);
    const uint8_t *packed = bay__wasm_bytes(h, ptr, len, what);
    bay__wasm_frame *f = h->frame;
    if (f == NULL)
        return NULL;
    bay__wasm_host_enter();
    bay_error why;
    *out = NULL;
    *rc = bay__value_unpack_as(packed, len, BAY_ETYPE, out, &why); /* no plugbay value: as Lua's and Python's */
    if (*rc) {
        f->code = *rc;
        snprintf(f->message, sizeof f->message, "%s: plugbay.%s was given %u bytes that are %s: %.200s",
                 bay_call_name(f->call), import, len,
                 *rc == BAY_ETYPE ? "a value that cannot cross a call" : "not one msgpack value", why.message);
    }
    return f;
}

uint32_t Z_plugbayZ_result(bay__wasm_host *h, uint32_t value, uint32_t value_len)
{
    bay_value *v;
    int rc;
    bay__wasm_frame *f = take_answer(h, "result", "value", value, value_len, &v, &rc);
    if (f == NULL)
        return BAY_ESTATE;
    bay_value_free(f->result);
    f->result = v;
    bay__wasm_host_leave();
    return (uint32_t)rc;
}

/* plugbay.emit sends one msgpack value as the next chunk of the running
 * call's streamed answer (bay_call_emit), and returns its code. */
uint32_t Z_plugbayZ_emit(bay__wasm_host *h, uint32_t chunk, uint32_t chunk_len)
{
    bay_value *v;
    int rc;
    bay__wasm_frame *f = take_answer(h, "emit", "chunk", chunk, chunk_len, &v, &rc);
    if (f == NULL)
        return BAY_ESTATE;
    if (rc == 0)
        rc = bay_call_emit(f->call, v);
    if (rc == 0)
        rc = bay_call_cancelled(f->call); /* stopped while the chunk went out: said, rather than trapped */
    bay_value_free(v);
    /* A call that must stop goes back to wasm code as the worker's: the module
     * returns the code, and no interrupt throws its instance away meanwhile
     * (plugbayd's hang grace ends a module that runs on instead). */
    if (rc != BAY_ECANCELED && rc != BAY_ETIMEDOUT)
        bay__wasm_host_leave();
    return (uint32_t)rc;
}

/* plugbay.receive takes the next chunk of the running call's input
 * (bay_call_receive): 0 with the chunk, as msgpack, for plugbay.reply;
 * INPUT_END once the input ended (plugbay.reply gives nothing); else the
 * code, a stop returned as plugbay.emit returns it. */
uint32_t Z_plugbayZ_receive(bay__wasm_host *h)
{
    bay__wasm_frame *f = h->frame;
    if (f == NULL)
        return BAY_ESTATE;
    bay__wasm_host_enter();
    bay_value *chunk = NULL;
    int rc = bay_call_receive(f->call, &chunk);
    bool end = rc == 0 && chunk == NULL;
    if (end)
        set_reply(h, NULL, 0);
    else if (rc == 0)
        rc = keep_reply(h, "receive", chunk);
    if (rc == 0)
        rc = bay_call_cancelled(f->call); /* stopped meanwhile: said, rather than trapped */
    if (rc != BAY_ECANCELED && rc != BAY_ETIMEDOUT)
        bay__wasm_host_leave();
    return rc == 0 && end ? INPUT_END : (uint32_t)rc;
}

void Z_plugbayZ_error(bay__wasm_host *h, uint32_t msg, uint32_t msg_len)
{
    const char *text = (const char *)bay__wasm_bytes(h, msg, msg_len, "plugbay.error's message");
    bay__wasm_host_enter();
    if (h->frame)
        snprintf(h->frame->message, sizeof h->frame->message, "%.*s", text_len(msg_len), text);
    bay__wasm_host_leave();
}

/* plugbay.settings packs the settings as they are now and copies them out as plugbay.config does. */
uint32_t Z_plugbayZ_settings(bay__wasm_host *h, uint32_t buf, uint32_t buf_len)
{
    bay__wasm_host_enter();
    free(h->settings);
    /* Packed anew each time: on_settings may have changed them since. */
    if (bay_value_pack(bay_plugin_settings(), &h->settings, &h->settings_len) != 0)
        bay_plugin_log(BAY_LOG_ERROR, "plugbay.settings: no memory for the settings; the module gets none");
    bay__wasm_host_leave();
    return copy_out(h, buf, buf_len, h->settings, h->settings_len, "plugbay.settings' buffer");
}

/* One storage import: its name, what its text is ("key") and its value
 * ("value"; NULL: it takes none), and the plugin.h function it runs. */
typedef struct store_op {
    const char *import, *text, *value;
    int (*run)(const char *text, const bay_value *value, bay_value **out, bay_error *err);
} store_op;

/* run_get reads the value under key. */
static int run_get(const char *key, const bay_value *none, bay_value **out, bay_error *err)
{
    return bay_store_get(key, out, err);
}

/* run_put stores value, or nil when the module gave none (value_len 0). */
static int run_put(const char *key, const bay_value *value, bay_value **out, bay_error *err)
{
    bay_value *nil = value ? NULL : bay_nil();
    int rc = bay_store_put(key, value ? value : nil, err);
    bay_value_free(nil);
    return rc;
}

/* run_delete removes key. */
static int run_delete(const char *key, const bay_value *none, bay_value **out, bay_error *err)
{
    return bay_store_delete(key, err);
}

/* run_keys lists the keys starting with prefix. */
static int run_keys(const char *prefix, const bay_value *none, bay_value **out, bay_error *err)
{
    return bay_store_keys(prefix, out, err);
}

/* run_sql runs sql with params (NULL: none). */
static int run_sql(const char *sql, const bay_value *params, bay_value **out, bay_error *err)
{
    return bay_store_sql(sql, params, out, err);
}

static const store_op get_op = {"store_get", "key", NULL, run_get},
                      put_op = {"store_put", "key", "value", run_put},
                      delete_op = {"store_delete", "key", NULL, run_delete},
                      keys_op = {"store_keys", "prefix", NULL, run_keys},
                      sql_op = {"store_sql", "statement", "parameters", run_sql};

/* store_work runs op on the text and the msgpack value (value_len 0: none)
 * the module gave, both checked against its memory already: the answer,
 * or the error's message, is what plugbay.reply gives next. Returns the code. */
static int store_work(bay__wasm_host *h, const store_op *op, const uint8_t *text, uint32_t text_len,
                      const uint8_t *value, uint32_t value_len)
{
    char why[200];
    if (memchr(text, '\0', text_len))
        return reply_text(h, BAY_EINVAL, "plugbay.%s: the %s holds a NUL byte", op->import, op->text);
    bay_value *v = NULL, *out = NULL;
    if (value_len && bay_value_unpack(value, value_len, &v, why, sizeof why) != 0)
        return reply_text(h, BAY_EPROTO, "plugbay.%s: the %u bytes given as the %s are not one msgpack value: %s",
                          op->import, value_len, op->value, why);
    char *copy = strndup((const char *)text, text_len);
    bay_error err = {0};
    int rc = copy ? op->run(copy, v, &out, &err) : bay_error_set(&err, BAY_ENOMEM, NULL, "out of memory");
    free(copy);
    bay_value_free(v);
    return answer(h, op->import, rc, out, &err);
}

/* store runs storage import op: every pointer is checked (a trap when it
 * lies outside the module's memory) before the worker does anything. */
static uint32_t store(bay__wasm_host *h, const store_op *op, uint32_t text, uint32_t text_len, uint32_t value,
                      uint32_t value_len)
{
    char what[64];
    snprintf(what, sizeof what, "plugbay.%s's %s", op->import, op->text);
    const uint8_t *t = bay__wasm_bytes(h, text, text_len, what);
    const uint8_t *v = NULL;
    if (op->value) {
        snprintf(what, sizeof what, "plugbay.%s's %s", op->import, op->value);
        v = bay__wasm_bytes(h, value, value_len, what);
    }
    bay__wasm_host_enter();
    int rc = store_work(h, op, t, text_len, v, value_len);
    bay__wasm_host_leave();
    return (uint32_t)rc;
}

uint32_t Z_plugbayZ_store_get(bay__wasm_host *h, uint32_t key, uint32_t key_len)
{
    return store(h, &get_op, key, key_len, 0, 0);
}

uint32_t Z_plugbayZ_store_put(bay__wasm_host *h, uint32_t key, uint32_t key_len, uint32_t value, uint32_t value_len)
{
    return store(h, &put_op, key, key_len, value, value_len);
}

uint32_t Z_plugbayZ_store_delete(bay__wasm_host *h, uint32_t key, uint32_t key_len)
{
    return store(h, &delete_op, key, key_len, 0, 0);
}

uint32_t Z_plugbayZ_store_keys(bay__wasm_host *h, uint32_t prefix, uint32_t prefix_len)
{
    return store(h, &keys_op, prefix, prefix_len, 0, 0);
}

uint32_t Z_plugbayZ_store_sql(bay__wasm_host *h, uint32_t sql, uint32_t sql_len, uint32_t params, uint32_t params_len)
{
    return store(h, &sql_op, sql, sql_len, params, params_len);
}

/* text copies the len bytes at t (checked against the module's memory already) into buf as a C string.
 * Returns 0, or BAY_EINVAL with the reply saying what of import is wrong. */
static int text(bay__wasm_host *h, const char *import, const char *what, const uint8_t *t, uint32_t len, char *buf,
                size_t size)
{
    if (len == 0 || len >= size || memchr(t, '\0', len))
        return reply_text(h, BAY_EINVAL, "plugbay.%s: the %s must be 1 to %zu bytes without NUL", import, what,
                          size - 1);
    memcpy(buf, t, len);
    buf[len] = '\0';
    return 0;
}

/* A timer's name, a function's name or a plugin id, as a C string. */
typedef char name_buf[256];

uint32_t Z_plugbayZ_timer_set(bay__wasm_host *h, uint32_t name, uint32_t name_len, uint32_t interval_ms,
                              uint32_t function, uint32_t function_len)
{
    const uint8_t *n = bay__wasm_bytes(h, name, name_len, "plugbay.timer_set's name");
    const uint8_t *f = bay__wasm_bytes(h, function, function_len, "plugbay.timer_set's function");
    bay__wasm_host_enter();
    name_buf timer, fn;
    bay_error err = {0};
    int rc = text(h, "timer_set", "name", n, name_len, timer, sizeof timer);
    if (rc == 0 && (rc = text(h, "timer_set", "function", f, function_len, fn, sizeof fn)) == 0)
        rc = answer(h, "timer_set", bay_timer_set(timer, (int32_t)interval_ms, fn, &err), NULL, &err);
    bay__wasm_host_leave();
    return (uint32_t)rc;
}

uint32_t Z_plugbayZ_timer_remove(bay__wasm_host *h, uint32_t name, uint32_t name_len)
{
    const uint8_t *n = bay__wasm_bytes(h, name, name_len, "plugbay.timer_remove's name");
    bay__wasm_host_enter();
    name_buf timer;
    bay_error err = {0};
    int rc = text(h, "timer_remove", "name", n, name_len, timer, sizeof timer);
    if (rc == 0)
        rc = answer(h, "timer_remove", bay_timer_remove(timer, &err), NULL, &err);
    bay__wasm_host_leave();
    return (uint32_t)rc;
}

/* listed runs list (bay_timer_list or bay_plugins_list) for import: its array is what plugbay.reply gives next. */
static uint32_t listed(bay__wasm_host *h, const char *import, int (*list)(bay_value **out, bay_error *err))
{
    bay__wasm_host_enter();
    bay_value *out = NULL;
    bay_error err = {0};
    int rc = list(&out, &err);
    rc = answer(h, import, rc, out, &err);
    bay__wasm_host_leave();
    return (uint32_t)rc;
}

uint32_t Z_plugbayZ_timer_list(bay__wasm_host *h)
{
    return listed(h, "timer_list", bay_timer_list);
}

uint32_t Z_plugbayZ_plugins_list(bay__wasm_host *h)
{
    return listed(h, "plugins_list", bay_plugins_list);
}

uint32_t Z_plugbayZ_plugins_manage(bay__wasm_host *h, uint32_t what, uint32_t what_len, uint32_t id, uint32_t id_len)
{
    const uint8_t *w = bay__wasm_bytes(h, what, what_len, "plugbay.plugins_manage's what");
    const uint8_t *i = bay__wasm_bytes(h, id, id_len, "plugbay.plugins_manage's id");
    bay__wasm_host_enter();
    name_buf command, plugin;
    bay_value *out = NULL;
    bay_error err = {0};
    int rc = text(h, "plugins_manage", "what", w, what_len, command, sizeof command);
    if (rc == 0 && (rc = text(h, "plugins_manage", "id", i, id_len, plugin, sizeof plugin)) == 0) {
        rc = bay_plugins_manage(command, plugin, &out, &err);
        rc = answer(h, "plugins_manage", rc, out, &err);
    }
    bay__wasm_host_leave();
    return (uint32_t)rc;
}
