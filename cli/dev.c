/* cli/dev.c — plugbay dev: a plugin folder served by a private plugbayd, rebuilt and reloaded on every change. */
#include "dev.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "manifest.h"
#include "private.h"

/* A change is acted on once the folder stayed quiet this long (an editor's save is several events). */
#define QUIET_MS 200
/* The most folders of a plugin watched. */
#define MAX_WATCHES 256

/* The folders watched: inotify's watch descriptors and their paths. */
typedef struct watches {
    int fd;
    size_t n;
    int wd[MAX_WATCHES];
    char *path[MAX_WATCHES];
} watches;

/* watch_tree watches the folder path and each folder below it, hidden ones left out. */
static void watch_tree(watches *w, const char *path)
{
    int wd = inotify_add_watch(w->fd, path, IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE);
    if (wd < 0 || w->n == MAX_WATCHES)
        return;
    w->wd[w->n] = wd;
    w->path[w->n++] = strdup(path);
    DIR *d = opendir(path);
    for (struct dirent *e; d && (e = readdir(d));) {
        char sub[PATH_MAX];
        if (e->d_name[0] == '.' || e->d_type != DT_DIR)
            continue;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        watch_tree(w, sub);
    }
    if (d)
        closedir(d);
}

/* path_of returns the path of the folder watched as wd, or NULL. */
static const char *path_of(const watches *w, int wd)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->wd[i] == wd)
            return w->path[i];
    return NULL;
}

/* is_output tells whether name is a build's output or an editor's scratch file, whose changes are no edit. */
static bool is_output(const char *name)
{
    static const char *const endings[] = {".so", ".wasm", ".o", ".d", "~", ".swp", ".swx", ".tmp"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof endings / sizeof *endings; i++) {
        size_t m = strlen(endings[i]);
        if (n >= m && strcmp(name + n - m, endings[i]) == 0)
            return true;
    }
    return name[0] == '.' || name[0] == '#';
}

/* edited reads the pending events of w: true when one is an edit (a new folder is watched too). */
static bool edited(watches *w)
{
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool any = false;
    ssize_t len;
    while ((len = read(w->fd, buf, sizeof buf)) > 0)
        for (char *p = buf; p < buf + len;) {
            const struct inotify_event *e = (const struct inotify_event *)p;
            p += sizeof *e + e->len;
            if (e->len == 0 || is_output(e->name))
                continue;
            const char *parent = path_of(w, e->wd);
            char sub[PATH_MAX];
            if ((e->mask & (IN_CREATE | IN_ISDIR)) == (IN_CREATE | IN_ISDIR) && parent) {
                snprintf(sub, sizeof sub, "%s/%s", parent, e->name);
                watch_tree(w, sub);
            }
            any = any || !(e->mask & IN_ISDIR);
        }
    return any;
}

/* reload rebuilds the plugin id from dir, places it in pb's plugins folder and reloads it, saying how that went in
 * one line (and the build's output or the plugin's log lines when it failed). */
static void reload(private_broker *pb, const kit_paths *k, const char *dir, const char *id, unsigned n)
{
    bay_error e;
    int64_t mark = private_log_mark(pb, id);
    bay_value *args = bay_map();
    bay_map_set(args, "id", bay_str(id));
    int rc = kit_make(k, dir, &e);
    if (rc == 0 && (rc = private_place(pb, dir, id, &e)) == 0 &&
        (rc = bay_command(pb->conn, "reload", args, 0, NULL, &e)) == 0)
        rc = private_wait_loaded(pb, id, mark, &e);
    bay_value_free(args);
    if (rc == 0)
        printf("plugbay dev: change %u: rebuilt and reloaded %s\n", n, id);
    else
        printf("plugbay dev: change %u: %s%s%s%s\n", n, e.plugin, e.plugin[0] ? ": " : "", e.message,
               strstr(e.message, "keeps serving") ? "" : "; the version before keeps serving");
    fflush(stdout);
}

/* serve reloads the plugin id from dir after each edit w sees, once the folder stayed quiet, until interrupted. */
static void serve(watches *w, private_broker *pb, const kit_paths *k, const char *dir, const char *id)
{
    bool pending = false;
    unsigned changes = 0;
    while (!private_interrupted()) {
        struct pollfd p = {.fd = w->fd, .events = POLLIN};
        int ready = poll(&p, 1, pending ? QUIET_MS : -1);
        if (ready > 0)
            pending = edited(w) || pending;
        else if (ready == 0 && pending) {
            reload(pb, k, dir, id, ++changes);
            pending = false;
        }
    }
}

int cli_dev(const signing_args *a, bay_error *err)
{
    kit_paths k;
    private_broker pb;
    char id[BAY_PLUGIN_ID_MAX + 1];
    int rc = kit_locate(&k, err);
    if (rc)
        return rc;
    watches w = {.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)};
    if (w.fd < 0)
        return bay_error_set(err, BAY_EIO, NULL, "cannot watch %s: inotify: %s", a->dir, strerror(errno));
    watch_tree(&w, a->dir); /* before the first build: an edit while it runs is seen */
    rc = private_open(&pb, &k, a->dir, a->with, a->nwith, id, sizeof id, err);
    if (rc == 0) {
        printf("plugbay dev: %s loaded from %s; hosts connect with PLUGBAY_BROKER=%s (Ctrl-C stops)\n", id, a->dir,
               pb.url);
        fflush(stdout);
        serve(&w, &pb, &k, a->dir, id);
    }
    private_stop(&pb);
    for (size_t i = 0; i < w.n; i++)
        free(w.path[i]);
    close(w.fd);
    return rc;
}
