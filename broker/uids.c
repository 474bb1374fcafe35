/* broker/uids.c — a uid of its own for each plugin's worker (plugbayd as root, --plugin-uids). */
#include "uids.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

int uids_parse(const char *text, uid_t *first, uint32_t *count)
{
    char *end;
    errno = 0;
    unsigned long long a = strtoull(text, &end, 10), z = 0;
    if (errno == 0 && end != text && *end == '-')
        z = strtoull(end + 1, &end, 10);
    if (errno || *end != '\0' || a == 0 || z < a || z >= 0xffffffffULL || z - a >= 0x7fffffffULL)
        return -1;
    *first = (uid_t)a;
    *count = (uint32_t)(z - a + 1);
    return 0;
}

/* pass_through lets every uid pass through folder dir (0711), not read it. */
static int pass_through(const char *dir, bay_error *err)
{
    struct stat st;
    if (stat(dir, &st) != 0 || chmod(dir, (st.st_mode & 07777) | 0111) != 0)
        return bay_error_set(err, BAY_EIO, NULL, "--plugin-uids: cannot let workers pass through %s: %s", dir,
                             strerror(errno));
    return 0;
}

int uids_init(broker *b, bay_error *err)
{
    if (b->opt.uid_count == 0)
        return 0;
    if (geteuid() != 0)
        return bay_error_set(err, BAY_EPERM, NULL,
                             "--plugin-uids needs plugbayd to run as root: it starts each worker as a uid of the range");
    if (!b->opt.sandbox || !b->pidns)
        return bay_error_set(err, BAY_EINVAL, NULL,
                             "--plugin-uids needs the workers' namespaces (no --no-sandbox, no --no-namespaces, and a "
                             "kernel that gives them)");
    char path[PATH_MAX];
    const char *state = bay__state_dir(b->state);
    int rc = pass_through(state, err);
    snprintf(path, sizeof path, "%s/data", state);
    if (rc == 0)
        rc = pass_through(path, err);
    if (rc == 0)
        rc = pass_through(b->run_dir, err);
    snprintf(path, sizeof path, "%s/cache", state);
    if (rc == 0 && mkdir(path, 0711) != 0 && errno != EEXIST)
        rc = bay_error_set(err, BAY_EIO, NULL, "--plugin-uids: cannot create %s: %s", path, strerror(errno));
    if (rc == 0)
        rc = pass_through(path, err);
    if (rc == 0)
        bay__log(BAY_LOG_INFO, NULL, "each plugin's worker runs as a uid of its own, from %u to %u",
                (unsigned)b->opt.uid_first, (unsigned)(b->opt.uid_first + b->opt.uid_count - 1));
    return rc;
}

/* owner_of returns the uid owning plugin id's data folder, or 0 when it has none. */
static uid_t owner_of(const broker *b, const char *id)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/data/%s", bay__state_dir(b->state), id);
    return stat(path, &st) == 0 ? st.st_uid : 0;
}

/* taken tells whether uid owns the data folder of a plugin other than p. */
static bool taken(const broker *b, const plugin *p, uid_t uid)
{
    for (size_t i = 0; i < b->nplugins; i++)
        if (b->plugins[i] != p && owner_of(b, b->plugins[i]->id) == uid)
            return true;
    return false;
}

/* pick chooses p's uid: its data folder's owner, or the first free one from
 * a hash of its id (FNV-1a); 0 when all are taken. */
