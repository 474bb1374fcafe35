/* tests/e2e/test_load_order.c — plugbay order: an operator's place in load order moves providers at once, survives a restart, yields to dependencies, and clears. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static harness h;
static bay_conn *c;

/* Copies of example/hello's code: o/a (order 0), o/dep (order 5, depends on o/a) and o/b (order 10). */
#define HELLO(greeting, order, deps)                                                                              \
    "{\"name\": \"" greeting "\", \"version\": \"1.0.0\", \"language\": \"c\", \"entry\": \"plugin.so\","         \
    " \"order\": " order ", \"dependencies\": {" deps "}, \"config\": {\"greeting\": \"" greeting "\"},"          \
    " \"provides\": [{\"name\": \"o.greet\", \"kind\": \"handle\", \"function\": \"greet\"},"                      \
    "              {\"name\": \"o.started\", \"kind\": \"event\", \"function\": \"app_started\"}]}"

static const char *const ids[] = {"o/a", "o/dep", "o/b", NULL};

static void start(void)
{
    h_setup(&h, NULL);
    h_clone_plugin(&h, "example/hello", "o/a", HELLO("A", "0", ""));
    h_clone_plugin(&h, "example/hello", "o/dep", HELLO("Dep", "5", "\"o/a\": \"*\""));
    h_clone_plugin(&h, "example/hello", "o/b", HELLO("B", "10", ""));
    h_start_loaded(&h, NULL, ids);
    c = h_connect(&h, "test-order");
}

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(order, .init = start, .fini = stop, .timeout = 120);

/* serves asserts the order o.started's providers answer in ("o/a o/dep o/b") and who serves o.greet. */
static void serves(const char *event_order, const char *greeting)
{
    bay_value *res = NULL;
    bay_error err;
    cr_assert_eq(h_call_json(c, "o.started", "[]", 5000, &res, &err), 0, "%s", err.message);
    char seen[128] = "";
    for (size_t i = 0; i < bay_value_len(res); i++) {
        const char *who = bay_value_str(bay_map_get(bay_array_get(res, i), "plugin"), NULL);
        snprintf(seen + strlen(seen), sizeof seen - strlen(seen), "%s%s", i ? " " : "", who ? who : "?");
    }
    bay_value_free(res);
    cr_assert_str_eq(seen, event_order);
    char out[64];
    cr_assert_eq(h_call_str(c, "o.greet", "x", 5000, out, sizeof out, &err), 0, "%s", err.message);
    cr_assert_str_eq(out, greeting);
}

/* order runs `order` on id with {"order": n}, or {"clear": true} when clear; *reply is its answer (freed by the caller). */
static int order(const char *id, int64_t n, bool clear, bay_value **reply, bay_error *err)
{
    bay_value *a = bay_map();
    bay_map_set(a, "id", bay_str(id));
    bay_map_set(a, clear ? "clear" : "order", clear ? bay_bool(true) : bay_int(n));
    int rc = bay_command(c, "order", a, 30000, reply, err);
    bay_value_free(a);
    return rc;
}

/* info_field returns field of id's info as a new value. */
static bay_value *info_field(const char *id, const char *field)
{
    bay_value *a = bay_map(), *info = NULL;
    bay_map_set(a, "id", bay_str(id));
    cr_assert_eq(bay_command(c, "info", a, 5000, &info, NULL), 0);
    bay_value *v = bay_value_copy(bay_map_get(info, field));
    bay_value_free(info);
    bay_value_free(a);
    return v;
}

static void expect_place(const char *id, int64_t n, const char *by)
{
    bay_value *o = info_field(id, "order"), *b = info_field(id, "order_by");
    cr_assert_eq(bay_value_int(o), n, "%s: order %lld", id, (long long)bay_value_int(o));
    cr_assert_str_eq(bay_value_str(b, NULL), by);
    bay_value_free(o);
    bay_value_free(b);
}

Test(order, moves_providers_at_once_survives_a_restart_and_clears)
{
    serves("o/a o/dep o/b", "A, x!");
    bay_value *reply = NULL;
    bay_error err;
    cr_assert_eq(order("o/a", 20, false, &reply, &err), 0, "%s", err.message);
    cr_assert_eq(bay_value_int(bay_map_get(reply, "order")), 20);
    cr_assert_str_eq(bay_value_str(bay_map_get(reply, "order_by"), NULL), "operator");
    bay_value_free(reply);
    /* o/dep (5) still comes after o/a (20), which it depends on: dependencies win. */
    serves("o/b o/a o/dep", "B, x!");
    expect_place("o/a", 20, "operator");
    expect_place("o/dep", 5, "manifest");
    bay_value *note = info_field("o/dep", "order_note");
    cr_assert(strstr(bay_value_str(note, NULL), "o/a (order 20) comes first: a plugin loads after its dependencies"),
              "order_note: %s", bay_value_str(note, NULL));
    bay_value_free(note);
    cr_assert(h_wait_log(&h, "order {\"id\":\"o/a\",\"order\":20}: done"), "the audit line");

    bay_close(c);
    h_stop(&h);
    h_start_loaded(&h, NULL, ids);
    c = h_connect(&h, "test-order");
    serves("o/b o/a o/dep", "B, x!");
    expect_place("o/a", 20, "operator");

    cr_assert_eq(order("o/a", 0, true, &reply, &err), 0, "%s", err.message);
    bay_value_free(reply);
    serves("o/a o/dep o/b", "A, x!");
    expect_place("o/a", 0, "manifest");
}

Test(order, refuses_what_it_cannot_take)
{
    bay_value *reply = NULL;
    bay_error err;
    cr_assert_eq(order("o/none", 1, false, &reply, &err), BAY_ENOENT);
    cr_assert_eq(order("o/a", (int64_t)1 << 40, false, &reply, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "order 1099511627776 is outside -2147483648..2147483647"), "message: %s",
              err.message);
    cr_assert_eq(h_command(c, "order", "o/a", &err), BAY_EINVAL, "neither a place nor clear");
    cr_assert(strstr(err.message, "needs {\"id\": ID, \"order\": N}"), "message: %s", err.message);
    serves("o/a o/dep o/b", "A, x!");
}

Test(order, the_command_line_sets_it_and_list_shows_it)
{
    char out[4096], errout[1024];
    const char *set[] = {BAY_BIN_DIR "/plugbay", "--broker", h.url, "order", "o/b", "-3", NULL};
    cr_assert_eq(h_run(&h, set, out, sizeof out, errout, sizeof errout), 0, "stderr: %s", errout);
    cr_assert(strstr(out, "order: -3\n") && strstr(out, "order_by: operator\n"), "stdout: %s", out);
    serves("o/b o/a o/dep", "B, x!");
    const char *list[] = {BAY_BIN_DIR "/plugbay", "--broker", h.url, "list", NULL};
    cr_assert_eq(h_run(&h, list, out, sizeof out, errout, sizeof errout), 0, "stderr: %s", errout);
    cr_assert(strstr(out, "ORDER") && strstr(out, "-3"), "stdout: %s", out);
    const char *clear[] = {BAY_BIN_DIR "/plugbay", "--broker", h.url, "order", "o/b", "--clear", NULL};
    cr_assert_eq(h_run(&h, clear, out, sizeof out, errout, sizeof errout), 0, "stderr: %s", errout);
    cr_assert(strstr(out, "order: 10\n") && strstr(out, "order_by: manifest\n"), "stdout: %s", out);
    serves("o/a o/dep o/b", "A, x!");
}
