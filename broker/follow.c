/* broker/follow.c — the indexes plugbayd follows (--index URL): fetched off the loop thread, an installed version they revoke disabled with their reason. */
#include "follow.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"
#include "index.h"
#include "lifecycle.h"
#include "log.h"

/* Longest one fetch of an index may take. */
#define FETCH_TIMEOUT_MS 30000

/* One version an index revokes. */
typedef struct revoked {
    char id[BAY_PLUGIN_ID_MAX + 1], version[64], reason[256];
    size_t index; /* which of the indexes */
} revoked;

/* The most publishers of one index whose verification plugbayd keeps (--verified-only). */
#define VERIFIED_MAX 64

/* How each index was last read. */
typedef struct reading {
    int64_t read_ms; /* when it was last read whole (bay__now_ms), 0 never */
    char verified[VERIFIED_MAX][BAY_KEY_ID_SIZE]; /* the key ids of the publishers its owner verified, */
    size_t nverified;                             /* as of its last read */
    char error[sizeof ((bay_error *)0)->message]; /* why its last read failed, "" when it did not */
} reading;

struct follow {
    pthread_t thread;
    int fd;                 /* eventfd: the thread found something */
    pthread_mutex_t lock;   /* guards everything below */
    pthread_cond_t wake;    /* signalled to stop the thread */
    bool stop;
    revoked *found;         /* the revocations of the last round, every index */
    size_t nfound;
    bool fresh;             /* found was not applied yet */
    reading read[BAY_INDEXES_MAX];
    bay__index *idx[BAY_INDEXES_MAX]; /* each index as of its last verified read, NULL before (follow_offers) */
};

/* round fetches every index once; its revocations go in *out (*n of them), each index read in kept[i] (NULL when
 * its read failed). */
static void round_of(broker *b, revoked **out, size_t *n, reading *read, bay__index **kept)
{
    bay__fetch_limits limits = {.timeout_ms = FETCH_TIMEOUT_MS};
    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < b->opt.nindexes; i++) {
        bay__index *idx = NULL;
        bay_error err;
        kept[i] = NULL;
        if (bay__fetch_index(b->opt.indexes[i], b->opt.trusted_keys, &limits, &idx, &err) != 0) {
            snprintf(read[i].error, sizeof read[i].error, "%s", err.message);
            continue;
        }
        read[i].read_ms = bay__now_ms();
        read[i].error[0] = '\0';
        read[i].nverified = 0;
        for (size_t k = 0; k < idx->npublishers && read[i].nverified < VERIFIED_MAX; k++)
            if (idx->publishers[k].verified)
                snprintf(read[i].verified[read[i].nverified++], BAY_KEY_ID_SIZE, "%s", idx->publishers[k].key_id);
        for (size_t k = 0; k < idx->nentries; k++) {
            const bay__index_entry *e = &idx->entries[k];
            revoked *more = e->revoked ? realloc(*out, (*n + 1) * sizeof *more) : NULL;
            if (more == NULL)
                continue;
            *out = more;
            revoked *r = &more[(*n)++];
            snprintf(r->id, sizeof r->id, "%s", e->id);
            snprintf(r->version, sizeof r->version, "%s", e->version);
            snprintf(r->reason, sizeof r->reason, "%s", e->revoked);
            r->index = i;
        }
        kept[i] = idx;
    }
}

