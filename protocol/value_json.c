/* protocol/value_json.c — bay_value to and from JSON, on jansson (binaries as "base64:" strings). */
#include "value_internal.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define BIN_PREFIX "base64:"
#define B64_VARIANT sodium_base64_VARIANT_ORIGINAL

static int to_jansson(const bay_value *v, json_t **out, bay_error *err);

static int float_to_jansson(double d, json_t **out, bay_error *err)
{
    if (!isfinite(d))
        return bay_error_set(err, BAY_EINVAL, NULL, "float %g has no JSON form (JSON has no NaN or infinity)", d);
    *out = json_real(d);
    return *out ? 0 : bay__value_nomem(err);
}

static int str_to_jansson(const bay_value *v, json_t **out, bay_error *err)
{
    /* jansson refuses bytes that are not UTF-8; out of memory is its only other failure */
    *out = json_stringn(v->u.str.bytes, v->u.str.len);
    if (!*out)
        return bay_error_set(err, BAY_EINVAL, NULL, "string is not valid UTF-8; JSON strings must be UTF-8");
    return 0;
}

static int bin_to_jansson(const bay_value *v, json_t **out, bay_error *err)
{
    size_t prefix = sizeof BIN_PREFIX - 1;
    size_t b64size = sodium_base64_ENCODED_LEN(v->u.str.len, B64_VARIANT); /* with the NUL */
    char *text = malloc(prefix + b64size);
    if (!text)
        return bay__value_nomem(err);
    memcpy(text, BIN_PREFIX, prefix);
    sodium_bin2base64(text + prefix, b64size, (const unsigned char *)v->u.str.bytes, v->u.str.len,
                      B64_VARIANT);
    *out = json_string(text);
    free(text);
    return *out ? 0 : bay__value_nomem(err);
}

static int array_to_jansson(const bay_value *v, json_t **out, bay_error *err)
{
    json_t *a = json_array();
    int rc = a ? 0 : bay__value_nomem(err);
    for (size_t i = 0; !rc && i < v->u.array.len; i++) {
        json_t *item;
        rc = to_jansson(v->u.array.items[i], &item, err);
        if (!rc && json_array_append_new(a, item))
            rc = bay__value_nomem(err);
    }
    if (rc)
        json_decref(a);
    else
        *out = a;
    return rc;
}

static int map_to_jansson(const bay_value *v, json_t **out, bay_error *err)
{
    json_t *o = json_object();
    int rc = o ? 0 : bay__value_nomem(err);
    for (size_t i = 0; !rc && i < v->u.map.len; i++) {
        const bay__entry *e = &v->u.map.entries[i];
        json_t *item;
        rc = to_jansson(e->val, &item, err);
        /* json_object_setn_new takes item even when it fails, which it does for non-UTF-8 keys */
        if (!rc && json_object_setn_new(o, e->key, e->keylen, item))
            rc = bay_error_set(err, BAY_EINVAL, NULL, "map key \"%s\" is not valid UTF-8", e->key);
    }
    if (rc)
        json_decref(o);
    else
        *out = o;
    return rc;
}

static int to_jansson(const bay_value *v, json_t **out, bay_error *err)
{
    *out = NULL;
    switch (v->type) {
    case BAY_NIL:
        *out = json_null();
        break;
    case BAY_BOOL:
        *out = json_boolean(v->u.b);
        break;
    case BAY_INT:
        *out = json_integer(v->u.i);
        break;
    case BAY_FLOAT:
        return float_to_jansson(v->u.d, out, err);
    case BAY_STR:
        return str_to_jansson(v, out, err);
    case BAY_BIN:
        return bin_to_jansson(v, out, err);
    case BAY_ARRAY:
        return array_to_jansson(v, out, err);
    case BAY_MAP:
        return map_to_jansson(v, out, err);
    }
    return *out ? 0 : bay__value_nomem(err);
}

