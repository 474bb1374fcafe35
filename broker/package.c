/* broker/package.c — plugin packages with libarchive: a folder packed into a reproducible tar.gz, and a package checked and unpacked atomically. */
#include "package.h"

#include "file.h"
#include "manifest.h"
#include "text.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <locale.h>
#include <search.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHOWN 256 /* bytes of an entry's name a message quotes */
#define ONLY_FILES "a package holds only files and folders"

/* ---- shared by packing and unpacking ------------------------------------------ */

/* kind_name says what a file of type type (AE_IF*) is, for a message. */
static const char *kind_name(mode_t type)
{
    switch (type) {
    case AE_IFLNK: return "a symbolic link";
    case AE_IFCHR: return "a character device";
    case AE_IFBLK: return "a block device";
    case AE_IFIFO: return "a FIFO";
    case AE_IFSOCK: return "a socket";
    default: return "neither a file nor a folder";
    }
}

/* mode_of is the mode a file or folder has in a package: 0755 for a folder
 * and a file with any execute bit (owner, group or others), else 0644. */
static mode_t mode_of(bool folder, mode_t perm)
{
    return folder || (perm & 0111) ? 0755 : 0644;
}

/* The locale of this thread while libarchive converts names, and the one to go back to. */
typedef struct names_utf8 {
    locale_t utf8, before;
} names_utf8;

/* utf8_begin makes names UTF-8 for libarchive in this thread, whatever the
 * process's locale (plugbay never calls setlocale): a package's names are
 * UTF-8 (pax "path" records), and so are the names it may hold on disk. */
static names_utf8 utf8_begin(void)
{
    names_utf8 n = {newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0), (locale_t)0};
    if (n.utf8)
        n.before = uselocale(n.utf8);
    return n;
}

/* utf8_end goes back to the locale before utf8_begin. */
static void utf8_end(names_utf8 n)
{
    if (n.utf8) {
        uselocale(n.before);
        freelocale(n.utf8);
    }
}

/* read_manifest reads the plugin.json of folder dir into *m (which the
 * caller frees with bay__manifest_free) and checks it has an id; where ("DIR",
 * "package FILE") begins each message. */
static int read_manifest(const char *dir, const char *where, bay__manifest **m, bay_error *err)
{
    int rc = bay__manifest_read(dir, where, m, err);
    if (rc == 0 && (*m)->id == NULL)
        rc = bay_error_set(err, BAY_EMANIFEST, NULL,
                           "%s: plugin.json has no \"id\": a package must say which plugin it is; add "
                           "\"id\": \"VENDOR/NAME\", the plugin id it installs as",
                           where);
    return rc;
}

/* ---- packing: the folder's entries ----------------------------------------------- */

/* One entry of the folder being packed: its path below the folder, whether it
 * is a folder, its mode in the package and its size; data is plugin.sig's
 * new text, which is not read from the folder (NULL for the others). */
typedef struct pack_item {
    char *path;
    bool folder;
    mode_t mode;
    int64_t size;
    const char *data;
} pack_item;

/* The entries of a folder, sorted by path (strcmp) once complete: a folder comes before what it holds. */
typedef struct pack_list {
    pack_item *v;
    size_t n, cap;
} pack_list;

static void items_free(pack_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].path);
    free(l->v);
}

/* items_add appends a copy of it (its path copied). 0 or BAY_ENOMEM with err filled. */
static int items_add(pack_list *l, pack_item it, bay_error *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        pack_item *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
        l->v = v;
        l->cap = cap;
    }
    if ((it.path = strdup(it.path)) == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    l->v[l->n++] = it;
    return 0;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const pack_item *)a)->path, ((const pack_item *)b)->path);
}

/* take adds the entry e, at rel below dir, to l, or refuses it: only files
 * and folders with printable names go into a package. */
