/* protocol/frame.c — table-driven encoding and validation of plugbay frames. */
#include "frame.h"
#include "value_internal.h"

#include <string.h>

#include <plugbay/error.h>
#include <plugbay/plugbay.h>

/* How one field after [version, type, id] is checked and stored. */
typedef enum field_kind {
    F_STR,      /* string without NUL bytes        -> const char * */
    F_STR_OPT,  /* the same, or nil (NULL)          -> const char * */
    F_INT,      /* signed or unsigned integer in int64 -> int64_t */
    F_INT_TAIL, /* the same among a frame's last fields, which may be left out (0): written up to the last not 0 */
    F_BOOL,     /* boolean                         -> bool */
    F_ANY,      /* any value                       -> const msgpack_object * */
    F_ARRAY,    /* an array                        -> const msgpack_object * */
    F_MAP_OPT,  /* a map or nil                    -> const msgpack_object * */
    F_STRV_OPT, /* array of strings, or nil        -> const char *const * */
} field_kind;

typedef struct field {
    field_kind kind;
    size_t offset;
    const char *label;
} field;

#define FLD(k, member) {k, offsetof(bay__frame, member), #member}
#define MAX_FIELDS 6

static const struct layout {
    const char *name;
    int nfields;
    field fields[MAX_FIELDS];
} layouts[BAY_F_TYPE_MAX + 1] = {
    [BAY_F_HELLO] = {"HELLO", 4, {FLD(F_STR, role), FLD(F_STR, name), FLD(F_INT, pid), FLD(F_STR_OPT, token)}},
    [BAY_F_WELCOME] = {"WELCOME", 4, {FLD(F_STR, name), FLD(F_INT, session), FLD(F_STR_OPT, url), FLD(F_STR_OPT, token)}},
    [BAY_F_ERROR] = {"ERROR", 3, {FLD(F_INT, code), FLD(F_STR_OPT, plugin), FLD(F_STR, message)}},
    [BAY_F_DECLARE] = {"DECLARE", 2, {FLD(F_STR, name), FLD(F_STR, kind)}},
    [BAY_F_PROVIDE] = {"PROVIDE", 3, {FLD(F_STR, name), FLD(F_STR, kind), FLD(F_STRV_OPT, contexts)}},
    [BAY_F_CALL] = {"CALL", 6, {FLD(F_STR, name), FLD(F_ARRAY, value), FLD(F_INT, timeout_ms), FLD(F_STR_OPT, context), FLD(F_INT_TAIL, window),
                                  FLD(F_INT_TAIL, input)}},
    [BAY_F_RESULT] = {"RESULT", 1, {FLD(F_ANY, value)}},
    [BAY_F_EVENT] = {"EVENT", 3, {FLD(F_STR, name), FLD(F_ARRAY, value), FLD(F_STR_OPT, context)}},
    [BAY_F_CANCEL] = {"CANCEL", 1, {FLD(F_INT, code)}},
    [BAY_F_HEARTBEAT] = {"HEARTBEAT", 1, {FLD(F_INT, busy_ms)}},
    [BAY_F_COMMAND] = {"COMMAND", 2, {FLD(F_STR, name), FLD(F_MAP_OPT, value)}},
    [BAY_F_NOTICE] = {"NOTICE", 5, {FLD(F_STR, what), FLD(F_STR, name), FLD(F_STR, plugin), FLD(F_STR, state), FLD(F_STR, message)}},
    [BAY_F_SUBSCRIBE] = {"SUBSCRIBE", 1, {FLD(F_BOOL, on)}},
    [BAY_F_LOG] = {"LOG", 2, {FLD(F_INT, level), FLD(F_STR, message)}},
    [BAY_F_WITHDRAW] = {"WITHDRAW", 1, {FLD(F_STR, name)}},
    [BAY_F_CHUNK] = {"CHUNK", 1, {FLD(F_ANY, value)}},
    [BAY_F_CREDIT] = {"CREDIT", 1, {FLD(F_INT, count)}},
    [BAY_F_END] = {"END", 0, {{0}}},
};

/* tails returns how many of l's last fields may be left out (F_INT_TAIL). */
static int tails(const struct layout *l)
{
    int n = 0;
    while (n < l->nfields && l->fields[l->nfields - 1 - n].kind == F_INT_TAIL)
        n++;
    return n;
}

/* written returns how many of l's fields f is encoded with: its tail fields of 0 at the end are left out. */
static int written(const struct layout *l, const bay__frame *f)
{
    int n = l->nfields, least = n - tails(l);
    while (n > least && *(const int64_t *)((const char *)f + l->fields[n - 1].offset) == 0)
        n--;
    return n;
}

