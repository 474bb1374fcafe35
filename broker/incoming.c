/* broker/incoming.c — packages an admin sends plugbayd: received in parts, checked, unpacked into the plugins folder. */
#include "incoming.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "follow.h"
#include "lifecycle.h"
#include "log.h"
#include "manifest.h"
#include "package.h"
#include "signature.h"

/* A package left half sent, or sent and never installed, goes after this long. */
#define LEFT_FOR_S 3600

/* folder writes STATE/incoming to path (PATH_MAX bytes). */
static void folder(const broker *b, char *path)
{
    snprintf(path, PATH_MAX, "%s/incoming", bay__state_dir(b->state));
}

/* sweep removes what was left in the incoming folder: files older than
 * LEFT_FOR_S, or all of them (at start). */
static void sweep(const broker *b, bool all)
{
    char dir[PATH_MAX];
    folder(b, dir);
    DIR *d = opendir(dir);
    time_t now = time(NULL);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        struct stat st;
        if (e->d_name[0] != '.' && fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            (all || now - st.st_mtime > LEFT_FOR_S))
            bay__file_remove_tree(dirfd(d), e->d_name);
    }
    if (d)
        closedir(d);
}

int incoming_init(broker *b, bay_error *err)
{
    char dir[PATH_MAX];
    folder(b, dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return bay_error_set(err, BAY_EIO, NULL, "cannot create %s: %s", dir, strerror(errno));
    sweep(b, true);
    return 0;
}

/* sha_of reads args' "sha256": 64 lowercase hex digits, or BAY_EINVAL. */
static int sha_of(const bay_value *args, const char **sha, bay_error *err)
{
    *sha = bay_value_str(bay_map_get(args, "sha256"), NULL);
    size_t n = *sha ? strspn(*sha, "0123456789abcdef") : 0;
    if (*sha == NULL || n != 64 || (*sha)[n] != '\0')
        return bay_error_set(err, BAY_EINVAL, NULL,
                             "a package is named by \"sha256\": its SHA-256 in 64 lowercase hex digits");
    return 0;
}

/* received writes STATE/incoming/SHA.suffix to path (PATH_MAX bytes). */
static void received(const broker *b, const char *sha, const char *suffix, char *path)
{
    snprintf(path, PATH_MAX, "%s/incoming/%.64s%s", bay__state_dir(b->state), sha, suffix);
}

void incoming_file(const broker *b, const char *sha, char *path)
{
    received(b, sha, BAY_PKG_SUFFIX, path);
}

/* append writes len bytes of data at offset of the part file path (made
 * anew at offset 0, never by a later part). Returns 0 or BAY_EINVAL (not
 * where the part ends) or BAY_EIO. */
static int append(const char *path, int64_t offset, const void *data, size_t len, bay_error *err)
{
    int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | (offset == 0 ? O_CREAT | O_TRUNC : 0), 0600);
    struct stat st = {0};
    if (fd < 0 && errno == ENOENT) /* a later part of a package not begun */
        st.st_size = 0;
    else if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return bay_error_set(err, BAY_EIO, NULL, "cannot write %s: %s", path, strerror(e));
    }
    int rc = 0;
    if (fd < 0 || st.st_size != offset)
        rc = bay_error_set(err, BAY_EINVAL, NULL,
                           "package part at byte %lld, but %lld bytes were received: send the parts in order, "
                           "from byte 0",
                           (long long)offset, (long long)st.st_size);
    else if (pwrite(fd, data, len, offset) != (ssize_t)len || fsync(fd) != 0)
        rc = bay_error_set(err, BAY_EIO, NULL, "cannot write %s: %s", path, strerror(errno ? errno : EIO));
    if (fd >= 0)
        close(fd);
    return rc;
}

/* complete checks the whole part file against sha and renames it to SHA.bayplug. */
static int complete(const broker *b, const char *sha, const char *part, bay_error *err)
{
    char got[65], whole[PATH_MAX];
    int e = bay__file_sha256(part, O_NOFOLLOW, -1, got, NULL);
    if (e == 0 && strcmp(got, sha) != 0) {
        unlink(part);
        return bay_error_set(err, BAY_EINVAL, NULL,
                             "the package received has SHA-256 %s, not %s as announced: it changed or was damaged "
                             "on the way; send it again",
                             got, sha);
    }
    received(b, sha, BAY_PKG_SUFFIX, whole);
    if (e == 0 && rename(part, whole) != 0)
        e = errno;
    return e ? bay_error_set(err, BAY_EIO, NULL, "cannot keep the package %s: %s", part, strerror(e)) : 0;
}

