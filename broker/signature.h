/* broker/signature.h — Ed25519 signatures of plugin folders: signing, and verification against trusted keys. */
#ifndef BAY_SIGNATURE_H
#define BAY_SIGNATURE_H

#include <stdbool.h>
#include <stddef.h>

#include <plugbay/error.h>

#include "key.h"

/* The layout of every file named here is docs/signing.md:
 *   KEY             secret key, one line "plugbay-ed25519-secret BASE64", mode 0600
 *   KEY.pub         public key, one line "plugbay-ed25519 BASE64 [COMMENT]"
 *   DIR/plugin.sig  a plugin folder's detached signature (JSON): the SHA-256 of
 *                   every regular file below DIR but plugin.sig itself, signed
 *   TRUSTED/ *.pub  the public keys a broker or `plugbay verify` trusts
 * Key files and key ids are protocol/key.h's. A folder holding a symbolic
 * link or any other special file cannot be signed or verified. The functions below keep no state between calls.
 * Each returns 0 or a bay_errno code (include/plugbay/error.h) and fills err
 * (NULL allowed) with a one-line message, truncated to fit, that names the file
 * or key and says what to do; err->plugin is "" (a folder is not a plugin id). */

#define BAY_SIG_FILE "plugin.sig"

/* What the broker does with a plugin whose signature does not verify
 * (plugbayd --signature-policy). */
typedef enum bay__sig_policy {
    BAY_SIG_OFF,     /* "off": signatures are not read */
    BAY_SIG_WARN,    /* "warn": the plugin is used; the verification error is logged as a warning */
    BAY_SIG_REQUIRE, /* "require-signed": the plugin is refused with the verification error */
} bay__sig_policy;

/* What a signature covers and who made it. */
typedef struct bay__sig_info {
    char key_id[BAY_KEY_ID_SIZE]; /* the signer's key id */
    char signer[128];             /* the comment of the trusted key's .pub line; "" when it has none or
                                     when no trusted-keys folder was given */
    size_t nfiles;                /* how many files the signature covers */
    unsigned char public_key[BAY_KEY_PUBLIC_BYTES]; /* bay__signature_verify: the signer's public key */
} bay__sig_info;

/* bay__signature_sign signs the plugin folder dir (it must hold a plugin.json)
 * with the secret key in key_path and replaces dir/plugin.sig atomically.
 * Fills info (signer stays ""). BAY_EPERM when the key file can be read by
 * other users; BAY_EINVAL when key_path is not a secret key file or dir holds
 * a file that cannot be signed (a symbolic link, a special file, a name that
 * is not printable UTF-8 or holds a backslash, too many files or levels);
 * BAY_EIO when a file cannot be read or plugin.sig written; BAY_ENOMEM. */
int bay__signature_sign(const char *dir, const char *key_path, bay__sig_info *info, bay_error *err);

/* bay__signature_make signs the plugin folder dir as bay__signature_sign
 * does but writes nothing: *text receives what plugin.sig would hold (a
 * NUL-terminated JSON text without the final newline, which the caller frees;
 * NULL on failure). A plugin.sig already in dir is not covered, as when signing.
 * Same errors as bay__signature_sign but for writing plugin.sig. */
int bay__signature_make(const char *dir, const char *key_path, char **text, bay__sig_info *info, bay_error *err);

/* bay__signature_verify checks that dir/plugin.sig is a valid signature of
 * exactly the files now in dir. With trusted_dir, the signing key must also be
 * one of the *.pub files there; with NULL, the key the signature carries is
 * used and nothing says who owns it (plugbay verify without --trusted-keys; a
 * broker always passes its folder). Returns 0 and fills info; or BAY_EPERM
 * when dir is not signed, is signed by a key not in trusted_dir, plugin.sig is
 * malformed or altered, or a file was altered, added or removed since signing
 * (the message names each file: `"plugin.so" altered, "x.sh" added`);
 * BAY_EIO when dir, a file in it or trusted_dir cannot be read, or a .pub file
 * in trusted_dir is malformed; BAY_ENOMEM. */
int bay__signature_verify(const char *dir, const char *trusted_dir, bay__sig_info *info, bay_error *err);

/* bay__signature_trusted_key looks for public key pk among the *.pub files
 * of the folder trusted: *found tells whether one holds it, and its comment
 * goes to comment (clen bytes; NULL allowed). Returns 0, or BAY_EIO when the
 * folder cannot be read or a .pub file in it is malformed (naming it: a key
 * one thinks one trusts is never passed over silently); BAY_ENOMEM. */
int bay__signature_trusted_key(const char *trusted, const unsigned char pk[BAY_KEY_PUBLIC_BYTES], char *comment,
                               size_t clen, bool *found, bay_error *err);

/* bay__signature_policy_parse reads "require-signed", "warn" or "off" into
 * *policy. Returns 0, or BAY_EINVAL for any other text. */
int bay__signature_policy_parse(const char *text, bay__sig_policy *policy);

/* bay__signature_policy_name returns policy's name as
 * bay__signature_policy_parse reads it. Static; never NULL. */
const char *bay__signature_policy_name(bay__sig_policy policy);

#endif
