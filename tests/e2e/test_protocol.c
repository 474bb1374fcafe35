/* tests/e2e/test_protocol.c — bad frames and version mismatches get ERROR frames; connections keep working. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "harness.h"
#include "wire.h"

static harness h;
static nng_socket s;

static void start(void)
{
    const char *ids[] = {"example/hello", NULL};
    h_setup(&h, ids);
    h_start_loaded(&h, NULL, ids);
    char *url, *token;
    bay_error err;
    cr_assert_eq(bay__wire_rendezvous(h.url, "host", "raw", 5000, &url, &token, &err), 0, "%s", err.message);
    cr_assert_eq(bay__wire_connect(url, "host", "raw", token, 5000, &s, NULL, &err), 0, "%s", err.message);
    free(url);
    free(token);
}

static void stop(void)
{
    nng_close(s);
    h_cleanup(&h);
}

TestSuite(protocol, .init = start, .fini = stop, .timeout = 60);

static void send_raw(nng_socket sock, const void *bytes, size_t len)
{
    cr_assert_eq(nng_send(sock, (void *)bytes, len, 0), 0);
}

/* expect_error receives the next frame on sock: an ERROR answering id with code and a message containing needle. */
static void expect_error(nng_socket sock, uint64_t id, int code, const char *needle)
{
    nng_msg *m;
    bay__frame f;
    bay_error err;
    cr_assert_eq(bay__wire_recv(sock, 5000, &m, &f, &err), 0, "%s", err.message);
    cr_assert_eq(f.type, BAY_F_ERROR, "got %s", bay__frame_type_name(f.type));
    cr_assert_eq(f.id, id);
    cr_assert_eq(f.code, code, "got %s: %s", bay_errname((int)f.code), f.message);
    cr_assert(strstr(f.message, needle), "message \"%s\" lacks \"%s\"", f.message, needle);
    bay__frame_release(&f);
    nng_msg_free(m);
}

/* expect_frame receives the next frame on s, which must be of type; the caller releases f and frees *m. */
static void expect_frame(int type, bay__frame *f, nng_msg **m)
{
    bay_error err;
    cr_assert_eq(bay__wire_recv(s, 5000, m, f, &err), 0, "%s", err.message);
    cr_assert_eq(f->type, type, "got %s: %s", bay__frame_type_name(f->type), f->message ? f->message : "");
}

/* still_works makes a real call on the same connection after the bad frame. */
static void still_works(void)
{
    static const unsigned char call[] = {0x97, 0x01, 0x06, 0x09, 0xa5, 'g', 'r', 'e', 'e', 't',
                                         0x91, 0xa1, 'x',  0xcd, 0x13, 0x88, 0xc0};
    send_raw(s, call, sizeof call);
    nng_msg *m;
    bay__frame f;
    expect_frame(BAY_F_RESULT, &f, &m);
    cr_assert_eq(f.id, 9);
    cr_assert_eq(f.value->type, MSGPACK_OBJECT_STR);
    cr_assert_eq(memcmp(f.value->via.str.ptr, "Hello, x!", 9), 0);
    bay__frame_release(&f);
    nng_msg_free(m);
}

Test(protocol, truncated_frame_gets_an_error_and_the_connection_keeps_working)
{
    static const unsigned char call[] = {0x97, 0x01, 0x06, 0x07, 0xa5, 'g', 'r', 'e', 'e', 't', 0x91, 0xa1};
    send_raw(s, call, sizeof call);
    expect_error(s, 0, BAY_EPROTO, "truncated");
    still_works();
}

Test(protocol, wrong_field_type_is_named)
{
    /* CALL whose name (field 3) is the integer 42. */
    static const unsigned char call[] = {0x97, 0x01, 0x06, 0x07, 0x2a, 0x90, 0xcd, 0x03, 0xe8, 0xc0};
    send_raw(s, call, sizeof call);
    expect_error(s, 7, BAY_EPROTO, "field 3 (name) must be a string");
    still_works();
}

