/* broker/offer.c — what the indexes plugbayd follows offer (index.list), and installing from them (install.index): the package downloaded off the loop thread. */
#include "offer.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "command.h"
#include "conn.h"
#include "fetch.h"
#include "follow.h"
#include "incoming.h"
#include "index.h"
#include "log.h"
#include "value_convert.h"

/* The most downloads under way at once. */
#define DOWNLOADS_MAX 4

/* One install.index: its package downloading, then installed on the loop thread. */
typedef struct job {
    struct job *next;
    pthread_t thread;
    uint64_t session, request;        /* the COMMAND it answers */
    bay_value *args;                  /* its arguments (the grants), with "sha256" */
    char index[PATH_MAX];             /* the index's URL */
    char id[BAY_PLUGIN_ID_MAX + 1], version[64], path[PATH_MAX], sha256[65];
    uint64_t size;
    char dest[PATH_MAX];              /* STATE/incoming/SHA256.bayplug */
    struct offer *offer;              /* where it tells that it ended */
    bool done;                        /* the download ended: rc, err */
    int rc;
    bay_error err;
} job;

struct offer {
    int fd;               /* eventfd: a download ended */
    pthread_mutex_t lock; /* guards jobs' done, rc, err and the list */
    job *jobs;
};

/* installed tells whether plugin p (NULL: none in the plugins folder) is installed. */
static bool installed(const plugin *p)
{
    return p && p->life.state != PS_AVAILABLE && p->life.state != PS_INVALID;
}

/* ---- index.list -------------------------------------------------------- */

/* value_of returns JSON j (an index entry's permissions or dependencies, checked when the index was read) as a
 * value (nil when out of memory). */
static bay_value *value_of(const json_t *j)
{
    bay_value *v = NULL;
    return bay__value_from_jansson(j, &v, NULL) == 0 ? v : bay_nil();
}

typedef struct listing {
    broker *b;
    const char *query; /* NULL: every plugin */
    bay_value *out;    /* the array */
} listing;

/* listed tells whether l has id already (from an index before). */
static bool listed(const listing *l, const char *id)
{
    for (size_t i = 0; i < bay_value_len(l->out); i++)
        if (strcmp(bay_value_str(bay_map_get(bay_array_get(l->out, i), "id"), NULL), id) == 0)
            return true;
    return false;
}

/* one_offer returns entry e of idx (at url) as index.list shows it. */
static bay_value *one_offer(broker *b, const char *url, const bay__index *idx, const bay__index_entry *e)
{
    bay_value *v = bay_map();
    const bay__index_publisher *pub = bay__index_publisher_of(idx, e->key_id);
    const plugin *p = broker_plugin(b, e->id);
    bool have_it = installed(p) && p->m;
    bay__semver have;
    char signer[512];
    bay__index_signer(idx, e, signer, sizeof signer);
    bay_map_set(v, "id", bay_str(e->id));
    bay_map_set(v, "version", bay_str(e->version));
    bay_map_set(v, "name", e->name ? bay_str(e->name) : bay_nil());
    bay_map_set(v, "brief", e->brief ? bay_str(e->brief) : bay_nil());
    bay_map_set(v, "language", bay_str(e->language));
    bay_map_set(v, "permissions", value_of(e->permissions));
    bay_map_set(v, "dependencies", value_of(e->dependencies));
    bay_map_set(v, "size", bay_int((int64_t)e->size));
    bay_map_set(v, "publisher", bay_str(signer));
    bay_map_set(v, "key_id", e->key_id ? bay_str(e->key_id) : bay_nil());
    bay_map_set(v, "verified", bay_bool(pub && pub->verified));
    bay_map_set(v, "index", bay_str(url));
    bay_map_set(v, "installed", have_it ? bay_str(p->m->version) : bay_nil());
    bay_map_set(v, "outdated", bay_bool(have_it && bay__semver_parse(p->m->version, &have) == 0 &&
                                        bay__semver_cmp(&have, &e->ver) < 0));
    return v;
}