static int take(const char *dir, const char *rel, struct archive_entry *e, pack_list *l, bay_error *err)
{
    mode_t type = archive_entry_filetype(e);
    char safe[SHOWN];
    bay__text_shown(rel, safe, sizeof safe);
    if (type != AE_IFREG && type != AE_IFDIR)
        return bay_error_set(err, BAY_EINVAL, NULL, "%s: \"%s\" is %s; " ONLY_FILES " (replace it by what it stands "
                             "for, or remove it)", dir, safe, kind_name(type));
    if (!bay__text_printable(rel))
        return bay_error_set(err, BAY_EINVAL, NULL, "%s: the name of \"%s\" is not printable UTF-8 or holds a "
                             "backslash, which a package may not hold; rename it", dir, safe);
    if (l->n == BAY_PKG_MAX_FILES)
        return bay_error_set(err, BAY_EINVAL, NULL, "%s: more than %d files and folders, the most a package holds",
                             dir, BAY_PKG_MAX_FILES);
    bool folder = type == AE_IFDIR;
    return items_add(l, (pack_item){(char *)rel, folder, mode_of(folder, archive_entry_perm(e)),
                                    folder ? 0 : archive_entry_size(e), NULL}, err);
}

/* list_tree lists every file and folder below dir (without a trailing '/')
 * into l, never following a symbolic link; at the top, plugin.sig is passed
 * over when skip_sig. */
static int list_tree(const char *dir, bool skip_sig, pack_list *l, bay_error *err)
{
    struct archive *d = archive_read_disk_new();
    struct archive_entry *e = archive_entry_new();
    if (d == NULL || e == NULL) {
        archive_entry_free(e);
        archive_read_free(d);
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    }
    archive_read_disk_set_symlink_hybrid(d); /* dir itself may be a link; nothing below it is followed */
    archive_read_disk_set_behavior(d, ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL |
                                          ARCHIVE_READDISK_NO_FFLAGS);
    size_t top = strlen(dir);
    int rc = 0, r = archive_read_disk_open(d, dir);
    while (rc == 0 && r == ARCHIVE_OK && (r = archive_read_next_header2(d, e)) == ARCHIVE_OK) {
        const char *path = archive_entry_pathname(e), *rel = path + top + 1;
        if (strlen(path) > top && !(skip_sig && strcmp(rel, BAY_SIG_FILE) == 0))
            rc = take(dir, rel, e, l, err);
        if (rc == 0 && archive_entry_filetype(e) == AE_IFDIR)
            archive_read_disk_descend(d);
    }
    if (rc == 0 && r != ARCHIVE_EOF)
        rc = bay_error_set(err, BAY_EIO, NULL, "%s: cannot read the folder: %s", dir, archive_error_string(d));
    if (rc == 0 && l->n)
        qsort(l->v, l->n, sizeof *l->v, by_path);
    archive_entry_free(e);
    archive_read_free(d);
    return rc;
}

/* ---- packing: the package file ---------------------------------------------------- */

/* Where the archive's bytes go: the package file, and their SHA-256 so far. */
typedef struct sink {
    int fd;
    int error; /* errno of a failed write, else 0 */
    crypto_hash_sha256_state hash;
} sink;

static la_ssize_t sink_write(struct archive *w, void *arg, const void *buf, size_t len)
{
    sink *s = arg;
    for (size_t done = 0; done < len;) {
        ssize_t n = write(s->fd, (const char *)buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            s->error = errno;
            archive_set_error(w, errno, "%s", strerror(errno));
            return -1;
        }
        done += (size_t)n;
    }
    crypto_hash_sha256_update(&s->hash, buf, len);
    return (la_ssize_t)len;
}

/* write_failed reports a failure of libarchive writing the package tmp. */
static int write_failed(struct archive *w, const sink *s, const char *tmp, bay_error *err)
{
    return bay_error_set(err, s->error || archive_errno(w) != ENOMEM ? BAY_EIO : BAY_ENOMEM, NULL,
                         "cannot write %s: %s", tmp, s->error ? strerror(s->error) : archive_error_string(w));
}