int incoming_put(broker *b, const bay_value *args, bay_value **out, bay_error *err)
{
    const char *sha;
    int rc = sha_of(args, &sha, err);
    if (rc)
        return rc;
    int64_t size = bay_value_int(bay_map_get(args, "size")), offset = bay_value_int(bay_map_get(args, "offset"));
    size_t len = 0;
    const bay_value *part = bay_map_get(args, "data");
    const void *data = bay_value_type(part) == BAY_BIN ? bay_value_str(part, &len) : NULL;
    uint64_t most = (uint64_t)b->opt.package_max_mb << 20;
    if (size <= 0 || (uint64_t)size > most)
        return bay_error_set(err, BAY_EINVAL, NULL,
                             "a package's \"size\" is 1 to %llu bytes (plugbayd --package-max-mb), not %lld",
                             (unsigned long long)most, (long long)size);
    if (data == NULL || len == 0 || len > BAY_PKG_PART || offset < 0 || offset + (int64_t)len > size)
        return bay_error_set(err, BAY_EINVAL, NULL,
                             "a package part is \"data\" of 1 to %d bytes at \"offset\", inside \"size\" (%lld)",
                             BAY_PKG_PART, (long long)size);
    sweep(b, false);
    char path[PATH_MAX];
    received(b, sha, ".part", path);
    if ((rc = append(path, offset, data, len, err)) != 0)
        return rc;
    if (offset + (int64_t)len == size && (rc = complete(b, sha, path, err)) != 0)
        return rc;
    *out = bay_map();
    bay_map_set(*out, "received", bay_int(offset + (int64_t)len));
    return 0;
}

/* make_parents makes the folders of plugin id's folder below the plugins folder, as the folder itself would be. */
static int make_parents(const broker *b, const char *id, bay_error *err)
{
    char path[PATH_MAX];
    size_t base = (size_t)snprintf(path, sizeof path, "%s/", b->opt.plugins_dir);
    snprintf(path + base, sizeof path - base, "%s", id);
    int e = bay__file_mkdirs(path, base, false, 0755);
    return e ? bay_error_set(err, BAY_EIO, id, "cannot create %s: %s", path, strerror(e)) : 0;
}

/* remove_folder removes plugin id's folder and the folders above it that it leaves empty. */
static void remove_folder(const broker *b, const char *id)
{
    char path[PATH_MAX];
    size_t base = (size_t)snprintf(path, sizeof path, "%s/", b->opt.plugins_dir);
    snprintf(path + base, sizeof path - base, "%s", id);
    bay__file_remove_up(path, base);
}

/* verified_signer refuses, under --verified-only, the package of plugin id unpacked in dir unless its signature
 * holds and its key is a publisher an index plugbayd follows verified. */
static int verified_signer(broker *b, const char *id, const char *dir, bay_error *err)
{
    bay__sig_info si;
    bay_error why;
    int rc = follow_verified(b, bay__signature_verify(dir, NULL, &si, &why) == 0 ? si.key_id : NULL, err);
    if (rc)
        snprintf(err->plugin, sizeof err->plugin, "%s", id);
    return rc;
}

int incoming_unpack(broker *b, const bay_value *args, char *staging, bay__manifest **m, bay_error *err)
{
    const char *sha;
    char file[PATH_MAX];
    *m = NULL;
    int rc = sha_of(args, &sha, err);
    if (rc)
        return rc;
    received(b, sha, BAY_PKG_SUFFIX, file);
    if (access(file, F_OK) != 0)
        return bay_error_set(err, BAY_ENOENT, NULL,
                             "no package with SHA-256 %s was received whole: send it with package.put first", sha);
    /* Hidden, so that no scan takes it for a plugin; in the plugins folder, so that it moves in by a rename. */
    snprintf(staging, PATH_MAX, "%s/.incoming-%.16s", b->opt.plugins_dir, sha);
    bay__file_remove_tree(AT_FDCWD, staging);
    bay__pkg_limits limits = {.max_files = (size_t)b->opt.package_max_files,
                              .max_bytes = (uint64_t)b->opt.package_max_mb << 20};
    rc = bay__pkg_unpack(file, staging, &limits, err);
    unlink(file);
    if (rc == 0 && (rc = bay__manifest_read(staging, staging, m, err)) == 0)
        rc = lifecycle_signature(b, (*m)->id, staging, err);
    if (rc == 0 && b->opt.verified_only)
        rc = verified_signer(b, (*m)->id, staging, err);
    if (rc) {
        bay__manifest_free(*m);
        *m = NULL;
        bay__file_remove_tree(AT_FDCWD, staging);
    }
    return rc;
}