static uid_t pick(const broker *b, const plugin *p, uid_t owner)
{
    uid_t first = b->opt.uid_first;
    uint32_t count = b->opt.uid_count;
    if (owner >= first && owner - first < count && !taken(b, p, owner))
        return owner;
    uint32_t h = 2166136261u;
    for (const char *c = p->id; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    for (uint32_t i = 0; i < count && i < b->nplugins + 1; i++) {
        uid_t uid = first + (h + i) % count;
        if (!taken(b, p, uid))
            return uid;
    }
    return 0;
}

/* open_to_others refuses path (part of plugin id's folder, or above it) unless other users have every bit of need
 * on it: S_IROTH for a file, S_IROTH | S_IXOTH for the plugin folder, S_IXOTH for a folder on the way. */
static int open_to_others(const char *id, const char *path, mode_t need, bay_error *err)
{
    struct stat st = {0};
    if (stat(path, &st) == 0 && (st.st_mode & need) == need)
        return 0;
    return bay_error_set(err, BAY_EPERM, id,
                         "--plugin-uids: its worker cannot %s %s (mode %04o): a plugin's files and the folders above "
                         "them must be open to other users (chmod o+%s %s)",
                         need & S_IROTH ? "read" : "pass through", path, (unsigned)(st.st_mode & 07777),
                         need == S_IROTH ? "r" : need & S_IROTH ? "rx" : "x", path);
}

/* readable tells whether any uid may read plugin folder dir and its entry
 * file (NULL: none): entry may be read (o+r), the folders between them passed
 * through (o+x), dir read (o+rx), every folder above it passed through. 0, or
 * BAY_EPERM with err naming the first that may not. */
static int readable(const char *id, const char *dir, const char *entry, bay_error *err)
{
    char path[PATH_MAX];
    size_t n = strlen(dir);
    snprintf(path, sizeof path, "%s/%s", dir, entry ? entry : "");
    int rc = entry ? open_to_others(id, path, S_IROTH, err) : 0;
    for (char *slash; rc == 0 && (slash = strrchr(path, '/')) != NULL && (size_t)(slash - path) > n;) {
        *slash = '\0';
        rc = open_to_others(id, path, S_IXOTH, err);
    }
    path[n] = '\0';
    if (rc == 0)
        rc = open_to_others(id, path, S_IROTH | S_IXOTH, err);
    for (char *slash; rc == 0 && (slash = strrchr(path, '/')) != NULL;) {
        *slash = '\0';
        rc = open_to_others(id, path[0] ? path : "/", S_IXOTH, err);
    }
    return rc;
}

/* The uid nftw's callback gives files to (nftw passes no argument through). */
static uid_t giving;

/* give_one gives one file of a data folder to `giving`; a file with other
 * names (a hard link) is left alone, so that no file outside changes hands. */
static int give_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)type;
    (void)ftw;
    if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
        bay__log(BAY_LOG_WARN, NULL, "--plugin-uids: %s has %ju names: left to uid %u", path, (uintmax_t)st->st_nlink,
                (unsigned)st->st_uid);
        return 0;
    }
    return st->st_uid == giving && st->st_gid == (gid_t)giving ? 0 : lchown(path, giving, (gid_t)giving) ? errno : 0;
}

int uids_give(broker *b, const plugin *p, const bay__manifest *m, const char *data, const char *sock, char *cache, size_t len,
              uid_t *uid, bay_error *err)
{
    *uid = 0;
    cache[0] = '\0';
    if (b->opt.uid_count == 0)
        return 0;
    int rc = readable(p->id, m->dir, m->entry, err);
    if (rc)
        return rc;
    uid_t owner = owner_of(b, p->id), u = pick(b, p, owner);
    if (u == 0)
        return bay_error_set(err, BAY_EIO, p->id, "--plugin-uids: all %u uids are taken by other plugins",
                             (unsigned)b->opt.uid_count);
    giving = u;
    rc = owner == u ? 0 : nftw(data, give_one, 16, FTW_PHYS) != 0 ? errno : 0;
    /* The folders between STATE/data and data, for an id with a '/'. */
    char up[PATH_MAX], top[PATH_MAX];
    snprintf(up, sizeof up, "%s", data);
    snprintf(top, sizeof top, "%s/data", bay__state_dir(b->state));
    for (char *slash; rc == 0 && (slash = strrchr(up, '/')) && (*slash = '\0', strlen(up) > strlen(top));)
        rc = chmod(up, 0711) ? errno : 0;
    if (rc == 0 && sock && chown(sock, u, (gid_t)u) != 0)
        rc = errno;
    if (rc == 0) {
        snprintf(cache, len, "%s/cache/wasm-u%u", bay__state_dir(b->state), (unsigned)u);
        rc = (mkdir(cache, 0700) != 0 && errno != EEXIST) || chown(cache, u, (gid_t)u) != 0 ? errno : 0;
    }
    if (rc)
        return bay_error_set(err, BAY_EIO, p->id, "--plugin-uids: cannot give uid %u its files (%s): %s", (unsigned)u,
                             data, strerror(rc));
    *uid = u;
    return 0;
}
