/* protocol/value_msgpack.c — bay_value to and from msgpack, on msgpack-c. */
#include "value_internal.h"

#include <inttypes.h>

/* pack_rc turns a msgpack_pack_* result (a failed write) into a bay_errno. */
static int pack_rc(int rc)
{
    return rc ? BAY_ENOMEM : 0;
}

static int pack_array(msgpack_packer *pk, const bay_value *v)
{
    int rc = pack_rc(msgpack_pack_array(pk, v->u.array.len));
    for (size_t i = 0; !rc && i < v->u.array.len; i++)
        rc = bay__value_pack_to(pk, v->u.array.items[i]);
    return rc;
}

static int pack_map(msgpack_packer *pk, const bay_value *v)
{
    int rc = pack_rc(msgpack_pack_map(pk, v->u.map.len));
    for (size_t i = 0; !rc && i < v->u.map.len; i++) {
        const bay__entry *e = &v->u.map.entries[i];
        rc = pack_rc(msgpack_pack_str_with_body(pk, e->key, e->keylen));
        if (!rc)
            rc = bay__value_pack_to(pk, e->val);
    }
    return rc;
}

int bay__value_pack_to(msgpack_packer *pk, const bay_value *v)
{
    if (!pk || !v)
        return BAY_EINVAL;
    /* msgpack lengths are 32-bit; msgpack-c would silently cut longer ones */
    size_t n = v->type == BAY_STR || v->type == BAY_BIN ? v->u.str.len : bay_value_len(v);
    if (n > UINT32_MAX)
        return BAY_EINVAL;
    switch (v->type) {
    case BAY_NIL:
        return pack_rc(msgpack_pack_nil(pk));
    case BAY_BOOL:
        return pack_rc(v->u.b ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
    case BAY_INT:
        return pack_rc(msgpack_pack_int64(pk, v->u.i));
    case BAY_FLOAT:
        return pack_rc(msgpack_pack_double(pk, v->u.d));
    case BAY_STR:
        return pack_rc(msgpack_pack_str_with_body(pk, v->u.str.bytes, v->u.str.len));
    case BAY_BIN:
        return pack_rc(msgpack_pack_bin_with_body(pk, v->u.str.bytes, v->u.str.len));
    case BAY_ARRAY:
        return pack_array(pk, v);
    case BAY_MAP:
        return pack_map(pk, v);
    }
    return BAY_EINVAL;
}

int bay_value_pack(const bay_value *v, void **out, size_t *len)
{
    if (!out || !len)
        return BAY_EINVAL;
    *out = NULL;
    *len = 0;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = bay__value_pack_to(&pk, v);
    if (rc) {
        msgpack_sbuffer_destroy(&sb);
        return rc;
    }
    *len = sb.size;
    *out = msgpack_sbuffer_release(&sb);
    return 0;
}

/* object_kind names a msgpack object type the way bay_type_name names ours. */
static const char *object_kind(msgpack_object_type t)
{
    static const char *const names[] = {
        [MSGPACK_OBJECT_NIL] = "nil",
        [MSGPACK_OBJECT_BOOLEAN] = "bool",
        [MSGPACK_OBJECT_POSITIVE_INTEGER] = "int",
        [MSGPACK_OBJECT_NEGATIVE_INTEGER] = "int",
        [MSGPACK_OBJECT_FLOAT32] = "float",
        [MSGPACK_OBJECT_FLOAT64] = "float",
        [MSGPACK_OBJECT_STR] = "str",
        [MSGPACK_OBJECT_BIN] = "bin",
        [MSGPACK_OBJECT_ARRAY] = "array",
        [MSGPACK_OBJECT_MAP] = "map",
        [MSGPACK_OBJECT_EXT] = "ext",
    };
    return (size_t)t < sizeof names / sizeof names[0] && names[t] ? names[t] : "unknown";
}

static int from_object(const msgpack_object *o, int depth, bay_value **out, bay_error *err);

static int array_from_object(const msgpack_object_array *arr, int depth, bay_value **out, bay_error *err)
{
    bay_value *a = bay_array();
    int rc = a ? 0 : bay__value_nomem(err);
    for (uint32_t i = 0; !rc && i < arr->size; i++) {
        bay_value *item;
        rc = from_object(&arr->ptr[i], depth, &item, err);
        if (!rc && bay_array_push(a, item))
            rc = bay__value_nomem(err);
    }
    return bay__value_settle(a, rc, out);
}

/* map_entry_from_object adds entry i of a msgpack map to m. */
static int map_entry_from_object(bay_value *m, const msgpack_object_kv *kv, uint32_t i, int depth,
                                 bay_error *err)
{
    if (kv->key.type != MSGPACK_OBJECT_STR)
        return bay_error_set(err, BAY_EPROTO, NULL, "map key %" PRIu32 " is %s; map keys must be strings", i,
                             object_kind(kv->key.type));
    /* msgpack-c gives the empty key "" a NULL ptr, which bay__map_add refuses */
    const char *key = kv->key.via.str.size > 0 ? kv->key.via.str.ptr : "";
    bay_value *val;
    int rc = from_object(&kv->val, depth, &val, err);
    if (!rc)
        rc = bay__map_add(m, key, kv->key.via.str.size, val, err);
    return rc == BAY_EINVAL ? BAY_EPROTO : rc; /* a NUL byte or a duplicate in the key */
}

static int map_from_object(const msgpack_object_map *map, int depth, bay_value **out, bay_error *err)
{
    bay_value *m = bay_map();
    int rc = m ? 0 : bay__value_nomem(err);
    for (uint32_t i = 0; !rc && i < map->size; i++)
        rc = map_entry_from_object(m, &map->ptr[i], i, depth, err);
    return bay__value_settle(m, rc, out);
}

/* from_object converts o, which sits inside depth containers. */
static int from_object(const msgpack_object *o, int depth, bay_value **out, bay_error *err)
{
    bool container = o->type == MSGPACK_OBJECT_ARRAY || o->type == MSGPACK_OBJECT_MAP;
    if (container && depth >= BAY_VALUE_MAX_DEPTH)
        return bay_error_set(err, BAY_EPROTO, NULL, "msgpack nests deeper than %d levels", BAY_VALUE_MAX_DEPTH);
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        *out = bay_nil();
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        *out = bay_bool(o->via.boolean);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > INT64_MAX)
            return bay_error_set(err, BAY_EPROTO, NULL, "integer %" PRIu64 " is beyond int64", o->via.u64);
        *out = bay_int((int64_t)o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *out = bay_int(o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        *out = bay_float(o->via.f64);
        break;
    case MSGPACK_OBJECT_STR:
        *out = bay_strn(o->via.str.ptr, o->via.str.size);
        break;
    case MSGPACK_OBJECT_BIN:
        *out = bay_bin(o->via.bin.ptr, o->via.bin.size);
        break;
    case MSGPACK_OBJECT_ARRAY:
        return array_from_object(&o->via.array, depth + 1, out, err);
    case MSGPACK_OBJECT_MAP:
        return map_from_object(&o->via.map, depth + 1, out, err);
    case MSGPACK_OBJECT_EXT:
        return bay_error_set(err, BAY_EPROTO, NULL, "ext type %d is not supported", o->via.ext.type);
    default:
        return bay_error_set(err, BAY_EPROTO, NULL, "unknown msgpack object type %d", (int)o->type);
    }
    return *out ? 0 : bay__value_nomem(err);
}

int bay__value_from_object(const msgpack_object *o, bay_value **out, bay_error *err)
{
    if (!o || !out)
        return bay_error_set(err, BAY_EINVAL, NULL, "bay__value_from_object needs an object and an out pointer");
    *out = NULL;
    return from_object(o, 0, out, err);
}

/* unpack_status turns msgpack_unpack_next's result into a bay_errno with a reason. */
static int unpack_status(msgpack_unpack_return ret, size_t len, size_t off, bay_error *err)
{
    switch (ret) {
    case MSGPACK_UNPACK_SUCCESS:
    case MSGPACK_UNPACK_EXTRA_BYTES:
        if (off == len)
            return 0;
        return bay_error_set(err, BAY_EPROTO, NULL, "%zu trailing bytes after the value", len - off);
    case MSGPACK_UNPACK_CONTINUE:
        return bay_error_set(err, BAY_EPROTO, NULL, "truncated msgpack: %zu bytes end inside the value", len);
    case MSGPACK_UNPACK_NOMEM_ERROR:
        /* msgpack-c 4.0 also reports nesting deeper than 32 containers this way */
        return bay_error_set(err, BAY_EPROTO, NULL,
                             "msgpack decoder gave up: nesting deeper than 32 levels, or a "
                             "length that does not fit in memory");
    default:
        return bay_error_set(err, BAY_EPROTO, NULL, "malformed msgpack at byte %zu", off);
    }
}

/* unpack is bay_value_unpack with the reason in err, answering kind for bytes
 * that are one msgpack value but no plugbay value. */
static int unpack(const void *buf, size_t len, int kind, bay_value **out, bay_error *err)
{
    if (!out || (!buf && len > 0))
        return bay_error_set(err, BAY_EINVAL, NULL, "bay_value_unpack needs a buffer and an out pointer");
    *out = NULL;
    if (!bay__msgpack_counts_fit(buf, len))
        return bay_error_set(err, BAY_EPROTO, NULL,
                             "truncated msgpack: a container declares more items than there are bytes left");
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    msgpack_unpack_return ret = msgpack_unpack_next(&u, buf, len, &off);
    int rc = unpack_status(ret, len, off, err);
    if (!rc && (rc = bay__value_from_object(&u.data, out, err)) == BAY_EPROTO) {
        rc = kind;
        if (err)
            err->code = kind;
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

int bay_value_unpack(const void *buf, size_t len, bay_value **out, char *err, size_t errlen)
{
    bay_error e;
    return bay__value_reason(unpack(buf, len, BAY_EPROTO, out, &e), &e, err, errlen);
}

int bay__value_unpack_as(const void *buf, size_t len, int kind, bay_value **out, bay_error *err)
{
    return unpack(buf, len, kind, out, err);
}
