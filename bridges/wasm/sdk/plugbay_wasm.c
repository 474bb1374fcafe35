/* bridges/wasm/sdk/plugbay_wasm.c — the helper compiled into every C wasm plugin: msgpack, the plugbay imports, bay_alloc. */
#include "plugbay_wasm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- what plugbay offers the module (bridges/wasm/imports.c) ---- */

#define PLUGBAY_IMPORT(name) __attribute__((import_module("plugbay"), import_name(#name)))

PLUGBAY_IMPORT(log) void plugbay_log(int32_t level, const char *msg, uint32_t msg_len);
PLUGBAY_IMPORT(config) uint32_t plugbay_config(uint8_t *buf, uint32_t buf_len);
PLUGBAY_IMPORT(call) int32_t plugbay_call(const char *name, uint32_t name_len, const uint8_t *args, uint32_t args_len,
                                          int32_t timeout_ms);
PLUGBAY_IMPORT(reply) uint32_t plugbay_reply(uint8_t *buf, uint32_t buf_len);
PLUGBAY_IMPORT(result) int32_t plugbay_result(const uint8_t *value, uint32_t value_len);
PLUGBAY_IMPORT(emit) int32_t plugbay_emit(const uint8_t *chunk, uint32_t chunk_len);
PLUGBAY_IMPORT(receive) int32_t plugbay_receive(void);
PLUGBAY_IMPORT(error) void plugbay_error(const char *msg, uint32_t msg_len);
PLUGBAY_IMPORT(settings) uint32_t plugbay_settings(uint8_t *buf, uint32_t buf_len);
PLUGBAY_IMPORT(store_get) int32_t plugbay_store_get(const char *key, uint32_t key_len);
PLUGBAY_IMPORT(store_put) int32_t plugbay_store_put(const char *key, uint32_t key_len, const uint8_t *value,
                                                    uint32_t value_len);
PLUGBAY_IMPORT(store_delete) int32_t plugbay_store_delete(const char *key, uint32_t key_len);
PLUGBAY_IMPORT(store_keys) int32_t plugbay_store_keys(const char *prefix, uint32_t prefix_len);
PLUGBAY_IMPORT(store_sql) int32_t plugbay_store_sql(const char *sql, uint32_t sql_len, const uint8_t *params,
                                                    uint32_t params_len);
PLUGBAY_IMPORT(timer_set) int32_t plugbay_timer_set(const char *name, uint32_t name_len, int32_t interval_ms,
                                                    const char *function, uint32_t function_len);
PLUGBAY_IMPORT(timer_remove) int32_t plugbay_timer_remove(const char *name, uint32_t name_len);
PLUGBAY_IMPORT(timer_list) int32_t plugbay_timer_list(void);
PLUGBAY_IMPORT(plugins_list) int32_t plugbay_plugins_list(void);
PLUGBAY_IMPORT(plugins_manage) int32_t plugbay_plugins_manage(const char *what, uint32_t what_len, const char *id,
                                                              uint32_t id_len);

/* bay_alloc is where plugbay places a call's arguments; bay_wasm_serve frees them. */
__attribute__((export_name("bay_alloc"))) void *bay_alloc(uint32_t size)
{
    return malloc(size ? size : 1);
}

/* ---- reading msgpack ---- */

/* The value a reader is on: its kind, its header's size and, for a string,
 * binary, array or map, its length or count. */
typedef struct item {
    bay_mp_type type;
    size_t head;
    uint64_t n;
} item;

static uint64_t big_endian(const uint8_t *p, int size)
{
    uint64_t v = 0;
    for (int i = 0; i < size; i++)
        v = v << 8 | p[i];
    return v;
}

