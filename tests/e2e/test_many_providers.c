/* tests/e2e/test_many_providers.c — an event reaches every one of hundreds of providers, in load order. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

/* More than the 256 providers an event once stopped at. Each is a worker process: about 0.5 MB PSS
 * (6 MB under ASan), so 300 take about 150 MB (2 GB under ASan) and start in a few seconds. */
#define PROVIDERS 300

static harness h;
static bay_conn *c;

/* provider_id writes the id of the i-th clone; ids sort against load order (see start). */
static void provider_id(int i, char *id, size_t len)
{
    snprintf(id, len, "many/p%03d", i);
}

/* text returns the string v holds, or "(none)". */
static const char *text(const bay_value *v)
{
    const char *s = bay_value_str(v, NULL);
    return s ? s : "(none)";
}

static void start(void)
{
    h_setup(&h, NULL);
    for (int i = 0; i < PROVIDERS; i++) {
        char id[32], manifest[512];
        provider_id(i, id, sizeof id);
        /* "order" runs against the ids, so load order (p299 first) differs from the folders' sorted order. */
        snprintf(manifest, sizeof manifest,
                 "{\"name\": \"Many %d\", \"version\": \"1.0.0\", \"language\": \"c\", \"entry\": \"plugin.so\", "
                 "\"order\": %d, \"provides\": [{\"name\": \"app.started\", \"kind\": \"event\"}]}",
                 i, -i);
        h_clone_plugin(&h, "example/hello", id, manifest);
    }
    /* Installed one by one (each install answers once its plugin loaded): 300 workers started at once can
     * starve plugbayd of the CPU it answers their handshakes with, past their 5 s, on a small machine under
     * the sanitizers (each ASan worker starts about ten times slower). */
    h.manual = true;
    h_start(&h, NULL);
    c = h_connect(&h, "test-many-providers");
    for (int i = 0; i < PROVIDERS; i++) {
        char id[32];
        bay_error err;
        provider_id(i, id, sizeof id);
        cr_assert_eq(h_install_all(c, id, &err), 0, "%s did not install: %s; the broker's log is %s", id,
                     err.message, h.log);
        cr_assert(h_wait_state(c, id, "loaded", 3 * H_WAIT_MS), "%s did not load; the broker's log is %s", id,
                  h.log);
    }
}

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(many_providers, .init = start, .fini = stop, .timeout = 300);

Test(many_providers, event_reaches_every_provider_past_256_in_load_order)
{
    bay_value *res = NULL;
    bay_error err;
    cr_assert_eq(h_call_json(c, "app.started", "[]", 60000, &res, &err), 0, "%s", err.message);
    cr_assert_eq(bay_value_type(res), BAY_ARRAY);
    cr_assert_eq(bay_value_len(res), PROVIDERS, "one answer per provider: got %zu of %d", bay_value_len(res),
                 PROVIDERS);
    for (int i = 0; i < PROVIDERS; i++) {
        char want[32];
        provider_id(PROVIDERS - 1 - i, want, sizeof want);
        const bay_value *answer = bay_array_get(res, (size_t)i);
        const bay_value *error = bay_map_get(answer, "error");
        cr_assert_null(error, "answer %d (%s) is an error: %s", i, want, text(bay_map_get(error, "message")));
        cr_assert_str_eq(text(bay_map_get(answer, "plugin")), want, "answer %d", i);
        /* The plugin's own value names it too: it ran, in its own worker. */
        cr_assert_str_eq(text(bay_map_get(bay_map_get(answer, "value"), "plugin")), want, "answer %d", i);
    }
    bay_value_free(res);
}
