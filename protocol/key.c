/* protocol/key.c — Ed25519 key files (libsodium): making them, reading them, key ids, and a host's signed handshake. */
#include "key.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "text.h"

#define PUBLIC_TAG BAY_KEY_PUBLIC_TAG
#define SECRET_TAG "plugbay-ed25519-secret"
#define B64 sodium_base64_VARIANT_ORIGINAL
#define AUTH_CONTEXT "plugbay host auth 1" /* signed with its NUL */

int bay__key_init(bay_error *err)
{
    return sodium_init() < 0 ? bay_error_set(err, BAY_EIO, NULL, "libsodium could not initialise (no entropy source?)")
                             : 0;
}

void bay__key_id(const unsigned char pk[BAY_KEY_PUBLIC_BYTES], char key_id[BAY_KEY_ID_SIZE])
{
    unsigned char h[crypto_generichash_BYTES];
    crypto_generichash(h, sizeof h, pk, crypto_sign_PUBLICKEYBYTES, NULL, 0);
    sodium_bin2hex(key_id, BAY_KEY_ID_SIZE, h, (BAY_KEY_ID_SIZE - 1) / 2);
}

void bay__key_to_base64(const unsigned char pk[BAY_KEY_PUBLIC_BYTES], char b64[BAY_KEY_BASE64_SIZE])
{
    sodium_bin2base64(b64, BAY_KEY_BASE64_SIZE, pk, BAY_KEY_PUBLIC_BYTES, B64);
}

bool bay__key_base64_exact(const char *b64, size_t n, unsigned char *bin, size_t size)
{
    size_t got;
    const char *end;
    return sodium_base642bin(bin, size, b64, n, NULL, &got, &end, B64) == 0 && end == b64 + n && got == size;
}

/* key_line parses text, one line "TAG BASE64[ COMMENT][\n]" holding a key of
 * size bytes, into key and (when comment is not NULL) comment. */
static bool key_line(const char *text, const char *tag, unsigned char *key, size_t size, char *comment,
                     size_t clen)
{
    size_t taglen = strlen(tag), len = strlen(text);
    if (len && text[len - 1] == '\n')
        len--;
    if (strncmp(text, tag, taglen) != 0 || text[taglen] != ' ')
        return false;
    const char *b64 = text + taglen + 1;
    size_t n = strcspn(b64, " \n");
    const char *rest = b64 + n, *stop = text + len;
    if (!bay__key_base64_exact(b64, n, key, size) || memchr(b64, '\n', (size_t)(stop - b64)))
        return false;
    if (rest == stop) {
        if (comment)
            comment[0] = '\0';
        return true;
    }
    size_t clen_here = (size_t)(stop - rest - 1);
    if (comment == NULL || clen_here == 0 || clen_here >= clen)
        return false;
    memcpy(comment, rest + 1, clen_here);
    comment[clen_here] = '\0';
    return bay__text_printable(comment);
}

bool bay__key_parse_public(const char *text, unsigned char pk[BAY_KEY_PUBLIC_BYTES], char *comment, size_t clen)
{
    return key_line(text, PUBLIC_TAG, pk, BAY_KEY_PUBLIC_BYTES, comment, clen);
}

/* read_key reads the key file path whole into *text (the caller wipes and frees it), naming what (a secret
 * key, a public key) in the message when it cannot. */
static int read_key(const char *path, const char *what, char **text, size_t *len, struct stat *st, bay_error *err)
{
    int e = bay__file_read_small(AT_FDCWD, path, 0, BAY_KEY_FILE_MAX, text, len, st);
    if (e)
        return bay_error_set(err, e == ENOMEM ? BAY_ENOMEM : BAY_EIO, NULL, "%s: cannot read the %s: %s", path, what,
                             e == EFBIG ? "too large for a key file"
                             : e == EINVAL ? "not a regular file"
                                           : strerror(e));
    return 0;
}

int bay__key_read_secret(const char *path, unsigned char sk[BAY_KEY_SECRET_BYTES], bay_error *err)
{
    char *text = NULL;
    size_t len = 0;
    struct stat st;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], check[crypto_sign_SECRETKEYBYTES];
    int rc = read_key(path, "secret key", &text, &len, &st, err);
    if (rc)
        return rc;
    if (strncmp(text, PUBLIC_TAG " ", strlen(PUBLIC_TAG " ")) == 0)
        rc = bay_error_set(err, BAY_EINVAL, NULL,
                           "%s is a public key; give the secret key file (the one without .pub)", path);
    else if (st.st_mode & 077)
        rc = bay_error_set(err, BAY_EPERM, NULL,
                           "%s: the secret key can be read by other users (mode %04o); make it private with "
                           "chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
    else if (!key_line(text, SECRET_TAG, sk, crypto_sign_SECRETKEYBYTES, NULL, 0))
        rc = bay_error_set(err, BAY_EINVAL, NULL,
                           "%s: not a plugbay secret key (expected one line \"" SECRET_TAG " BASE64\" as plugbay "
                           "keygen writes)", path);
    else if (crypto_sign_seed_keypair(pk, check, sk) != 0 || sodium_memcmp(check, sk, sizeof check) != 0)
        rc = bay_error_set(err, BAY_EINVAL, NULL, "%s: the secret key is damaged (its public half does not match)",
                           path);
    sodium_memzero(text, len);
    sodium_memzero(check, sizeof check);
    free(text);
    return rc;
}

