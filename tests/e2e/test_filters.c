/* tests/e2e/test_filters.c — filters under the real broker: conform.filter served by the conformance plugins in
 * C, Lua, Python and WebAssembly and by a host, in load order; each language passing the arguments on changed,
 * unchanged, refusing, or answering what is not the arguments; bad kinds; a filter never on a fast channel. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static harness h;
static bay_conn *c, *provider;
static atomic_int host_calls;
static int host_code; /* what the host's provider answers: 0 passes the arguments on with "host" added */
static bay_value *host_saw; /* the arguments the host's provider was last given */

static const char *const ids[] = {"conform/c", "conform/lua", "conform/python", "conform/wasm", NULL};

/* host_filter is the host's provider of conform.filter: it comes after every plugin (hosts come last). */
static int host_filter(const bay_value *args, bay_value **result, bay_error *err, void *user)
{
    bay_value_free(host_saw);
    host_saw = bay_value_copy(args);
    atomic_fetch_add(&host_calls, 1);
    if (host_code)
        return bay_error_set(err, host_code, NULL, "the host refused it");
    *result = bay_value_copy(args);
    bay_array_push(*result, bay_str("host"));
    return 0;
}

static void start(void)
{
    h_setup(&h, ids);
    h_write_manifest(&h, "bad/kind",
                     "{\"name\": \"Bad kind\", \"version\": \"0.1.0\", \"language\": \"lua\", \"entry\": \"main.lua\", "
                     "\"provides\": [{\"name\": \"x.y\", \"kind\": \"filters\"}]}");
    h_start(&h, NULL);
    c = h_connect(&h, "test-filters");
    provider = h_connect(&h, "filter-host");
    h_wait_loaded(c, ids);
    bay_error err;
    cr_assert_eq(bay_provide(provider, "conform.filter", BAY_FILTER, NULL, host_filter, NULL, &err), 0, "%s",
                 err.message);
}

static void stop(void)
{
    bay_close(provider);
    bay_close(c);
    bay_value_free(host_saw);
    host_saw = NULL;
    h_cleanup(&h);
}

TestSuite(filters, .init = start, .fini = stop, .timeout = 120);

/* chain returns conform.filter's providers in load order, as plugbayd's status lists them, as a JSON array of
 * the names each adds ("c", "lua", ..., "host"), leaving out skip (NULL: none). */
static void chain(const char *skip, char *out, size_t len)
{
    bay_value *st = NULL;
    bay_error err;
    cr_assert_eq(bay_command(c, "status", NULL, 10000, &st, &err), 0, "%s", err.message);
    const bay_value *eps = bay_map_get(st, "extension_points"), *providers = NULL;
    for (size_t i = 0; i < bay_value_len(eps); i++)
        if (strcmp(bay_value_str(bay_map_get(bay_array_get(eps, i), "name"), NULL), "conform.filter") == 0) {
            cr_assert_str_eq(bay_value_str(bay_map_get(bay_array_get(eps, i), "kind"), NULL), "filter");
            providers = bay_map_get(bay_array_get(eps, i), "providers");
        }
    cr_assert_eq(bay_value_len(providers), 5, "four plugins and the host provide conform.filter");
    size_t n = 0;
    for (size_t i = 0; i < bay_value_len(providers); i++) {
        const char *id = bay_value_str(bay_array_get(providers, i), NULL);
        const char *name = strncmp(id, "conform/", 8) == 0 ? id + 8 : "host";
        if (skip == NULL || strcmp(name, skip) != 0)
            n += (size_t)snprintf(out + n, len - n, ", \"%s\"", name);
    }
    cr_assert_str_eq(bay_value_str(bay_array_get(providers, 4), NULL), "host:filter-host", "hosts come last");
    bay_value_free(st);
}

/* expect_json asserts that res renders as want_json. */
static void expect_json(const bay_value *res, const char *want_json)
{
    bay_value *want = NULL;
    cr_assert_eq(bay_value_from_json(want_json, &want, NULL, 0), 0, "%s", want_json);
    char *text = NULL;
    bay_value_to_json(res, &text);
    cr_assert(bay_value_equal(res, want), "got %s, not %s", text, want_json);
    free(text);
    bay_value_free(want);
}

static const char *const langs[] = {"c", "lua", "python", "wasm"};

Test(filters, the_arguments_pass_through_every_language_and_the_host_in_load_order)
{
    char names[256], want[512];
    chain(NULL, names, sizeof names);
    snprintf(want, sizeof want, "[\"x\", 7%s]", names);
    for (int pass = 0; pass < 3; pass++) { /* the same again: a filter is never served on a fast channel */
        bay_value *res = NULL;
        bay_error err;
        int rc = h_call_json(c, "conform.filter", "[\"x\", 7]", 10000, &res, &err);
        cr_assert_eq(rc, 0, "%s: %s", bay_errname(rc), err.message);
        expect_json(res, want);
        bay_value_free(res);
    }
    cr_assert_eq(atomic_load(&host_calls), 3);
    chain("host", names, sizeof names); /* the host saw what the last plugin passed on */
    snprintf(want, sizeof want, "[\"x\", 7%s]", names);
    expect_json(host_saw, want);
    cr_assert_eq(h_fast_channels(c), 0, "no fast channel was granted for a filter");
}

