/* broker/schema.c — typed extension points' shapes: a JSON Schema subset parsed from JSON, checked against msgpack. */
#include "schema.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plugbay/plugbay.h>

#include "frame.h"

/* The types a schema names, as bits. */
enum {
    T_NULL = 1 << 0,
    T_BOOLEAN = 1 << 1,
    T_INTEGER = 1 << 2,
    T_NUMBER = 1 << 3, /* an integer or a float */
    T_STRING = 1 << 4,
    T_BINARY = 1 << 5,
    T_ARRAY = 1 << 6,
    T_OBJECT = 1 << 7,
};

static const char *const type_names[] = {"null", "boolean", "integer", "number", "string", "binary", "array", "object"};
#define NTYPES (sizeof type_names / sizeof *type_names)

/* Schemas nest at most this deep: values nest at most 31 levels anyway. */
#define DEPTH_MAX 32

struct prop {
    char *name;
    bay__schema *schema;
};

struct bay__schema {
    unsigned types;               /* 0: any */
    json_t *enumeration;          /* the "enum" array, or NULL */
    double minimum, maximum;      /* NAN when absent */
    int64_t min_len, max_len;     /* -1 when absent */
    int64_t min_items, max_items; /* -1 when absent */
    bay__schema **prefix;         /* "prefixItems" */
    size_t nprefix;
    bay__schema *items;           /* every item past the prefix, or NULL: any */
    struct prop *props;
    size_t nprops;
    char **required;
    size_t nrequired;
    bool closed;                  /* "additionalProperties": false */
    bay__schema *additional;      /* "additionalProperties": a schema */
    bay__schema **any_of;
    size_t nany;
};

void bay__schema_free(bay__schema *s)
{
    if (s == NULL)
        return;
    json_decref(s->enumeration);
    for (size_t i = 0; i < s->nprefix; i++)
        bay__schema_free(s->prefix[i]);
    free(s->prefix);
    bay__schema_free(s->items);
    for (size_t i = 0; i < s->nprops; i++) {
        free(s->props[i].name);
        bay__schema_free(s->props[i].schema);
    }
    free(s->props);
    for (size_t i = 0; i < s->nrequired; i++)
        free(s->required[i]);
    free(s->required);
    bay__schema_free(s->additional);
    for (size_t i = 0; i < s->nany; i++)
        bay__schema_free(s->any_of[i]);
    free(s->any_of);
    free(s);
}

/* A place in a schema while parsing ("/properties/name"), for messages. */
typedef struct where {
    char path[256];
    bay_error *err;
} where;

static int bad(where *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(where *w, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return bay_error_set(w->err, BAY_EINVAL, NULL, "schema at %s: %s", w->path[0] ? w->path : "/", what);
}

static int parse(const json_t *j, bay__schema **out, where *w, int depth);

/* under parses j as the schema at w's path + "/" + step. */
static int under(const json_t *j, bay__schema **out, where *w, const char *step, int depth)
{
    size_t n = strlen(w->path);
    snprintf(w->path + n, sizeof w->path - n, "/%s", step);
    int rc = parse(j, out, w, depth + 1);
    if (rc == 0)
        w->path[n] = '\0';
    return rc;
}

static int type_bit(const json_t *name)
{
    for (size_t i = 0; json_is_string(name) && i < NTYPES; i++)
        if (strcmp(json_string_value(name), type_names[i]) == 0)
            return 1 << i;
    return 0;
}

static int parse_type(const json_t *v, bay__schema *s, where *w)
{
    if (json_is_string(v) && (s->types = (unsigned)type_bit(v)) != 0)
        return 0;
    size_t i;
    const json_t *t;
    if (json_is_array(v) && json_array_size(v) > 0) {
        json_array_foreach(v, i, t) {
            int bit = type_bit(t);
            if (bit == 0)
                break;
            s->types |= (unsigned)bit;
        }
        if (i == json_array_size(v))
            return 0;
    }
    return bad(w, "\"type\" must be one of \"null\", \"boolean\", \"integer\", \"number\", \"string\", \"binary\", "
                  "\"array\", \"object\", or a list of them");
}

/* count reads a non-negative integer keyword. */
static int count(const json_t *v, const char *key, int64_t *out, where *w)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return bad(w, "\"%s\" must be a non-negative integer", key);
    *out = json_integer_value(v);
    return 0;
}

