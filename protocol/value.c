/* protocol/value.c — the bay_value tree: constructors, containers, copy, equality and getters. */
#include "value_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Maps with at most MAP_SCAN_MAX entries are searched linearly; longer ones
 * get an open-addressing hash index, so decoding a map stays linear. */
#define MAP_SCAN_MAX 8
#define MAP_FIRST_SLOTS 32 /* a power of two at least 2 * (MAP_SCAN_MAX + 1) */

int bay__value_nomem(bay_error *err)
{
    return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
}

int bay__value_reason(int rc, const bay_error *e, char *err, size_t errlen)
{
    if (rc && err && errlen > 0)
        snprintf(err, errlen, "%s", e->message);
    return rc;
}

int bay__value_settle(bay_value *v, int rc, bay_value **out)
{
    if (rc)
        bay_value_free(v);
    else
        *out = v;
    return rc;
}

static bay_value *new_value(bay_type type)
{
    bay_value *v = calloc(1, sizeof *v);
    if (v)
        v->type = type;
    return v;
}

/* new_bytes makes a BAY_STR or BAY_BIN holding a NUL-terminated copy of len bytes. */
static bay_value *new_bytes(bay_type type, const void *data, size_t len)
{
    if ((!data && len > 0) || len == SIZE_MAX)
        return NULL;
    bay_value *v = new_value(type);
    char *bytes = v ? malloc(len + 1) : NULL;
    if (!bytes) {
        free(v);
        return NULL;
    }
    if (len > 0)
        memcpy(bytes, data, len);
    bytes[len] = '\0';
    v->u.str.bytes = bytes;
    v->u.str.len = len;
    return v;
}

bay_value *bay_nil(void)
{
    return new_value(BAY_NIL);
}

bay_value *bay_bool(bool b)
{
    bay_value *v = new_value(BAY_BOOL);
    if (v)
        v->u.b = b;
    return v;
}

bay_value *bay_int(int64_t i)
{
    bay_value *v = new_value(BAY_INT);
    if (v)
        v->u.i = i;
    return v;
}

bay_value *bay_float(double d)
{
    bay_value *v = new_value(BAY_FLOAT);
    if (v)
        v->u.d = d;
    return v;
}

bay_value *bay_str(const char *s)
{
    return s ? bay_strn(s, strlen(s)) : NULL;
}

bay_value *bay_strn(const char *s, size_t len)
{
    return new_bytes(BAY_STR, s, len);
}

bay_value *bay_bin(const void *data, size_t len)
{
    return new_bytes(BAY_BIN, data, len);
}

bay_value *bay_array(void)
{
    return new_value(BAY_ARRAY);
}

bay_value *bay_map(void)
{
    return new_value(BAY_MAP);
}

/* grow returns items with room for len + 1 elements of size bytes, doubling
 * *cap when full, or NULL (items untouched) when out of memory. */
static void *grow(void *items, size_t *cap, size_t len, size_t size)
{
    if (len < *cap)
        return items;
    size_t ncap = *cap ? *cap * 2 : 4;
    if (ncap < *cap || ncap > SIZE_MAX / size)
        return NULL;
    void *p = realloc(items, ncap * size);
    if (p)
        *cap = ncap;
    return p;
}

int bay_array_push(bay_value *array, bay_value *item)
{
    if (!array || array->type != BAY_ARRAY || !item) {
        bay_value_free(item);
        return BAY_EINVAL;
    }
    bay_value **items = grow(array->u.array.items, &array->u.array.cap, array->u.array.len,
                             sizeof *items);
    if (!items) {
        bay_value_free(item);
        return BAY_ENOMEM;
    }
    array->u.array.items = items;
    items[array->u.array.len++] = item;
    return 0;
}

/* hash_key is 64-bit FNV-1a. */
static uint64_t hash_key(const char *key, size_t len)
{
    uint64_t h = 14695981039346656037u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 1099511628211u;
    return h;
}

static bool key_is(const bay__entry *e, const char *key, size_t keylen)
{
    return e->keylen == keylen && memcmp(e->key, key, keylen) == 0;
}

/* map_find returns the position of key in map, or the map's length when absent. */
static size_t map_find(const bay_value *map, const char *key, size_t keylen)
{
    const bay__entry *entries = map->u.map.entries;
    const size_t *slots = map->u.map.slots;
    if (!slots) {
        for (size_t i = 0; i < map->u.map.len; i++)
            if (key_is(&entries[i], key, keylen))
                return i;
        return map->u.map.len;
    }
    size_t mask = map->u.map.nslots - 1;
    for (size_t s = hash_key(key, keylen) & mask; slots[s]; s = (s + 1) & mask)
        if (key_is(&entries[slots[s] - 1], key, keylen))
            return slots[s] - 1;
    return map->u.map.len;
}