Test(protocol, unknown_frame_type_is_refused)
{
    static const unsigned char frame[] = {0x93, 0x01, 0x63, 0x05};
    send_raw(s, frame, sizeof frame);
    expect_error(s, 5, BAY_EPROTO, "unknown frame type 99");
    still_works();
}

Test(protocol, bytes_that_are_not_msgpack_are_refused)
{
    static const unsigned char junk[] = {0xc1, 0xc1, 0xc1};
    send_raw(s, junk, sizeof junk);
    expect_error(s, 0, BAY_EPROTO, "not valid msgpack");
    still_works();
}

Test(protocol, wrong_argument_container_is_refused)
{
    /* CALL whose args (field 4) is a string instead of an array. */
    static const unsigned char call[] = {0x97, 0x01, 0x06, 0x08, 0xa5, 'g', 'r', 'e', 'e', 't',
                                         0xa1, 'x',  0xcd, 0x03, 0xe8, 0xc0};
    send_raw(s, call, sizeof call);
    expect_error(s, 8, BAY_EPROTO, "(value) must be an array");
    still_works();
}

Test(protocol, version_mismatch_names_both_versions)
{
    nng_socket req;
    cr_assert_eq(nng_req0_open(&req), 0);
    cr_assert_eq(nng_dial(req, h.url, NULL, 0), 0);
    /* HELLO in protocol version 2. */
    static const unsigned char hello[] = {0x97, 0x02, 0x01, 0x03, 0xa4, 'h', 'o', 's', 't',
                                          0xa1, 'v',  0x01, 0xc0};
    send_raw(req, hello, sizeof hello);
    nng_msg *m;
    cr_assert_eq(nng_recvmsg(req, &m, 0), 0);
    bay__frame f;
    bay_error err;
    cr_assert_eq(bay__frame_decode(nng_msg_body(m), nng_msg_len(m), &f, &err), 0, "%s", err.message);
    cr_assert_eq(f.type, BAY_F_ERROR);
    cr_assert_eq(f.code, BAY_EVERSION);
    cr_assert(strstr(f.message, "version 2") && strstr(f.message, "version 1"), "message: %s", f.message);
    bay__frame_release(&f);
    nng_msg_free(m);
    nng_close(req);
    /* Everyone else is unaffected. */
    bay_conn *c = h_connect(&h, "after-mismatch");
    char out[64];
    cr_assert_eq(h_call_str(c, "greet", "v1", 5000, out, sizeof out, NULL), 0);
    bay_close(c);
    still_works();
}

Test(protocol, a_host_name_cannot_forge_lines_of_the_log)
{
    bay_conn *c = NULL;
    bay_error err;
    cr_assert_eq(bay_connect(h.url, "named\nFORGED [example/hello] loaded", &c, &err), 0, "%s", err.message);
    bay_close(c);
    cr_assert(h_wait_log(&h, "[host:named?FORGED [example/hello] loaded] connected"));
    FILE *f = fopen(h.log, "r");
    cr_assert(f);
    char line[4096];
    while (fgets(line, sizeof line, f))
        cr_assert(strncmp(line, "FORGED", 6) != 0, "a host's name started a line of the log");
    fclose(f);
    still_works();
}

/* A name plugbayd could only keep cut (and a key's proof would then not match) is refused at the door. */
Test(protocol, a_host_name_too_long_is_refused_clearly)
{
    char name[200];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    bay_conn *c = NULL;
    bay_error err;
    int rc = bay_connect(h.url, name, &c, &err);
    cr_assert_eq(rc, BAY_EINVAL, "got %s: %s", bay_errname(rc), err.message);
    cr_expect(strstr(err.message, "a host's name is at most 122 bytes; this one has 199"), "%s", err.message);
    name[122] = '\0';
    cr_assert_eq(bay_connect(h.url, name, &c, &err), 0, "122 bytes are fine: %s", err.message);
    bay_close(c);
    still_works();
}