/* list_index adds the newest version not revoked of each plugin of idx to l (a follow_fn). */
static void list_index(void *ctx, const char *url, const bay__index *idx)
{
    listing *l = ctx;
    for (size_t i = 0; i < idx->nentries; i++) {
        const bay__index_entry *e = &idx->entries[i];
        const bay__index_entry *newest = NULL;
        for (; i < idx->nentries && strcmp(idx->entries[i].id, e->id) == 0; i++) /* oldest first */
            if (!idx->entries[i].revoked)
                newest = &idx->entries[i];
        i--;
        if (newest == NULL || listed(l, newest->id))
            continue;
        if (l->query && !bay__index_matches(newest, l->query))
            continue;
        bay_array_push(l->out, one_offer(l->b, url, idx, newest));
    }
}

int offer_list(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    (void)p;
    const char *query = bay_value_str(bay_map_get(args, "query"), NULL);
    listing l = {b, query && *query ? query : NULL, bay_array()};
    int rc = follow_offers(b, list_index, &l, err);
    if (rc)
        bay_value_free(l.out);
    else
        *out = l.out;
    return rc;
}

/* ---- install.index ------------------------------------------------------ */

/* A plugin, version or range sought in the indexes. */
typedef struct seeking {
    const char *id, *version, *range; /* version, range: NULL when not given */
    job *j;                           /* filled from the entry found */
    const bay__index_entry *found;    /* in the index read, during the call only */
    char missing[512];                /* the dependencies not installed ("" none) */
    broker *b;
    bay_error err;                    /* why no index had it (the first's) */
    bool tried;
} seeking;

/* missing_of writes to s->missing the dependencies of e not installed, with how to install each. */
static void missing_of(seeking *s, const bay__index_entry *e)
{
    const char *dep;
    const json_t *range;
    size_t used = 0;
    json_object_foreach((json_t *)e->dependencies, dep, range) {
        if (installed(broker_plugin(s->b, dep)))
            continue;
        if (used < sizeof s->missing)
            used += (size_t)snprintf(s->missing + used, sizeof s->missing - used, "%s%s@%s", used ? ", " : "", dep,
                                     json_string_value(range));
    }
}

/* seek_in looks for s in idx (a follow_fn); the first index that has it wins. */
static void seek_in(void *ctx, const char *url, const bay__index *idx)
{
    seeking *s = ctx;
    if (s->found)
        return;
    char spec[BAY_PLUGIN_ID_MAX + 256];
    const bay__index_entry *e = NULL;
    bay_error err;
    int rc = 0;
    if (s->version) {
        e = bay__index_find(idx, s->id, s->version);
        rc = e == NULL ? bay_error_set(&err, BAY_ENOENT, NULL, "the index %s has no %s version %s", url, s->id,
                                       s->version)
             : e->revoked ? bay_error_set(&err, BAY_ENOENT, NULL, "version %s of %s is revoked by the index %s: %s",
                                          s->version, s->id, url, e->revoked)
                          : 0;
    } else {
        snprintf(spec, sizeof spec, "%s%s%s", s->id, s->range ? "@" : "", s->range ? s->range : "");
        rc = bay__index_resolve(idx, spec, BAY_VERSION, &e, &err);
    }
    if (rc) {
        if (!s->tried)
            s->err = err;
        s->tried = true;
        return;
    }
    s->found = e;
    missing_of(s, e);
    snprintf(s->j->index, sizeof s->j->index, "%s", url);
    snprintf(s->j->version, sizeof s->j->version, "%s", e->version);
    snprintf(s->j->path, sizeof s->j->path, "%s", e->path);
    snprintf(s->j->sha256, sizeof s->j->sha256, "%s", e->sha256);
    s->j->size = e->size;
}

/* download is a job's thread: the package into its dest, then the loop told. */
static void *download(void *arg)
{
    job *j = arg;
    bay__index_entry e = {.id = j->id, .version = j->version, .path = j->path, .sha256 = j->sha256, .size = j->size};
    bay_error err;
    int rc = bay__fetch_package(j->index, &e, NULL, j->dest, &err);
    if (rc == BAY_EPERM) /* its size or SHA-256 is not the index's */
        rc = err.code = BAY_EINVAL;
    pthread_mutex_lock(&j->offer->lock);
    j->rc = rc;
    j->err = err;
    j->done = true;
    uint64_t one = 1;
    ssize_t rung = write(j->offer->fd, &one, sizeof one); /* fails only when the counter is full: it wakes the loop */
    (void)rung;
    pthread_mutex_unlock(&j->offer->lock);
    return NULL;
}

