/* tests/fuzz/make_corpus.c — writes the fuzzers' seed corpora (corpus/frame/, corpus/value/) with
 * the protocol's own encoders: a frame of every type and values of every kind.
 *
 * Usage: make_corpus DIR   (writes DIR/frame/<name> and DIR/value/<name>; both folders must exist).
 * The committed corpus was made with `make_corpus tests/fuzz/corpus`; rerun it after a layout change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plugbay/value.h>

#include "frame.h"

static const char *out_dir;

_Noreturn static void die(const char *what, const char *name)
{
    fprintf(stderr, "make_corpus: %s: %s\n", what, name);
    exit(1);
}

static void write_file(const char *kind, const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, kind, name);
    FILE *fp = fopen(path, "wb");
    if (fp == NULL || fwrite(data, 1, len, fp) != len || fclose(fp) != 0)
        die("cannot write", path);
}

/* A fixed byte buffer for bay__frame_encode; seeds are small. */
typedef struct bytes {
    char data[65536];
    size_t len;
} bytes;

static int sink(void *data, const char *buf, size_t len)
{
    bytes *b = data;
    if (len > sizeof b->data - b->len)
        return -1;
    memcpy(b->data + b->len, buf, len);
    b->len += len;
    return 0;
}

/* packed_json packs the value of JSON text into a new buffer (*len bytes) the caller frees. */
static void *packed_json(const char *json, size_t *len)
{
    bay_value *v;
    char err[256];
    void *buf;
    if (bay_value_from_json(json, &v, err, sizeof err) != 0 || bay_value_pack(v, &buf, len) != 0)
        die("bad seed JSON", json);
    bay_value_free(v);
    return buf;
}

static void frame_seed(const char *name, bay__frame f)
{
    static bytes b;
    b.len = 0;
    if (bay__frame_encode(&f, sink, &b) != 0)
        die("cannot encode frame", name);
    write_file("frame", name, b.data, b.len);
}

/* frame_seed_with frames the packed value of JSON text as f's value. */
static void frame_seed_with(const char *name, bay__frame f, const char *json)
{
    f.raw = packed_json(json, &f.raw_len);
    frame_seed(name, f);
    free((void *)f.raw);
}

static void frame_seeds(void)
{
    static const char *const ctx[] = {"fr", "en", NULL};
    static const char *const empty_ctx[] = {"", NULL};
    frame_seed("hello-host", (bay__frame){.type = BAY_F_HELLO, .role = "host", .name = "app", .pid = 4242});
    frame_seed("hello-worker", (bay__frame){.type = BAY_F_HELLO, .role = "worker", .name = "example/hello",
                                           .pid = 77, .token = "9f86d081884c7d65"});
    frame_seed("welcome", (bay__frame){.type = BAY_F_WELCOME, .name = "0.1.0", .session = 3,
                                      .url = "ipc:///tmp/plugbay/s3.sock", .token = "t0k"});
    frame_seed("error", (bay__frame){.type = BAY_F_ERROR, .id = 12, .code = -7, .plugin = "test/crash",
                                    .message = "its worker was killed by signal 11 (SIGSEGV)"});
    frame_seed("declare", (bay__frame){.type = BAY_F_DECLARE, .id = 1, .name = "greet", .kind = "handle"});
    frame_seed("provide", (bay__frame){.type = BAY_F_PROVIDE, .id = 2, .name = "saved", .kind = "event",
                                      .contexts = ctx});
    frame_seed("provide-empty-strings", (bay__frame){.type = BAY_F_PROVIDE, .name = "", .kind = "",
                                                    .contexts = empty_ctx});
    frame_seed_with("call", (bay__frame){.type = BAY_F_CALL, .id = 9, .name = "greet", .timeout_ms = 5000,
                                        .context = "fr"}, "[\"world\"]");
    frame_seed_with("call-nested", (bay__frame){.type = BAY_F_CALL, .id = 4294967296u, .name = "sum",
                                               .timeout_ms = 0},
                    "[[1, -2, 3.5], {\"k\": null, \"\": true}, 9223372036854775807]");
    frame_seed_with("result", (bay__frame){.type = BAY_F_RESULT, .id = 9}, "\"Hello, world!\"");
    frame_seed_with("result-map", (bay__frame){.type = BAY_F_RESULT, .id = 10},
                    "{\"a\": 1, \"b\": [true, false], \"c\": {\"d\": -1e300}}");
    frame_seed("result-nil", (bay__frame){.type = BAY_F_RESULT, .id = 11});
    frame_seed_with("event", (bay__frame){.type = BAY_F_EVENT, .name = "saved", .context = "doc"},
                    "[\"/tmp/a.txt\", 12]");
    frame_seed("cancel", (bay__frame){.type = BAY_F_CANCEL, .id = 9, .code = BAY_ETIMEDOUT});
    frame_seed("heartbeat", (bay__frame){.type = BAY_F_HEARTBEAT, .id = 100, .busy_ms = 250});
    frame_seed_with("command", (bay__frame){.type = BAY_F_COMMAND, .id = 5, .name = "install"},
                    "{\"id\": \"example/hello\", \"grant\": [\"provide:greet\"]}");
    frame_seed("command-nil", (bay__frame){.type = BAY_F_COMMAND, .id = 6, .name = "status"});
    frame_seed("notice", (bay__frame){.type = BAY_F_NOTICE, .what = "state", .name = "greet",
                                     .plugin = "example/hello", .state = "loaded", .message = ""});
    frame_seed("subscribe", (bay__frame){.type = BAY_F_SUBSCRIBE, .id = 3, .on = true});
    frame_seed("log", (bay__frame){.type = BAY_F_LOG, .level = 2, .message = "plugin said hi"});
    frame_seed("withdraw", (bay__frame){.type = BAY_F_WITHDRAW, .id = 8, .name = "greet"});
    frame_seed("version-2", (bay__frame){.type = BAY_F_CANCEL, .version = 2, .id = 5});
}

