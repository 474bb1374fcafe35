/* plugbay/value.h — the value tree that carries call arguments and results.
 *
 * A bay_value is what crosses a call: nil, bool, 64-bit int, double, string,
 * binary, array or map (string keys, insertion order kept). It maps one to one
 * onto msgpack (and, without binaries, onto JSON).
 *
 * Ownership: a constructor returns a new value the caller owns and frees with
 * bay_value_free(). bay_array_push() and bay_map_set() take ownership of the
 * item they are given, even when they fail. Getters return borrowed pointers
 * that live as long as their container. */
#ifndef PLUGBAY_VALUE_H
#define PLUGBAY_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bay_value bay_value;

typedef enum bay_type {
    BAY_NIL,
    BAY_BOOL,
    BAY_INT,
    BAY_FLOAT,
    BAY_STR,
    BAY_BIN,
    BAY_ARRAY,
    BAY_MAP,
} bay_type;

/* Constructors: each returns a new value, or NULL when out of memory. */
bay_value *bay_nil(void);
bay_value *bay_bool(bool b);
bay_value *bay_int(int64_t i);
bay_value *bay_float(double d);
/* bay_str copies the NUL-terminated string s (NULL gives NULL). */
bay_value *bay_str(const char *s);
/* bay_strn copies len bytes of s; the string may hold NUL bytes. */
bay_value *bay_strn(const char *s, size_t len);
/* bay_bin copies len bytes of data. */
bay_value *bay_bin(const void *data, size_t len);
bay_value *bay_array(void);
bay_value *bay_map(void);

/* bay_array_push appends item (taking ownership) to array.
 * Returns BAY_EINVAL if array is not an array or item is NULL (item is freed). */
int bay_array_push(bay_value *array, bay_value *item);

/* bay_map_set sets key to val (taking ownership of val; the key is copied),
 * replacing and freeing an earlier value of the same key.
 * Returns BAY_EINVAL if map is not a map, key or val is NULL (val is freed). */
int bay_map_set(bay_value *map, const char *key, bay_value *val);

/* bay_value_free frees v and everything it contains. NULL is ignored. */
void bay_value_free(bay_value *v);

/* bay_value_copy returns a deep copy the caller owns, or NULL when out of memory. */
bay_value *bay_value_copy(const bay_value *v);

/* bay_value_equal returns true when a and b hold the same tree. */
bool bay_value_equal(const bay_value *a, const bay_value *b);

/* Getters. The type getter returns BAY_NIL for NULL. The scalar getters return
 * 0 / false / NULL when v has another type; check bay_value_type first. */
bay_type bay_value_type(const bay_value *v);
/* bay_type_name returns "nil", "bool", "int", "float", "str", "bin", "array" or "map". */
const char *bay_type_name(bay_type t);
bool bay_value_bool(const bay_value *v);
int64_t bay_value_int(const bay_value *v);
/* bay_value_float returns the double of a BAY_FLOAT, or a BAY_INT converted. */
double bay_value_float(const bay_value *v);
/* bay_value_str returns the NUL-terminated bytes of a BAY_STR or BAY_BIN and,
 * when len is not NULL, their length. Borrowed. */
const char *bay_value_str(const bay_value *v, size_t *len);

/* bay_value_len returns the item count of an array or map, else 0. */
size_t bay_value_len(const bay_value *v);
/* bay_array_get returns item i of an array, or NULL when out of range. Borrowed. */
const bay_value *bay_array_get(const bay_value *array, size_t i);
/* bay_map_get returns the value of key in a map, or NULL when absent. Borrowed. */
const bay_value *bay_map_get(const bay_value *map, const char *key);
/* bay_map_entry returns entry i of a map: its key (borrowed) and, when val is
 * not NULL, its value (borrowed). NULL when out of range. */
const char *bay_map_entry(const bay_value *map, size_t i, const bay_value **val);

/* bay_value_pack encodes v as msgpack into a new malloc'ed buffer (*out, *len)
 * the caller frees with free(). Returns 0 or BAY_ENOMEM. */
int bay_value_pack(const bay_value *v, void **out, size_t *len);

/* bay_value_unpack decodes exactly one msgpack value filling all len bytes.
 * On success *out is a new value the caller owns. Returns BAY_EPROTO (with a
 * reason in err when err is not NULL) for truncated, trailing or malformed
 * input, integers beyond int64, non-string or duplicate map keys, or nesting deeper than
 * 32 levels (msgpack-c's own limit). */
int bay_value_unpack(const void *buf, size_t len, bay_value **out, char *err, size_t errlen);

/* bay_value_to_json renders v as compact JSON into a new NUL-terminated string
 * the caller frees with free(). Binaries become base64 strings prefixed with
 * "base64:" . Returns 0, BAY_ENOMEM, or BAY_EINVAL for floats that are NaN or
 * infinite. */
int bay_value_to_json(const bay_value *v, char **out);

/* bay_value_from_json parses JSON text into a new value the caller owns.
 * JSON integers become BAY_INT (BAY_EINVAL past int64), other numbers BAY_FLOAT.
 * On a syntax error returns BAY_EINVAL and writes line, column and reason to err. */
int bay_value_from_json(const char *text, bay_value **out, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
