/* tests/unit/test_registry.c — the extension-point registry: kinds, load order, contexts, removal. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <plugbay/plugbay.h>

#include "registry.h"

static bay__registry *r;
static bay_error err;
static int a, b, h; /* owners: their addresses are enough */

static void setup(void)
{
    r = bay__registry_new();
    cr_assert_not_null(r);
}

static void teardown(void)
{
    bay__registry_free(r);
}

TestSuite(registry, .init = setup, .fini = teardown);

Test(registry, handle_selects_the_first_provider_in_load_order)
{
    cr_assert_eq(bay__registry_add(r, "greet", BAY_HANDLE, &b, "b", 5, NULL, &err), 0);
    cr_assert_eq(bay__registry_add(r, "greet", BAY_HANDLE, &a, "a", 1, NULL, &err), 0);
    bay__provider *sel[4];
    bay__extpoint *e = bay__registry_find(r, "greet");
    cr_assert_eq(bay__registry_select(e, NULL, sel, 4), 1);
    cr_assert_eq(sel[0]->owner, &a, "rank 1 comes before rank 5 whatever the order of adding");
}

Test(registry, event_selects_every_provider_in_load_order)
{
    cr_assert_eq(bay__registry_add(r, "started", BAY_EVENT, &h, "host:x", 100, NULL, &err), 0);
    cr_assert_eq(bay__registry_add(r, "started", BAY_EVENT, &b, "b", 5, NULL, &err), 0);
    cr_assert_eq(bay__registry_add(r, "started", BAY_EVENT, &a, "a", 1, NULL, &err), 0);
    bay__provider *sel[4];
    cr_assert_eq(bay__registry_select(bay__registry_find(r, "started"), NULL, sel, 4), 3);
    cr_assert_eq(sel[0]->owner, &a);
    cr_assert_eq(sel[1]->owner, &b);
    cr_assert_eq(sel[2]->owner, &h);
}

Test(registry, contexts_filter_providers)
{
    const char *fr[] = {"fr", NULL};
    cr_assert_eq(bay__registry_add(r, "who", BAY_HANDLE, &a, "a", 1, fr, &err), 0);
    cr_assert_eq(bay__registry_add(r, "who", BAY_HANDLE, &b, "b", 2, NULL, &err), 0);
    bay__extpoint *e = bay__registry_find(r, "who");
    bay__provider *sel[4];
    cr_assert_eq(bay__registry_select(e, "fr", sel, 4), 1);
    cr_assert_eq(sel[0]->owner, &a);
    cr_assert_eq(bay__registry_select(e, "de", sel, 4), 1);
    cr_assert_eq(sel[0]->owner, &b, "a provider listing contexts does not see other contexts");
    cr_assert_eq(bay__registry_select(e, NULL, sel, 4), 1);
    cr_assert_eq(sel[0]->owner, &a, "a call without context reaches every provider");
}

Test(registry, kind_conflicts_name_both_sides)
{
    cr_assert_eq(bay__registry_declare(r, "x", BAY_HANDLE, "host:app", &err), 0);
    cr_assert_eq(bay__registry_declare(r, "x", BAY_HANDLE, "host:other", &err), 0, "same kind again is fine");
    cr_assert_eq(bay__registry_add(r, "x", BAY_EVENT, &a, "plug/a", 1, NULL, &err), BAY_EKIND);
    cr_assert(strstr(err.message, "plug/a") && strstr(err.message, "host:app") && strstr(err.message, "event") &&
                  strstr(err.message, "handle"),
              "%s", err.message);
    cr_assert_eq(bay__registry_declare(r, "y", 7, "host:app", &err), BAY_EINVAL);
}

Test(registry, providing_twice_is_refused)
{
    cr_assert_eq(bay__registry_add(r, "x", BAY_HANDLE, &a, "a", 1, NULL, &err), 0);
    cr_assert_eq(bay__registry_add(r, "x", BAY_HANDLE, &a, "a", 1, NULL, &err), BAY_EEXIST);
}

static int removed;

static void count_removed(const char *name, void *user)
{
    removed++;
    cr_assert_str_eq(user, "tag");
}

