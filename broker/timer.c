/* broker/timer.c — a serving plugin's timers: its manifest's, and those it sets, moves and removes at run time. */
#include "timer.h"

#include <stdlib.h>
#include <string.h>

#include "manifest.h"
#include "route.h"

#define INTERVAL_MAX_MS 86400000

/* timer_free frees t and what it owns. */
static void timer_free(plugin_timer *t)
{
    if (t == NULL)
        return;
    free(t->own.name);
    free(t->own.function);
    free(t);
}

void timers_clear(plugin_timers *t)
{
    for (size_t i = 0; i < t->n; i++)
        timer_free(t->v[i]);
    free(t->v);
    *t = (plugin_timers){0};
}

/* push adds t to p's timers: false (t not taken) when out of memory. */
static bool push(plugin *p, plugin_timer *t)
{
    plugin_timer **v = realloc(p->life.timers.v, (p->life.timers.n + 1) * sizeof *v);
    if (v == NULL)
        return false;
    v[p->life.timers.n++] = t;
    p->life.timers.v = v;
    return true;
}

void timers_start(plugin *p, int64_t now)
{
    timers_clear(&p->life.timers);
    for (size_t i = 0; i < p->m->ntimers; i++) {
        plugin_timer *t = calloc(1, sizeof *t);
        if (t)
            *t = (plugin_timer){.decl = &p->m->timers[i], .next_ms = now + p->m->timers[i].interval_ms};
        if (t == NULL || !push(p, t))
            free(t); /* out of memory: that timer does not tick */
    }
}

void timers_retire(plugin *p)
{
    timers_clear(&p->life.old_timers);
    p->life.old_timers = p->life.timers;
    p->life.timers = (plugin_timers){0};
}

int64_t timers_tick(broker *b, plugin *p, int64_t now)
{
    int64_t due = 0;
    size_t kept = 0;
    for (size_t i = 0; i < p->life.timers.n; i++) {
        plugin_timer *t = p->life.timers.v[i];
        if (t->removed && !t->running) {
            timer_free(t);
            continue;
        }
        p->life.timers.v[kept++] = t;
        if (t->removed || t->running)
            continue;
        if (now >= t->next_ms) {
            int64_t iv = t->decl->interval_ms;
            t->next_ms += ((now - t->next_ms) / iv + 1) * iv; /* skip ticks missed while running */
            route_timer_tick(b, p, t);
        }
        if (due == 0 || t->next_ms < due)
            due = t->next_ms;
    }
    p->life.timers.n = kept;
    return due;
}

/* find returns p's timer name (not removed), or NULL. */
static plugin_timer *find(const plugin *p, const char *name)
{
    for (size_t i = 0; i < p->life.timers.n; i++)
        if (!p->life.timers.v[i]->removed && strcmp(p->life.timers.v[i]->decl->name, name) == 0)
            return p->life.timers.v[i];
    return NULL;
}

/* identifier tells whether s is a function name: letters, digits and '_', not starting with a digit. */
static bool identifier(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 128 && (s[0] < '0' || s[0] > '9') &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n;
}

/* name_valid tells whether s may name a timer (as a provide's name: 1 to 128 of A-Z a-z 0-9 _ . : -). */
static bool name_valid(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 128 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-") == n;
}

int timers_set(plugin *p, const char *name, int64_t interval_ms, const char *function, int64_t now, bay_error *err)
{
    if (!name_valid(name))
        return bay_error_set(err, BAY_EINVAL, p->id, "a timer's name is 1 to 128 of A-Z a-z 0-9 _ . : -, got \"%.40s\"",
                             name);
    if (interval_ms < 1 || interval_ms > INTERVAL_MAX_MS)
        return bay_error_set(err, BAY_EINVAL, p->id, "timer %s: the interval is from 1 to %d ms (one day), got %lld",
                             name, INTERVAL_MAX_MS, (long long)interval_ms);
    if (!identifier(function))
        return bay_error_set(err, BAY_EINVAL, p->id, "timer %s: the function is an identifier like \"on_tick\", got \"%.40s\"",
                             name, function);
    plugin_timer *t = find(p, name), *fresh = NULL;
    size_t live = 0;
    for (size_t i = 0; i < p->life.timers.n; i++)
        live += !p->life.timers.v[i]->removed;
    if (t == NULL && live >= TIMERS_MAX)
        return bay_error_set(err, BAY_EBUSY, p->id, "%s has %d timers, the most a plugin may have: remove one first",
                             p->id, TIMERS_MAX);
    char *own_name = strdup(name), *own_function = strdup(function);
    if (own_name == NULL || own_function == NULL || (t == NULL && (fresh = calloc(1, sizeof *fresh)) == NULL) ||
        (fresh && !push(p, fresh))) {
        free(own_name);
        free(own_function);
        free(fresh);
        return bay_error_set(err, BAY_ENOMEM, p->id, "out of memory");
    }
    if (fresh)
        t = fresh;
    free(t->own.name);
    free(t->own.function);
    t->own = (bay__timer_decl){own_name, own_function, interval_ms};
    t->decl = &t->own;
    t->next_ms = now + interval_ms;
    return 0;
}

int timers_remove(plugin *p, const char *name, bay_error *err)
{
    plugin_timer *t = find(p, name);
    if (t == NULL)
        return bay_error_set(err, BAY_ENOENT, p->id, "%s has no timer \"%.128s\"", p->id, name);
    t->removed = true; /* freed by timers_tick once its tick, if any, ended */
    return 0;
}

bay_value *timers_list(const plugin *p, int64_t now)
{
    bay_value *list = bay_array();
    for (size_t i = 0; list && i < p->life.timers.n; i++) {
        const plugin_timer *t = p->life.timers.v[i];
        if (t->removed)
            continue;
        bay_value *e = bay_map();
        bay_map_set(e, "name", bay_str(t->decl->name));
        bay_map_set(e, "interval_ms", bay_int(t->decl->interval_ms));
        bay_map_set(e, "function", bay_str(t->decl->function));
        bay_map_set(e, "next_in_ms", bay_int(t->next_ms > now ? t->next_ms - now : 0));
        bay_map_set(e, "running", bay_bool(t->running));
        bay_map_set(e, "set_at_run_time", bay_bool(t->decl == &t->own));
        bay_array_push(list, e);
    }
    return list;
}
