/* broker/fetch.c — downloads through libcurl with timeouts, a size cap and atomic files; indexes and packages checked as they arrive. */
#include "fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_REDIRECTS 5L

/* Where the bytes of one transfer go, and what came. */
typedef struct sink {
    uint64_t max;       /* the cap */
    uint64_t got;       /* bytes so far */
    bool too_large;     /* the cap was passed: the transfer was cut off */
    int write_errno;    /* writing the file failed */
    FILE *file;         /* into a file, or NULL: into buf */
    char *buf;
    size_t cap;
    crypto_hash_sha256_state hash;
} sink;

/* What a fetch should have brought, checked before the file is renamed into place; NULL fields: not checked. */
typedef struct expect {
    const char *sha256;
    uint64_t size;
} expect;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_ready;

static void curl_start(void)
{
    curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* take stores n bytes of data in s's buffer, growing it. False when out of memory. */
static bool take(sink *s, const char *data, size_t n)
{
    if (s->got + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->got + n + 1)
            cap *= 2;
        char *buf = realloc(s->buf, cap);
        if (buf == NULL)
            return false;
        s->buf = buf;
        s->cap = cap;
    }
    memcpy(s->buf + s->got, data, n);
    s->buf[s->got + n] = '\0';
    return true;
}

/* on_data is libcurl's write callback: a short count aborts the transfer. */
static size_t on_data(char *data, size_t size, size_t count, void *arg)
{
    sink *s = arg;
    size_t n = size * count;
    if (s->got + n > s->max) {
        s->too_large = true;
        return 0;
    }
    if (s->file ? fwrite(data, 1, n, s->file) != n : !take(s, data, n)) {
        s->write_errno = s->file ? errno : ENOMEM;
        return 0;
    }
    crypto_hash_sha256_update(&s->hash, (const unsigned char *)data, n);
    s->got += n;
    return n;
}

/* failed turns the CURLcode of url's transfer into a bay_errno code and a message. */
static int failed(CURL *c, CURLcode cc, const char *url, const sink *s, const bay__fetch_limits *l,
                  const char *detail, bay_error *err)
{
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (s->too_large || cc == CURLE_FILESIZE_EXCEEDED)
        return bay_error_set(err, BAY_EPERM, NULL, "%s: larger than %llu bytes, the most accepted; it is not what "
                             "was expected (or ask whoever serves it why it grew)", url, (unsigned long long)s->max);
    if (s->write_errno)
        return bay_error_set(err, s->write_errno == ENOMEM ? BAY_ENOMEM : BAY_EIO, NULL, "%s: cannot store what "
                             "came: %s", url, strerror(s->write_errno));
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        return bay_error_set(err, BAY_ETIMEDOUT, NULL, "%s: timed out after %ld ms (connecting: %ld ms at most); the "
                             "server is slow or unreachable, try again later (%s)", url, l->timeout_ms,
                             l->connect_timeout_ms, detail);
    case CURLE_HTTP_RETURNED_ERROR:
        return bay_error_set(err, status == 404 || status == 410 ? BAY_ENOENT : BAY_EIO, NULL,
                             "%s: the server answered HTTP status %ld%s", url, status,
                             status == 404 || status == 410 ? " (not found): check the URL"
                                                            : "; try again later, or ask whoever runs the server");
    case CURLE_UNSUPPORTED_PROTOCOL:
        return bay_error_set(err, BAY_EINVAL, NULL, "%s: only http://, https:// and file:// URLs are fetched, and a "
                             "redirect only to http:// or https:// (from https://: https://) (%s)", url, detail);
    case CURLE_URL_MALFORMAT:
        return bay_error_set(err, BAY_EINVAL, NULL, "%s: not a URL (%s)", url, detail);
    case CURLE_FILE_COULDNT_READ_FILE:
        return bay_error_set(err, BAY_ENOENT, NULL, "%s: cannot read the file (%s): check the URL", url, detail);
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
        return bay_error_set(err, BAY_EIO, NULL, "%s: the server cannot be reached (%s); check the URL and that "
                             "the server runs", url, detail);
    default:
        return bay_error_set(err, BAY_EIO, NULL, "%s: the transfer failed (%s)", url, detail);
    }
}

/* transfer runs one transfer of url into s. */
static int transfer(const char *url, const bay__fetch_limits *l, sink *s, bay_error *err)
{
    char detail[CURL_ERROR_SIZE] = "";
    if (pthread_once(&curl_once, curl_start) != 0 || curl_ready != CURLE_OK)
        return bay_error_set(err, BAY_EIO, NULL, "libcurl cannot start");
    CURL *c = curl_easy_init();
    if (c == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    bool https = strncasecmp(url, "https:", 6) == 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, l->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, l->timeout_ms);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->max);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, detail);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "plugbay");
    CURLcode cc = curl_easy_perform(c);
    if (detail[0] == '\0')
        snprintf(detail, sizeof detail, "%s", curl_easy_strerror(cc));
    int rc = cc == CURLE_OK ? 0 : failed(c, cc, url, s, l, detail, err);
    curl_easy_cleanup(c);
    return rc;
}

/* checked compares what came with what should have (e NULL: anything goes). */
static int checked(const char *url, const bay__fetched *out, const expect *e, bay_error *err)
{
    if (e == NULL || (out->size == e->size && strcmp(out->sha256, e->sha256) == 0))
        return 0;
    return bay_error_set(err, BAY_EPERM, NULL, "%s: %llu bytes with sha256 %s, but the index says %llu bytes with "
                         "sha256 %s: the file was altered or replaced on the server; tell the index's owner", url,
                         (unsigned long long)out->size, out->sha256, (unsigned long long)e->size, e->sha256);
}