static void value_seed_json(const char *name, const char *json)
{
    size_t len;
    void *buf = packed_json(json, &len);
    write_file("value", name, buf, len);
    free(buf);
}

static void value_seed_of(const char *name, bay_value *v)
{
    void *buf;
    size_t len;
    if (v == NULL || bay_value_pack(v, &buf, &len) != 0)
        die("cannot pack value", name);
    write_file("value", name, buf, len);
    free(buf);
    bay_value_free(v);
}

static void value_seeds(void)
{
    value_seed_json("nil", "null");
    value_seed_json("bool", "true");
    value_seed_json("ints", "[0, -1, -32, -33, 127, 128, 255, 256, 65535, 65536, -32769, 4294967296,"
                            " -9223372036854775808, 9223372036854775807]");
    value_seed_json("floats", "[0.5, -0.0, 1e300, -1e-300, 0.1]");
    value_seed_json("strings", "[\"\", \"a\", \"h\\u00e9llo \\u2603\", \"a\\u0000b\","
                               " \"0123456789012345678901234567890123456789\"]");
    value_seed_json("map-small", "{\"name\": \"bay\", \"n\": -42, \"\": []}");
    value_seed_json("map-hashed", "{\"k0\": 0, \"k1\": 1, \"k2\": 2, \"k3\": 3, \"k4\": 4, \"k5\": 5,"
                                  " \"k6\": 6, \"k7\": 7, \"k8\": 8, \"k9\": 9, \"k10\": 10, \"k11\": 11}");
    value_seed_json("nested", "[[[[[[[[{\"deep\": [[[[1]]]]}]]]]]]]]");
    value_seed_json("tree", "{\"list\": [1, 0.5, true, null, {}], \"empty\": [], \"m\": {\"x\": {\"y\": \"z\"}}}");
    bay_value *blob = bay_map();
    bay_map_set(blob, "blob", bay_bin("\0\xff\0", 3));
    bay_map_set(blob, "empty", bay_bin("", 0));
    value_seed_of("binaries", blob);
    write_file("value", "float32", "\xca\x3f\x00\x00\x00", 5);
    write_file("value", "str8-empty", "\xd9\x00", 2);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus DIR   (writes DIR/frame/* and DIR/value/*)\n");
        return 2;
    }
    out_dir = argv[1];
    frame_seeds();
    value_seeds();
    return 0;
}