static item peek(const bay_in *in)
{
    item it = {BAY_MP_INVALID, 0, 0};
    size_t left = in->p < in->end ? (size_t)(in->end - in->p) : 0;
    if (left == 0)
        return it;
    uint8_t b = in->p[0];
    int size = 0;       /* bytes after the tag holding the length, count or number */
    bool sized = false; /* whether those bytes are a length or count */
    if (b <= 0x7f || b >= 0xe0)
        it.type = BAY_MP_INT;
    else if (b >= 0xa0 && b <= 0xbf)
        it = (item){BAY_MP_STR, 1, b & 0x1f};
    else if (b >= 0x90 && b <= 0x9f)
        it = (item){BAY_MP_ARRAY, 1, b & 0x0f};
    else if (b >= 0x80 && b <= 0x8f)
        it = (item){BAY_MP_MAP, 1, b & 0x0f};
    else if (b == 0xc0)
        it.type = BAY_MP_NIL;
    else if (b == 0xc2 || b == 0xc3)
        it.type = BAY_MP_BOOL;
    else if (b >= 0xcc && b <= 0xd3) {
        it.type = BAY_MP_INT;
        size = 1 << ((b - 0xcc) & 3);
    } else if (b == 0xca || b == 0xcb) {
        it.type = BAY_MP_FLOAT;
        size = b == 0xca ? 4 : 8;
    } else if (b >= 0xd9 && b <= 0xdb) {
        it.type = BAY_MP_STR;
        size = 1 << (b - 0xd9), sized = true;
    } else if (b >= 0xc4 && b <= 0xc6) {
        it.type = BAY_MP_BIN;
        size = 1 << (b - 0xc4), sized = true;
    } else if (b == 0xdc || b == 0xdd) {
        it.type = BAY_MP_ARRAY;
        size = b == 0xdc ? 2 : 4, sized = true;
    } else if (b == 0xde || b == 0xdf) {
        it.type = BAY_MP_MAP;
        size = b == 0xde ? 2 : 4, sized = true;
    } else
        return it; /* ext types and the unused tag 0xc1 */
    if (it.head == 0)
        it.head = 1 + (size_t)size;
    if (left < it.head)
        return (item){BAY_MP_INVALID, 0, 0};
    if (sized)
        it.n = big_endian(in->p + 1, size);
    if ((it.type == BAY_MP_STR || it.type == BAY_MP_BIN) && left - it.head < it.n)
        return (item){BAY_MP_INVALID, 0, 0};
    return it;
}

bay_mp_type bay_in_type(const bay_in *in)
{
    return peek(in).type;
}

const char *bay_mp_type_name(bay_mp_type t)
{
    static const char *const names[] = {"nil", "bool", "int", "float", "str", "bin", "array", "map", "nothing"};
    return names[t <= BAY_MP_INVALID ? t : BAY_MP_INVALID];
}

bool bay_in_nil(bay_in *in)
{
    if (peek(in).type != BAY_MP_NIL)
        return false;
    in->p++;
    return true;
}

bool bay_in_bool(bay_in *in, bool *out)
{
    if (peek(in).type != BAY_MP_BOOL)
        return false;
    *out = *in->p++ == 0xc3;
    return true;
}

bool bay_in_int(bay_in *in, int64_t *out)
{
    item it = peek(in);
    if (it.type != BAY_MP_INT)
        return false;
    uint8_t b = in->p[0];
    uint64_t raw = big_endian(in->p + 1, (int)it.head - 1);
    int64_t v;
    if (b <= 0x7f)
        v = b;
    else if (b >= 0xe0)
        v = (int8_t)b;
    else if (b <= 0xcf) { /* unsigned */
        if (raw > INT64_MAX)
            return false;
        v = (int64_t)raw;
    } else { /* signed: sign-extend from the field's width */
        int bits = 8 * ((int)it.head - 1);
        v = bits == 64 ? (int64_t)raw : (int64_t)(raw << (64 - bits)) >> (64 - bits);
    }
    *out = v;
    in->p += it.head;
    return true;
}

bool bay_in_float(bay_in *in, double *out)
{
    item it = peek(in);
    if (it.type == BAY_MP_INT) {
        int64_t i;
        if (!bay_in_int(in, &i))
            return false;
        *out = (double)i;
        return true;
    }
    if (it.type != BAY_MP_FLOAT)
        return false;
    uint64_t raw = big_endian(in->p + 1, (int)it.head - 1);
    if (it.head == 5) {
        uint32_t bits = (uint32_t)raw;
        float f;
        memcpy(&f, &bits, sizeof f);
        *out = f;
    } else
        memcpy(out, &raw, sizeof *out);
    in->p += it.head;
    return true;
}