int bay__key_generate(const char *path, const char *comment, char key_id[BAY_KEY_ID_SIZE], bay_error *err)
{
    int rc = bay__key_init(err);
    if (rc)
        return rc;
    if (path == NULL || *path == '\0')
        return bay_error_set(err, BAY_EINVAL, NULL, "no key file given");
    comment = comment ? comment : "";
    if (strlen(comment) > BAY_KEY_COMMENT_MAX || !bay__text_printable(comment))
        return bay_error_set(err, BAY_EINVAL, NULL,
                             "the key comment must be at most %d bytes of printable UTF-8 without backslashes",
                             BAY_KEY_COMMENT_MAX);
    char pubpath[PATH_MAX];
    if ((size_t)snprintf(pubpath, sizeof pubpath, "%s.pub", path) >= sizeof pubpath)
        return bay_error_set(err, BAY_EINVAL, NULL, "%s: the path is too long", path);

    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    char pk64[sodium_base64_ENCODED_LEN(sizeof pk, B64)], sk64[sodium_base64_ENCODED_LEN(sizeof sk, B64)];
    char pubtext[sizeof pk64 + BAY_KEY_COMMENT_MAX + 32], sectext[sizeof sk64 + 32];
    crypto_sign_keypair(pk, sk);
    sodium_bin2base64(pk64, sizeof pk64, pk, sizeof pk, B64);
    sodium_bin2base64(sk64, sizeof sk64, sk, sizeof sk, B64);
    int publen = snprintf(pubtext, sizeof pubtext, PUBLIC_TAG " %s%s%s\n", pk64, *comment ? " " : "", comment);
    int seclen = snprintf(sectext, sizeof sectext, SECRET_TAG " %s\n", sk64);
    bay__key_id(pk, key_id);

    const char *failed = path, *step;
    int e = bay__file_write_new(AT_FDCWD, path, 0600, sectext, (size_t)seclen, &step), left = 0;
    if (e == 0 && (e = bay__file_write_new(AT_FDCWD, pubpath, 0644, pubtext, (size_t)publen, &step)) != 0) {
        failed = pubpath;
        left = unlink(path) != 0 ? errno : 0;
    }
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(sk64, sizeof sk64);
    sodium_memzero(sectext, sizeof sectext);
    if (e == EEXIST)
        return bay_error_set(err, BAY_EEXIST, NULL, "%s exists; choose another file or delete it first", failed);
    if (e && left)
        return bay_error_set(err, BAY_EIO, NULL, "cannot %s %s: %s; the secret key %s stays (cannot delete it: %s)",
                             step, failed, strerror(e), path, strerror(left));
    return e ? bay_error_set(err, BAY_EIO, NULL, "cannot %s %s: %s", step, failed, strerror(e)) : 0;
}

int bay__key_read_public(const char *path, unsigned char pk[BAY_KEY_PUBLIC_BYTES], char *comment, size_t clen,
                         bay_error *err)
{
    char *text = NULL, spare[BAY_KEY_COMMENT_MAX + 1];
    size_t len = 0;
    struct stat st;
    int rc = read_key(path, "public key", &text, &len, &st, err);
    if (rc)
        return rc;
    if (strncmp(text, SECRET_TAG " ", strlen(SECRET_TAG " ")) == 0)
        rc = bay_error_set(err, BAY_EINVAL, NULL,
                           "%s is a secret key; give the public key, %s.pub (and keep the secret key private)", path,
                           path);
    else if (!key_line(text, PUBLIC_TAG, pk, BAY_KEY_PUBLIC_BYTES, comment ? comment : spare,
                       comment ? clen : sizeof spare))
        rc = bay_error_set(err, BAY_EINVAL, NULL,
                           "%s: not a plugbay public key (expected one line \"" PUBLIC_TAG " BASE64 [COMMENT]\" as "
                           "plugbay keygen writes)", path);
    sodium_memzero(text, len);
    free(text);
    return rc;
}

/* auth_message writes what a host's handshake signs to buf (len bytes): the
 * context and its NUL, the token and its NUL, the name. Returns its length, 0
 * when it does not fit. */
static size_t auth_message(const char *token, const char *name, unsigned char *buf, size_t len)
{
    size_t c = sizeof AUTH_CONTEXT, t = strlen(token) + 1, n = strlen(name);
    if (c + t + n > len)
        return 0;
    memcpy(buf, AUTH_CONTEXT, c);
    memcpy(buf + c, token, t);
    memcpy(buf + c + t, name, n);
    return c + t + n;
}

void bay__key_sign_auth(const unsigned char sk[BAY_KEY_SECRET_BYTES], const char *token, const char *name,
                        unsigned char sig[BAY_KEY_SIGNATURE_BYTES])
{
    unsigned char msg[512];
    size_t n = auth_message(token, name, msg, sizeof msg);
    crypto_sign_detached(sig, NULL, msg, n, sk);
}

bool bay__key_verify_auth(const unsigned char pk[BAY_KEY_PUBLIC_BYTES], const char *token, const char *name,
                          const unsigned char sig[BAY_KEY_SIGNATURE_BYTES])
{
    unsigned char msg[512];
    size_t n = auth_message(token, name, msg, sizeof msg);
    return n > 0 && crypto_sign_verify_detached(sig, msg, n, pk) == 0;
}