/* offer_of returns b's downloads, made at the first; NULL with err set. */
static struct offer *offer_of(broker *b, bay_error *err)
{
    if (b->offer)
        return b->offer;
    struct offer *o = calloc(1, sizeof *o);
    if (o == NULL) {
        bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    if ((o->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        bay_error_set(err, BAY_EIO, NULL, "eventfd: %s", strerror(errno));
        free(o);
        return NULL;
    }
    pthread_mutex_init(&o->lock, NULL);
    return b->offer = o;
}

/* busy refuses a download of id when one is under way, or DOWNLOADS_MAX are. */
static int busy(const struct offer *o, const char *id, bay_error *err)
{
    size_t n = 0;
    for (const job *j = o->jobs; j; j = j->next, n++)
        if (strcmp(j->id, id) == 0)
            return bay_error_set(err, BAY_EBUSY, id, "%s is being downloaded already: wait for that install", id);
    return n >= DOWNLOADS_MAX ? bay_error_set(err, BAY_EBUSY, id, "%zu packages are downloading already: try again "
                                              "once one is installed", n)
                              : 0;
}

/* job_free frees j (its thread joined). */
static void job_free(job *j)
{
    bay_value_free(j->args);
    free(j);
}

/* placeable refuses id when the plugins folder has it already. */
static int placeable(broker *b, const char *id, bay_error *err)
{
    const plugin *p = broker_plugin(b, id);
    if (p == NULL)
        return 0;
    if (installed(p))
        return bay_error_set(err, BAY_EEXIST, id,
                             "%s is already installed (version %s): update it (`plugbay update %s --index URL`, or "
                             "the console's Update)",
                             id, p->m ? p->m->version : "?", id);
    return bay_error_set(err, BAY_EEXIST, id,
                         "the plugins folder has %s already, not installed: install it with `plugbay install %s`, or "
                         "remove its folder first",
                         id, id);
}

/* start makes j's download: its args (with "sha256") and dest, then its thread. */
static int start(broker *b, struct offer *o, job *j, const bay_value *args, bay_error *err)
{
    char incoming[PATH_MAX];
    if (j->size > (uint64_t)b->opt.package_max_mb << 20)
        return bay_error_set(err, BAY_EPERM, j->id, "%s %s is %llu bytes: more than --package-max-mb %d", j->id,
                             j->version, (unsigned long long)j->size, b->opt.package_max_mb);
    incoming_file(b, j->sha256, incoming);
    snprintf(j->dest, sizeof j->dest, "%s", incoming);
    j->args = bay_value_copy(args);
    if (j->args == NULL || bay_map_set(j->args, "sha256", bay_str(j->sha256)) != 0)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    j->offer = o;
    int rc = pthread_create(&j->thread, NULL, download, j);
    if (rc)
        return bay_error_set(err, BAY_EIO, NULL, "cannot start a thread to download %s: %s", j->id, strerror(rc));
    pthread_mutex_lock(&o->lock);
    j->next = o->jobs;
    o->jobs = j;
    pthread_mutex_unlock(&o->lock);
    bay__log(BAY_LOG_INFO, j->id, "downloading %s %s from the index %s", j->id, j->version, j->index);
    return 0;
}

int offer_install(broker *b, conn *c, const bay__frame *f, plugin *p, const bay_value *args, bay_error *err)
{
    (void)p;
    seeking s = {.id = bay_value_str(bay_map_get(args, "id"), NULL), .b = b};
    s.version = bay_value_str(bay_map_get(args, "version"), NULL);
    s.range = bay_value_str(bay_map_get(args, "range"), NULL);
    if (s.id == NULL || *s.id == '\0' || strlen(s.id) > BAY_PLUGIN_ID_MAX)
        return bay_error_set(err, BAY_EINVAL, NULL, "install.index needs {\"id\": PLUGIN-ID}");
    if (s.version && s.range)
        return bay_error_set(err, BAY_EINVAL, NULL, "install.index takes \"version\" or \"range\", not both");
    struct offer *o = offer_of(b, err);
    int rc = o ? placeable(b, s.id, err) : err->code;
    if (rc == 0)
        rc = busy(o, s.id, err);
    job *j = rc ? NULL : calloc(1, sizeof *j);
    if (rc == 0 && j == NULL)
        rc = bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    if (rc) {
        free(j);
        return rc;
    }
    snprintf(j->id, sizeof j->id, "%s", s.id);
    s.j = j;
    rc = follow_offers(b, seek_in, &s, err);
    if (rc == 0 && s.found == NULL) {
        *err = s.err;
        rc = err->code;
    }
    if (rc == 0 && s.missing[0])
        rc = bay_error_set(err, BAY_ENOENT, s.id,
                           "%s %s needs %s, not installed: install that first (install.index, `plugbay install ID "
                           "--index URL`), then %s",
                           s.id, j->version, s.missing, s.id);
    j->session = c->session;
    j->request = f->id;
    if (rc == 0 && (rc = start(b, o, j, args, err)) == 0)
        return 0;
    job_free(j);
    return rc;
}

int offer_fd(const broker *b)
{
    return b->offer ? b->offer->fd : -1;
}

/* settle installs the package j downloaded, or tells why not, and answers j's command. */
static void settle(broker *b, job *j)
{
    plugin *p = NULL;
    bay_error err = j->err;
    int rc = j->rc;
    if (rc == 0 && (rc = placeable(b, j->id, &err)) != 0)
        unlink(j->dest);
    if (rc == 0 && (rc = incoming_place(b, j->args, &p, &err)) == 0 && strcmp(p->id, j->id) != 0) {
        rc = bay_error_set(&err, BAY_EINVAL, j->id, "the index %s gives %s for %s, but it holds %s: refused",
                           j->index, j->path, j->id, p->id);
        incoming_withdraw(b, p);
    } else if (rc == 0) {
        rc = command_install_placed(b, p, j->args, &err);
    }
    conn *c = conn_get(b, j->session);
    bay__log(rc ? BAY_LOG_WARN : BAY_LOG_INFO, j->id, "install.index %s %s: %s", j->id, j->version,
             rc ? err.message : "installed");
    if (rc && c)
        conn_send_error(b, c, j->request, rc, err.plugin[0] ? err.plugin : j->id, "%s", err.message);
    else if (rc == 0)
        command_answer_settled(b, p, j->session, j->request);
}

void offer_apply(broker *b)
{
    struct offer *o = b->offer;
    uint64_t n;
    if (o == NULL || read(o->fd, &n, sizeof n) < 0)
        return;
    job *done = NULL;
    pthread_mutex_lock(&o->lock);
    for (job **at = &o->jobs; *at;) {
        job *j = *at;
        if (!j->done) {
            at = &j->next;
            continue;
        }
        *at = j->next;
        j->next = done;
        done = j;
    }
    pthread_mutex_unlock(&o->lock);
    while (done) {
        job *j = done;
        done = j->next;
        pthread_join(j->thread, NULL);
        settle(b, j);
        job_free(j);
    }
}

void offer_stop(broker *b)
{
    struct offer *o = b->offer;
    if (o == NULL)
        return;
    pthread_mutex_lock(&o->lock);
    bool under_way = false;
    for (const job *j = o->jobs; j; j = j->next)
        under_way |= !j->done;
    pthread_mutex_unlock(&o->lock);
    if (under_way) { /* a download ends within its timeout; plugbayd does not wait that long to exit */
        bay__log(BAY_LOG_INFO, NULL, "a package is still downloading: plugbayd exits without waiting for it");
        return;
    }
    while (o->jobs) {
        job *j = o->jobs;
        o->jobs = j->next;
        pthread_join(j->thread, NULL);
        job_free(j);
    }
    close(o->fd);
    pthread_mutex_destroy(&o->lock);
    free(o);
    b->offer = NULL;
}