/* bytes_of reads a string or binary (kind want) into *data and *len. */
static bool bytes_of(bay_in *in, bay_mp_type want, const uint8_t **data, uint32_t *len)
{
    item it = peek(in);
    if (it.type != want)
        return false;
    *data = in->p + it.head;
    *len = (uint32_t)it.n;
    in->p += it.head + it.n;
    return true;
}

bool bay_in_str(bay_in *in, const char **s, uint32_t *len)
{
    return bytes_of(in, BAY_MP_STR, (const uint8_t **)s, len);
}

bool bay_in_bin(bay_in *in, const uint8_t **data, uint32_t *len)
{
    return bytes_of(in, BAY_MP_BIN, data, len);
}

/* header reads an array's or map's header (kind want). */
static bool header(bay_in *in, bay_mp_type want, uint32_t *count)
{
    item it = peek(in);
    if (it.type != want)
        return false;
    *count = (uint32_t)it.n;
    in->p += it.head;
    return true;
}

bool bay_in_array(bay_in *in, uint32_t *count)
{
    return header(in, BAY_MP_ARRAY, count);
}

bool bay_in_map(bay_in *in, uint32_t *count)
{
    return header(in, BAY_MP_MAP, count);
}

bool bay_in_skip(bay_in *in)
{
    const uint8_t *p = in->p;
    for (uint64_t pending = 1; pending > 0; pending--) {
        bay_in at = {p, in->end, NULL};
        item it = peek(&at);
        if (it.type == BAY_MP_INVALID || pending > (uint64_t)(in->end - p))
            return false; /* every value pending takes at least one byte */
        p += it.head;
        if (it.type == BAY_MP_STR || it.type == BAY_MP_BIN)
            p += it.n;
        else if (it.type == BAY_MP_ARRAY || it.type == BAY_MP_MAP)
            pending += it.type == BAY_MP_MAP ? 2 * it.n : it.n;
    }
    in->p = p;
    return true;
}

bool bay_in_find(const bay_in *map, const char *key, bay_in *value)
{
    bay_in c = {map->p, map->end, NULL};
    uint32_t n;
    size_t want = strlen(key);
    if (!bay_in_map(&c, &n))
        return false;
    for (uint32_t i = 0; i < n; i++) {
        const char *k = NULL;
        uint32_t len = 0;
        bool is_str = bay_in_str(&c, &k, &len);
        if (is_str && len == want && memcmp(k, key, len) == 0) {
            *value = c;
            return true;
        }
        if ((!is_str && !bay_in_skip(&c)) || !bay_in_skip(&c))
            return false;
    }
    return false;
}

void bay_in_free(bay_in *in)
{
    free(in->owned);
    *in = (bay_in){0};
}

/* ---- writing msgpack ---- */

static void put(bay_out *o, const void *data, uint32_t n)
{
    if (o->failed || n > UINT32_MAX / 2 - o->len) {
        o->failed = true;
        return;
    }
    if (o->cap - o->len < n) {
        uint32_t cap = o->cap ? o->cap : 64;
        while (cap - o->len < n)
            cap *= 2;
        uint8_t *grown = realloc(o->data, cap);
        if (grown == NULL) {
            o->failed = true;
            return;
        }
        o->data = grown;
        o->cap = cap;
    }
    memcpy(o->data + o->len, data, n);
    o->len += n;
}

/* put_tag writes tag followed by the size low bytes of v, big-endian. */
static void put_tag(bay_out *o, uint8_t tag, uint64_t v, int size)
{
    uint8_t buf[9] = {tag};
    for (int i = 0; i < size; i++)
        buf[1 + i] = (uint8_t)(v >> (8 * (size - 1 - i)));
    put(o, buf, (uint32_t)(1 + size));
}

/* put_head writes the header of a string, binary, array or map of n items:
 * the fix form (fix, or 0 when the kind has none) below fix_max, else the
 * first of the 8-, 16- and 32-bit forms (tags; 0 = none) it fits. */