/* to_file runs the transfer into a hidden temporary file beside dest, renamed over dest once whole and as expected. */
static int to_file(const char *url, const bay__fetch_limits *l, const char *dest, const expect *e, sink *s,
                   bay__fetched *out, bay_error *err)
{
    char tmp[PATH_MAX + 32];
    const char *slash = strrchr(dest, '/');
    int n = slash ? (int)(slash - dest + 1) : 0;
    snprintf(tmp, sizeof tmp, "%.*s.%s.part-XXXXXX", n, dest, slash ? slash + 1 : dest);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0 || (s->file = fdopen(fd, "wb")) == NULL) {
        int e2 = errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        return bay_error_set(err, BAY_EIO, NULL, "%s: cannot write a file beside it: %s", dest, strerror(e2));
    }
    int rc = transfer(url, l, s, err);
    if (rc == 0 && (fflush(s->file) != 0 || fsync(fileno(s->file)) != 0))
        rc = bay_error_set(err, BAY_EIO, NULL, "%s: cannot write it: %s", tmp, strerror(errno));
    fclose(s->file);
    out->size = s->got;
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&s->hash, digest);
    sodium_bin2hex(out->sha256, sizeof out->sha256, digest, sizeof digest);
    if (rc == 0)
        rc = checked(url, out, e, err);
    if (rc == 0 && rename(tmp, dest) != 0)
        rc = bay_error_set(err, BAY_EIO, NULL, "%s: cannot rename %s to it: %s", dest, tmp, strerror(errno));
    if (rc)
        unlink(tmp);
    return rc;
}

/* fetch gets url into dest or memory, as bay__fetch, checking what came against e (NULL: not checked). */
static int fetch(const char *url, const bay__fetch_limits *limits, const char *dest, const expect *e,
                 bay__fetched *out, bay_error *err)
{
    bay__fetch_limits l = limits ? *limits : (bay__fetch_limits){0};
    l.max_bytes = l.max_bytes ? l.max_bytes : BAY_FETCH_MAX_BYTES;
    l.timeout_ms = l.timeout_ms > 0 ? l.timeout_ms : BAY_FETCH_TIMEOUT_MS;
    l.connect_timeout_ms = l.connect_timeout_ms > 0 ? l.connect_timeout_ms : BAY_FETCH_CONNECT_TIMEOUT_MS;
    l.connect_timeout_ms = l.connect_timeout_ms < l.timeout_ms ? l.connect_timeout_ms : l.timeout_ms;
    sink s = {.max = l.max_bytes};
    *out = (bay__fetched){0};
    int rc = bay__key_init(err);
    if (rc)
        return rc;
    crypto_hash_sha256_init(&s.hash);
    if (dest)
        return to_file(url, &l, dest, e, &s, out, err);
    rc = transfer(url, &l, &s, err);
    if (rc == 0 && s.buf == NULL && !take(&s, "", 0))
        rc = bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&s.hash, digest);
    sodium_bin2hex(out->sha256, sizeof out->sha256, digest, sizeof digest);
    out->size = s.got;
    if (rc == 0)
        rc = checked(url, out, e, err);
    if (rc)
        free(s.buf);
    else
        out->data = s.buf;
    return rc;
}

int bay__fetch(const char *url, const bay__fetch_limits *limits, const char *dest, bay__fetched *out, bay_error *err)
{
    return fetch(url, limits, dest, NULL, out, err);
}

/* join writes base_url/name to url (len bytes), name escaped for a URL; false when it does not fit. */
static bool join(const char *base_url, const char *name, char *url, size_t len)
{
    char *escaped = curl_easy_escape(NULL, name, 0);
    size_t n = strlen(base_url);
    while (n > 0 && base_url[n - 1] == '/')
        n--;
    bool ok = escaped && (size_t)snprintf(url, len, "%.*s/%s", (int)n, base_url, escaped) < len;
    curl_free(escaped);
    return ok;
}

int bay__fetch_index(const char *base_url, const char *trusted_dir, const bay__fetch_limits *limits, bay__index **out,
                     bay_error *err)
{
    char url[PATH_MAX], sig_url[PATH_MAX];
    bay__fetch_limits l = limits ? *limits : (bay__fetch_limits){0};
    bay__fetched text = {0}, sig = {0};
    *out = NULL;
    if (!join(base_url, BAY_INDEX_FILE, url, sizeof url) || !join(base_url, BAY_INDEX_SIG_FILE, sig_url, sizeof sig_url))
        return bay_error_set(err, BAY_EINVAL, NULL, "%s: the URL is too long", base_url);
    l.max_bytes = l.max_bytes && l.max_bytes < BAY_INDEX_MAX_BYTES ? l.max_bytes : BAY_INDEX_MAX_BYTES;
    int rc = fetch(url, &l, NULL, NULL, &text, err);
    l.max_bytes = BAY_INDEX_SIG_MAX;
    if (rc == 0)
        rc = fetch(sig_url, &l, NULL, NULL, &sig, err);
    if (rc == 0)
        rc = bay__index_read(text.data, text.size, sig.data, trusted_dir, url, out, err);
    free(text.data);
    free(sig.data);
    return rc;
}

int bay__fetch_package(const char *base_url, const bay__index_entry *e, const bay__fetch_limits *limits,
                       const char *dest, bay_error *err)
{
    char url[PATH_MAX];
    bay__fetch_limits l = limits ? *limits : (bay__fetch_limits){0};
    bay__fetched got;
    if (!join(base_url, e->path, url, sizeof url))
        return bay_error_set(err, BAY_EINVAL, NULL, "%s: the URL is too long", base_url);
    l.max_bytes = e->size;
    return fetch(url, &l, dest, &(expect){e->sha256, e->size}, &got, err);
}