/* copy_file writes the data of the file it (below the folder dirfd) after its header. */
static int copy_file(struct archive *w, const sink *s, int dirfd, const char *dir, const pack_item *it,
                     const char *tmp, bay_error *err)
{
    int f = openat(dirfd, it->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (f < 0)
        return bay_error_set(err, BAY_EIO, NULL, "%s/%s: cannot read: %s", dir, it->path, strerror(errno));
    char buf[65536];
    int64_t total = 0;
    ssize_t n = 0;
    int rc = 0;
    while (rc == 0 && total < it->size && (n = read(f, buf, sizeof buf)) > 0) {
        size_t take = (size_t)(n < it->size - total ? n : it->size - total);
        total += (int64_t)take;
        if (archive_write_data(w, buf, take) != (la_ssize_t)take)
            rc = write_failed(w, s, tmp, err);
    }
    int e = errno;
    close(f);
    if (rc == 0 && total < it->size)
        rc = n < 0 ? bay_error_set(err, BAY_EIO, NULL, "%s/%s: cannot read: %s", dir, it->path, strerror(e))
                   : bay_error_set(err, BAY_EIO, NULL, "%s/%s: changed while being packed; pack again", dir,
                                   it->path);
    return rc;
}

/* write_item writes the header of it, with every field that varies from
 * machine to machine fixed, then its data. */
static int write_item(struct archive *w, const sink *s, int dirfd, const char *dir, const pack_item *it,
                      const char *tmp, bay_error *err)
{
    struct archive_entry *e = archive_entry_new();
    if (e == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    archive_entry_set_pathname(e, it->path);
    archive_entry_set_filetype(e, it->folder ? AE_IFDIR : AE_IFREG);
    archive_entry_set_perm(e, it->mode);
    archive_entry_set_size(e, it->size);
    archive_entry_set_mtime(e, 0, 0);
    int rc = archive_write_header(w, e) == ARCHIVE_OK ? 0 : write_failed(w, s, tmp, err);
    archive_entry_free(e);
    if (rc == 0 && it->data && archive_write_data(w, it->data, (size_t)it->size) != (la_ssize_t)it->size)
        rc = write_failed(w, s, tmp, err);
    else if (rc == 0 && !it->folder && !it->data)
        rc = copy_file(w, s, dirfd, dir, it, tmp, err);
    return rc;
}

/* write_archive writes l's entries from dir as a tar.gz into s, hashing it. */
static int write_archive(const char *dir, const pack_list *l, sink *s, const char *tmp, bay_error *err)
{
    struct archive *w = archive_write_new();
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;
    if (w == NULL || dirfd < 0)
        rc = w ? bay_error_set(err, BAY_EIO, NULL, "%s: cannot open the folder: %s", dir, strerror(errno))
               : bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    /* pax only where ustar cannot say it (long or non-ASCII names); gzip without a time stamp or a file name */
    if (rc == 0 && (archive_write_set_format_pax_restricted(w) != ARCHIVE_OK ||
                    archive_write_add_filter_gzip(w) != ARCHIVE_OK ||
                    archive_write_set_options(w, "gzip:!timestamp,gzip:compression-level=9") != ARCHIVE_OK ||
                    archive_write_open(w, s, NULL, sink_write, NULL) != ARCHIVE_OK))
        rc = write_failed(w, s, tmp, err);
    for (size_t i = 0; rc == 0 && i < l->n; i++)
        rc = write_item(w, s, dirfd, dir, &l->v[i], tmp, err);
    if (rc == 0 && archive_write_close(w) != ARCHIVE_OK)
        rc = write_failed(w, s, tmp, err);
    archive_write_free(w);
    if (dirfd >= 0)
        close(dirfd);
    return rc;
}

/* write_package writes the package to res->path through a new file beside it, renamed over it once flushed. */
static int write_package(const char *dir, const pack_list *l, bay__pkg_packed *res, bay_error *err)
{
    char tmp[sizeof res->path + 8];
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", res->path);
    sink s = {.fd = mkostemp(tmp, O_CLOEXEC)};
    if (s.fd < 0)
        return bay_error_set(err, BAY_EIO, NULL, "cannot create %s: %s", tmp, strerror(errno));
    crypto_hash_sha256_init(&s.hash);
    int rc = write_archive(dir, l, &s, tmp, err);
    if (rc == 0 && (fchmod(s.fd, 0644) != 0 || fsync(s.fd) != 0))
        rc = bay_error_set(err, BAY_EIO, NULL, "cannot flush %s to disk: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, res->path) != 0)
        rc = bay_error_set(err, BAY_EIO, NULL, "cannot rename %s to %s: %s", tmp, res->path, strerror(errno));
    close(s.fd);
    if (rc) {
        unlink(tmp);
        return rc;
    }
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&s.hash, digest);
    sodium_bin2hex(res->sha256, sizeof res->sha256, digest, sizeof digest);
    return 0;
}

/* outside refuses a package path inside the folder dir it packs: the next pack would take it in. */
static int outside(const char *dir, const char *path, bay_error *err)
{
    char copy[PATH_MAX], parent[PATH_MAX], top[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    if (realpath(dirname(copy), parent) == NULL || realpath(dir, top) == NULL)
        return bay_error_set(err, BAY_EIO, NULL, "cannot write %s: %s", path, strerror(errno));
    size_t n = strlen(top);
    if (strncmp(parent, top, n) == 0 && (parent[n] == '\0' || parent[n] == '/'))
        return bay_error_set(err, BAY_EINVAL, NULL, "%s: the package %s would be inside the folder it packs, and "
                             "so in the next package; write it elsewhere (-o FILE)", dir, path);
    return 0;
}

void bay__pkg_file_name(const char *id, const char *version, char *name, size_t len)
{
    snprintf(name, len, "%s-%s" BAY_PKG_SUFFIX, id, version);
    for (char *p = name; (p = strchr(p, '/')) != NULL;)
        *p = '-';
}

/* package_path writes where the package goes to res->path: out, or
 * ID-VERSION.bayplug in the current folder; never inside dir. */
static int package_path(const char *dir, const char *id, const char *version, const char *out,
                        bay__pkg_packed *res, bay_error *err)
{
    if (out) {
        if ((size_t)snprintf(res->path, sizeof res->path, "%s", out) >= sizeof res->path)
            return bay_error_set(err, BAY_EINVAL, NULL, "%s: the path is too long", out);
        return outside(dir, res->path, err);
    }
    bay__pkg_file_name(id, version, res->path, sizeof res->path);
    return outside(dir, res->path, err);
}

/* add_signature signs dir with key_path and adds the new plugin.sig (whose
 * text *sig receives, for the caller to free) to l. */
static int add_signature(const char *dir, const char *key_path, pack_list *l, char **sig, bay__pkg_packed *res,
                         bay_error *err)
{
    char *text = NULL;
    int rc = bay__signature_make(dir, key_path, &text, &res->sig, err);
    if (rc == 0 && asprintf(sig, "%s\n", text) < 0) {
        *sig = NULL;
        rc = bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    }
    free(text);
    if (rc == 0)
        rc = items_add(l, (pack_item){BAY_SIG_FILE, false, 0644, (int64_t)strlen(*sig), *sig}, err);
    res->signed_now = rc == 0;
    return rc;
}

int bay__pkg_pack(const char *dir, const char *key_path, const char *out, bay__pkg_packed *res, bay_error *err)
{
    char top[PATH_MAX], *sig = NULL;
    pack_list l = {0};
    bay__manifest *m = NULL;
    memset(res, 0, sizeof *res);
    if (dir == NULL || *dir == '\0' || strlen(dir) >= sizeof top)
        return bay_error_set(err, BAY_EINVAL, NULL, "no plugin folder given, or its path is too long");
    snprintf(top, sizeof top, "%s", dir);
    for (size_t n = strlen(top); n > 1 && top[n - 1] == '/';)
        top[--n] = '\0';
    int fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;
    if (fd < 0)
        return bay_error_set(err, BAY_EIO, NULL, "%s: cannot open the plugin folder: %s", top, strerror(errno));
    close(fd);
    rc = read_manifest(top, top, &m, err);
    if (rc == 0)
        rc = package_path(top, m->id, m->version, out, res, err);
    if (rc == 0 && key_path)
        rc = add_signature(top, key_path, &l, &sig, res, err);
    if (rc == 0)
        rc = list_tree(top, key_path != NULL, &l, err);
    names_utf8 names = utf8_begin();
    if (rc == 0)
        rc = write_package(top, &l, res, err);
    utf8_end(names);
    for (size_t i = 0; rc == 0 && i < l.n; i++)
        res->nfiles += !l.v[i].folder;
    bay__manifest_free(m);
    free(sig);
    items_free(&l);
    return rc;
}

/* ---- unpacking ------------------------------------------------------------------------ */

/* A package being unpacked: what it is called in messages, its limits, and what was taken so far. */
typedef struct unpack {
    const char *file;
    bay__pkg_limits lim;
    const char *staging; /* the private folder the entries go to */
    size_t headers;      /* entries read, the top folder "." some tar programs write too */
    size_t files;        /* files and folders taken */
    uint64_t bytes;      /* the sizes of the files taken */
    void *seen;          /* tsearch() tree of the paths taken */
    bay_error *err;
} unpack;

/* REFUSE fills u->err with "package FILE: " and the message (fmt: a string literal, then its arguments); gives code. */
#define REFUSE(u, code, fmt, ...) bay_error_set((u)->err, code, NULL, "package %s: " fmt, (u)->file, ##__VA_ARGS__)

/* damaged reports the error of libarchive reading the package: the file is
 * not a package at all when libarchive found no tar archive in it (EILSEQ is
 * its errno for an unknown format), else it is cut or corrupt. */
static int damaged(const unpack *u, struct archive *a)
{
    if (archive_errno(a) == ENOMEM)
        return REFUSE(u, BAY_ENOMEM, "out of memory");
    if (u->headers == 0 && archive_errno(a) == EILSEQ)
        return REFUSE(u, BAY_EINVAL, "not a plugbay package (a tar archive compressed with gzip): %s",
                      archive_error_string(a));
    return REFUSE(u, BAY_EINVAL, "truncated or damaged (%s); get the package again", archive_error_string(a));
}

/* entry_path checks the path of an entry and writes it to rel, without a
 * leading "./" or trailing '/' ("" for the top folder). */
static int entry_path(const unpack *u, const char *name, char *rel, size_t len)
{
    char safe[SHOWN];
    if (name == NULL)
        return REFUSE(u, BAY_EPERM, "an entry has a name that is not text");
    bay__text_shown(name, safe, sizeof safe);
    if (name[0] == '/')
        return REFUSE(u, BAY_EPERM, "entry \"%s\": an absolute path may not be in a package", safe);
    if (!bay__text_printable(name))
        return REFUSE(u, BAY_EPERM, "entry \"%s\": the name is not printable UTF-8 or holds a backslash", safe);
    name += strncmp(name, "./", 2) == 0 ? 2 : 0;
    size_t n = strlen(name);
    while (n > 0 && name[n - 1] == '/')
        n--;
    if (n >= len || n >= PATH_MAX - strlen(u->staging) - 1)
        return REFUSE(u, BAY_EPERM, "entry \"%s\": the path is too long", safe);
    memcpy(rel, name, n);
    rel[n] = '\0';
    if (n == 0 || strcmp(rel, ".") == 0) {
        rel[0] = '\0';
        return 0;
    }
    for (const char *p = rel;; p++) {
        size_t part = strcspn(p, "/");
        if (part == 2 && p[0] == '.' && p[1] == '.')
            return REFUSE(u, BAY_EPERM, "entry \"%s\": a path may not leave the package", safe);
        if (part == 0 || (part == 1 && p[0] == '.'))
            return REFUSE(u, BAY_EPERM, "entry \"%s\": a path may not hold an empty or \".\" part", safe);
        p += part;
        if (*p == '\0')
            return 0;
    }
}

/* entry_kind refuses an entry that is not a file or a folder. */
static int entry_kind(const unpack *u, struct archive_entry *e, const char *rel)
{
    char safe[SHOWN], to[SHOWN];
    mode_t type = archive_entry_filetype(e);
    bay__text_shown(rel, safe, sizeof safe);
    if (archive_entry_hardlink(e))
        return REFUSE(u, BAY_EPERM, "entry \"%s\": a hard link (to \"%s\"); " ONLY_FILES, safe,
                      bay__text_shown(archive_entry_hardlink(e), to, sizeof to));
    if (type == AE_IFLNK)
        return REFUSE(u, BAY_EPERM, "entry \"%s\": a symbolic link (to \"%s\"); " ONLY_FILES, safe,
                      bay__text_shown(archive_entry_symlink(e) ? archive_entry_symlink(e) : "", to, sizeof to));
    if (type != AE_IFREG && type != AE_IFDIR)
        return REFUSE(u, BAY_EPERM, "entry \"%s\": %s; " ONLY_FILES, safe, kind_name(type));
    return 0;
}

static int path_order(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* entry_counts refuses an entry seen before, or one past the limits, and counts it. */
static int entry_counts(unpack *u, struct archive_entry *e, const char *rel)
{
    char safe[SHOWN], *key = strdup(rel);
    void *node = key ? tsearch(key, &u->seen, path_order) : NULL;
    bay__text_shown(rel, safe, sizeof safe);
    if (node == NULL) {
        free(key);
        return REFUSE(u, BAY_ENOMEM, "out of memory");
    }
    if (*(char **)node != key) {
        free(key);
        return REFUSE(u, BAY_EPERM, "entry \"%s\": appears twice", safe);
    }
    int64_t size = archive_entry_filetype(e) == AE_IFREG ? archive_entry_size(e) : 0;
    if (size < 0 || (uint64_t)size > u->lim.max_bytes - u->bytes)
        return REFUSE(u, BAY_EPERM, "entry \"%s\": the files would take more than %" PRIu64 " bytes unpacked, the "
                      "most a package may (an archive bomb?)", safe, u->lim.max_bytes);
    u->bytes += (uint64_t)size;
    return 0;
}

/* extract writes the entry e, at rel, below u->staging with x, its data read from a. */
static int extract(const unpack *u, struct archive *a, struct archive *x, struct archive_entry *e, const char *rel)
{
    char path[PATH_MAX];
    const void *buf;
    size_t n;
    la_int64_t offset;
    int r;
    snprintf(path, sizeof path, "%s/%s", u->staging, rel); /* entry_path made sure it fits */
    archive_entry_set_pathname(e, path);
    archive_entry_set_perm(e, mode_of(archive_entry_filetype(e) == AE_IFDIR, archive_entry_perm(e)));
    if (archive_write_header(x, e) < ARCHIVE_WARN)
        return REFUSE(u, BAY_EIO, "cannot write %s: %s", path, archive_error_string(x));
    while ((r = archive_read_data_block(a, &buf, &n, &offset)) == ARCHIVE_OK)
        if (archive_write_data_block(x, buf, n, offset) < ARCHIVE_WARN)
            return REFUSE(u, BAY_EIO, "cannot write %s: %s", path, archive_error_string(x));
    if (r != ARCHIVE_EOF)
        return damaged(u, a);
    if (archive_write_finish_entry(x) < ARCHIVE_WARN)
        return REFUSE(u, BAY_EIO, "cannot write %s: %s", path, archive_error_string(x));
    return 0;
}

/* take_entry checks the entry e and, when it may be in a package, writes it below u->staging. */
static int take_entry(unpack *u, struct archive *a, struct archive *x, struct archive_entry *e)
{
    char rel[PATH_MAX];
    if (u->headers++ == 0 && archive_filter_code(a, 0) != ARCHIVE_FILTER_GZIP)
        return REFUSE(u, BAY_EINVAL, "not a plugbay package (a tar archive compressed with gzip): it is a %s "
                      "archive, not compressed with gzip", archive_format_name(a));
    int rc = entry_path(u, archive_entry_pathname(e), rel, sizeof rel);
    if (rc == 0 && rel[0] == '\0' && archive_entry_filetype(e) == AE_IFDIR)
        return 0;
    if (rc == 0 && rel[0] == '\0')
        rc = REFUSE(u, BAY_EPERM, "an entry named \".\" is not a folder");
    if (rc == 0 && ++u->files > u->lim.max_files)
        rc = REFUSE(u, BAY_EPERM, "more than %zu files and folders, the most a package may hold (an archive bomb?)",
                    u->lim.max_files);
    if (rc == 0)
        rc = entry_kind(u, e, rel);
    if (rc == 0)
        rc = entry_counts(u, e, rel);
    return rc ? rc : extract(u, a, x, e, rel);
}

/* unpack_all reads the package open as fd and writes its entries below u->staging. */
static int unpack_all(unpack *u, int fd)
{
    struct archive *a = archive_read_new(), *x = archive_write_disk_new();
    struct archive_entry *e;
    int rc = 0, r = ARCHIVE_FATAL;
    if (a == NULL || x == NULL)
        rc = REFUSE(u, BAY_ENOMEM, "out of memory");
    if (rc == 0) {
        archive_read_support_filter_gzip(a);
        archive_read_support_format_tar(a);
        archive_write_disk_set_options(x, ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                              ARCHIVE_EXTRACT_NO_OVERWRITE);
        r = archive_read_open_fd(a, fd, 65536);
    }
    while (rc == 0 && r == ARCHIVE_OK && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK)
        rc = take_entry(u, a, x, e);
    if (rc == 0 && r != ARCHIVE_EOF)
        rc = damaged(u, a);
    if (rc == 0 && archive_write_close(x) < ARCHIVE_WARN)
        rc = REFUSE(u, BAY_EIO, "cannot write below %s: %s", u->staging, archive_error_string(x));
    archive_write_free(x);
    archive_read_free(a);
    return rc;
}

/* open_package opens u->file, which must be a regular file, as *fd. */
static int open_package(const unpack *u, int *fd)
{
    struct stat st;
    *fd = open(u->file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (*fd < 0)
        return REFUSE(u, BAY_EIO, "cannot open: %s", strerror(errno));
    if (fstat(*fd, &st) == 0 && S_ISREG(st.st_mode))
        return 0;
    int rc = REFUSE(u, BAY_EINVAL, "not a regular file");
    close(*fd);
    *fd = -1;
    return rc;
}

/* make_staging creates the private folder beside dest, named in staging (PATH_MAX bytes). */
static int make_staging(const unpack *u, const char *dest, char *staging)
{
    char copy[PATH_MAX], parent[PATH_MAX];
    struct stat st;
    if (dest == NULL || *dest == '\0' || strlen(dest) >= sizeof copy)
        return REFUSE(u, BAY_EINVAL, "no destination folder given, or its path is too long");
    if (lstat(dest, &st) == 0)
        return REFUSE(u, BAY_EEXIST, "%s exists already; unpack into a new folder", dest);
    snprintf(copy, sizeof copy, "%s", dest);
    if (realpath(dirname(copy), parent) == NULL)
        return REFUSE(u, BAY_EIO, "%s: %s", dest, strerror(errno));
    if ((size_t)snprintf(staging, PATH_MAX, "%s/.bayplug-XXXXXX", parent) >= PATH_MAX)
        return REFUSE(u, BAY_EINVAL, "%s: the path is too long", dest);
    if (mkdtemp(staging) == NULL)
        return REFUSE(u, BAY_EIO, "cannot create a folder in %s: %s", parent, strerror(errno));
    return 0;
}

/* finish checks the unpacked plugin.json and renames the staging folder to dest. */
static int finish(const unpack *u, const char *dest)
{
    char where[PATH_MAX + 16];
    bay__manifest *m = NULL;
    int fd = open(u->staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;
    if (fd < 0)
        return REFUSE(u, BAY_EIO, "cannot open %s: %s", u->staging, strerror(errno));
    snprintf(where, sizeof where, "package %s", u->file);
    rc = read_manifest(u->staging, where, &m, u->err);
    bay__manifest_free(m);
    if (rc == 0 && fchmod(fd, 0755) != 0)
        rc = REFUSE(u, BAY_EIO, "cannot change the mode of %s: %s", u->staging, strerror(errno));
    close(fd);
    if (rc == 0 && renameat2(AT_FDCWD, u->staging, AT_FDCWD, dest, RENAME_NOREPLACE) != 0)
        rc = REFUSE(u, errno == EEXIST ? BAY_EEXIST : BAY_EIO, "cannot rename %s to %s: %s", u->staging, dest,
                    strerror(errno));
    return rc;
}

int bay__pkg_unpack(const char *file, const char *dest, const bay__pkg_limits *limits, bay_error *err)
{
    char staging[PATH_MAX];
    unpack u = {.file = file ? file : "(none)", .staging = staging, .err = err};
    u.lim.max_files = limits && limits->max_files ? limits->max_files : BAY_PKG_MAX_FILES;
    u.lim.max_bytes = limits && limits->max_bytes ? limits->max_bytes : BAY_PKG_MAX_BYTES;
    int fd = -1, rc = open_package(&u, &fd);
    if (rc == 0 && (rc = make_staging(&u, dest, staging)) == 0) {
        names_utf8 names = utf8_begin();
        rc = unpack_all(&u, fd);
        utf8_end(names);
        if (rc == 0)
            rc = finish(&u, dest);
        if (rc)
            bay__file_remove_tree(AT_FDCWD, staging);
    }
    if (fd >= 0)
        close(fd);
    tdestroy(u.seen, free);
    return rc;
}