static void slot_insert(size_t *slots, size_t nslots, const bay__entry *e, size_t pos)
{
    size_t mask = nslots - 1, s = hash_key(e->key, e->keylen) & mask;
    while (slots[s])
        s = (s + 1) & mask;
    slots[s] = pos + 1;
}

/* map_index_last adds the map's last entry to its hash index, building the
 * index (or a twice larger one) when the map outgrows the current one. */
static int map_index_last(bay_value *map)
{
    size_t len = map->u.map.len;
    if (len <= MAP_SCAN_MAX)
        return 0;
    if (map->u.map.nslots >= 2 * len) {
        slot_insert(map->u.map.slots, map->u.map.nslots, &map->u.map.entries[len - 1], len - 1);
        return 0;
    }
    size_t nslots = map->u.map.nslots ? map->u.map.nslots * 2 : MAP_FIRST_SLOTS;
    size_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return BAY_ENOMEM;
    for (size_t i = 0; i < len; i++)
        slot_insert(slots, nslots, &map->u.map.entries[i], i);
    free(map->u.map.slots);
    map->u.map.slots = slots;
    map->u.map.nslots = nslots;
    return 0;
}

/* map_append adds a new key (known to be absent) with val, taking ownership of val. */
static int map_append(bay_value *map, const char *key, size_t keylen, bay_value *val)
{
    char *k = NULL;
    bay__entry *entries =
        grow(map->u.map.entries, &map->u.map.cap, map->u.map.len, sizeof *entries);
    if (entries) {
        map->u.map.entries = entries;
        k = malloc(keylen + 1);
    }
    if (k) {
        memcpy(k, key, keylen);
        k[keylen] = '\0';
        entries[map->u.map.len++] = (bay__entry){k, keylen, val};
        if (map_index_last(map) == 0)
            return 0;
        map->u.map.len--;
        free(k);
    }
    bay_value_free(val);
    return BAY_ENOMEM;
}

int bay_map_set(bay_value *map, const char *key, bay_value *val)
{
    if (!map || map->type != BAY_MAP || !key || !val) {
        bay_value_free(val);
        return BAY_EINVAL;
    }
    size_t keylen = strlen(key);
    size_t pos = map_find(map, key, keylen);
    if (pos == map->u.map.len)
        return map_append(map, key, keylen, val);
    bay_value_free(map->u.map.entries[pos].val);
    map->u.map.entries[pos].val = val;
    return 0;
}

int bay__map_add(bay_value *map, const char *key, size_t keylen, bay_value *val, bay_error *err)
{
    int rc = 0;
    if (!map || map->type != BAY_MAP || !key || !val)
        rc = bay_error_set(err, BAY_EINVAL, NULL, "bay__map_add needs a map, a key and a value");
    else if (memchr(key, '\0', keylen))
        rc = bay_error_set(err, BAY_EINVAL, NULL, "map key holds a NUL byte; keys must be plain strings");
    else if (map_find(map, key, keylen) < map->u.map.len)
        rc = bay_error_set(err, BAY_EINVAL, NULL, "duplicate map key \"%.*s\"", keylen > 64 ? 64 : (int)keylen,
                           key);
    if (rc) {
        bay_value_free(val);
        return rc;
    }
    return map_append(map, key, keylen, val) ? bay__value_nomem(err) : 0;
}

void bay_value_free(bay_value *v)
{
    if (!v)
        return;
    switch (v->type) {
    case BAY_STR:
    case BAY_BIN:
        free(v->u.str.bytes);
        break;
    case BAY_ARRAY:
        for (size_t i = 0; i < v->u.array.len; i++)
            bay_value_free(v->u.array.items[i]);
        free(v->u.array.items);
        break;
    case BAY_MAP:
        for (size_t i = 0; i < v->u.map.len; i++) {
            free(v->u.map.entries[i].key);
            bay_value_free(v->u.map.entries[i].val);
        }
        free(v->u.map.entries);
        free(v->u.map.slots);
        break;
    default:
        break;
    }
    free(v);
}

static bay_value *copy_array(const bay_value *a)
{
    bay_value *c = bay_array();
    for (size_t i = 0; c && i < a->u.array.len; i++)
        if (bay_array_push(c, bay_value_copy(a->u.array.items[i]))) {
            bay_value_free(c);
            c = NULL;
        }
    return c;
}

static bay_value *copy_map(const bay_value *m)
{
    bay_value *c = bay_map();
    for (size_t i = 0; c && i < m->u.map.len; i++) {
        const bay__entry *e = &m->u.map.entries[i];
        if (bay_map_set(c, e->key, bay_value_copy(e->val))) {
            bay_value_free(c);
            c = NULL;
        }
    }
    return c;
}

