/* tests/unit/test_frame.c — frame encoding, decoding and validation. */
#include <criterion/criterion.h>
#include <string.h>

#include <plugbay/error.h>

#include "frame.h"

typedef struct buf {
    char data[4096];
    size_t len;
} buf;

static int sink(void *data, const char *bytes, size_t len)
{
    buf *b = data;
    cr_assert_not_null(bytes, "a sink is never handed a NULL buffer (%zu bytes)", len);
    if (b->len + len > sizeof b->data)
        return -1;
    memcpy(b->data + b->len, bytes, len);
    b->len += len;
    return 0;
}

static void encode(const bay__frame *f, buf *out)
{
    out->len = 0;
    cr_assert_eq(bay__frame_encode(f, sink, out), 0);
}

Test(frame, call_round_trips)
{
    const unsigned char args[] = {0x92, 0x01, 0xa1, 'x'}; /* [1, "x"] */
    bay__frame f = {.type = BAY_F_CALL, .id = 42, .name = "greet", .raw = args, .raw_len = sizeof args,
                   .timeout_ms = 1500, .context = "fr"};
    buf b;
    encode(&f, &b);
    bay__frame d;
    bay_error err;
    cr_assert_eq(bay__frame_decode(b.data, b.len, &d, &err), 0, "%s", err.message);
    cr_assert_eq(d.type, BAY_F_CALL);
    cr_assert_eq(d.id, 42);
    cr_assert_str_eq(d.name, "greet");
    cr_assert_str_eq(d.context, "fr");
    cr_assert_eq(d.timeout_ms, 1500);
    cr_assert_eq(d.value->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(d.value->via.array.size, 2);
    bay__frame_release(&d);
}

Test(frame, a_call_carries_its_window_and_input_only_when_it_streams)
{
    bay__frame f = {.type = BAY_F_CALL, .id = 1, .name = "n", .timeout_ms = 10};
    buf b;
    encode(&f, &b);
    cr_assert_eq((unsigned char)b.data[0], 0x97, "a plain CALL keeps its 4 fields after the id");
    bay__frame d;
    bay_error err;
    cr_assert_eq(bay__frame_decode(b.data, b.len, &d, &err), 0, "%s", err.message);
    cr_assert_eq(d.window, 0);
    bay__frame_release(&d);
    f.window = 64;
    encode(&f, &b);
    cr_assert_eq((unsigned char)b.data[0], 0x98, "a stream's CALL has its window as a fifth");
    cr_assert_eq(bay__frame_decode(b.data, b.len, &d, &err), 0, "%s", err.message);
    cr_assert_eq(d.window, 64);
    bay__frame_release(&d);
    const unsigned char bad_window[] = {0x98, 0x01, 0x06, 0x00, 0xa1, 'g', 0x90, 0x0a, 0xc0, 0xa1, 'x'};
    cr_assert_eq(bay__frame_decode(bad_window, sizeof bad_window, &d, &err), BAY_EPROTO);
    cr_assert(strstr(err.message, "field 7 (window) must be an integer"), "%s", err.message);
    const unsigned char too_many[] = {0x9a, 0x01, 0x06, 0x00, 0xa1, 'g', 0x90, 0x0a, 0xc0, 0x01, 0x01, 0x01};
    cr_assert_eq(bay__frame_decode(too_many, sizeof too_many, &d, &err), BAY_EPROTO);
    cr_assert(strstr(err.message, "expected 4 to 6 fields after the id, got 7"), "%s", err.message);
    f.window = 0;
    f.input = 1;
    encode(&f, &b);
    cr_assert_eq((unsigned char)b.data[0], 0x99, "a call with input has both tail fields, the window 0");
    cr_assert_eq(bay__frame_decode(b.data, b.len, &d, &err), 0, "%s", err.message);
    cr_assert(d.window == 0 && d.input == 1);
    bay__frame_release(&d);
    bay__frame credit = {.type = BAY_F_CREDIT, .id = 3, .count = 0};
    encode(&credit, &b);
    cr_assert_eq(bay__frame_decode(b.data, b.len, &d, &err), 0, "a CREDIT's count is a required field, 0 too");
    cr_assert_eq(d.count, 0);
    bay__frame_release(&d);
}

Test(frame, every_type_round_trips_with_its_fields)
{
    const char *ctx[] = {"a", "b", NULL};
    bay__frame frames[] = {
        {.type = BAY_F_HELLO, .role = "host", .name = "n", .pid = 7, .token = NULL},
        {.type = BAY_F_WELCOME, .name = "0.1.0", .session = 3, .url = "ipc:///x", .token = "t"},
        {.type = BAY_F_ERROR, .code = 7, .plugin = "p/q", .message = "m"},
        {.type = BAY_F_DECLARE, .name = "e", .kind = "event"},
        {.type = BAY_F_PROVIDE, .name = "e", .kind = "handle", .contexts = ctx},
        {.type = BAY_F_RESULT},
        {.type = BAY_F_EVENT, .name = "e"},
        {.type = BAY_F_CANCEL, .id = 9},
        {.type = BAY_F_HEARTBEAT, .id = 4, .busy_ms = 12},
        {.type = BAY_F_COMMAND, .name = "list"},
        {.type = BAY_F_NOTICE, .what = "w", .name = "n", .plugin = "p", .state = "s", .message = "r"},
        {.type = BAY_F_SUBSCRIBE, .on = true},
        {.type = BAY_F_LOG, .level = 2, .message = "hi"},
        {.type = BAY_F_WITHDRAW, .name = "e"},
        {.type = BAY_F_CHUNK, .id = 5},
        {.type = BAY_F_CREDIT, .id = 5, .count = 32},
        {.type = BAY_F_END, .id = 5},
    };
    for (size_t i = 0; i < sizeof frames / sizeof *frames; i++) {
        buf b;
        encode(&frames[i], &b);
        bay__frame d;
        bay_error err;
        cr_assert_eq(bay__frame_decode(b.data, b.len, &d, &err), 0, "%s: %s",
                     bay__frame_type_name(frames[i].type), err.message);
        cr_assert_eq(d.type, frames[i].type);
        cr_assert_eq(d.id, frames[i].id);
        bay__frame_release(&d);
    }
    bay__frame d;
    buf b;
    encode(&frames[4], &b);
    cr_assert_eq(bay__frame_decode(b.data, b.len, &d, NULL), 0);
    cr_assert_str_eq(d.contexts[0], "a");
    cr_assert_str_eq(d.contexts[1], "b");
    cr_assert_null(d.contexts[2]);
    bay__frame_release(&d);
    encode(&frames[11], &b);
    cr_assert_eq(bay__frame_decode(b.data, b.len, &d, NULL), 0);
    cr_assert(d.on);
    bay__frame_release(&d);
}

Test(frame, every_truncation_is_refused_without_crashing)
{
    bay__frame f = {.type = BAY_F_NOTICE, .what = "provider-added", .name = "greet", .plugin = "example/hello",
                   .state = "", .message = ""};
    buf b;
    encode(&f, &b);
    for (size_t n = 0; n < b.len; n++) {
        bay__frame d;
        bay_error err;
        cr_assert_eq(bay__frame_decode(b.data, n, &d, &err), BAY_EPROTO, "prefix of %zu bytes", n);
        cr_assert(strstr(err.message, "truncated") || strstr(err.message, "malformed"), "prefix %zu: %s", n,
                  err.message);
    }
}

static int decode_bytes(const unsigned char *bytes, size_t len, bay_error *err)
{
    bay__frame d;
    int rc = bay__frame_decode(bytes, len, &d, err);
    if (rc == 0)
        bay__frame_release(&d);
    return rc;
}

Test(frame, wrong_field_types_are_named)
{
    bay_error err;
    const unsigned char name_int[] = {0x97, 0x01, 0x06, 0x07, 0x2a, 0x90, 0x01, 0xc0};
    cr_assert_eq(decode_bytes(name_int, sizeof name_int, &err), BAY_EPROTO);
    cr_assert(strstr(err.message, "CALL frame: field 3 (name) must be a string"), "%s", err.message);
    const unsigned char args_str[] = {0x97, 0x01, 0x06, 0x07, 0xa1, 'g', 0xa1, 'x', 0x01, 0xc0};
    cr_assert_eq(decode_bytes(args_str, sizeof args_str, &err), BAY_EPROTO);
    cr_assert(strstr(err.message, "(value) must be an array, got str"), "%s", err.message);
    const unsigned char nul_in_name[] = {0x97, 0x01, 0x06, 0x07, 0xa3, 'a', 0, 'b', 0x90, 0x01, 0xc0};
    cr_assert_eq(decode_bytes(nul_in_name, sizeof nul_in_name, &err), BAY_EPROTO);
    cr_assert(strstr(err.message, "without NUL"), "%s", err.message);
    const unsigned char big_timeout[] = {0x97, 0x01, 0x06, 0x07, 0xa1, 'g', 0x90,
                                         0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc0};
    cr_assert_eq(decode_bytes(big_timeout, sizeof big_timeout, &err), BAY_EPROTO);
    cr_assert(strstr(err.message, "within int64"), "%s", err.message);
}

Test(frame, structural_errors_are_explained)
{
    bay_error err;
    const unsigned char not_array[] = {0xa3, 'a', 'b', 'c'};
    cr_assert_eq(decode_bytes(not_array, sizeof not_array, &err), BAY_EPROTO);
    cr_assert(strstr(err.message, "expected an array"), "%s", err.message);
    const unsigned char unknown[] = {0x93, 0x01, 0x63, 0x00};
    cr_assert_eq(decode_bytes(unknown, sizeof unknown, &err), BAY_EPROTO);
    cr_assert(strstr(err.message, "unknown frame type 99"), "%s", err.message);
    const unsigned char short_call[] = {0x94, 0x01, 0x06, 0x00, 0xa1, 'g'};
    cr_assert_eq(decode_bytes(short_call, sizeof short_call, &err), BAY_EPROTO);
    cr_assert(strstr(err.message, "expected 4 to 6 fields after the id, got 1"), "%s", err.message);
    const unsigned char trailing[] = {0x93, 0x01, 0x09, 0x00, 0xc0};
    cr_assert_eq(decode_bytes(trailing, sizeof trailing, &err), BAY_EPROTO);
    cr_assert(strstr(err.message, "1 trailing bytes"), "%s", err.message);
    const unsigned char negative_id[] = {0x93, 0x01, 0x09, 0xff};
    cr_assert_eq(decode_bytes(negative_id, sizeof negative_id, &err), BAY_EPROTO);
    cr_assert(strstr(err.message, "id must be a non-negative integer"), "%s", err.message);
}

Test(frame, other_version_is_reported_with_both_numbers)
{
    const unsigned char v2[] = {0x93, 0x02, 0x09, 0x05};
    bay__frame d;
    bay_error err;
    cr_assert_eq(bay__frame_decode(v2, sizeof v2, &d, &err), BAY_EVERSION);
    cr_assert_eq(d.version, 2);
    cr_assert_eq(d.id, 5, "the id is kept so the sender can be answered");
    cr_assert(strstr(err.message, "version 2") && strstr(err.message, "version 1"), "%s", err.message);
}

Test(frame, encoding_refuses_a_missing_required_string)
{
    bay__frame f = {.type = BAY_F_CALL, .id = 1, .name = NULL};
    buf b = {.len = 0};
    cr_assert_eq(bay__frame_encode(&f, sink, &b), BAY_EINVAL);
    bay__frame unknown = {.type = 99};
    cr_assert_eq(bay__frame_encode(&unknown, sink, &b), BAY_EINVAL);
}

Test(frame, counts_larger_than_the_frame_are_refused_before_allocating)
{
    bay_error err;
    /* [1, 9, 0, array32 claiming 4294967295 items] in 8 bytes. */
    const unsigned char lie[] = {0x94, 0x01, 0x09, 0x00, 0xdd, 0xff, 0xff, 0xff, 0xff};
    cr_assert_eq(decode_bytes(lie, sizeof lie, &err), BAY_EPROTO);
    cr_assert(strstr(err.message, "declares more items"), "%s", err.message);
    const unsigned char map_lie[] = {0x94, 0x01, 0x07, 0x00, 0xdf, 0x10, 0x00, 0x00, 0x00};
    cr_assert_eq(decode_bytes(map_lie, sizeof map_lie, &err), BAY_EPROTO);
    cr_assert(strstr(err.message, "declares more items"), "%s", err.message);
}

Test(frame, empty_strings_decode_as_empty_strings)
{
    /* [1, PROVIDE, 7, "", "handle", [""]]: msgpack-c hands an empty string over as (NULL, 0). */
    const unsigned char provide[] = {0x96, 0x01, 0x05, 0x07, 0xa0, 0xa6, 'h', 'a', 'n', 'd', 'l', 'e', 0x91, 0xa0};
    bay__frame d;
    bay_error err;
    cr_assert_eq(bay__frame_decode(provide, sizeof provide, &d, &err), 0, "%s", err.message);
    cr_assert_eq(d.type, BAY_F_PROVIDE);
    cr_assert_eq(d.id, 7);
    cr_assert_not_null(d.name);
    cr_assert_str_eq(d.name, "");
    cr_assert_str_eq(d.kind, "handle");
    cr_assert_not_null(d.contexts);
    cr_assert_str_eq(d.contexts[0], "");
    cr_assert_null(d.contexts[1]);
    bay__frame_release(&d);
    /* [1, HELLO, 0, "", "", 0, ""] with the 8-bit length form str8 of length 0 */
    const unsigned char hello[] = {0x97, 0x01, 0x01, 0x00, 0xa0, 0xd9, 0x00, 0x00, 0xa0};
    cr_assert_eq(bay__frame_decode(hello, sizeof hello, &d, &err), 0, "%s", err.message);
    cr_assert_str_eq(d.role, "");
    cr_assert_str_eq(d.name, "");
    cr_assert_not_null(d.token, "an empty token is not nil");
    cr_assert_str_eq(d.token, "");
    bay__frame_release(&d);
}

Test(frame, decoded_frame_with_empty_strings_encodes_to_the_same_bytes)
{
    /* [1, RESULT, 3, ["", bin(0), {"": ""}]]: each empty body is (NULL, 0) for msgpack-c's packer. */
    const unsigned char result[] = {0x94, 0x01, 0x07, 0x03, 0x93, 0xa0, 0xc4, 0x00, 0x81, 0xa0, 0xa0};
    bay__frame d;
    bay_error err;
    cr_assert_eq(bay__frame_decode(result, sizeof result, &d, &err), 0, "%s", err.message);
    buf b;
    encode(&d, &b);
    cr_assert_eq(b.len, sizeof result);
    cr_assert_eq(memcmp(b.data, result, sizeof result), 0);
    bay__frame_release(&d);
}
