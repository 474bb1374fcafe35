/* protocol/key.h — Ed25519 key files (libsodium): making them, reading them, key ids, and a host's signed handshake. */
#ifndef BAY_KEY_H
#define BAY_KEY_H

#include <stdbool.h>
#include <stddef.h>

#include <plugbay/error.h>

/* The layout of the key files is docs/signing.md:
 *   KEY      secret key, one line "plugbay-ed25519-secret BASE64", mode 0600
 *   KEY.pub  public key, one line "plugbay-ed25519 BASE64 [COMMENT]"
 * A key id is the first 16 hex digits of the BLAKE2b-256 hash of the 32-byte
 * public key. Each call that can fail returns 0 or a bay_errno code and fills
 * err (NULL allowed) with a one-line message naming the file and saying what
 * to do; err->plugin is "". */

#define BAY_KEY_ID_SIZE 17         /* 16 hex digits and the NUL */
#define BAY_KEY_PUBLIC_BYTES 32    /* crypto_sign_PUBLICKEYBYTES */
#define BAY_KEY_SECRET_BYTES 64    /* crypto_sign_SECRETKEYBYTES (the seed, then the public key) */
#define BAY_KEY_SIGNATURE_BYTES 64 /* crypto_sign_BYTES */
#define BAY_KEY_BASE64_SIZE 45     /* a public key in base64 and the NUL */
#define BAY_KEY_COMMENT_MAX 100    /* a key's comment, in bytes */
#define BAY_KEY_FILE_MAX 4096      /* the largest key file read */
#define BAY_KEY_PUBLIC_TAG "plugbay-ed25519"

/* bay__key_init makes sure libsodium is ready: 0 or BAY_EIO. */
int bay__key_init(bay_error *err);

/* bay__key_generate makes a new key pair and writes the secret key to path
 * (mode 0600) and the public key to path.pub (mode 0644), with comment (NULL
 * or "" for none; at most BAY_KEY_COMMENT_MAX printable bytes, say who owns
 * the key) after it. Neither file may exist already (BAY_EEXIST). Writes the
 * key id to key_id. BAY_EINVAL for a bad comment, BAY_EIO when a file cannot
 * be written (then neither is left behind). */
int bay__key_generate(const char *path, const char *comment, char key_id[BAY_KEY_ID_SIZE], bay_error *err);

/* bay__key_read_secret reads the secret key file path into sk. BAY_EPERM
 * when other users can read it; BAY_EINVAL when it is a public key file or
 * no secret key; BAY_EIO when it cannot be read. sk is secret: wipe it after
 * use (sodium_memzero). */
int bay__key_read_secret(const char *path, unsigned char sk[BAY_KEY_SECRET_BYTES], bay_error *err);

/* bay__key_read_public reads the public key file path into pk (and its
 * comment into comment, clen bytes, when not NULL). BAY_EINVAL when it is a
 * secret key file or no public key; BAY_EIO when it cannot be read. */
int bay__key_read_public(const char *path, unsigned char pk[BAY_KEY_PUBLIC_BYTES], char *comment, size_t clen,
                         bay_error *err);

/* bay__key_parse_public parses text, one line "plugbay-ed25519 BASE64
 * [COMMENT]" (a trailing newline allowed), into pk and comment (clen bytes;
 * a comment makes it fail when comment is NULL). Tells whether it was one. */
bool bay__key_parse_public(const char *text, unsigned char pk[BAY_KEY_PUBLIC_BYTES], char *comment, size_t clen);

/* bay__key_id writes the key id of public key pk to key_id. */
void bay__key_id(const unsigned char pk[BAY_KEY_PUBLIC_BYTES], char key_id[BAY_KEY_ID_SIZE]);

/* bay__key_to_base64 writes public key pk in base64 (as key files and state.json hold it) to b64. */
void bay__key_to_base64(const unsigned char pk[BAY_KEY_PUBLIC_BYTES], char b64[BAY_KEY_BASE64_SIZE]);

/* bay__key_base64_exact decodes the n characters at b64 into exactly size
 * bytes of bin; tells whether they were the base64 of that many bytes. */
bool bay__key_base64_exact(const char *b64, size_t n, unsigned char *bin, size_t size);

/* bay__key_sign_auth signs a host's handshake with secret key sk: the
 * context "plugbay host auth 1" and its NUL, the connection's one-time token
 * and its NUL, then the host's name — so a signature is good for one
 * connection only. Writes it to sig. */
void bay__key_sign_auth(const unsigned char sk[BAY_KEY_SECRET_BYTES], const char *token, const char *name,
                        unsigned char sig[BAY_KEY_SIGNATURE_BYTES]);

/* bay__key_verify_auth tells whether sig is public key pk's signature of the
 * handshake of the connection of token, by host name (bay__key_sign_auth). */
bool bay__key_verify_auth(const unsigned char pk[BAY_KEY_PUBLIC_BYTES], const char *token, const char *name,
                          const unsigned char sig[BAY_KEY_SIGNATURE_BYTES]);

#endif
