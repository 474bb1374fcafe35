/* tests/fuzz/fuzz_frame.c — libFuzzer target for the frame decoder: bay__frame_decode, then the
 * frame's value through bay__value_from_object, then bay__frame_encode of what decoded.
 *
 * A frame that decodes must encode, and its encoding must decode and encode again to the
 * same bytes (the encoder writes one canonical form). Anything else aborts: a finding. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "value_convert.h"

/* A growing byte buffer the encoder writes into. */
typedef struct bytes {
    char *data;
    size_t len, cap;
} bytes;

_Noreturn static void fail(const char *what)
{
    fprintf(stderr, "fuzz_frame: %s\n", what);
    abort();
}

static int sink(void *data, const char *buf, size_t len)
{
    bytes *b = data;
    if (buf == NULL)
        fail("bay__frame_encode handed its sink a NULL buffer");
    if (b->cap - b->len < len) {
        size_t cap = b->cap * 2 + len;
        char *p = realloc(b->data, cap);
        if (p == NULL)
            return -1;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, buf, len);
    b->len += len;
    return 0;
}

/* encode packs f into b, which starts empty; a decoded frame must always encode. */
static void encode(const bay__frame *f, bytes *b)
{
    *b = (bytes){0};
    if (bay__frame_encode(f, sink, b) != 0)
        fail("a decoded frame does not encode");
}

/* convert_value turns the frame's value into a bay_value as the broker and workers do. */
static void convert_value(const bay__frame *f)
{
    if (f->value == NULL)
        return;
    bay_value *v = NULL;
    bay_error err;
    if (bay__value_from_object(f->value, &v, &err) == 0)
        bay_value_free(v);
}

/* check_fixpoint decodes the encoding of a frame and expects the same bytes from encoding it again. */
static void check_fixpoint(const bytes *first)
{
    bay__frame again;
    bay_error err;
    if (bay__frame_decode(first->data, first->len, &again, &err) != 0) {
        fprintf(stderr, "fuzz_frame: re-encoded frame refused: %s\n", err.message);
        abort();
    }
    bytes second;
    encode(&again, &second);
    if (second.len != first->len || memcmp(second.data, first->data, first->len) != 0)
        fail("encoding a decoded encoding changed the bytes");
    free(second.data);
    bay__frame_release(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bay__frame f;
    bay_error err;
    int rc = bay__frame_decode(data, size, &f, &err);
    if (rc == 0) {
        convert_value(&f);
        bytes first;
        encode(&f, &first);
        check_fixpoint(&first);
        free(first.data);
    }
    bay__frame_release(&f);
    return 0;
}