bay_value *bay_value_copy(const bay_value *v)
{
    if (!v)
        return NULL;
    switch (v->type) {
    case BAY_STR:
    case BAY_BIN:
        return new_bytes(v->type, v->u.str.bytes, v->u.str.len);
    case BAY_ARRAY:
        return copy_array(v);
    case BAY_MAP:
        return copy_map(v);
    default: {
        bay_value *c = new_value(v->type);
        if (c)
            c->u = v->u;
        return c;
    }
    }
}

static bool arrays_equal(const bay_value *a, const bay_value *b)
{
    if (a->u.array.len != b->u.array.len)
        return false;
    for (size_t i = 0; i < a->u.array.len; i++)
        if (!bay_value_equal(a->u.array.items[i], b->u.array.items[i]))
            return false;
    return true;
}

/* maps_equal compares entries by key; the insertion order does not matter. */
static bool maps_equal(const bay_value *a, const bay_value *b)
{
    if (a->u.map.len != b->u.map.len)
        return false;
    for (size_t i = 0; i < a->u.map.len; i++) {
        const bay__entry *e = &a->u.map.entries[i];
        size_t pos = map_find(b, e->key, e->keylen);
        if (pos == b->u.map.len || !bay_value_equal(e->val, b->u.map.entries[pos].val))
            return false;
    }
    return true;
}

bool bay__value_nests_deeper(const bay_value *v, int levels)
{
    if (v == NULL || (v->type != BAY_ARRAY && v->type != BAY_MAP))
        return false;
    if (levels == 0)
        return true;
    size_t n = v->type == BAY_ARRAY ? v->u.array.len : v->u.map.len;
    for (size_t i = 0; i < n; i++)
        if (bay__value_nests_deeper(v->type == BAY_ARRAY ? v->u.array.items[i] : v->u.map.entries[i].val, levels - 1))
            return true;
    return false;
}

/* Floats compare by bit pattern: -0.0 differs from 0.0 and a NaN equals the
 * same NaN, so "equal" means "the same tree", which encoding round trips keep. */
bool bay_value_equal(const bay_value *a, const bay_value *b)
{
    if (!a || !b)
        return a == b;
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case BAY_NIL:
        return true;
    case BAY_BOOL:
        return a->u.b == b->u.b;
    case BAY_INT:
        return a->u.i == b->u.i;
    case BAY_FLOAT:
        return memcmp(&a->u.d, &b->u.d, sizeof a->u.d) == 0;
    case BAY_STR:
    case BAY_BIN:
        return a->u.str.len == b->u.str.len &&
               memcmp(a->u.str.bytes, b->u.str.bytes, a->u.str.len) == 0;
    case BAY_ARRAY:
        return arrays_equal(a, b);
    case BAY_MAP:
        return maps_equal(a, b);
    }
    return false;
}

bay_type bay_value_type(const bay_value *v)
{
    return v ? v->type : BAY_NIL;
}

const char *bay_type_name(bay_type t)
{
    static const char *const names[] = {
        [BAY_NIL] = "nil", [BAY_BOOL] = "bool", [BAY_INT] = "int",     [BAY_FLOAT] = "float",
        [BAY_STR] = "str", [BAY_BIN] = "bin",   [BAY_ARRAY] = "array", [BAY_MAP] = "map",
    };
    return (size_t)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

bool bay_value_bool(const bay_value *v)
{
    return v && v->type == BAY_BOOL && v->u.b;
}

int64_t bay_value_int(const bay_value *v)
{
    return v && v->type == BAY_INT ? v->u.i : 0;
}

double bay_value_float(const bay_value *v)
{
    if (v && v->type == BAY_FLOAT)
        return v->u.d;
    return v && v->type == BAY_INT ? (double)v->u.i : 0.0;
}

const char *bay_value_str(const bay_value *v, size_t *len)
{
    bool bytes = v && (v->type == BAY_STR || v->type == BAY_BIN);
    if (len)
        *len = bytes ? v->u.str.len : 0;
    return bytes ? v->u.str.bytes : NULL;
}

size_t bay_value_len(const bay_value *v)
{
    if (v && v->type == BAY_ARRAY)
        return v->u.array.len;
    return v && v->type == BAY_MAP ? v->u.map.len : 0;
}

const bay_value *bay_array_get(const bay_value *array, size_t i)
{
    if (!array || array->type != BAY_ARRAY || i >= array->u.array.len)
        return NULL;
    return array->u.array.items[i];
}

const bay_value *bay_map_get(const bay_value *map, const char *key)
{
    if (!map || map->type != BAY_MAP || !key)
        return NULL;
    size_t pos = map_find(map, key, strlen(key));
    return pos < map->u.map.len ? map->u.map.entries[pos].val : NULL;
}

const char *bay_map_entry(const bay_value *map, size_t i, const bay_value **val)
{
    bool found = map && map->type == BAY_MAP && i < map->u.map.len;
    if (val)
        *val = found ? map->u.map.entries[i].val : NULL;
    return found ? map->u.map.entries[i].key : NULL;
}