Test(registry, removing_an_owner_removes_all_its_providers_and_keeps_declarations)
{
    cr_assert_eq(bay__registry_add(r, "x", BAY_HANDLE, &a, "a", 1, NULL, &err), 0);
    cr_assert_eq(bay__registry_add(r, "y", BAY_EVENT, &a, "a", 1, NULL, &err), 0);
    cr_assert_eq(bay__registry_add(r, "y", BAY_EVENT, &b, "b", 2, NULL, &err), 0);
    cr_assert_eq(bay__registry_remove_owner(r, &a, count_removed, "tag"), 2);
    cr_assert_eq(removed, 2);
    cr_assert_eq(bay__registry_find(r, "x")->nproviders, 0);
    cr_assert_eq(bay__registry_find(r, "y")->nproviders, 1);
    cr_assert_eq(bay__registry_count(r), 2);
    cr_assert_eq(bay__registry_remove(r, "y", &a), BAY_ENOENT);
    cr_assert_eq(bay__registry_remove(r, "y", &b), 0);
}

static void count_moved(const char *name, void *user)
{
    (void)name;
    ++*(int *)user;
}

Test(registry, rerank_moves_an_owners_providers_to_their_new_place)
{
    cr_assert_eq(bay__registry_add(r, "started", BAY_EVENT, &a, "a", 1, NULL, &err), 0);
    cr_assert_eq(bay__registry_add(r, "started", BAY_EVENT, &b, "b", 2, NULL, &err), 0);
    cr_assert_eq(bay__registry_add(r, "started", BAY_EVENT, &h, "host:x", 100, NULL, &err), 0);
    cr_assert_eq(bay__registry_add(r, "only.a", BAY_HANDLE, &a, "a", 1, NULL, &err), 0);
    int moved = 0;
    cr_assert_eq(bay__registry_rerank(r, &a, 3, count_moved, &moved), 1, "only.a has no other provider to pass");
    cr_assert_eq(moved, 1);
    bay__extpoint *e = bay__registry_find(r, "started");
    cr_assert_eq(e->providers[0]->owner, &b);
    cr_assert_eq(e->providers[1]->owner, &a);
    cr_assert_eq(e->providers[1]->rank, 3);
    cr_assert_eq(e->providers[2]->owner, &h);
    cr_assert_eq(bay__registry_find(r, "only.a")->providers[0]->rank, 3, "its rank changed everywhere");
    cr_assert_eq(bay__registry_rerank(r, &a, 3, NULL, NULL), 0, "the same rank moves nothing");
    cr_assert_eq(bay__registry_rerank(r, &h, 0, NULL, NULL), 1);
    cr_assert_eq(e->providers[0]->owner, &h);
}

Test(registry, many_names_stay_sorted_and_findable)
{
    char name[32];
    for (int i = 999; i >= 0; i--) {
        snprintf(name, sizeof name, "ep.%03d", i);
        cr_assert_eq(bay__registry_declare(r, name, BAY_EVENT, "host:x", &err), 0);
    }
    cr_assert_eq(bay__registry_count(r), 1000);
    for (size_t i = 1; i < 1000; i++)
        cr_assert_lt(strcmp(bay__registry_at(r, i - 1)->name, bay__registry_at(r, i)->name), 0);
    cr_assert_not_null(bay__registry_find(r, "ep.500"));
    cr_assert_null(bay__registry_find(r, "ep.1000"));
}

/* Routing as a table: providers "owner@rank[:ctx,ctx]" added in the order given, then who serves a call with each
 * context, in order ("" for nobody). A handle goes to its first accepting provider, an event to every one. */
typedef struct route_case {
    const char *name;
    int kind;
    const char *providers[6];
    const char *ctx[4];     /* NULL ends; "-" stands for a call without context */
    const char *served[4];  /* for each ctx: owners, space-separated, in order */
} route_case;