/* One user may have --max-connections host connections open; the next is refused saying so, and once one
 * closes another may open. */
Test(protocol, a_user_past_its_connections_is_refused_until_one_closes)
{
    h_stop(&h);
    h_start_loaded(&h, (const char *[]){"--max-connections", "3", NULL}, (const char *[]){"example/hello", NULL});
    bay_conn *open[3];
    for (int i = 0; i < 3; i++)
        open[i] = h_connect(&h, "many");
    bay_conn *more = NULL;
    bay_error err;
    int rc = bay_connect(h.url, "one-more", &more, &err);
    cr_assert_eq(rc, BAY_EBUSY, "got %s: %s", bay_errname(rc), err.message);
    cr_expect(strstr(err.message, "connections open to plugbayd, the most one user may (plugbayd --max-connections); "
                                  "close some before opening more"),
              "%s", err.message);
    char out[64];
    cr_assert_eq(h_call_str(open[1], "greet", "still", 5000, out, sizeof out, &err), 0, "%s", err.message);
    bay_close(open[0]);
    cr_assert_eq(bay_connect(h.url, "one-more", &more, &err), 0, "after one closed: %s", err.message);
    bay_close(more);
    bay_close(open[1]);
    bay_close(open[2]);
}

Test(protocol, a_host_that_said_bye_is_let_go_and_others_are_served)
{
    static const unsigned char bye[] = {0x95, 0x01, 0x0b, 0x05, 0xa3, 'b', 'y', 'e', 0xc0};
    send_raw(s, bye, sizeof bye);
    nng_msg *m;
    bay__frame f;
    bay_error err;
    expect_frame(BAY_F_RESULT, &f, &m);
    cr_assert_eq(f.id, 5);
    bay__frame_release(&f);
    nng_msg_free(m);
    cr_assert(h_wait_log(&h, "[host:raw] disconnected"));
    /* What it sends after its goodbye is dropped unanswered. */
    static const unsigned char call[] = {0x97, 0x01, 0x06, 0x09, 0xa5, 'g', 'r', 'e', 'e', 't',
                                         0x91, 0xa1, 'x',  0xcd, 0x13, 0x88, 0xc0};
    send_raw(s, call, sizeof call);
    cr_assert_neq(bay__wire_recv(s, 1000, &m, &f, &err), 0, "a frame after bye was answered");
    bay_conn *c = h_connect(&h, "after-bye");
    char out[64];
    cr_assert_eq(h_call_str(c, "greet", "still", 5000, out, sizeof out, NULL), 0);
    cr_assert_str_eq(out, "Hello, still!");
    bay_close(c);
}

/* expect_command_error runs command with args (JSON, or NULL) on c and checks the error it gets. */
static void expect_command_error(bay_conn *c, const char *command, const char *args_json, int code, const char *needle)
{
    bay_value *args = NULL, *out = NULL;
    char why[256];
    if (args_json)
        cr_assert_eq(bay_value_from_json(args_json, &args, why, sizeof why), 0, "%s", why);
    bay_error err;
    int rc = bay_command(c, command, args, 5000, &out, &err);
    cr_assert_eq(rc, code, "%s %s: got %s: %s", command, args_json ? args_json : "", bay_errname(rc), err.message);
    cr_assert(strstr(err.message, needle), "message \"%s\" lacks \"%s\"", err.message, needle);
    cr_assert_null(out);
    bay_value_free(args);
}