json_t *bay__value_to_jansson(const bay_value *v, bay_error *err)
{
    json_t *j;
    if (!v) {
        bay_error_set(err, BAY_EINVAL, NULL, "bay__value_to_jansson needs a value");
        return NULL;
    }
    return to_jansson(v, &j, err) ? NULL : j;
}

int bay_value_to_json(const bay_value *v, char **out)
{
    if (!out)
        return BAY_EINVAL;
    *out = NULL;
    if (!v)
        return BAY_EINVAL;
    json_t *j;
    int rc = to_jansson(v, &j, NULL);
    if (rc)
        return rc;
    *out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    json_decref(j);
    return *out ? 0 : BAY_ENOMEM;
}

static int from_jansson(const json_t *j, int depth, bay_value **out, bay_error *err);

static int array_from_jansson(const json_t *j, int depth, bay_value **out, bay_error *err)
{
    bay_value *a = bay_array();
    int rc = a ? 0 : bay__value_nomem(err);
    for (size_t i = 0; !rc && i < json_array_size(j); i++) {
        bay_value *item;
        rc = from_jansson(json_array_get(j, i), depth, &item, err);
        if (!rc && bay_array_push(a, item))
            rc = bay__value_nomem(err);
    }
    return bay__value_settle(a, rc, out);
}

static int object_from_jansson(const json_t *j, int depth, bay_value **out, bay_error *err)
{
    bay_value *m = bay_map();
    if (!m)
        return bay__value_nomem(err);
    int rc = 0;
    const char *key;
    size_t keylen;
    json_t *val;
    /* jansson's iterators take a non-const object but do not change it */
    json_object_keylen_foreach((json_t *)j, key, keylen, val) {
        bay_value *item;
        rc = from_jansson(val, depth, &item, err);
        if (!rc)
            rc = bay__map_add(m, key, keylen, item, err);
        if (rc)
            break;
    }
    return bay__value_settle(m, rc, out);
}

/* from_jansson converts j, which sits inside depth containers. */
static int from_jansson(const json_t *j, int depth, bay_value **out, bay_error *err)
{
    *out = NULL;
    if ((json_is_array(j) || json_is_object(j)) && depth >= BAY_VALUE_MAX_DEPTH)
        return bay_error_set(err, BAY_EINVAL, NULL, "JSON nests deeper than %d levels", BAY_VALUE_MAX_DEPTH);
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return object_from_jansson(j, depth + 1, out, err);
    case JSON_ARRAY:
        return array_from_jansson(j, depth + 1, out, err);
    case JSON_STRING:
        *out = bay_strn(json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        *out = bay_int(json_integer_value(j));
        break;
    case JSON_REAL:
        *out = bay_float(json_real_value(j));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        *out = bay_bool(json_is_true(j));
        break;
    case JSON_NULL:
        *out = bay_nil();
        break;
    }
    return *out ? 0 : bay__value_nomem(err);
}

int bay__value_from_jansson(const json_t *j, bay_value **out, bay_error *err)
{
    if (!j || !out)
        return bay_error_set(err, BAY_EINVAL, NULL, "bay__value_from_jansson needs a JSON value and an out pointer");
    *out = NULL;
    return from_jansson(j, 0, out, err);
}

/* from_json is bay_value_from_json with the reason in err. */
static int from_json(const char *text, bay_value **out, bay_error *err)
{
    if (!text || !out)
        return bay_error_set(err, BAY_EINVAL, NULL, "bay_value_from_json needs a text and an out pointer");
    *out = NULL;
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!j)
        return bay_error_set(err, BAY_EINVAL, NULL, "line %d column %d: %s", e.line, e.column, e.text);
    int rc = bay__value_from_jansson(j, out, err);
    json_decref(j);
    return rc;
}

int bay_value_from_json(const char *text, bay_value **out, char *err, size_t errlen)
{
    bay_error e;
    return bay__value_reason(from_json(text, out, &e), &e, err, errlen);
}