static const struct layout *layout_of(int64_t type)
{
    if (type < 1 || type > BAY_F_TYPE_MAX || layouts[type].name == NULL)
        return NULL;
    return &layouts[type];
}

const char *bay__frame_type_name(int64_t type)
{
    const struct layout *l = layout_of(type);
    return l ? l->name : "?";
}

const char *bay__kind_name(int kind)
{
    return kind == BAY_HANDLE ? "handle" : kind == BAY_EVENT ? "event" : kind == BAY_FILTER ? "filter" : "?";
}

bool bay__kind_valid(int kind)
{
    return kind == BAY_HANDLE || kind == BAY_EVENT || kind == BAY_FILTER;
}

int bay__kind_parse(const char *s)
{
    if (s && strcmp(s, "handle") == 0)
        return BAY_HANDLE;
    if (s && strcmp(s, "event") == 0)
        return BAY_EVENT;
    if (s && strcmp(s, "filter") == 0)
        return BAY_FILTER;
    return 0;
}

const char *bay__object_type_name(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "bool";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "int";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return "float";
    case MSGPACK_OBJECT_STR: return "str";
    case MSGPACK_OBJECT_BIN: return "bin";
    case MSGPACK_OBJECT_ARRAY: return "array";
    case MSGPACK_OBJECT_MAP: return "map";
    default: return "ext";
    }
}

static bool get_int(const msgpack_object *o, int64_t *out)
{
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
        *out = (int64_t)o->via.u64;
        return true;
    }
    return false;
}

/* copy_str makes a NUL-terminated copy of a msgpack string in the frame's zone.
 * msgpack-c gives an empty string a NULL ptr, which memchr and memcpy must not see. */
static const char *copy_str(msgpack_zone *z, const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return NULL;
    size_t n = o->via.str.size;
    if (n > 0 && memchr(o->via.str.ptr, 0, n) != NULL)
        return NULL;
    char *s = msgpack_zone_malloc(z, n + 1);
    if (s == NULL)
        return NULL;
    if (n > 0)
        memcpy(s, o->via.str.ptr, n);
    s[n] = '\0';
    return s;
}

static const char *const *copy_strv(msgpack_zone *z, const msgpack_object *o)
{
    uint32_t n = o->via.array.size;
    const char **v = msgpack_zone_malloc(z, sizeof(char *) * ((size_t)n + 1));
    if (v == NULL)
        return NULL;
    for (uint32_t i = 0; i < n; i++)
        if ((v[i] = copy_str(z, &o->via.array.ptr[i])) == NULL)
            return NULL;
    v[n] = NULL;
    return v;
}

/* decode_field stores field fd of o into f, or returns a static reason. */
static const char *decode_field(bay__frame *f, const field *fd, const msgpack_object *o)
{
    void *slot = (char *)f + fd->offset;
    msgpack_zone *z = f->unpacked_.zone;
    bool nil = o->type == MSGPACK_OBJECT_NIL;

    switch (fd->kind) {
    case F_STR:
    case F_STR_OPT:
        if (nil && fd->kind == F_STR_OPT) {
            *(const char **)slot = NULL;
            return NULL;
        }
        if ((*(const char **)slot = copy_str(z, o)) == NULL)
            return fd->kind == F_STR ? "a string without NUL bytes" : "a string without NUL bytes or nil";
        return NULL;
    case F_INT:
    case F_INT_TAIL:
        return get_int(o, (int64_t *)slot) ? NULL : "an integer within int64";
    case F_BOOL:
        if (o->type != MSGPACK_OBJECT_BOOLEAN)
            return "a boolean";
        *(bool *)slot = o->via.boolean;
        return NULL;
    case F_ANY:
    case F_ARRAY:
    case F_MAP_OPT:
        if (fd->kind == F_ARRAY && o->type != MSGPACK_OBJECT_ARRAY)
            return "an array";
        if (fd->kind == F_MAP_OPT && !nil && o->type != MSGPACK_OBJECT_MAP)
            return "a map or nil";
        *(const msgpack_object **)slot = nil ? NULL : o;
        return NULL;
    case F_STRV_OPT:
        if (nil) {
            *(const char *const **)slot = NULL;
            return NULL;
        }
        if (o->type != MSGPACK_OBJECT_ARRAY || (*(const char *const **)slot = copy_strv(z, o)) == NULL)
            return "an array of strings or nil";
        return NULL;
    }
    return "a known field kind";
}

/* decode_fail releases what decoding f allocated and returns code, which
 * bay_error_set has put in err with the reason. */