Test(protocol, a_command_plugbayd_does_not_know_or_misses_its_plugin_is_refused_clearly)
{
    bay_conn *c = h_connect(&h, "commands");
    expect_command_error(c, "frobnicate", NULL, BAY_ENOENT,
                         "unknown command \"frobnicate\" (commands: list, info, install, package.put, install.package, update.package, rollback, uninstall, enable, disable, "
                         "grant, load, unload, reload, status, declare, host.add, host.list, host.remove, audit, logs, order, rescan");
    expect_command_error(c, "load", NULL, BAY_EINVAL, "command \"load\" needs {\"id\": PLUGIN-ID}");
    expect_command_error(c, "info", "{\"id\": 7}", BAY_EINVAL, "command \"info\" needs {\"id\": PLUGIN-ID}");
    expect_command_error(c, "unload", "{\"id\": \"nope/nope\"}", BAY_ENOENT, "no plugin \"nope/nope\" in ");
    expect_command_error(c, "grant", "[1, 2]", BAY_EINVAL, "bay_command(\"grant\"): args must be of type map");
    char out[64];
    cr_assert_eq(h_call_str(c, "greet", "after", 5000, out, sizeof out, NULL), 0);
    cr_assert_str_eq(out, "Hello, after!");
    bay_close(c);
    still_works();
}

/* A host that serves a call and answers it with a frame that does not decode:
 * the caller gets a clear error naming the host, both connections go on. */
Test(protocol, a_malformed_answer_from_a_host_fails_the_call_it_answers_and_nothing_else)
{
    static const unsigned char provide[] = {0x96, 0x01, 0x05, 0x14, 0xa8, 'r', 'a', 'w', '.', 'e', 'c', 'h', 'o',
                                            0xa6, 'h',  'a',  'n',  'd',  'l',  'e', 0xc0};
    send_raw(s, provide, sizeof provide);
    nng_msg *m;
    bay__frame f;
    expect_frame(BAY_F_RESULT, &f, &m); /* PROVIDE taken */
    bay__frame_release(&f);
    nng_msg_free(m);

    bay_conn *c = h_connect(&h, "caller");
    bay_value *args = bay_array();
    bay_pending *p;
    bay_error err;
    cr_assert_eq(bay_call_async(c, "raw.echo", args, NULL, &p, &err), 0, "%s", err.message);
    expect_frame(BAY_F_CALL, &f, &m);
    uint64_t id = f.id;
    bay__frame_release(&f);
    nng_msg_free(m);

    msgpack_sbuffer sb; /* RESULT [1, 7, id] without its value */
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_int(&pk, BAY_F_RESULT);
    msgpack_pack_uint64(&pk, id);
    send_raw(s, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);

    bay_value *res = NULL;
    int rc = bay_pending_wait(p, 5000, &res, &err);
    cr_assert_eq(rc, BAY_EPROTO, "got %s: %s", bay_errname(rc), err.message);
    cr_assert(strstr(err.message, "host:raw sent a malformed answer: RESULT frame: expected 1 fields after the id"),
              "%s", err.message);
    cr_assert_null(res);
    bay_pending_free(p);
    bay_value_free(args);
    char out[64];
    cr_assert_eq(h_call_str(c, "greet", "caller", 5000, out, sizeof out, NULL), 0);
    cr_assert_str_eq(out, "Hello, caller!");
    bay_close(c);
    still_works();
}

Test(protocol, auth_over_ipc_is_refused_clearly_as_the_user_decides_there)
{
    bay_value *args = bay_map();
    unsigned char zero[64] = {0};
    bay_map_set(args, "key", bay_bin(zero, 32));
    bay_map_set(args, "signature", bay_bin(zero, 64));
    void *packed = NULL;
    size_t len = 0;
    cr_assert_eq(bay_value_pack(args, &packed, &len), 0);
    bay_value_free(args);
    bay__frame f = {.type = BAY_F_COMMAND, .id = 5, .name = "auth", .raw = packed, .raw_len = len};
    cr_assert_eq(bay__wire_send(s, &f, 0), 0);
    free(packed);
    expect_error(s, 5, BAY_EINVAL, "over ipc:// plugbayd knows a host by its user (uid ");
    still_works();
}