int incoming_place(broker *b, const bay_value *args, plugin **p, bay_error *err)
{
    char staging[PATH_MAX], dest[PATH_MAX], id[BAY_PLUGIN_ID_MAX + 1];
    bay__manifest *m;
    int rc = incoming_unpack(b, args, staging, &m, err);
    if (rc)
        return rc;
    snprintf(id, sizeof id, "%s", m->id);
    bay__manifest_free(m);
    snprintf(dest, sizeof dest, "%s/%s", b->opt.plugins_dir, id);
    if (broker_plugin(b, id) || access(dest, F_OK) == 0)
        rc = bay_error_set(err, BAY_EEXIST, id,
                           "the plugins folder has %s already; uninstall it and remove its folder first, or update "
                           "it with `plugbay update FILE`",
                           id);
    if (rc == 0)
        rc = make_parents(b, id, err);
    if (rc == 0 && renameat2(AT_FDCWD, staging, AT_FDCWD, dest, RENAME_NOREPLACE) != 0)
        rc = bay_error_set(err, errno == EEXIST ? BAY_EEXIST : BAY_EIO, id, "cannot move the package into %s: %s",
                           dest, strerror(errno));
    bay__file_remove_tree(AT_FDCWD, staging);
    if (rc)
        return rc;
    if ((rc = lifecycle_rescan(b, NULL, err)) == 0 && (*p = broker_plugin(b, id)) == NULL)
        rc = bay_error_set(err, BAY_EIO, id, "the package was unpacked into the plugins folder, but no scan found %s",
                           id);
    if (rc)
        remove_folder(b, id);
    return rc;
}

void incoming_withdraw(broker *b, plugin *p)
{
    bay_error ignored;
    remove_folder(b, p->id);
    lifecycle_rescan(b, NULL, &ignored);
}

/* The packages placed whose first load has not settled: withdrawn when it fails. */
#define PLACED_MAX 16
struct incoming {
    struct placed {
        char id[BAY_PLUGIN_ID_MAX + 1];
        bool failed; /* its first load failed: withdraw it once its worker is gone */
    } v[PLACED_MAX];
    size_t n;
};

void incoming_installed(broker *b, const plugin *p)
{
    if (b->incoming == NULL && (b->incoming = calloc(1, sizeof *b->incoming)) == NULL)
        return;
    if (b->incoming->n < PLACED_MAX)
        snprintf(b->incoming->v[b->incoming->n++].id, BAY_PLUGIN_ID_MAX + 1, "%s", p->id);
}

void incoming_settled(broker *b, plugin *p)
{
    for (size_t i = 0; b->incoming && i < b->incoming->n; i++) {
        struct placed *pl = &b->incoming->v[i];
        if (strcmp(pl->id, p->id) != 0)
            continue;
        if (p->life.state == PS_FAILED || p->life.state == PS_INVALID)
            pl->failed = true;
        else if (p->life.state == PS_LOADED)
            *pl = b->incoming->v[--b->incoming->n];
        return;
    }
}

void incoming_tick(broker *b)
{
    for (size_t i = 0; b->incoming && i < b->incoming->n;) {
        struct placed *pl = &b->incoming->v[i];
        plugin *p = broker_plugin(b, pl->id);
        if (p && (!pl->failed || p->proc.pid || p->other.pid)) {
            i++;
            continue;
        }
        if (p) {
            bay_error e;
            bay__log(BAY_LOG_WARN, p->id, "its package is withdrawn: its first load failed (%s)", p->life.reason);
            if (bay__state_uninstall(b->state, p->id, &e) != 0 || lifecycle_unload(b, p, false, PS_AVAILABLE, &e) != 0)
                bay__log(BAY_LOG_ERROR, p->id, "%s", e.message);
            incoming_withdraw(b, p);
        }
        *pl = b->incoming->v[--b->incoming->n];
    }
}

void incoming_free(broker *b)
{
    free(b->incoming);
    b->incoming = NULL;
}
