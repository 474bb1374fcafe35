/* tests/e2e/test_intruder.c — a plugin that dials plugbayd itself, or through processes it starts, finds no
 * socket there (its mount namespace covers them) or, without that layer, is refused; the rest goes on. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include "harness.h"
#include "wire.h"

static harness h;
static bay_conn *c;

static const char refusal[] = "refused: code 16: plugbayd refuses connections from plugin workers and their children: ";

/* start_with starts plugbayd (with the extra options) and the intruder. */
static void start_with(const char *const *extra)
{
    const char *ids[] = {"example/hello", "test/intruder", NULL};
    h_setup(&h, ids);
    h_start(&h, extra);
    c = h_connect(&h, "test-intruder");
    cr_assert(h_wait_state(c, "example/hello", "loaded", H_WAIT_MS));
    cr_assert(h_wait_state(c, "test/intruder", "loaded", H_WAIT_MS));
}

/* start lets the worker see plugbayd's sockets (as on a kernel without user
 * namespaces), so that only plugbayd's peer check stands in its way. */
static void start(void)
{
    start_with((const char *[]){"--no-namespaces", NULL});
}

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(intruder, .init = start, .fini = stop, .timeout = 120);

/* knock calls the intruder's ext (with the public socket's path when given) and returns its account. */
static void knock(const char *ext, bool give_path, char *out, size_t len)
{
    bay_error err;
    int rc = h_call_str(c, ext, give_path ? h.url + strlen("ipc://") : NULL, 15000, out, len, &err);
    cr_assert_eq(rc, 0, "%s: %s", ext, err.message);
}

/* still_served checks that the host already connected and a new one are served. */
static void still_served(void)
{
    char out[64];
    bay_error err;
    cr_assert_eq(h_call_str(c, "greet", "survivor", 5000, out, sizeof out, &err), 0, "%s", err.message);
    bay_conn *other = h_connect(&h, "newcomer");
    cr_assert_eq(h_call_str(other, "greet", "newcomer", 5000, out, sizeof out, &err), 0, "%s", err.message);
    bay_close(other);
}

Test(intruder, its_worker_is_refused_at_the_rendezvous)
{
    char out[1200], expect[300];
    knock("intruder.knock", false, out, sizeof out); /* finds the socket from its data folder */
    snprintf(expect, sizeof expect, "%spid %d is test/intruder's worker", refusal,
             (int)h_worker_pid(c, "test/intruder"));
    cr_assert(strncmp(out, expect, strlen(expect)) == 0, "got: %s", out);
    cr_assert(h_wait_log(&h, "[test/intruder] refused a connection to the rendezvous socket: pid"));
    still_served();
}

Test(intruder, a_process_it_starts_is_refused)
{
    char out[1200], expect[300];
    knock("intruder.knock_child", true, out, sizeof out);
    snprintf(expect, sizeof expect, "belongs to test/intruder's worker (it descends from worker pid %d)",
             (int)h_worker_pid(c, "test/intruder"));
    cr_assert(strncmp(out, refusal, strlen(refusal)) == 0 && strstr(out, expect), "got: %s", out);
    cr_assert(h_wait_log(&h, expect));
    still_served();
}

Test(intruder, an_orphan_it_leaves_is_adopted_by_plugbayd_and_refused)
{
    char out[1200], parent[64];
    knock("intruder.knock_orphan", true, out, sizeof out);
    cr_assert(strncmp(out, refusal, strlen(refusal)) == 0 && strstr(out, "belongs to test/intruder's worker"),
              "got: %s", out);
    snprintf(parent, sizeof parent, "parent %d)", (int)h.broker);
    cr_assert(strstr(out, parent), "the orphan's parent is plugbayd (a child subreaper): %s", out);
    still_served();
}

/* A connection plugbayd made for a host named victim. */
typedef struct victim {
    char *url, *token;
} victim;

/* dialled_first makes a connection for a host and has the plugin dial its
 * socket file with its token before the host does; out gets its account. */
static void dialled_first(victim *v, char *out, size_t len)
{
    bay_error err;
    cr_assert_eq(bay__wire_rendezvous(h.url, "host", "victim", 5000, &v->url, &v->token, &err), 0, "%s", err.message);
    cr_assert(strncmp(v->url, "ipc://", 6) == 0, "%s", v->url);
    char args[1200];
    snprintf(args, sizeof args, "[\"%s\", \"%s\"]", v->url + 6, v->token);
    bay_value *res = NULL;
    cr_assert_eq(h_call_json(c, "intruder.dial", args, 15000, &res, &err), 0, "%s", err.message);
    snprintf(out, len, "%s", bay_value_str(res, NULL));
    bay_value_free(res);
}

/* victim_connects checks that the host the connection was made for still gets it, then frees v. */
static void victim_connects(victim *v)
{
    nng_socket s;
    bay_error err;
    cr_assert_eq(bay__wire_connect(v->url, "host", "victim", v->token, 5000, &s, NULL, &err), 0, "%s", err.message);
    nng_close(s);
    free(v->url);
    free(v->token);
}

Test(intruder, a_connection_made_for_a_host_cannot_be_dialled_by_a_plugin)
{
    victim v;
    char out[1200];
    dialled_first(&v, out, sizeof out);
    cr_assert(strncmp(out, "closed: ", 8) == 0, "got: %s", out);
    cr_assert(h_wait_log(&h, "[test/intruder] refused a connection to connection "));
    victim_connects(&v);
    still_served();
}

/* ---- with plugbayd's sockets covered in the worker's namespace (the default) ---- */

static void start_hidden(void)
{
    start_with(NULL);
}

TestSuite(hidden, .init = start_hidden, .fini = stop, .timeout = 120);

/* expect_no_socket checks that a knock's account says the path led to no socket of plugbayd's. */
static void expect_no_socket(const char *out, const char *who)
{
    cr_assert(strncmp(out, "cannot connect to ", 18) == 0 && strstr(out, who), "got: %s", out);
}

Test(hidden, plugbayds_socket_is_not_there_for_the_worker_or_what_it_starts)
{
    char out[1200];
    knock("intruder.knock", false, out, sizeof out);
    expect_no_socket(out, "Connection refused (the worker");
    knock("intruder.knock_child", true, out, sizeof out);
    expect_no_socket(out, "Connection refused (a child");
    knock("intruder.knock_orphan", true, out, sizeof out);
    expect_no_socket(out, "Connection refused (an orphaned grandchild");
    /* Nothing reached plugbayd: its peer check had nothing to refuse. */
    const char *argv[] = {"/bin/grep", "-c", "refused a connection", h.log, NULL};
    char count[64], errout[256];
    h_run(&h, argv, count, sizeof count, errout, sizeof errout);
    cr_assert_eq(atoi(count), 0, "plugbayd saw %s knocks", count);
    still_served();
}

Test(hidden, no_connection_socket_file_is_there_for_a_plugin)
{
    victim v;
    char out[1200];
    dialled_first(&v, out, sizeof out);
    expect_no_socket(out, "No such file or directory");
    victim_connects(&v);
    still_served();
}
