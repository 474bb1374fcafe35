/* protocol/value_internal.h — the bay_value layout, for protocol/ alone: the
 * rest of plugbay converts values through value_convert.h. */
#ifndef PLUGBAY_VALUE_INTERNAL_H
#define PLUGBAY_VALUE_INTERNAL_H

#include "value_convert.h"

/* One map entry. The key is NUL-terminated, holds no NUL byte and is unique. */
typedef struct bay__entry {
    char *key;
    size_t keylen;
    bay_value *val;
} bay__entry;

struct bay_value {
    bay_type type;
    union {
        bool b;
        int64_t i;
        double d;
        struct { /* BAY_STR and BAY_BIN; bytes[len] is always '\0' */
            char *bytes;
            size_t len;
        } str;
        struct {
            bay_value **items;
            size_t len, cap;
        } array;
        struct {
            bay__entry *entries; /* in insertion order */
            size_t len, cap;
            size_t *slots;      /* hash index of entry position + 1 (0 = empty), NULL for small maps */
            size_t nslots;      /* a power of two */
        } map;
    } u;
};

/* bay__value_reason copies e's message into err (when err is not NULL and
 * errlen > 0) when rc is not 0, for the public calls that give the reason as
 * text (bay_value_unpack, bay_value_from_json). Returns rc. */
int bay__value_reason(int rc, const bay_error *e, char *err, size_t errlen);

/* bay__msgpack_counts_fit returns false when a container in the msgpack bytes
 * declares more items than bytes remain (decoding would allocate for a lie). */
bool bay__msgpack_counts_fit(const void *buf, size_t len);

#endif