static int decode_fail(bay__frame *f, int code)
{
    msgpack_unpacked_destroy(&f->unpacked_);
    f->decoded_ = false;
    return code;
}

/* The first chunk of a decoded frame's zone: a small allocation glibc keeps per thread. */
#define DECODE_ZONE_CHUNK 512

int bay__frame_decode(const void *buf, size_t len, bay__frame *f, bay_error *err)
{
    memset(f, 0, sizeof(*f));
    msgpack_unpacked_init(&f->unpacked_);
    if (!bay__msgpack_counts_fit(buf, len))
        return decode_fail(f, bay_error_set(err, BAY_EPROTO, NULL,
                                            "truncated frame: a container declares more items than the frame has "
                                            "bytes left"));
    /* A zone of small chunks, grown as a frame needs: msgpack_unpack_next's
     * 8 KiB first chunk is a large allocation per frame, which costs glibc a
     * consolidation of its small free chunks each time on the fast path. */
    if ((f->unpacked_.zone = msgpack_zone_new(DECODE_ZONE_CHUNK)) == NULL)
        return decode_fail(f, bay_error_set(err, BAY_ENOMEM, NULL, "out of memory decoding a frame"));
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack(buf, len, &off, f->unpacked_.zone, &f->unpacked_.data);
    if (rc == MSGPACK_UNPACK_EXTRA_BYTES)
        rc = MSGPACK_UNPACK_SUCCESS; /* off says how many: refused below */
    if (rc == MSGPACK_UNPACK_CONTINUE)
        return decode_fail(f, bay_error_set(err, BAY_EPROTO, NULL,
                                            "truncated frame: %zu bytes end inside a msgpack value", len));
    if (rc != MSGPACK_UNPACK_SUCCESS)
        return decode_fail(f, bay_error_set(err, BAY_EPROTO, NULL, "malformed frame: not valid msgpack (%s)",
                                            rc == MSGPACK_UNPACK_NOMEM_ERROR ? "a length beyond memory"
                                                                             : "parse error"));
    if (off != len)
        return decode_fail(f, bay_error_set(err, BAY_EPROTO, NULL,
                                            "malformed frame: %zu trailing bytes after the frame", len - off));

    const msgpack_object *root = &f->unpacked_.data;
    if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size < 3)
        return decode_fail(f, bay_error_set(err, BAY_EPROTO, NULL,
                                            "malformed frame: expected an array [version, type, id, ...], got %s "
                                            "of %u items",
                                            bay__object_type_name(root),
                                            root->type == MSGPACK_OBJECT_ARRAY ? root->via.array.size : 1));
    const msgpack_object *item = root->via.array.ptr;
    uint32_t nitems = root->via.array.size;
    if (!get_int(&item[0], &f->version))
        return decode_fail(f, bay_error_set(err, BAY_EPROTO, NULL,
                                            "malformed frame: version must be an integer, got %s",
                                            bay__object_type_name(&item[0])));
    bool type_is_int = get_int(&item[1], &f->type);
    if (item[2].type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        f->id = item[2].via.u64;
    if (f->version != BAY_WIRE_VERSION)
        return decode_fail(f, bay_error_set(err, BAY_EVERSION, NULL,
                                            "protocol version mismatch: the peer speaks version %lld, this side "
                                            "speaks version %d",
                                            (long long)f->version, BAY_WIRE_VERSION));
    if (!type_is_int)
        return decode_fail(f, bay_error_set(err, BAY_EPROTO, NULL,
                                            "malformed frame: type must be an integer, got %s",
                                            bay__object_type_name(&item[1])));
    const struct layout *l = layout_of(f->type);
    if (l == NULL)
        return decode_fail(f, bay_error_set(err, BAY_EPROTO, NULL, "unknown frame type %lld", (long long)f->type));
    if (item[2].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return decode_fail(f, bay_error_set(err, BAY_EPROTO, NULL,
                                            "%s frame: id must be a non-negative integer, got %s", l->name,
                                            bay__object_type_name(&item[2])));
    uint32_t least = 3u + (uint32_t)(l->nfields - tails(l));
    if (nitems < least || nitems > 3u + (uint32_t)l->nfields)
        return decode_fail(f, tails(l) ? bay_error_set(err, BAY_EPROTO, NULL,
                                                       "%s frame: expected %d to %d fields after the id, got %u",
                                                       l->name, l->nfields - tails(l), l->nfields, nitems - 3)
                                          : bay_error_set(err, BAY_EPROTO, NULL,
                                                          "%s frame: expected %d fields after the id, got %u", l->name,
                                                          l->nfields, nitems - 3));
    for (int i = 0; i < (int)(nitems - 3); i++) {
        const char *want = decode_field(f, &l->fields[i], &item[3 + i]);
        if (want)
            return decode_fail(f, bay_error_set(err, BAY_EPROTO, NULL, "%s frame: field %d (%s) must be %s, got %s",
                                                l->name, 3 + i, l->fields[i].label, want,
                                                bay__object_type_name(&item[3 + i])));
    }
    f->decoded_ = true;
    return 0;
}

void bay__frame_release(bay__frame *f)
{
    if (f->decoded_)
        msgpack_unpacked_destroy(&f->unpacked_);
    f->decoded_ = false;
}

void bay__scratch_init(bay__scratch *s)
{
    s->data = s->local;
    s->size = 0;
    s->alloc = sizeof s->local;
}

void bay__scratch_free(bay__scratch *s)
{
    if (s->data != s->local)
        free(s->data);
    bay__scratch_init(s);
}

int bay__scratch_write(void *data, const char *buf, size_t len)
{
    bay__scratch *s = data;
    if (len > s->alloc - s->size) {
        size_t alloc = s->alloc;
        while (len > alloc - s->size)
            if ((alloc *= 2) > SIZE_MAX / 4)
                return -1;
        char *grown = s->data == s->local ? malloc(alloc) : realloc(s->data, alloc);
        if (grown == NULL)
            return -1;
        if (s->data == s->local)
            memcpy(grown, s->local, s->size);
        s->data = grown;
        s->alloc = alloc;
    }
    memcpy(s->data + s->size, buf, len);
    s->size += len;
    return 0;
}

int bay__pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n) ? -1 : 0;
}

