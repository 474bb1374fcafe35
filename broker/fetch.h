/* broker/fetch.h — downloads of http://, https:// and file:// URLs (libcurl) with timeouts and a size cap; an index and its packages fetched and checked. */
#ifndef BAY_FETCH_H
#define BAY_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include <plugbay/error.h>

#include "index.h"

/* Each call returns 0 or a bay_errno code and fills err (NULL allowed) with
 * one line that names the URL and says what happened and what to do:
 *   BAY_EIO        the server cannot be reached, the transfer broke, or dest cannot be written
 *   BAY_ETIMEDOUT  no connection within the connect timeout, or the transfer took longer than the timeout
 *   BAY_ENOENT     the server answered 404 or 410 (HTTP), or the file:// file does not exist
 *   BAY_EPERM      more bytes than the cap (the transfer is cut off there)
 *   BAY_EINVAL     a URL that is not http://, https:// or file://, or a redirect to another scheme
 * and another HTTP error status (500…) as BAY_EIO naming the status. */

#define BAY_FETCH_MAX_BYTES ((uint64_t)256 << 20) /* default cap: a package's largest unpacked size */
#define BAY_FETCH_TIMEOUT_MS 60000                /* default: the whole transfer */
#define BAY_FETCH_CONNECT_TIMEOUT_MS 10000        /* default: connecting (capped at the whole timeout) */

/* How long a fetch may take and how much it may bring; 0 in a field means its default. */
typedef struct bay__fetch_limits {
    uint64_t max_bytes;
    long timeout_ms;
    long connect_timeout_ms;
} bay__fetch_limits;

/* What a fetch brought. */
typedef struct bay__fetched {
    char *data;        /* into memory: the body, NUL-terminated, which the caller frees; NULL into a file */
    uint64_t size;     /* bytes received */
    char sha256[65];   /* of those bytes, lowercase hex */
} bay__fetched;

/* bay__fetch gets url into the file dest (written beside it under a hidden
 * temporary name, flushed and renamed over it once whole, so that a failed
 * fetch leaves nothing) or, with dest NULL, into memory (out->data).
 * limits NULL means the defaults. Redirects are followed (at most 5) to
 * http:// or https:// only, and from https:// to https:// only. */
int bay__fetch(const char *url, const bay__fetch_limits *limits, const char *dest, bay__fetched *out, bay_error *err);

/* bay__fetch_index gets base_url/index.json and base_url/index.json.sig
 * (capped at BAY_INDEX_MAX_BYTES and BAY_INDEX_SIG_MAX), then reads them as
 * bay__index_read does against the keys of trusted_dir. *out is the new
 * index the caller frees (bay__index_free). */
int bay__fetch_index(const char *base_url, const char *trusted_dir, const bay__fetch_limits *limits, bay__index **out,
                     bay_error *err);

/* bay__fetch_package gets the package of entry e of the index at base_url
 * into dest as bay__fetch does, capped at the size the index says, and
 * checks its size and sha256 against the index: BAY_EPERM when they differ
 * (dest is then not written). */
int bay__fetch_package(const char *base_url, const bay__index_entry *e, const bay__fetch_limits *limits,
                       const char *dest, bay_error *err);

#endif