/* follower is the thread: a round at once, then one every --index-interval-s, until told to stop. */
static void *follower(void *arg)
{
    broker *b = arg;
    struct follow *f = b->follow;
    reading read[BAY_INDEXES_MAX];
    pthread_mutex_lock(&f->lock);
    memcpy(read, f->read, sizeof read);
    while (!f->stop) {
        pthread_mutex_unlock(&f->lock);
        revoked *found;
        size_t n;
        bay__index *kept[BAY_INDEXES_MAX];
        round_of(b, &found, &n, read, kept);
        pthread_mutex_lock(&f->lock);
        for (size_t i = 0; i < b->opt.nindexes; i++)
            if (kept[i]) {
                bay__index_free(f->idx[i]);
                f->idx[i] = kept[i];
            }
        free(f->found);
        f->found = found;
        f->nfound = n;
        f->fresh = true;
        memcpy(f->read, read, sizeof read);
        uint64_t one = 1;
        ssize_t rung = write(f->fd, &one, sizeof one); /* fails only when the counter is full: it wakes the loop anyway */
        (void)rung;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += b->opt.index_interval_s;
        while (!f->stop && pthread_cond_timedwait(&f->wake, &f->lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

int follow_start(broker *b, bay_error *err)
{
    if (b->opt.nindexes == 0)
        return 0;
    struct follow *f = calloc(1, sizeof *f);
    if (f == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->wake, NULL);
    if ((f->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        free(f);
        return bay_error_set(err, BAY_EIO, NULL, "eventfd: %s", strerror(errno));
    }
    b->follow = f;
    int rc = pthread_create(&f->thread, NULL, follower, b);
    if (rc) {
        close(f->fd);
        free(f);
        b->follow = NULL;
        return bay_error_set(err, BAY_EIO, NULL, "cannot start the thread that reads the indexes: %s", strerror(rc));
    }
    for (size_t i = 0; i < b->opt.nindexes; i++)
        bay__log(BAY_LOG_INFO, NULL, "following the index %s (every %d s): a version it revokes is disabled",
                b->opt.indexes[i], b->opt.index_interval_s);
    return 0;
}

int follow_fd(const broker *b)
{
    return b->follow ? b->follow->fd : -1;
}

/* disable_revoked disables p, whose version the index url revokes. */
static void disable_revoked(broker *b, plugin *p, const revoked *r, const char *url)
{
    char why[sizeof p->life.reason];
    snprintf(why, sizeof why, "version %s is revoked by the index %s: %s; `plugbay update %s --index %s` moves it "
             "to one that is not", r->version, url, r->reason, p->id, url);
    if (p->life.state == PS_DISABLED) { /* disabled before (by an earlier round, or before a restart): say why */
        snprintf(p->life.reason, sizeof p->life.reason, "%s", why);
        return;
    }
    bay_error err;
    bay__log(BAY_LOG_WARN, p->id, "%s", why);
    if (lifecycle_disable(b, p, why, &err) != 0)
        bay__log(BAY_LOG_ERROR, p->id, "cannot disable it: %s", err.message);
}

void follow_apply(broker *b)
{
    struct follow *f = b->follow;
    uint64_t n;
    if (f == NULL || read(f->fd, &n, sizeof n) < 0)
        return;
    pthread_mutex_lock(&f->lock);
    revoked *found = f->fresh ? f->found : NULL;
    size_t nfound = f->fresh ? f->nfound : 0;
    f->found = f->fresh ? NULL : f->found;
    f->fresh = false;
    pthread_mutex_unlock(&f->lock);
    for (size_t i = 0; i < nfound; i++) {
        plugin *p = broker_plugin(b, found[i].id);
        if (p && p->m && strcmp(p->m->version, found[i].version) == 0 && p->life.state != PS_AVAILABLE &&
            p->life.state != PS_INVALID)
            disable_revoked(b, p, &found[i], b->opt.indexes[found[i].index]);
    }
    free(found);
}

void follow_status(const broker *b, bay_value *v)
{
    bay_value *all = bay_array();
    struct follow *f = b->follow;
    if (f)
        pthread_mutex_lock(&f->lock);
    for (size_t i = 0; f && i < b->opt.nindexes; i++) {
        bay_value *one = bay_map();
        bay_map_set(one, "url", bay_str(b->opt.indexes[i]));
        bay_map_set(one, "read_ms", f->read[i].read_ms ? bay_int(f->read[i].read_ms - b->started_ms) : bay_nil());
        bay_map_set(one, "error", f->read[i].error[0] ? bay_str(f->read[i].error) : bay_nil());
        bay_array_push(all, one);
    }
    if (f)
        pthread_mutex_unlock(&f->lock);
    bay_map_set(v, "indexes", all);
}

int follow_offers(const broker *b, follow_fn fn, void *ctx, bay_error *err)
{
    struct follow *f = b->follow;
    if (f == NULL)
        return bay_error_set(err, BAY_ENOENT, NULL,
                             "plugbayd follows no index: start it with --index URL --trusted-keys DIR to install from "
                             "one, or install a package file");
    bool read_any = false;
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < b->opt.nindexes; i++)
        if (f->idx[i]) {
            read_any = true;
            fn(ctx, b->opt.indexes[i], f->idx[i]);
        }
    pthread_mutex_unlock(&f->lock);
    return read_any ? 0
                    : bay_error_set(err, BAY_EBUSY, NULL,
                                    "no index plugbayd follows was read yet (see `plugbay status`): try again once one "
                                    "was");
}

int follow_verified(const broker *b, const char *key_id, bay_error *err)
{
    struct follow *f = b->follow;
    bool read_any = false, found = false;
    if (f)
        pthread_mutex_lock(&f->lock);
    for (size_t i = 0; f && i < b->opt.nindexes && !found; i++) {
        read_any |= f->read[i].read_ms != 0;
        for (size_t k = 0; key_id && k < f->read[i].nverified && !found; k++)
            found = strcmp(f->read[i].verified[k], key_id) == 0;
    }
    if (f)
        pthread_mutex_unlock(&f->lock);
    if (found)
        return 0;
    if (!read_any)
        return bay_error_set(err, BAY_EBUSY, NULL,
                             "--verified-only: no index plugbayd follows was read yet (see `plugbay status`): try "
                             "again once one was");
    if (key_id == NULL)
        return bay_error_set(err, BAY_EPERM, NULL,
                             "--verified-only: the package is not signed, and plugbayd takes only packages signed by "
                             "a publisher an index it follows verified");
    return bay_error_set(err, BAY_EPERM, NULL,
                         "--verified-only: key %s is no publisher the owner of an index plugbayd follows verified",
                         key_id);
}

void follow_stop(broker *b)
{
    struct follow *f = b->follow;
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->lock);
    f->stop = true;
    pthread_cond_signal(&f->wake);
    pthread_mutex_unlock(&f->lock);
    /* A fetch under way ends within its timeout; plugbayd does not wait that long to exit: the thread then goes
     * with the process, and what it holds with it. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    if (pthread_timedjoin_np(f->thread, NULL, &until) != 0) {
        bay__log(BAY_LOG_INFO, NULL, "an index is still being read: plugbayd exits without waiting for it");
        return;
    }
    close(f->fd);
    free(f->found);
    for (size_t i = 0; i < b->opt.nindexes; i++)
        bay__index_free(f->idx[i]);
    pthread_cond_destroy(&f->wake);
    pthread_mutex_destroy(&f->lock);
    free(f);
    b->follow = NULL;
}
