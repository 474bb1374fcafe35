/* broker/index.h — plugin indexes: the index.json document, its detached signature, and resolving ID[@RANGE] in it. */
#ifndef BAY_INDEX_H
#define BAY_INDEX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <plugbay/error.h>

#include "key.h"
#include "semver.h"

/* An index is a folder that any web server can serve (docs/packages.md):
 *   index.json      what it holds (format BAY_INDEX_FORMAT), written by broker/index_build.c
 *   index.json.sig  one line "plugbay-index-signature PUBLIC_KEY SIGNATURE": the
 *                   Ed25519 signature of the exact bytes of index.json (base64)
 *   *.bayplug       the packages, named in index.json by their "path"
 * Each call that can fail returns 0 or a bay_errno code and fills err (NULL
 * allowed) with one line that names the index (where: a file or a URL) and
 * says what to do; err->plugin is "". */

#define BAY_INDEX_FILE "index.json"
#define BAY_INDEX_SIG_FILE "index.json.sig"
#define BAY_INDEX_FORMAT 1
#define BAY_INDEX_MAX_BYTES ((size_t)16 << 20) /* the largest index.json read */
#define BAY_INDEX_SIG_MAX 512                  /* the largest index.json.sig read */
#define BAY_INDEX_SIG_TAG "plugbay-index-signature"

/* One version of one plugin in an index. Every pointer is borrowed from the
 * index document (bay__index.doc) and lives as long as it. */
typedef struct bay__index_entry {
    const char *id;             /* plugin id ("example/hello") */
    const char *version;        /* as written; ver is it parsed */
    bay__semver ver;
    const char *name, *brief;   /* from its manifest; NULL when absent */
    const char *language;       /* "c", "lua", "python", "wasm" */
    const char *host;           /* the manifest's host range; NULL: any host */
    const json_t *permissions;  /* array of the permissions it asks for (strings) */
    const json_t *dependencies; /* object: plugin id -> semver range */
    const char *sha256;         /* of the package file, 64 lowercase hex digits */
    uint64_t size;              /* of the package file, in bytes */
    const char *key_id;         /* the key that signed its plugin.sig; NULL when unsigned */
    const char *path;           /* the package's file name, relative to the index (no '/') */
    const char *revoked;        /* why the index owner revoked it; NULL when not revoked */
} bay__index_entry;

/* A key that signed packages of the index. */
typedef struct bay__index_publisher {
    const char *key_id;                                  /* borrowed from the document */
    unsigned char public_key[BAY_KEY_PUBLIC_BYTES];
    char comment[BAY_KEY_COMMENT_MAX + 1];               /* "" when none */
    bool verified;                                       /* the index owner vouches for this key */
} bay__index_publisher;

/* A parsed index; bay__index_free frees it. */
typedef struct bay__index {
    json_t *doc;                       /* the document as read (owned) */
    const char *key_id;                /* the key the index says signs it */
    bay__index_publisher *publishers;  /* sorted by key id */
    size_t npublishers;
    bay__index_entry *entries;         /* sorted by id, then by version (oldest first) */
    size_t nentries;
} bay__index;

/* bay__index_parse validates len bytes of text as index.json and on success
 * sets *out to a new index the caller frees. where names it in messages.
 * BAY_EINVAL when text is not JSON (naming line and column) or a field is
 * missing or wrong (naming it: `plugins["x/y"][1].sha256: …`); BAY_EVERSION
 * when its format is not BAY_INDEX_FORMAT; BAY_ENOMEM. Unknown fields are
 * passed over. */
int bay__index_parse(const char *text, size_t len, const char *where, bay__index **out, bay_error *err);

/* bay__index_read reads an index as it came from elsewhere: len bytes of
 * text must be JSON (else BAY_EINVAL, before anything else: the URL is
 * likely wrong), then sig (index.json.sig's text) must verify it as
 * bay__index_verify, then it is parsed as bay__index_parse; the key it says
 * signed it must be the one that did (BAY_EPERM). Sets *out as bay__index_parse. */
int bay__index_read(const char *text, size_t len, const char *sig, const char *trusted_dir, const char *where,
                    bay__index **out, bay_error *err);

/* bay__index_free frees idx and what it holds. NULL is ignored. */
void bay__index_free(bay__index *idx);

/* bay__index_publisher_of returns the publisher of idx whose key is key_id
 * (NULL: none), borrowed from idx, or NULL. */
const bay__index_publisher *bay__index_publisher_of(const bay__index *idx, const char *key_id);

/* bay__index_signer writes who signed entry e to text: "unsigned", or "signed
 * by key K (COMMENT), a publisher the index's owner verified" (or "not
 * verified by the index's owner"). */
void bay__index_signer(const bay__index *idx, const bay__index_entry *e, char *text, size_t len);

/* bay__index_sign signs len bytes of text with the secret key in key_path
 * and sets *sig to a new NUL-terminated index.json.sig line (newline
 * included) the caller frees; key_id receives the key's id. Errors as
 * bay__key_read_secret; BAY_ENOMEM. */
int bay__index_sign(const char *text, size_t len, const char *key_path, char **sig, char key_id[BAY_KEY_ID_SIZE],
                    bay_error *err);

/* bay__index_verify checks that sig (index.json.sig's text) is a valid
 * signature of len bytes of text by a key among trusted_dir's *.pub files,
 * whose id goes to key_id. BAY_EPERM when sig is malformed, by a key not
 * trusted, or does not match text (index.json altered); BAY_EIO as
 * bay__signature_trusted_key. where names index.json in messages. */
int bay__index_verify(const char *text, size_t len, const char *sig, const char *trusted_dir, const char *where,
                      char key_id[BAY_KEY_ID_SIZE], bay_error *err);

/* bay__index_matches tells whether e's id, name or brief holds text, in any case (a search). */
bool bay__index_matches(const bay__index_entry *e, const char *text);

/* bay__index_find returns the entry of id at version exactly, or NULL. */
const bay__index_entry *bay__index_find(const bay__index *idx, const char *id, const char *version);

/* bay__index_resolve picks, for spec "ID" or "ID@RANGE" (a semver range,
 * broker/semver.h; "ID" means any version), the newest version of ID that is
 * inside the range, is not revoked, and whose host range takes host_version
 * (NULL: not checked). Sets *out to it (borrowed from idx). BAY_EINVAL for a
 * malformed spec or range; BAY_ENOENT when the index has no plugin ID, or no
 * version that fits (the message says why each of the newest was passed over). */
int bay__index_resolve(const bay__index *idx, const char *spec, const char *host_version,
                       const bay__index_entry **out, bay_error *err);

#endif