Test(filters, each_language_refuses_and_the_chain_stops_there_with_its_error)
{
    for (size_t i = 0; i < sizeof langs / sizeof *langs; i++) {
        char args[64], plugin[64], says[128];
        snprintf(args, sizeof args, "[\"refuse:%s\", 1]", langs[i]);
        snprintf(plugin, sizeof plugin, "conform/%s", langs[i]);
        snprintf(says, sizeof says, "conform/%s refused refuse:%s", langs[i], langs[i]);
        bay_value *res = NULL;
        bay_error err;
        int rc = h_call_json(c, "conform.filter", args, 10000, &res, &err);
        cr_assert_eq(rc, BAY_EPERM, "%s: %s: %s", args, bay_errname(rc), err.message);
        cr_assert_str_eq(err.plugin, plugin);
        cr_assert(strstr(err.message, says), "%s: %s", args, err.message);
    }
    cr_assert_eq(atomic_load(&host_calls), 0, "no provider after the one that refused was called");
}

Test(filters, a_provider_answering_what_is_not_the_arguments_stops_the_chain_with_etype)
{
    for (size_t i = 0; i < sizeof langs / sizeof *langs; i++) {
        char args[64], plugin[64], says[128];
        snprintf(args, sizeof args, "[\"bad:%s\"]", langs[i]);
        snprintf(plugin, sizeof plugin, "conform/%s", langs[i]);
        snprintf(says, sizeof says, "filter conform.filter: conform/%s answered a str", langs[i]);
        bay_value *res = NULL;
        bay_error err;
        int rc = h_call_json(c, "conform.filter", args, 10000, &res, &err);
        cr_assert_eq(rc, BAY_ETYPE, "%s: %s: %s", args, bay_errname(rc), err.message);
        cr_assert_str_eq(err.plugin, plugin);
        cr_assert(strstr(err.message, says) && strstr(err.message, "(an array)"), "%s: %s", args, err.message);
    }
    cr_assert_eq(atomic_load(&host_calls), 0);
}

Test(filters, nil_passes_the_arguments_on_unchanged_in_every_language)
{
    for (size_t i = 0; i < sizeof langs / sizeof *langs; i++) {
        char args[64], names[256], want[512];
        snprintf(args, sizeof args, "[\"keep:%s\"]", langs[i]);
        chain(langs[i], names, sizeof names);
        snprintf(want, sizeof want, "[\"keep:%s\"%s]", langs[i], names);
        bay_value *res = NULL;
        bay_error err;
        int rc = h_call_json(c, "conform.filter", args, 10000, &res, &err);
        cr_assert_eq(rc, 0, "%s: %s: %s", args, bay_errname(rc), err.message);
        expect_json(res, want);
        bay_value_free(res);
    }
}

Test(filters, a_host_provider_refuses_too_and_the_caller_gets_its_code)
{
    host_code = BAY_EBUSY;
    bay_value *res = NULL;
    bay_error err;
    int rc = h_call_json(c, "conform.filter", "[\"y\"]", 10000, &res, &err);
    cr_assert_eq(rc, BAY_EBUSY, "%s: %s", bay_errname(rc), err.message);
    cr_assert(strstr(err.message, "the host refused it"), "%s", err.message);
    host_code = 0;
    cr_assert_eq(h_call_json(c, "conform.filter", "[\"y\"]", 10000, &res, &err), 0, "%s", err.message);
    bay_value_free(res);
}

Test(filters, a_filter_nobody_provides_answers_its_arguments)
{
    bay_error err;
    cr_assert_eq(bay_declare(c, "nobody.filter", BAY_FILTER, &err), 0, "%s", err.message);
    bay_value *res = NULL;
    cr_assert_eq(h_call_json(c, "nobody.filter", "[\"a\", {\"k\": [1, 2]}]", 10000, &res, &err), 0, "%s",
                 err.message);
    expect_json(res, "[\"a\", {\"k\": [1, 2]}]");
    bay_value_free(res);
}

Test(filters, a_kind_that_is_none_or_contradicts_the_declaration_is_refused)
{
    bay_error err;
    int rc = bay_declare(c, "odd.kind", (bay_kind)99, &err);
    cr_assert_eq(rc, BAY_EINVAL);
    cr_assert(strstr(err.message, "BAY_FILTER"), "%s", err.message);
    rc = bay_provide(c, "odd.kind", (bay_kind)0, NULL, host_filter, NULL, &err);
    cr_assert_eq(rc, BAY_EINVAL);
    rc = bay_declare(c, "conform.filter", BAY_HANDLE, &err);
    cr_assert_eq(rc, BAY_EKIND, "%s", bay_errname(rc));
    cr_assert(strstr(err.message, "as handle") && strstr(err.message, "as filter"), "%s", err.message);
    rc = bay_provide(c, "conform.filter", BAY_EVENT, NULL, host_filter, NULL, &err);
    cr_assert_eq(rc, BAY_EKIND, "%s", bay_errname(rc));
    /* nothing else stopped: the chain still runs whole */
    bay_value *res = NULL;
    cr_assert_eq(h_call_json(c, "conform.filter", "[\"z\"]", 10000, &res, &err), 0, "%s", err.message);
    cr_assert_eq(bay_value_len(res), 6);
    bay_value_free(res);
}

Test(filters, a_manifest_kind_that_is_no_kind_is_refused_with_the_kinds_there_are)
{
    char state[64], reason[512];
    h_plugin_state(c, "bad/kind", state, sizeof state, reason, sizeof reason);
    cr_assert_str_eq(state, "invalid");
    cr_assert(strstr(reason, "\"provides[0].kind\": expected \"handle\", \"event\" or \"filter\", got \"filters\""),
              "%s", reason);
    bay_error err;
    bay_value *res = NULL;
    cr_assert_eq(h_call_json(c, "conform.filter", "[\"z\"]", 10000, &res, &err), 0, "%s", err.message);
    bay_value_free(res);
}