static int schemas(const json_t *v, const char *key, bay__schema ***out, size_t *n, where *w, int depth)
{
    if (!json_is_array(v) || json_array_size(v) == 0)
        return bad(w, "\"%s\" must be a non-empty list of schemas", key);
    *out = calloc(json_array_size(v), sizeof **out);
    if (*out == NULL)
        return bay_error_set(w->err, BAY_ENOMEM, NULL, "out of memory reading a schema");
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item) {
        char step[80];
        snprintf(step, sizeof step, "%s/%zu", key, i);
        int rc = under(item, &(*out)[i], w, step, depth);
        *n = i + 1;
        if (rc)
            return rc;
    }
    return 0;
}

static int parse_properties(const json_t *v, bay__schema *s, where *w, int depth)
{
    if (!json_is_object(v))
        return bad(w, "\"properties\" must be an object of schemas");
    s->props = calloc(json_object_size(v) ? json_object_size(v) : 1, sizeof *s->props);
    if (s->props == NULL)
        return bay_error_set(w->err, BAY_ENOMEM, NULL, "out of memory reading a schema");
    const char *key;
    const json_t *item;
    json_object_foreach((json_t *)v, key, item) {
        struct prop *p = &s->props[s->nprops++];
        char step[200];
        snprintf(step, sizeof step, "properties/%s", key);
        if ((p->name = strdup(key)) == NULL)
            return bay_error_set(w->err, BAY_ENOMEM, NULL, "out of memory reading a schema");
        int rc = under(item, &p->schema, w, step, depth);
        if (rc)
            return rc;
    }
    return 0;
}

static int parse_required(const json_t *v, bay__schema *s, where *w)
{
    if (!json_is_array(v))
        return bad(w, "\"required\" must be a list of property names");
    s->required = calloc(json_array_size(v) ? json_array_size(v) : 1, sizeof *s->required);
    if (s->required == NULL)
        return bay_error_set(w->err, BAY_ENOMEM, NULL, "out of memory reading a schema");
    size_t i;
    const json_t *name;
    json_array_foreach(v, i, name) {
        if (!json_is_string(name))
            return bad(w, "\"required\" must be a list of property names");
        if ((s->required[s->nrequired++] = strdup(json_string_value(name))) == NULL)
            return bay_error_set(w->err, BAY_ENOMEM, NULL, "out of memory reading a schema");
    }
    return 0;
}

static int parse_enum(const json_t *v, bay__schema *s, where *w)
{
    size_t i;
    const json_t *item;
    if (!json_is_array(v) || json_array_size(v) == 0)
        return bad(w, "\"enum\" must be a non-empty list of values");
    json_array_foreach(v, i, item) {
        if (json_is_object(item) || json_is_array(item))
            return bad(w, "\"enum\" takes null, booleans, numbers and strings (item %zu is not one)", i);
    }
    s->enumeration = json_incref((json_t *)v);
    return 0;
}

/* keyword reads one keyword of a schema object. */
static int keyword(const char *key, const json_t *v, bay__schema *s, where *w, int depth)
{
    if (strcmp(key, "title") == 0 || strcmp(key, "description") == 0 || strcmp(key, "$comment") == 0)
        return json_is_string(v) ? 0 : bad(w, "\"%s\" must be a string", key);
    if (strcmp(key, "type") == 0)
        return parse_type(v, s, w);
    if (strcmp(key, "enum") == 0)
        return parse_enum(v, s, w);
    if (strcmp(key, "minimum") == 0 || strcmp(key, "maximum") == 0) {
        if (!json_is_number(v))
            return bad(w, "\"%s\" must be a number", key);
        *(key[1] == 'i' ? &s->minimum : &s->maximum) = json_number_value(v);
        return 0;
    }
    if (strcmp(key, "minLength") == 0)
        return count(v, key, &s->min_len, w);
    if (strcmp(key, "maxLength") == 0)
        return count(v, key, &s->max_len, w);
    if (strcmp(key, "minItems") == 0)
        return count(v, key, &s->min_items, w);
    if (strcmp(key, "maxItems") == 0)
        return count(v, key, &s->max_items, w);
    if (strcmp(key, "items") == 0)
        return under(v, &s->items, w, "items", depth);
    if (strcmp(key, "prefixItems") == 0)
        return schemas(v, key, &s->prefix, &s->nprefix, w, depth);
    if (strcmp(key, "anyOf") == 0)
        return schemas(v, key, &s->any_of, &s->nany, w, depth);
    if (strcmp(key, "properties") == 0)
        return parse_properties(v, s, w, depth);
    if (strcmp(key, "required") == 0)
        return parse_required(v, s, w);
    if (strcmp(key, "additionalProperties") == 0) {
        if (json_is_boolean(v)) {
            s->closed = json_is_false(v);
            return 0;
        }
        return under(v, &s->additional, w, "additionalProperties", depth);
    }
    return bad(w, "unknown keyword \"%s\" (plugbay takes type, enum, minimum, maximum, minLength, maxLength, items, "
                  "prefixItems, minItems, maxItems, properties, required, additionalProperties, anyOf, title, "
                  "description and $comment; docs/types.md)", key);
}