static int encode_field(msgpack_packer *pk, const bay__frame *f, const field *fd)
{
    const void *slot = (const char *)f + fd->offset;
    switch (fd->kind) {
    case F_STR:
    case F_STR_OPT: {
        const char *s = *(const char *const *)slot;
        if (s == NULL)
            return fd->kind == F_STR ? BAY_EINVAL : msgpack_pack_nil(pk);
        return bay__pack_str(pk, s);
    }
    case F_INT:
    case F_INT_TAIL: return msgpack_pack_int64(pk, *(const int64_t *)slot);
    case F_BOOL: return *(const bool *)slot ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    case F_ANY:
    case F_ARRAY:
    case F_MAP_OPT: {
        const msgpack_object *v = *(const msgpack_object *const *)slot;
        if (f->raw)
            return pk->callback(pk->data, f->raw, f->raw_len);
        if (v)
            return msgpack_pack_object(pk, *v);
        return fd->kind == F_ARRAY ? msgpack_pack_array(pk, 0) : msgpack_pack_nil(pk);
    }
    case F_STRV_OPT: {
        const char *const *v = *(const char *const *const *)slot;
        if (v == NULL)
            return msgpack_pack_nil(pk);
        size_t n = 0;
        while (v[n])
            n++;
        int rc = msgpack_pack_array(pk, n);
        for (size_t i = 0; rc == 0 && i < n; i++)
            rc = bay__pack_str(pk, v[i]);
        return rc;
    }
    }
    return BAY_EINVAL;
}

/* The caller's sink, behind the packer. */
typedef struct sink_call {
    bay__frame_sink sink;
    void *data;
} sink_call;

/* forward hands packed bytes to the caller's sink. msgpack-c writes the body of
 * an empty string or binary from a decoded frame as (NULL, 0); such a write is
 * dropped, so a sink never sees a NULL buffer (memcpy into it would be UB). */
static int forward(void *data, const char *buf, size_t len)
{
    const sink_call *c = data;
    return len == 0 ? 0 : c->sink(c->data, buf, len);
}

int bay__frame_encode(const bay__frame *f, bay__frame_sink sink, void *data)
{
    const struct layout *l = layout_of(f->type);
    if (l == NULL)
        return BAY_EINVAL;
    sink_call c = {sink, data};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &c, forward);
    int n = written(l, f);
    if (msgpack_pack_array(&pk, 3 + (size_t)n) ||
        msgpack_pack_int64(&pk, f->version ? f->version : BAY_WIRE_VERSION) || msgpack_pack_int64(&pk, f->type) ||
        msgpack_pack_uint64(&pk, f->id))
        return BAY_ENOMEM;
    for (int i = 0; i < n; i++) {
        int rc = encode_field(&pk, f, &l->fields[i]);
        if (rc)
            return rc == BAY_EINVAL ? BAY_EINVAL : BAY_ENOMEM;
    }
    return 0;
}
