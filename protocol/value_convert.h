/* protocol/value_convert.h — converting values from and to msgpack-c objects,
 * jansson and a language's own values, and building them with a reason on
 * failure: what plugbayd, the workers and libplugbay share beyond the public
 * value.h, without the values' layout (value_internal.h, protocol/ alone). */
#ifndef PLUGBAY_VALUE_CONVERT_H
#define PLUGBAY_VALUE_CONVERT_H

#include <plugbay/error.h>
#include <plugbay/value.h>

#include <jansson.h>
#include <msgpack.h>

/* Containers may nest this deep when decoded (the outermost one is level 1).
 * Note: msgpack-c 4.0's decoder itself stops at 32 levels (see value_msgpack.c). */
#define BAY_VALUE_MAX_DEPTH 64

/* A language's containers (Lua tables, Python lists and dicts) nest at most
 * this deep in a value crossing a call. The wire protocol decodes 32 levels; a
 * frame and an event's result list and entry wrap a value in three more, so 24
 * leaves room to spare. */
#define BAY_CONVERT_MAX_DEPTH 24

/* A value a frame carries (a call's argument array, a result) nests at most
 * this deep: msgpack-c decodes 32 levels, and the frame's own array is one. */
#define BAY_WIRE_VALUE_MAX_DEPTH 31

/* bay__value_nests_deeper tells whether v's arrays and maps nest more than
 * levels deep (v itself, when a container, is level 1); it looks no deeper
 * than it must. */
bool bay__value_nests_deeper(const bay_value *v, int levels);

/* bay__value_nomem fills err (when not NULL) with BAY_ENOMEM and "out of
 * memory", and returns BAY_ENOMEM. */
int bay__value_nomem(bay_error *err);

/* bay__value_settle hands v to the caller through *out when rc is 0, and
 * otherwise frees v. Returns rc. */
int bay__value_settle(bay_value *v, int rc, bay_value **out);

/* bay__map_add appends key (keylen bytes, copied) with val (taking ownership,
 * freed on failure) to map. Returns 0, BAY_ENOMEM, or BAY_EINVAL with a reason
 * in err when the key is already present or holds a NUL byte. */
int bay__map_add(bay_value *map, const char *key, size_t keylen, bay_value *val, bay_error *err);

/* bay__value_pack_to packs v into pk. Returns 0, BAY_ENOMEM when the packer's
 * write callback fails, or BAY_EINVAL for a NULL v or a string, binary, array
 * or map longer than msgpack's 2^32 - 1. */
int bay__value_pack_to(msgpack_packer *pk, const bay_value *v);

/* bay__value_unpack_as is bay_value_unpack with the reason in err, but it
 * answers kind (BAY_ETYPE for a plugin's result) instead of BAY_EPROTO when
 * the bytes are one msgpack value that is no plugbay value: a map key that is
 * not a string, an integer beyond int64, nesting deeper than
 * BAY_VALUE_MAX_DEPTH, an ext type. */
int bay__value_unpack_as(const void *buf, size_t len, int kind, bay_value **out, bay_error *err);

/* bay__value_from_object converts a decoded msgpack object into a new value
 * (*out, owned by the caller; NULL on failure). Returns 0, BAY_ENOMEM, or
 * BAY_EPROTO with a reason in err (integers beyond int64, map keys that are
 * not strings, repeat or hold a NUL byte, nesting deeper than
 * BAY_VALUE_MAX_DEPTH, ext types). */
int bay__value_from_object(const msgpack_object *o, bay_value **out, bay_error *err);

/* bay__value_to_jansson converts v into a new jansson value (one reference,
 * owned by the caller), binaries as "base64:..." strings. Returns NULL with a
 * reason in err for NaN or infinite floats, strings that are not UTF-8, or
 * out of memory. */
json_t *bay__value_to_jansson(const bay_value *v, bay_error *err);

/* bay__value_from_jansson converts j into a new value (*out, owned by the
 * caller; NULL on failure). Integers become BAY_INT, reals BAY_FLOAT; no
 * string becomes BAY_BIN. Returns 0, BAY_ENOMEM, or BAY_EINVAL with a reason
 * in err (object keys holding NUL bytes, nesting deeper than BAY_VALUE_MAX_DEPTH). */
int bay__value_from_jansson(const json_t *j, bay_value **out, bay_error *err);

#endif