static int parse(const json_t *j, bay__schema **out, where *w, int depth)
{
    *out = NULL;
    if (depth > DEPTH_MAX)
        return bad(w, "schemas nest at most %d levels deep", DEPTH_MAX);
    if (!json_is_object(j) && !json_is_true(j))
        return bad(w, "a schema is an object (or true: any value)");
    bay__schema *s = calloc(1, sizeof *s);
    if (s == NULL)
        return bay_error_set(w->err, BAY_ENOMEM, NULL, "out of memory reading a schema");
    s->minimum = s->maximum = NAN;
    s->min_len = s->max_len = s->min_items = s->max_items = -1;
    *out = s;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)j, key, v) {
        int rc = keyword(key, v, s, w, depth);
        if (rc)
            return rc;
    }
    return 0;
}

int bay__schema_parse(const json_t *j, bay__schema **out, bay_error *err)
{
    where w = {.path = "", .err = err};
    int rc = parse(j, out, &w, 0);
    if (rc) {
        bay__schema_free(*out);
        *out = NULL;
    }
    return rc;
}

/* Checking a value: a place in the value ("[0].name") and the first failure. */
typedef struct place {
    char path[256];
    char *why;
    size_t len;
} place;

static int mismatch(place *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int mismatch(place *p, const char *fmt, ...)
{
    char what[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(p->why, p->len, "at %s: %s", p->path[0] ? p->path : "the top", what);
    return BAY_ETYPE;
}

static unsigned type_of(const msgpack_object *v)
{
    switch (v->type) {
    case MSGPACK_OBJECT_NIL: return T_NULL;
    case MSGPACK_OBJECT_BOOLEAN: return T_BOOLEAN;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return T_INTEGER | T_NUMBER;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return T_NUMBER;
    case MSGPACK_OBJECT_STR: return T_STRING;
    case MSGPACK_OBJECT_BIN: return T_BINARY;
    case MSGPACK_OBJECT_ARRAY: return T_ARRAY;
    case MSGPACK_OBJECT_MAP: return T_OBJECT;
    default: return 0;
    }
}

/* expected writes the types of set as words ("a string or null"). */
static void expected(unsigned set, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < NTYPES; i++)
        if (set & (1u << i))
            n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s%s", n ? " or " : "", type_names[i]);
}

static double number_of(const msgpack_object *v)
{
    return v->type == MSGPACK_OBJECT_POSITIVE_INTEGER   ? (double)v->via.u64
           : v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? (double)v->via.i64
                                                        : v->via.f64;
}

/* scalar_equal tells whether msgpack scalar v equals JSON scalar j. */
static bool scalar_equal(const msgpack_object *v, const json_t *j)
{
    switch (v->type) {
    case MSGPACK_OBJECT_NIL: return json_is_null(j);
    case MSGPACK_OBJECT_BOOLEAN: return json_is_boolean(j) && v->via.boolean == json_is_true(j);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return json_is_number(j) && number_of(v) == json_number_value(j);
    case MSGPACK_OBJECT_STR:
        return json_is_string(j) && json_string_length(j) == v->via.str.size &&
               memcmp(json_string_value(j), v->via.str.ptr, v->via.str.size) == 0;
    default: return false;
    }
}

static int check(const bay__schema *s, const msgpack_object *v, place *p);

/* check_at checks v against s at p's path + step ("[3]", ".name"). */
static int check_at(const bay__schema *s, const msgpack_object *v, place *p, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int check_at(const bay__schema *s, const msgpack_object *v, place *p, const char *fmt, ...)
{
    size_t n = strlen(p->path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->path + n, sizeof p->path - n, fmt, ap);
    va_end(ap);
    int rc = check(s, v, p);
    p->path[n] = '\0';
    return rc;
}

static int check_array(const bay__schema *s, const msgpack_object *v, place *p)
{
    uint32_t n = v->via.array.size;
    if (s->min_items >= 0 && n < (uint64_t)s->min_items)
        return mismatch(p, "expected at least %lld items, got %u", (long long)s->min_items, n);
    if (s->max_items >= 0 && n > (uint64_t)s->max_items)
        return mismatch(p, "expected at most %lld items, got %u", (long long)s->max_items, n);
    for (uint32_t i = 0; i < n; i++) {
        const bay__schema *item = i < s->nprefix ? s->prefix[i] : s->items;
        if (item && check_at(item, &v->via.array.ptr[i], p, "[%u]", i))
            return BAY_ETYPE;
    }
    return 0;
}

static const msgpack_object *member(const msgpack_object *map, const char *name)
{
    size_t len = strlen(name);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == len && memcmp(k->via.str.ptr, name, len) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

static int check_object(const bay__schema *s, const msgpack_object *v, place *p)
{
    for (size_t i = 0; i < s->nrequired; i++)
        if (member(v, s->required[i]) == NULL)
            return mismatch(p, "expected a member \"%s\", which is required", s->required[i]);
    for (uint32_t i = 0; i < v->via.map.size; i++) {
        const msgpack_object *k = &v->via.map.ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR)
            return mismatch(p, "expected string keys, got a key of type %s", bay__object_type_name(k));
        const bay__schema *ps = NULL;
        for (size_t j = 0; j < s->nprops && ps == NULL; j++)
            if (strlen(s->props[j].name) == k->via.str.size &&
                memcmp(s->props[j].name, k->via.str.ptr, k->via.str.size) == 0)
                ps = s->props[j].schema;
        int klen = k->via.str.size > 64 ? 64 : (int)k->via.str.size;
        if (ps == NULL && s->closed)
            return mismatch(p, "expected no member \"%.*s\": the schema lists the members there may be", klen,
                            k->via.str.ptr);
        if (ps == NULL)
            ps = s->additional;
        if (ps && check_at(ps, &v->via.map.ptr[i].val, p, ".%.*s", klen, k->via.str.ptr))
            return BAY_ETYPE;
    }
    return 0;
}

static int check(const bay__schema *s, const msgpack_object *v, place *p)
{
    unsigned t = type_of(v);
    char want[120];
    if (s->types && (s->types & t) == 0) {
        expected(s->types, want, sizeof want);
        return mismatch(p, "expected %s, got %s", want, bay__object_type_name(v));
    }
    if (s->enumeration) {
        size_t i;
        const json_t *item;
        bool found = false;
        json_array_foreach(s->enumeration, i, item) found = found || scalar_equal(v, item);
        if (!found) {
            char *list = json_dumps(s->enumeration, JSON_COMPACT);
            int rc = mismatch(p, "expected one of %.200s", list ? list : "the schema's \"enum\"");
            free(list);
            return rc;
        }
    }
    if (t & T_NUMBER) {
        double d = number_of(v);
        if (!isnan(s->minimum) && d < s->minimum)
            return mismatch(p, "expected at least %g, got %g", s->minimum, d);
        if (!isnan(s->maximum) && d > s->maximum)
            return mismatch(p, "expected at most %g, got %g", s->maximum, d);
    }
    if (t & (T_STRING | T_BINARY)) {
        uint32_t n = t & T_STRING ? v->via.str.size : v->via.bin.size;
        if (s->min_len >= 0 && n < (uint64_t)s->min_len)
            return mismatch(p, "expected at least %lld bytes, got %u", (long long)s->min_len, n);
        if (s->max_len >= 0 && n > (uint64_t)s->max_len)
            return mismatch(p, "expected at most %lld bytes, got %u", (long long)s->max_len, n);
    }
    if (t == T_ARRAY && check_array(s, v, p))
        return BAY_ETYPE;
    if (t == T_OBJECT && check_object(s, v, p))
        return BAY_ETYPE;
    if (s->nany) {
        char first[256] = "";
        for (size_t i = 0; i < s->nany; i++) {
            place q = {.why = i == 0 ? first : (char[256]){0}, .len = sizeof first};
            memcpy(q.path, p->path, sizeof q.path);
            if (check(s->any_of[i], v, &q) == 0)
                return 0;
        }
        return mismatch(p, "matches none of \"anyOf\" (the first says: %s)", first);
    }
    return 0;
}

int bay__schema_check(const bay__schema *s, const msgpack_object *v, char *why, size_t len)
{
    place p = {.path = "", .why = why, .len = len};
    return s ? check(s, v, &p) : 0;
}

int bay__schema_check_item(const bay__schema *s, size_t index, const msgpack_object *v, char *why, size_t len)
{
    place p = {.path = "", .why = why, .len = len};
    if (s == NULL)
        return 0;
    if ((s->types && !(s->types & T_ARRAY)) || s->nany)
        return mismatch(&p, "a stream's chunks are the items of an array result, and the result's types %s",
                        s->nany ? "use anyOf at the top, so chunks cannot be checked one by one" : "allow no array");
    if (s->max_items >= 0 && index >= (uint64_t)s->max_items)
        return mismatch(&p, "expected at most %lld items, got chunk %zu", (long long)s->max_items, index + 1);
    const bay__schema *item = index < s->nprefix ? s->prefix[index] : s->items;
    return item ? check_at(item, v, &p, "[%zu]", index) : 0;
}

/* same_at compares a and b at path (len bytes in all). */
static bool same_at(const json_t *a, const json_t *b, char *path, size_t len, char *where, size_t wlen)
{
    size_t n = strlen(path);
    if (json_is_object(a) && json_is_object(b)) {
        const char *key;
        const json_t *va;
        json_object_foreach((json_t *)a, key, va) {
            snprintf(path + n, len - n, "/%s", key);
            if (!same_at(va, json_object_get(b, key), path, len, where, wlen))
                return false;
        }
        json_object_foreach((json_t *)b, key, va) {
            snprintf(path + n, len - n, "/%s", key);
            if (json_object_get(a, key) == NULL)
                return same_at(NULL, va, path, len, where, wlen);
        }
        path[n] = '\0';
        return true;
    }
    if (json_is_array(a) && json_is_array(b) && json_array_size(a) == json_array_size(b)) {
        for (size_t i = 0; i < json_array_size(a); i++) {
            snprintf(path + n, len - n, "/%zu", i);
            if (!same_at(json_array_get(a, i), json_array_get(b, i), path, len, where, wlen))
                return false;
        }
        path[n] = '\0';
        return true;
    }
    if (a && b && json_equal(a, b))
        return true;
    char *ta = a ? json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    char *tb = b ? json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    snprintf(where, wlen, "%s: %.100s against %.100s", path[0] ? path : "/", ta ? ta : "nothing",
             tb ? tb : "nothing");
    free(ta);
    free(tb);
    return false;
}

bool bay__schema_same(const json_t *a, const json_t *b, char *where, size_t len)
{
    char path[256] = "";
    return same_at(a, b, path, sizeof path, where, len);
}

void bay__types_free(bay__types *t)
{
    bay__schema_free(t->args);
    bay__schema_free(t->result);
    bay__schema_free(t->input);
    *t = (bay__types){NULL, NULL, NULL};
}

int bay__types_parse(const json_t *types, int kind, bay__types *out, bay_error *err)
{
    *out = (bay__types){NULL, NULL, NULL};
    const char *key;
    const json_t *v;
    if (!json_is_object(types))
        return bay_error_set(err, BAY_EINVAL, NULL, "types must be an object {\"args\": SCHEMA, \"result\": SCHEMA, "
                             "\"input\": SCHEMA}");
    json_object_foreach((json_t *)types, key, v) {
        bay__schema **to = strcmp(key, "args") == 0     ? &out->args
                           : strcmp(key, "result") == 0 ? &out->result
                           : strcmp(key, "input") == 0  ? &out->input
                                                        : NULL;
        bay_error e;
        int rc = to ? bay__schema_parse(v, to, &e) : BAY_EINVAL;
        if (rc == 0)
            continue;
        bay__types_free(out);
        if (to == NULL)
            return bay_error_set(err, rc, NULL, "types hold \"args\", \"result\" and \"input\", not \"%s\"", key);
        return bay_error_set(err, rc, NULL, "\"%s\": %s", key, e.message);
    }
    if (out->input && kind != 0 && kind != BAY_HANDLE) {
        bay__types_free(out);
        return bay_error_set(err, BAY_EINVAL, NULL, "\"input\" types a handle's streamed input; %s %s takes none",
                             kind == BAY_EVENT ? "an" : "a", bay__kind_name(kind));
    }
    return 0;
}
