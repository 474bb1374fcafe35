/* broker/watch.c — the plugins folder watched with inotify: its changes, once quiet, become one rescan. */
#include "watch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define QUIET_MS 200    /* a burst of changes ends once the folder was quiet this long */
#define LONGEST_MS 2000 /* a rescan waits at most this long after the first change, however busy the folder */
#define WATCH_MAX 4096  /* folders watched at most: whoever fills the plugins folder with folders does not take
                           every inotify watch its user has (8192 on older kernels) */

/* Every change that makes or removes a plugin folder, or its plugin.json. */
#define MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | \
              IN_MOVE_SELF | IN_DONT_FOLLOW | IN_ONLYDIR)

/* One watched folder. */
typedef struct watched {
    int wd;
    bool plugin; /* a plugin folder: only plugin.json and the folder itself count */
    bool seen;   /* named since watch_mark */
} watched;

struct watch {
    int fd;
    watched *v;
    size_t n, cap;
    int64_t first_ms, last_ms; /* the first and last change of the burst waiting, 0 when none */
};

int watch_open(watch **out, bay_error *err)
{
    watch *w = calloc(1, sizeof *w);
    if (w == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    if ((w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
        free(w);
        return bay_error_set(err, BAY_EIO, NULL,
                             "cannot watch the plugins folder (%s; see /proc/sys/fs/inotify/max_user_instances): "
                             "new plugin folders are found by `plugbay rescan` or SIGHUP only", strerror(errno));
    }
    *out = w;
    return 0;
}

int watch_fd(const watch *w)
{
    return w ? w->fd : -1;
}

void watch_mark(watch *w)
{
    for (size_t i = 0; w && i < w->n; i++)
        w->v[i].seen = false;
}

/* find returns the folder watched as wd, or NULL. */
static watched *find(watch *w, int wd)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->v[i].wd == wd)
            return &w->v[i];
    return NULL;
}

int watch_folder(watch *w, const char *path, bool plugin, bay_error *err)
{
    if (w == NULL)
        return 0;
    int wd = inotify_add_watch(w->fd, path, MASK); /* the same folder again: the same wd */
    if (wd < 0)
        return bay_error_set(err, BAY_EIO, NULL,
                             "cannot watch %s (%s; see /proc/sys/fs/inotify/max_user_watches): changes there are "
                             "found by `plugbay rescan` or SIGHUP only", path, strerror(errno));
    watched *f = find(w, wd);
    if (f == NULL && w->n >= WATCH_MAX) {
        inotify_rm_watch(w->fd, wd);
        return bay_error_set(err, BAY_EBUSY, NULL,
                             "more than %d folders below the plugins folder: %s and the folders after it are not "
                             "watched; changes there are found by `plugbay rescan` or SIGHUP only", WATCH_MAX, path);
    }
    if (f == NULL && w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 32;
        watched *v = realloc(w->v, cap * sizeof *v);
        if (v == NULL) {
            inotify_rm_watch(w->fd, wd);
            return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
        }
        w->v = v;
        w->cap = cap;
    }
    if (f == NULL)
        f = &w->v[w->n++];
    *f = (watched){wd, plugin, true};
    return 0;
}

/* forget drops the folder at index i from the table. */
static void forget(watch *w, size_t i)
{
    w->v[i] = w->v[--w->n];
}

void watch_sweep(watch *w)
{
    for (size_t i = 0; w && i < w->n;) {
        if (w->v[i].seen) {
            i++;
            continue;
        }
        inotify_rm_watch(w->fd, w->v[i].wd);
        forget(w, i);
    }
}

/* counts tells whether event e changes what a scan finds. */
static bool counts(watch *w, const struct inotify_event *e)
{
    if (e->mask & IN_Q_OVERFLOW)
        return true; /* changes were lost: look again */
    watched *f = find(w, e->wd);
    if (e->mask & IN_IGNORED) { /* the folder is gone, or no longer watched */
        if (f)
            forget(w, (size_t)(f - w->v));
        return false;
    }
    if (f == NULL)
        return false;
    if (!f->plugin || (e->mask & (IN_DELETE_SELF | IN_MOVE_SELF)))
        return true;
    return e->len && strcmp(e->name, "plugin.json") == 0;
}

void watch_read(watch *w, int64_t now_ms)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;
    while ((n = read(w->fd, buf, sizeof buf)) > 0) {
        for (char *at = buf; at < buf + n;) {
            const struct inotify_event *e = (const struct inotify_event *)at;
            if (counts(w, e)) {
                if (w->first_ms == 0)
                    w->first_ms = now_ms;
                w->last_ms = now_ms;
            }
            at += sizeof *e + e->len;
        }
    }
}

bool watch_due(watch *w, int64_t now_ms, int64_t *next)
{
    if (w == NULL || w->first_ms == 0)
        return false;
    int64_t due = w->last_ms + QUIET_MS < w->first_ms + LONGEST_MS ? w->last_ms + QUIET_MS : w->first_ms + LONGEST_MS;
    if (now_ms >= due) {
        w->first_ms = w->last_ms = 0;
        return true;
    }
    if (*next == 0 || due < *next)
        *next = due;
    return false;
}

void watch_close(watch *w)
{
    if (w == NULL)
        return;
    close(w->fd);
    free(w->v);
    free(w);
}