static void put_head(bay_out *o, uint8_t fix, uint32_t fix_max, const uint8_t tags[3], uint32_t n)
{
    if (fix && n < fix_max)
        put_tag(o, (uint8_t)(fix | n), 0, 0);
    else if (tags[0] && n <= 0xff)
        put_tag(o, tags[0], n, 1);
    else if (n <= 0xffff)
        put_tag(o, tags[1], n, 2);
    else
        put_tag(o, tags[2], n, 4);
}

void bay_out_nil(bay_out *o)
{
    put_tag(o, 0xc0, 0, 0);
}

void bay_out_bool(bay_out *o, bool b)
{
    put_tag(o, b ? 0xc3 : 0xc2, 0, 0);
}

void bay_out_int(bay_out *o, int64_t i)
{
    /* The narrowest form: fixint, then unsigned (0xcc..0xcf) or signed (0xd0..0xd3) of 1, 2, 4 or 8 bytes. */
    int size = 8;
    if (i >= -32 && i <= 127)
        size = 0;
    else if (i >= 0 ? i <= UINT8_MAX : i >= INT8_MIN)
        size = 1;
    else if (i >= 0 ? i <= UINT16_MAX : i >= INT16_MIN)
        size = 2;
    else if (i >= 0 ? i <= UINT32_MAX : i >= INT32_MIN)
        size = 4;
    static const uint8_t log2[9] = {0, 0, 1, 0, 2, 0, 0, 0, 3};
    uint8_t tag = size == 0 ? (uint8_t)i : (uint8_t)((i >= 0 ? 0xcc : 0xd0) + log2[size]);
    put_tag(o, tag, (uint64_t)i, size);
}

void bay_out_float(bay_out *o, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    put_tag(o, 0xcb, bits, 8);
}

void bay_out_str(bay_out *o, const char *s, uint32_t len)
{
    static const uint8_t tags[3] = {0xd9, 0xda, 0xdb};
    put_head(o, 0xa0, 32, tags, len);
    put(o, s, len);
}

void bay_out_cstr(bay_out *o, const char *s)
{
    bay_out_str(o, s, (uint32_t)strlen(s));
}

void bay_out_bin(bay_out *o, const void *data, uint32_t len)
{
    static const uint8_t tags[3] = {0xc4, 0xc5, 0xc6};
    put_head(o, 0, 0, tags, len);
    put(o, data, len);
}

void bay_out_array(bay_out *o, uint32_t count)
{
    static const uint8_t tags[3] = {0, 0xdc, 0xdd};
    put_head(o, 0x90, 16, tags, count);
}

void bay_out_map(bay_out *o, uint32_t count)
{
    static const uint8_t tags[3] = {0, 0xde, 0xdf};
    put_head(o, 0x80, 16, tags, count);
}

void bay_out_raw(bay_out *o, const void *msgpack, uint32_t len)
{
    put(o, msgpack, len);
}

void bay_out_free(bay_out *o)
{
    free(o->data);
    *o = (bay_out){0};
}

/* ---- calls ---- */

int32_t bay_wasm_serve(bay_wasm_fn fn, uint32_t args, uint32_t len)
{
    uint8_t *buf = (uint8_t *)(uintptr_t)args;
    bay_args a = {{buf, buf + len, buf}, 0, 0};
    bay_out result = {0};
    int rc = bay_in_array(&a.in, &a.count) ? fn(&a, &result)
                                            : bay_fail(BAY_EPROTO, "the call's arguments are not a msgpack array");
    if (rc == 0 && result.failed)
        rc = bay_fail(BAY_ENOMEM, "out of memory writing the result");
    if (rc == 0 && result.len > 0)
        rc = plugbay_result(result.data, result.len);
    bay_in_free(&a.in);
    bay_out_free(&result);
    return rc;
}

int bay_emit(bay_out *chunk)
{
    if (chunk->len == 0)
        bay_out_nil(chunk);
    int rc = chunk->failed ? bay_fail(BAY_ENOMEM, "out of memory writing a chunk")
                           : plugbay_emit(chunk->data, chunk->len);
    chunk->len = 0;
    chunk->failed = false;
    return rc;
}

