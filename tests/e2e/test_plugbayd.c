/* tests/e2e/test_plugbayd.c — plugbayd's command line: bad options and a second broker on one state folder. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static harness h;

static void stop(void)
{
    h_cleanup(&h);
}

/* run_broker runs plugbayd with words (after --plugins and --state of h) to its end and returns its exit
 * status, with its stderr in err. */
static int run_broker(const char *const *words, char *err, size_t len)
{
    const char *argv[16] = {BAY_BIN_DIR "/plugbayd", "--plugins", h.plugins, "--state", h.state};
    size_t n = 5;
    for (size_t i = 0; words[i] && n < 15; i++)
        argv[n++] = words[i];
    argv[n] = NULL;
    return h_run(&h, argv, NULL, 0, err, len);
}

TestSuite(plugbayd, .fini = stop, .timeout = 60);

Test(plugbayd, bad_options_are_refused_with_what_was_expected)
{
    h_setup(&h, NULL);
    const struct {
        const char *words[4];
        int status;
        const char *needle;
    } cases[] = {
        {{"--heartbeat-ms", "soon", NULL}, 2, "--heartbeat-ms expects a positive whole number, got \"soon\""},
        {{"--restart-limit", "5", NULL}, 2, "--restart-limit expects N/SECONDS like 5/60"},
        {{"--memory-mb", "0", NULL}, 2, "--memory-mb expects a positive whole number"},
        {{"--signature-policy", "maybe", NULL}, 2, "--signature-policy expects require-signed, warn or off"},
        {{"--frobnicate", NULL}, 2, "usage: plugbayd"},
        {{"--no-namespaces=yes", NULL}, 2, "option '--no-namespaces' doesn't allow an argument"},
        {{"extra", NULL}, 2, "unexpected argument \"extra\""},
        {{"--plugins", "/no/such/folder", NULL}, 1, "plugins folder /no/such/folder does not exist"},
        {{"--listen", "bogus://x", NULL}, 1, "cannot listen on bogus://x"},
        {{"--plugin-uids", "5-1", NULL}, 2, "--plugin-uids expects FIRST-LAST, uids above 0"},
        {{"--verified-only", NULL}, 2, "--verified-only needs --index URL"},
        {{"--index-interval-s", "0", NULL}, 2, "--index-interval-s expects a positive whole number, got \"0\""},
        {{"--package-max-mb", "lots", NULL}, 2, "--package-max-mb expects a positive whole number, got \"lots\""},
        {{"--package-max-files", "-1", NULL}, 2, "--package-max-files expects a positive whole number"},
        {{"--compile-timeout-ms", "0", NULL}, 2, "--compile-timeout-ms expects a positive whole number, got \"0\""},
        {{"--compile-timeout-ms", "soon", NULL}, 2, "--compile-timeout-ms expects a positive whole number"},
        {{"--zygotes", "ruby", NULL}, 2, "--zygotes expects languages among c, lua, python and wasm"},
        {{"--zygotes", "c,,lua", NULL}, 2, "--zygotes expects languages among c, lua, python and wasm, comma-separated, or all, or none, got \"c,,lua\""},
        {{"--zygotes", "", NULL}, 2, "--zygotes expects languages"},
        {{"--check-types", "lax", NULL}, 2, "--check-types expects strict or off, got \"lax\""},
        {{"--replicas-max", "0", NULL}, 2, "--replicas-max expects a positive whole number, got \"0\""},
        {{"--replicas-max", "65", NULL}, 2, "--replicas-max is at most 64, got 65"},
        {{"--plugin-uids", "0-9", NULL}, 2, "--plugin-uids expects FIRST-LAST"},
        {{"--plugin-uids", "100-4294967295", NULL}, 2, "--plugin-uids expects FIRST-LAST"},
        {{"--plugin-uids", "100-199", "--no-namespaces", NULL}, 1, "--plugin-uids needs the workers' namespaces"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[2048];
        int status = run_broker(cases[i].words, err, sizeof err);
        cr_expect_eq(status, cases[i].status, "case %zu exited %d: %s", i, status, err);
        cr_expect(strstr(err, cases[i].needle), "case %zu: \"%s\" is not in: %s", i, cases[i].needle, err);
    }
}

Test(plugbayd, a_second_broker_on_the_same_state_folder_is_refused)
{
    const char *ids[] = {"example/hello", NULL};
    h_setup(&h, ids);
    h_start(&h, NULL);
    char err[2048];
    int status = run_broker((const char *[]){"--listen", "ipc:///tmp/plugbay-second.sock", NULL}, err, sizeof err);
    cr_assert_eq(status, 1, "the second broker exited %d: %s", status, err);
    cr_assert(strstr(err, "in use by another broker"), "stderr: %s", err);
    bay_conn *c = h_connect(&h, "after-second");
    cr_assert(h_wait_state(c, "example/hello", "loaded", H_WAIT_MS)); /* a race with its load, not the point */
    char out[64];
    cr_assert_eq(h_call_str(c, "greet", "first", 5000, out, sizeof out, NULL), 0, "the first broker still serves");
    bay_close(c);
}

Test(plugbayd, nine_indexes_are_refused_and_a_cgroup_folder_that_is_none_is_said_and_passed_over)
{
    h_setup(&h, (const char *const[]){"example/hello", NULL});
    char err[2048];
    const char *nine[20];
    for (int i = 0; i < 18; i += 2) {
        nine[i] = "--index";
        nine[i + 1] = "http://127.0.0.1:9/x";
    }
    nine[18] = NULL;
    const char *argv[32] = {BAY_BIN_DIR "/plugbayd", "--plugins", h.plugins, "--state", h.state};
    size_t n = 5;
    for (size_t i = 0; nine[i]; i++)
        argv[n++] = nine[i];
    argv[n] = NULL;
    cr_assert_eq(h_run(&h, argv, NULL, 0, err, sizeof err), 2);
    cr_assert(strstr(err, "plugbayd: at most 8 --index options"), "%s", err);
    /* A --cgroup folder that is no memory folder: said once, and the workers run on their rlimits. */
    h_start(&h, (const char *const[]){"--cgroup", "/no/such/folder", NULL});
#ifdef BAY_SANITIZED /* memory cgroups are off before the folder is looked at */
    cr_assert(h_wait_log(&h, "memory cgroups are off in AddressSanitizer builds"));
#else
    cr_assert(h_wait_log(&h, "--cgroup /no/such/folder"), "the log says the folder cannot serve");
#endif
    bay_conn *c = h_connect(&h, "test-plugbayd");
    h_wait_loaded(c, (const char *const[]){"example/hello", NULL});
    bay_close(c);
}
