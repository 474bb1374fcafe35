/* tests/unit/test_auth.c — a remote host's proof of its key (broker/auth.c): whose key, and whether it fits this connection. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plugbay/value.h>

#include "auth.h"
#include "key.h"

static char root[32], dir[64];
static bay__state *st;
static unsigned char pk[BAY_KEY_PUBLIC_BYTES], sk[BAY_KEY_SECRET_BYTES];

static int remove_one(const char *path, const struct stat *s, int flag, struct FTW *ftw)
{
    (void)s, (void)flag, (void)ftw;
    return remove(path);
}

/* setup opens a state folder holding host "app", whose key is pk, as an observer. */
static void setup(void)
{
    bay_error err;
    cr_assert_eq(bay__key_init(&err), 0);
    snprintf(root, sizeof root, "/tmp/bay-auth-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    snprintf(dir, sizeof dir, "%s/state", root);
    cr_assert_eq(bay__state_open(dir, &st, &err), 0, "%s", err.message);
    crypto_sign_keypair(pk, sk);
    cr_assert_eq(bay__state_host_add_key(st, "app", pk, BAY_ROLE_OBSERVER, NULL, &err), 0, "%s", err.message);
}

static void teardown(void)
{
    bay__state_close(st);
    nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(auth, .init = setup, .fini = teardown);

/* A decoded COMMAND auth frame and the buffer it lives in. */
typedef struct auth_frame {
    msgpack_sbuffer buf;
    bay__frame f;
} auth_frame;

static int sink(void *data, const char *bytes, size_t len)
{
    return msgpack_sbuffer_write(data, bytes, len);
}

/* make builds COMMAND auth with args (a bay_value map, freed) and decodes it into a. */
static void make(auth_frame *a, bay_value *args)
{
    void *raw = NULL;
    size_t len = 0;
    cr_assert_eq(bay_value_pack(args, &raw, &len), 0);
    bay_value_free(args);
    msgpack_sbuffer_init(&a->buf);
    bay__frame f = {.type = BAY_F_COMMAND, .id = 1, .name = "auth", .raw = raw, .raw_len = len};
    cr_assert_eq(bay__frame_encode(&f, sink, &a->buf), 0);
    free(raw);
    bay_error err;
    cr_assert_eq(bay__frame_decode(a->buf.data, a->buf.size, &a->f, &err), 0, "%s", err.message);
}

static void drop(auth_frame *a)
{
    bay__frame_release(&a->f);
    msgpack_sbuffer_destroy(&a->buf);
}

/* signed_by makes the args of key's proof (signed with secret) of token and name. */
static bay_value *signed_by(const unsigned char *key, const unsigned char *secret, const char *token, const char *name)
{
    unsigned char sig[BAY_KEY_SIGNATURE_BYTES];
    bay__key_sign_auth(secret, token, name, sig);
    bay_value *v = bay_map();
    bay_map_set(v, "key", bay_bin(key, BAY_KEY_PUBLIC_BYTES));
    bay_map_set(v, "signature", bay_bin(sig, sizeof sig));
    return v;
}

/* check runs auth_check on a and expects code, with text in the message when it fails. */
static const bay__state_host *check(auth_frame *a, const char *token, const char *name, int code, const char *text)
{
    const bay__state_host *h = NULL;
    bay_error err = {0};
    int rc = auth_check(st, token, name, &a->f, &h, &err);
    cr_assert_eq(rc, code, "got %s: %s", bay_errname(rc), err.message);
    if (text)
        cr_assert(strstr(err.message, text), "%s", err.message);
    drop(a);
    return h;
}

Test(auth, a_listed_key_signing_this_connection_is_its_host)
{
    auth_frame a;
    make(&a, signed_by(pk, sk, "token-1", "app-on-ci"));
    const bay__state_host *h = check(&a, "token-1", "app-on-ci", 0, NULL);
    cr_assert_not_null(h);
    cr_expect_str_eq(h->name, "app");
    cr_expect_eq(h->role, BAY_ROLE_OBSERVER);
}

/* refused expects key's proof, signed with secret for signed_token, to be refused BAY_EPERM on the connection
 * of token by host name, saying text. */
static void refused(const unsigned char *key, const unsigned char *secret, const char *signed_token, const char *token,
                    const char *name, const char *text)
{
    auth_frame a;
    make(&a, signed_by(key, secret, signed_token, "app-on-ci"));
    check(&a, token, name, BAY_EPERM, text);
}

Test(auth, a_signature_for_another_connection_or_name_is_a_replay)
{
    refused(pk, sk, "token-1", "token-2", "app-on-ci", "a handshake cannot be replayed");
    refused(pk, sk, "token-1", "token-1", "another-name", "does not prove key");
}

/* A key no host holds is refused saying how to add it; app's key signed with another secret proves nothing. */
Test(auth, an_unknown_key_or_a_listed_key_with_a_strangers_signature_is_refused)
{
    unsigned char pk2[BAY_KEY_PUBLIC_BYTES], sk2[BAY_KEY_SECRET_BYTES];
    crypto_sign_keypair(pk2, sk2);
    refused(pk2, sk2, "token-1", "token-1", "app-on-ci",
            "is no host's key; an admin adds it with `plugbay host add NAME --key");
    refused(pk, sk2, "token-1", "token-1", "app-on-ci", "does not prove key");
}

Test(auth, malformed_args_are_refused_saying_what_auth_needs)
{
    static const char *const bad[] = {
        "{}", "{\"key\": \"not binary\", \"signature\": \"x\"}", "null", /* an array does not decode: a COMMAND takes a map */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bay_value *v = NULL;
        cr_assert_eq(bay_value_from_json(bad[i], &v, NULL, 0), 0, "%s", bad[i]);
        auth_frame a;
        make(&a, v);
        check(&a, "t", "x", BAY_EINVAL, "COMMAND auth needs {\"key\": the 32-byte public key");
    }
    bay_value *v = bay_map(); /* a key one byte short */
    bay_map_set(v, "key", bay_bin(pk, BAY_KEY_PUBLIC_BYTES - 1));
    bay_map_set(v, "signature", bay_bin(sk, BAY_KEY_SIGNATURE_BYTES));
    auth_frame a;
    make(&a, v);
    check(&a, "t", "x", BAY_EINVAL, "32-byte public key");
}
