/* broker/update.c — another version of an installed plugin, from a package, and back: folders swapped, versions kept, a version that fails rolled back. */
#include "update.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "incoming.h"
#include "inspect.h"
#include "lifecycle.h"
#include "log.h"
#include "manifest.h"
#include "permission.h"
#include "semver.h"

/* One swap of a plugin's folder, until its reload ends: PLUGINS/ID holds
 * version `to`, and PLUGINS/.versions/ID/`from` the version it replaced. */
typedef struct swap {
    char id[BAY_PLUGIN_ID_MAX + 1];
    char from[64], to[64];
    bool keep_to; /* a rollback: `to` was kept before and is kept again if it fails; an update's is removed */
} swap;

struct updates {
    swap *v;
    size_t n;
};

/* kept writes where version of plugin id is kept to path (PATH_MAX bytes). */
static void kept(const broker *b, const char *id, const char *version, char *path)
{
    snprintf(path, PATH_MAX, "%s/.versions/%s/%s", b->opt.plugins_dir, id, version);
}

/* current writes plugin id's folder to path (PATH_MAX bytes). */
static void current(const broker *b, const char *id, char *path)
{
    snprintf(path, PATH_MAX, "%s/%s", b->opt.plugins_dir, id);
}

/* find returns the swap of plugin id under way, or NULL. */
static swap *find(broker *b, const char *id)
{
    for (size_t i = 0; b->updates && i < b->updates->n; i++)
        if (strcmp(b->updates->v[i].id, id) == 0)
            return &b->updates->v[i];
    return NULL;
}

/* drop forgets the swap s. */
static void drop(broker *b, swap *s)
{
    *s = b->updates->v[--b->updates->n];
}

/* exchange puts the folder from at plugin id's place, and the folder there
 * at keep (replacing an earlier copy of that version); when the second move
 * fails the first is undone. Returns 0 or BAY_EIO with err. */
static int exchange(const broker *b, const char *id, const char *from, const char *keep, bay_error *err)
{
    char here[PATH_MAX], folders[PATH_MAX];
    current(b, id, here);
    snprintf(folders, sizeof folders, "%s", keep);
    int e = bay__file_mkdirs(folders, strlen(b->opt.plugins_dir) + 1, false, 0755);
    if (e)
        return bay_error_set(err, BAY_EIO, id, "cannot create %s: %s", folders, strerror(e));
    bay__file_remove_tree(AT_FDCWD, keep);
    if (rename(here, keep) != 0)
        return bay_error_set(err, BAY_EIO, id, "cannot keep %s as %s: %s", here, keep, strerror(errno));
    if (rename(from, here) != 0) {
        int e = errno;
        rename(keep, here);
        return bay_error_set(err, BAY_EIO, id, "cannot move %s to %s: %s", from, here, strerror(e));
    }
    return 0;
}

/* begin records the swap of plugin id from version `from` to `to`. */
static int begin(broker *b, const char *id, const char *from, const char *to, bool keep_to, bay_error *err)
{
    if (b->updates == NULL && (b->updates = calloc(1, sizeof *b->updates)) == NULL)
        return bay_error_set(err, BAY_ENOMEM, id, "out of memory");
    swap *v = realloc(b->updates->v, (b->updates->n + 1) * sizeof *v);
    if (v == NULL)
        return bay_error_set(err, BAY_ENOMEM, id, "out of memory");
    b->updates->v = v;
    swap *s = &v[b->updates->n++];
    snprintf(s->id, sizeof s->id, "%s", id);
    snprintf(s->from, sizeof s->from, "%s", from);
    snprintf(s->to, sizeof s->to, "%s", to);
    s->keep_to = keep_to;
    return 0;
}

/* swap_back puts version s->from at its plugin's place again (the version
 * that failed kept again after a rollback, removed after an update) and
 * forgets s. */