/* arg checks that the next argument exists and has kind want (an int passes for a float). */
static int arg(bay_args *a, bay_mp_type want)
{
    if (a->next >= a->count)
        return bay_fail(BAY_ETYPE, "argument %u is missing (got %u argument%s)", a->next + 1, a->count,
                         a->count == 1 ? "" : "s");
    bay_mp_type t = bay_in_type(&a->in);
    if (t != want && !(want == BAY_MP_FLOAT && t == BAY_MP_INT))
        return bay_fail(BAY_ETYPE, "argument %u must be %s, got %s", a->next + 1, bay_mp_type_name(want),
                         bay_mp_type_name(t));
    a->next++;
    return 0;
}

int bay_arg_str(bay_args *a, const char **s, uint32_t *len)
{
    int rc = arg(a, BAY_MP_STR);
    return rc ? rc : bay_in_str(&a->in, s, len) ? 0 : BAY_EPROTO;
}

int bay_arg_int(bay_args *a, int64_t *out)
{
    int rc = arg(a, BAY_MP_INT);
    if (rc == 0 && !bay_in_int(&a->in, out))
        rc = bay_fail(BAY_ETYPE, "argument %u does not fit in int64", a->next);
    return rc;
}

int bay_arg_float(bay_args *a, double *out)
{
    int rc = arg(a, BAY_MP_FLOAT);
    if (rc == 0 && !bay_in_float(&a->in, out))
        rc = bay_fail(BAY_ETYPE, "argument %u is an integer beyond int64", a->next);
    return rc;
}

int bay_arg_bool(bay_args *a, bool *out)
{
    int rc = arg(a, BAY_MP_BOOL);
    return rc ? rc : bay_in_bool(&a->in, out) ? 0 : BAY_EPROTO;
}

int bay_arg_value(bay_args *a, bay_in *value)
{
    if (a->next >= a->count)
        return arg(a, BAY_MP_NIL);
    *value = (bay_in){a->in.p, a->in.end, NULL};
    a->next++;
    return bay_in_skip(&a->in) ? 0 : bay_fail(BAY_EPROTO, "argument %u is not msgpack", a->next);
}

/* ---- the plugbay API ---- */

/* error_sink hands plugbay.error a message (the level is not its business). */
static void error_sink(int32_t level, const char *msg, uint32_t msg_len)
{
    plugbay_error(msg, msg_len);
}

/* say formats a message and hands it to sink: plugbay.log at level, or error_sink. */
static void say(void (*sink)(int32_t, const char *, uint32_t), int level, const char *fmt, va_list ap)
{
    char text[1024];
    int n = vsnprintf(text, sizeof text, fmt, ap);
    sink(level, text, n < 0 ? 0 : (size_t)n < sizeof text ? (uint32_t)n : sizeof text - 1);
}

void bay_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(plugbay_log, level, fmt, ap);
    va_end(ap);
}

int bay_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(error_sink, 0, fmt, ap);
    va_end(ap);
    return code;
}

/* take copies what a size-then-copy import (plugbay.config, plugbay.settings,
 * plugbay.reply) holds into a new reader. */
static bool take(uint32_t (*fetch)(uint8_t *, uint32_t), bay_in *in)
{
    uint32_t n = fetch(NULL, 0);
    uint8_t *buf = malloc(n ? n : 1);
    if (buf == NULL)
        return false;
    fetch(buf, n);
    *in = (bay_in){buf, buf + n, buf};
    return true;
}

int bay_receive(bay_in *chunk)
{
    *chunk = (bay_in){0};
    int rc = plugbay_receive();
    if (rc == 0 && !take(plugbay_reply, chunk))
        return bay_fail(BAY_ENOMEM, "out of memory reading a chunk of the input");
    return rc;
}

bool bay_config(bay_in *config)
{
    return take(plugbay_config, config);
}

bool bay_settings(bay_in *settings)
{
    return take(plugbay_settings, settings);
}

/* spoiled tells whether o, written for fn(subject), ran out of memory, saying so in why. */
static bool spoiled(const bay_out *o, const char *fn, const char *subject, char *why, size_t whylen)
{
    if (o && o->failed)
        snprintf(why, why ? whylen : 0, "%s(\"%s\"): out of memory writing its msgpack", fn, subject);
    return o && o->failed;
}

/* answered ends fn(subject), whose import returned rc and left its answer
 * with plugbay.reply: on success *out (when out is not NULL) reads the
 * value; on failure why (when not NULL) gets the message. Returns the code. */
