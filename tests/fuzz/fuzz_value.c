/* tests/fuzz/fuzz_value.c — libFuzzer target for the value decoder: msgpack to bay_value with
 * bay_value_unpack, then back with bay_value_pack, a copy, and JSON both ways.
 *
 * A value that decodes must pack, unpack to an equal value and pack to the same bytes again;
 * its copy must be equal; and when it renders as JSON (no NaN, infinity or non-UTF-8 text)
 * and holds no binary, the JSON must parse back to an equal value. Anything else aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plugbay/value.h>

_Noreturn static void fail(const char *what)
{
    fprintf(stderr, "fuzz_value: %s\n", what);
    abort();
}

/* has_bin says whether v holds a binary anywhere (JSON turns them into strings). */
static bool has_bin(const bay_value *v)
{
    switch (bay_value_type(v)) {
    case BAY_BIN:
        return true;
    case BAY_ARRAY:
        for (size_t i = 0; i < bay_value_len(v); i++)
            if (has_bin(bay_array_get(v, i)))
                return true;
        return false;
    case BAY_MAP:
        for (size_t i = 0; i < bay_value_len(v); i++) {
            const bay_value *item;
            bay_map_entry(v, i, &item);
            if (has_bin(item))
                return true;
        }
        return false;
    default:
        return false;
    }
}

/* check_msgpack packs v, expects the bytes to unpack to an equal value that packs to the same bytes. */
static void check_msgpack(const bay_value *v)
{
    void *first, *second;
    size_t first_len, second_len;
    if (bay_value_pack(v, &first, &first_len) != 0)
        fail("a decoded value does not pack");
    bay_value *back = NULL;
    char err[256];
    if (bay_value_unpack(first, first_len, &back, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_value: packed value refused: %s\n", err);
        abort();
    }
    if (!bay_value_equal(v, back))
        fail("msgpack round trip changed the value");
    if (bay_value_pack(back, &second, &second_len) != 0)
        fail("an unpacked value does not pack");
    if (second_len != first_len || memcmp(first, second, first_len) != 0)
        fail("packing an unpacked value changed the bytes");
    free(first);
    free(second);
    bay_value_free(back);
}

static void check_copy(const bay_value *v)
{
    bay_value *c = bay_value_copy(v);
    if (c == NULL || !bay_value_equal(v, c))
        fail("a copy differs from its original");
    bay_value_free(c);
}

/* check_json renders v as JSON and, without binaries, expects it to parse back to an equal value. */
static void check_json(const bay_value *v)
{
    char *text = NULL;
    if (bay_value_to_json(v, &text) != 0)
        return; /* NaN, infinity or a string that is not UTF-8 */
    if (!has_bin(v)) {
        bay_value *back = NULL;
        char err[256];
        if (bay_value_from_json(text, &back, err, sizeof err) != 0) {
            fprintf(stderr, "fuzz_value: rendered JSON refused: %s\n%s\n", err, text);
            abort();
        }
        if (!bay_value_equal(v, back)) {
            fprintf(stderr, "fuzz_value: JSON round trip changed the value: %s\n", text);
            abort();
        }
        bay_value_free(back);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bay_value *v = NULL;
    char err[256];
    if (bay_value_unpack(data, size, &v, err, sizeof err) != 0)
        return 0;
    check_msgpack(v);
    check_copy(v);
    check_json(v);
    bay_value_free(v);
    return 0;
}