static void swap_back(broker *b, swap *s)
{
    char here[PATH_MAX], was[PATH_MAX], failed[PATH_MAX];
    current(b, s->id, here);
    kept(b, s->id, s->from, was);
    kept(b, s->id, s->to, failed);
    bay_error e;
    if (s->keep_to ? exchange(b, s->id, was, failed, &e) != 0
                   : (bay__file_remove_tree(AT_FDCWD, here) != 0 || rename(was, here) != 0))
        bay__log(BAY_LOG_ERROR, s->id, "cannot put version %s back in %s: %s", s->from, here,
                s->keep_to ? e.message : strerror(errno));
    drop(b, s);
}

/* unconsented refuses version m of p when it asks for more than p was granted and args grant. */
static int unconsented(broker *b, plugin *p, const bay__manifest *m, const bay_value *args, bay_error *err)
{
    char **chosen = NULL;
    bay__state_plugin *sp = bay__state_find(b->state, p->id);
    const bay_value *grant = bay_map_get(args, "grant");
    bool all = bay_value_bool(bay_map_get(args, "grant_all"));
    int rc = grant || all ? permission_choose(p->id, m, grant, all, &chosen, err) : 0;
    char **wanted = rc ? NULL : permission_unconsented(p->m, m, sp->granted);
    size_t missing = 0;
    for (char **w = wanted; w && *w; w++)
        if (permission_covering(chosen, *w) == NULL)
            wanted[missing++] = *w;
        else
            free(*w);
    if (wanted)
        wanted[missing] = NULL;
    char list[600];
    if (rc == 0 && wanted == NULL)
        rc = bay_error_set(err, BAY_ENOMEM, p->id, "out of memory");
    else if (rc == 0 && missing) {
        permission_join(wanted, list, sizeof list);
        rc = bay_error_set(err, BAY_EPERM, p->id,
                           "%s %s asks for %s, not granted: update with --grant for each (or --grant-all); version "
                           "%s keeps serving",
                           p->id, m->version, list, p->m->version);
    }
    bay_error e;
    if (rc == 0 && chosen && (rc = bay__state_add_granted(b->state, p->id, (const char *const *)chosen, &e)) != 0)
        bay_error_set(err, rc, p->id, "not updated: %s", e.message);
    bay__strv_free(wanted);
    bay__strv_free(chosen);
    return rc;
}

/* may_change refuses a change of version (what) to plugin id, p (NULL when absent), now: not installed, its
 * manifest invalid, its new worker starting or another change under way. While the version before the one
 * serving finishes its calls, a change waits its turn (lifecycle_reload queues it). */
static int may_change(broker *b, plugin *p, const char *id, const char *what, bay_error *err)
{
    if (p == NULL || bay__state_find(b->state, id) == NULL)
        return bay_error_set(err, BAY_ESTATE, id, "%s is not installed: install it first (`plugbay install FILE` for a "
                             "package)", id);
    if (p->m == NULL)
        return bay_error_set(err, BAY_ESTATE, p->id, "%s has an invalid manifest (%s): fix it or reinstall it", p->id,
                             p->life.reason);
    if (p->life.reload == RELOAD_STARTING || find(b, p->id))
        return bay_error_set(err, BAY_EBUSY, p->id, "%s is reloading: %s again once that reload answered", p->id, what);
    return 0;
}

int update_place(broker *b, const bay_value *args, plugin **p, bay_error *err)
{
    char staging[PATH_MAX], keep[PATH_MAX];
    bay__manifest *m;
    int rc = incoming_unpack(b, args, staging, &m, err);
    if (rc)
        return rc;
    *p = broker_plugin(b, m->id);
    rc = may_change(b, *p, m->id, "update", err);
    if (rc == 0 && strcmp(m->version, (*p)->m->version) == 0)
        rc = bay_error_set(err, BAY_EEXIST, m->id, "%s runs version %s already", m->id, m->version);
    if (rc == 0)
        rc = unconsented(b, *p, m, args, err);
    if (rc == 0)
        rc = bay__inspect(m, bay__state_find(b->state, m->id)->granted, err);
    if (rc == 0) {
        kept(b, m->id, (*p)->m->version, keep);
        if ((rc = exchange(b, m->id, staging, keep, err)) == 0 &&
            (rc = begin(b, m->id, (*p)->m->version, m->version, false, err)) != 0)
            exchange(b, m->id, keep, staging, err);
    }
    bay__file_remove_tree(AT_FDCWD, staging);
    if (rc == 0)
        bay__log(BAY_LOG_INFO, m->id, "updating from version %s to %s; %s is kept in %s", (*p)->m->version, m->version,
                (*p)->m->version, keep);
    bay__manifest_free(m);
    return rc;
}