static const route_case routes[] = {
    {"a handle goes to the lowest rank", BAY_HANDLE, {"b@5", "a@1", "c@9"}, {"-"}, {"a"}},
    {"an event goes to every provider in load order", BAY_EVENT, {"c@9", "a@1", "b@5"}, {"-"}, {"a b c"}},
    {"hosts come after plugins", BAY_EVENT, {"host:x@1000000", "p@3"}, {"-"}, {"p host:x"}},
    {"a context picks the providers that list it or list none", BAY_EVENT, {"a@1:fr", "b@2", "c@3:de,fr"},
     {"fr", "de", "it", "-"}, {"a b c", "b c", "b", "a b c"}},
    {"a handle with a context skips those that do not take it", BAY_HANDLE, {"a@1:fr", "b@2:de", "c@3"},
     {"de", "it", "fr", "-"}, {"b", "c", "a", "a"}},
    {"a handle whose providers all list other contexts has none", BAY_HANDLE, {"a@1:fr", "b@2:de"}, {"it"}, {""}},
};

Test(registry, routing_table)
{
    static int owners[6];
    for (size_t t = 0; t < sizeof routes / sizeof *routes; t++) {
        const route_case *rc = &routes[t];
        bay__registry *reg = bay__registry_new();
        char names[6][32], ctxs[6][64];
        for (size_t i = 0; i < 6 && rc->providers[i]; i++) {
            long rank = 0;
            ctxs[i][0] = '\0';
            cr_assert(sscanf(rc->providers[i], "%31[^@]@%ld:%63s", names[i], &rank, ctxs[i]) >= 2, "%s", rc->name);
            const char *list[4] = {NULL};
            char *save = NULL;
            size_t n = 0;
            for (char *tok = strtok_r(ctxs[i], ",", &save); tok && n < 3; tok = strtok_r(NULL, ",", &save))
                list[n++] = tok;
            cr_assert_eq(bay__registry_add(reg, "x", rc->kind, &owners[i], names[i], rank, n ? list : NULL, &err),
                         0, "%s: %s", rc->name, err.message);
        }
        bay__extpoint *e = bay__registry_find(reg, "x");
        for (size_t k = 0; k < 4 && rc->ctx[k]; k++) {
            bay__provider *sel[6];
            size_t n = bay__registry_select(e, strcmp(rc->ctx[k], "-") ? rc->ctx[k] : NULL, sel, 6);
            char got[128] = "";
            for (size_t i = 0; i < n; i++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? " " : "", sel[i]->owner_name);
            cr_expect_str_eq(got, rc->served[k], "%s (context %s)", rc->name, rc->ctx[k]);
        }
        bay__registry_free(reg);
    }
}

Test(registry, route_counts_the_calls_of_each_extension_point)
{
    const char *fr[] = {"fr", NULL};
    cr_assert_eq(bay__registry_add(r, "greet", BAY_HANDLE, &a, "a", 1, fr, &err), 0);
    cr_assert_eq(bay__registry_declare(r, "started", BAY_EVENT, "host:app", &err), 0);
    cr_assert_eq(bay__registry_route(r, "greet", NULL), bay__registry_find(r, "greet"));
    bay__registry_route(r, "greet", "fr");
    bay__registry_route(r, "greet", "de");
    bay__registry_route(r, "started", NULL);
    cr_assert_null(bay__registry_route(r, "nobody", NULL));
    bay__extpoint *greet = bay__registry_find(r, "greet"), *started = bay__registry_find(r, "started");
    cr_assert_eq(greet->calls, 3, "every call that found the name counts");
    cr_assert_eq(greet->unserved, 1, "the call in a context no provider accepts counts as unserved");
    cr_assert_eq(started->calls, 1);
    cr_assert_eq(started->unserved, 0, "an event without a provider is not refused");
    cr_assert_eq(bay__registry_unknown(r), 1, "a name not declared counts apart, creating no extension point");
    cr_assert_eq(bay__registry_count(r), 2);
    cr_assert_eq(bay__registry_find(r, "greet")->calls, 3, "find does not count");
}

Test(registry, counts_survive_providers_leaving)
{
    cr_assert_eq(bay__registry_add(r, "greet", BAY_HANDLE, &a, "a", 1, NULL, &err), 0);
    bay__registry_route(r, "greet", NULL);
    bay__registry_remove_owner(r, &a, NULL, NULL);
    bay__registry_route(r, "greet", NULL);
    bay__extpoint *e = bay__registry_find(r, "greet");
    cr_assert_eq(e->calls, 2);
    cr_assert_eq(e->unserved, 1, "once its provider left, a handle's calls are refused");
}