static int answered(int rc, const char *fn, const char *subject, bay_in *out, char *why, size_t whylen)
{
    bay_in reply;
    if (rc == 0 && out == NULL)
        return 0;
    if (!take(plugbay_reply, &reply)) {
        snprintf(why, why ? whylen : 0, "%s(\"%s\"): out of memory reading the reply", fn, subject);
        return BAY_ENOMEM;
    }
    if (rc == 0) {
        *out = reply;
        return 0;
    }
    snprintf(why, why ? whylen : 0, "%.*s", (int)(reply.end - reply.p), (const char *)reply.p);
    bay_in_free(&reply);
    return rc;
}

int bay_call(const char *name, const bay_out *args, int timeout_ms, bay_in *result, char *why, size_t whylen)
{
    *result = (bay_in){0};
    if (spoiled(args, "bay_call", name, why, whylen))
        return BAY_ENOMEM;
    int rc = plugbay_call(name, (uint32_t)strlen(name), args ? args->data : NULL, args ? args->len : 0, timeout_ms);
    return answered(rc, "bay_call", name, result, why, whylen);
}

int bay_store_get(const char *key, bay_in *value, char *why, size_t whylen)
{
    *value = (bay_in){0};
    return answered(plugbay_store_get(key, (uint32_t)strlen(key)), "bay_store_get", key, value, why, whylen);
}

int bay_store_put(const char *key, const bay_out *value, char *why, size_t whylen)
{
    if (spoiled(value, "bay_store_put", key, why, whylen))
        return BAY_ENOMEM;
    int rc = plugbay_store_put(key, (uint32_t)strlen(key), value ? value->data : NULL, value ? value->len : 0);
    return answered(rc, "bay_store_put", key, NULL, why, whylen);
}

int bay_store_delete(const char *key, char *why, size_t whylen)
{
    return answered(plugbay_store_delete(key, (uint32_t)strlen(key)), "bay_store_delete", key, NULL, why, whylen);
}

int bay_store_keys(const char *prefix, bay_in *keys, char *why, size_t whylen)
{
    *keys = (bay_in){0};
    prefix = prefix ? prefix : "";
    return answered(plugbay_store_keys(prefix, (uint32_t)strlen(prefix)), "bay_store_keys", prefix, keys, why,
                    whylen);
}

int bay_store_sql(const char *sql, const bay_out *params, bay_in *rows, char *why, size_t whylen)
{
    if (rows)
        *rows = (bay_in){0};
    if (spoiled(params, "bay_store_sql", sql, why, whylen))
        return BAY_ENOMEM;
    int rc = plugbay_store_sql(sql, (uint32_t)strlen(sql), params ? params->data : NULL, params ? params->len : 0);
    return answered(rc, "bay_store_sql", sql, rows, why, whylen);
}

int bay_timer_set(const char *name, int32_t interval_ms, const char *function, char *why, size_t whylen)
{
    int rc = plugbay_timer_set(name, (uint32_t)strlen(name), interval_ms, function, (uint32_t)strlen(function));
    return answered(rc, "bay_timer_set", name, NULL, why, whylen);
}

int bay_timer_remove(const char *name, char *why, size_t whylen)
{
    return answered(plugbay_timer_remove(name, (uint32_t)strlen(name)), "bay_timer_remove", name, NULL, why, whylen);
}

int bay_timer_list(bay_in *timers, char *why, size_t whylen)
{
    *timers = (bay_in){0};
    return answered(plugbay_timer_list(), "bay_timer_list", "", timers, why, whylen);
}

int bay_plugins_list(bay_in *plugins, char *why, size_t whylen)
{
    *plugins = (bay_in){0};
    return answered(plugbay_plugins_list(), "bay_plugins_list", "", plugins, why, whylen);
}

int bay_plugins_manage(const char *what, const char *id, bay_in *plugin, char *why, size_t whylen)
{
    if (plugin)
        *plugin = (bay_in){0};
    int rc = plugbay_plugins_manage(what, (uint32_t)strlen(what), id, (uint32_t)strlen(id));
    return answered(rc, "bay_plugins_manage", id, plugin, why, whylen);
}