/* newest_kept writes to out the version of p to roll back to: the newest kept older than the one it runs, else
 * the newest kept. false when none is kept. */
static bool newest_kept(const broker *b, const plugin *p, char *out, size_t len)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/.versions/%s", b->opt.plugins_dir, p->id);
    DIR *d = opendir(dir);
    bay__semver best = {0}, v;
    bool found = false, older = false;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        if (strlen(e->d_name) >= len || bay__semver_parse(e->d_name, &v) != 0 || strcmp(e->d_name, p->m->version) == 0)
            continue;
        bool below = bay__semver_cmp(&v, &p->m->ver) < 0;
        if (!found || (below && !older) || (below == older && bay__semver_cmp(&v, &best) > 0)) {
            best = v;
            found = true;
            older = below;
            memcpy(out, e->d_name, strlen(e->d_name) + 1);
        }
    }
    if (d)
        closedir(d);
    return found;
}

int update_rollback(broker *b, plugin *p, bay_error *err)
{
    char to[64], from[PATH_MAX], keep[PATH_MAX];
    int rc = may_change(b, p, p->id, "rollback", err);
    if (rc)
        return rc;
    if (!newest_kept(b, p, to, sizeof to))
        return bay_error_set(err, BAY_ENOENT, p->id, "no other version of %s is kept in %s/.versions/%s", p->id,
                             b->opt.plugins_dir, p->id);
    kept(b, p->id, to, from);
    kept(b, p->id, p->m->version, keep);
    /* The version it runs is kept, in case this one fails too; the one brought back leaves the kept. */
    char moved[PATH_MAX + 8];
    snprintf(moved, sizeof moved, "%s.back", from);
    if (rename(from, moved) != 0)
        return bay_error_set(err, BAY_EIO, p->id, "cannot take %s: %s", from, strerror(errno));
    if ((rc = exchange(b, p->id, moved, keep, err)) == 0 && (rc = begin(b, p->id, p->m->version, to, true, err)) != 0)
        exchange(b, p->id, keep, moved, err);
    if (rc)
        rename(moved, from);
    else
        bay__log(BAY_LOG_INFO, p->id, "rolling back from version %s to %s", p->m->version, to);
    return rc;
}

int update_reload(broker *b, plugin *p, bay_error *err)
{
    swap *s = find(b, p->id);
    int rc = lifecycle_reload(b, p, err);
    if (s && rc) {
        bay__log(BAY_LOG_WARN, p->id, "version %s was refused (%s): version %s is back", s->to, err->message, s->from);
        swap_back(b, s);
    } else if (s && p->life.reload == RELOAD_NONE && !p->life.reload_queued) {
        drop(b, s); /* not loaded: it takes the new version when it loads */
    } /* else its reload started, or waits its turn or its compile (precompile.h): update_reloaded ends the swap */
    return rc;
}

void update_reloaded(broker *b, plugin *p, bool ok, const char *why)
{
    swap *s = find(b, p->id);
    if (s == NULL)
        return;
    if (ok) {
        drop(b, s);
        return;
    }
    snprintf(p->life.reason, sizeof p->life.reason, "version %s failed to load (%s): rolled back to %s", s->to, why,
             s->from);
    bay__log(BAY_LOG_WARN, p->id, "%s", p->life.reason);
    swap_back(b, s);
}

void update_forget(broker *b, const char *id)
{
    char dir[PATH_MAX];
    size_t base = (size_t)snprintf(dir, sizeof dir, "%s/.versions", b->opt.plugins_dir);
    snprintf(dir + base, sizeof dir - base, "/%s", id);
    bay__file_remove_up(dir, base); /* .versions too, once empty */
}

void update_free(broker *b)
{
    if (b->updates)
        free(b->updates->v);
    free(b->updates);
    b->updates = NULL;
}
