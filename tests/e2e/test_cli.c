/* tests/e2e/test_cli.c — the plugbay command line against a real broker: output, errors, exit status. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"

extern char **environ;

static harness h;

static void start(void)
{
    const char *ids[] = {"example/hello", "example/audit", NULL};
    h_setup(&h, ids);
    h_start_loaded(&h, NULL, ids);
}

static void stop(void)
{
    h_cleanup(&h);
}

TestSuite(cli, .init = start, .fini = stop, .timeout = 60);

typedef struct output {
    int status;
    char out[16384], err[4096];
} output;

/* run executes plugbay with --broker and the given words, capturing stdout, stderr and the exit status. */
static void run(output *o, const char *broker, const char *const *words)
{
    const char *argv[16] = {BAY_BIN_DIR "/plugbay", "--broker", broker ? broker : h.url};
    size_t n = 3;
    for (size_t i = 0; words[i] && n < 15; i++)
        argv[n++] = words[i];
    argv[n] = NULL;
    o->status = h_run(&h, argv, o->out, sizeof o->out, o->err, sizeof o->err);
}

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

Test(cli, list_json_is_machine_readable)
{
    output o;
    run(&o, NULL, (const char *[]){"list", "--json", NULL});
    cr_assert_eq(o.status, 0, "stderr: %s", o.err);
    json_error_t jerr;
    json_t *j = json_loads(o.out, 0, &jerr);
    cr_assert_not_null(j, "not JSON (%s): %s", jerr.text, o.out);
    cr_assert(json_is_array(j));
    cr_assert_eq(json_array_size(j), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "id")), "example/hello");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "state")), "loaded");
    json_decref(j);
}

Test(cli, call_prints_the_result_as_json)
{
    output o;
    run(&o, NULL, (const char *[]){"call", "greet", "[\"cli\"]", NULL});
    cr_assert_eq(o.status, 0, "stderr: %s", o.err);
    cr_assert_str_eq(o.out, "\"Hello, cli!\"\n");
}

Test(cli, plugin_errors_name_the_plugin_in_one_line)
{
    output o;
    run(&o, NULL, (const char *[]){"call", "math.add", "[1, \"x\"]", NULL});
    cr_assert_eq(o.status, 1);
    cr_assert_eq(lines(o.err), 1, "stderr: %s", o.err);
    cr_assert(strstr(o.err, "example/audit") && strstr(o.err, "BAY_ETYPE"), "stderr: %s", o.err);
}

Test(cli, bad_json_arguments_are_a_usage_error)
{
    output o;
    run(&o, NULL, (const char *[]){"call", "greet", "[1,", NULL});
    cr_assert_eq(o.status, 2);
    cr_assert(strstr(o.err, "line"), "stderr: %s", o.err);
}

Test(cli, unknown_command_and_missing_id_are_usage_errors)
{
    output o;
    run(&o, NULL, (const char *[]){"frobnicate", NULL});
    cr_assert_eq(o.status, 2);
    cr_assert(strstr(o.err, "frobnicate"), "stderr: %s", o.err);
    run(&o, NULL, (const char *[]){"info", NULL});
    cr_assert_eq(o.status, 2);
    cr_assert(strstr(o.err, "ID"), "stderr: %s", o.err);
}

Test(cli, unknown_plugin_is_named)
{
    output o;
    run(&o, NULL, (const char *[]){"info", "no/such", NULL});
    cr_assert_eq(o.status, 1);
    cr_assert(strstr(o.err, "no/such") && strstr(o.err, "BAY_ENOENT"), "stderr: %s", o.err);
}

Test(cli, unreachable_broker_says_what_to_do)
{
    output o;
    run(&o, "ipc:///tmp/plugbay-no-such-broker.sock", (const char *[]){"list", NULL});
    cr_assert_eq(o.status, 1);
    cr_assert(strstr(o.err, "cannot connect") && strstr(o.err, "plugbayd"), "stderr: %s", o.err);
}

Test(cli, lifecycle_commands_report_the_new_state)
{
    output o;
    run(&o, NULL, (const char *[]){"unload", "example/audit", NULL});
    cr_assert_eq(o.status, 0, "stderr: %s", o.err);
    cr_assert(strstr(o.out, "stopped"), "stdout: %s", o.out);
    run(&o, NULL, (const char *[]){"load", "example/audit", NULL});
    cr_assert_eq(o.status, 0, "stderr: %s", o.err);
    cr_assert(strstr(o.out, "loaded"), "stdout: %s", o.out);
    run(&o, NULL, (const char *[]){"status", NULL});
    cr_assert_eq(o.status, 0, "stderr: %s", o.err);
    cr_assert(strstr(o.out, "example/audit") && strstr(o.out, "greet"), "stdout: %s", o.out);
}

Test(cli, install_without_consent_lists_the_permissions_and_changes_nothing)
{
    output o;
    run(&o, NULL, (const char *[]){"uninstall", "example/audit", NULL});
    cr_assert_eq(o.status, 0, "stderr: %s", o.err);
    run(&o, NULL, (const char *[]){"install", "example/audit", NULL});
    cr_assert_eq(o.status, 1);
    cr_assert_eq(lines(o.err), 1, "stderr: %s", o.err);
    cr_assert(strstr(o.err, "provide:math.add") && strstr(o.err, "--grant-all") && strstr(o.err, "BAY_EPERM"),
              "stderr: %s", o.err);
    cr_expect(strncmp(o.err, "plugbay: example/audit asks for: ", 33) == 0 &&
                  !strstr(o.err + 33, "example/audit"), "the plugin named once: %s", o.err);
    run(&o, NULL, (const char *[]){"install", "example/audit", "--grant-all", NULL});
    cr_assert_eq(o.status, 0, "stderr: %s", o.err);
    cr_assert(strstr(o.out, "loaded"), "stdout: %s", o.out);
    run(&o, NULL, (const char *[]){"list", "--grant-all", NULL});
    cr_assert_eq(o.status, 2, "--grant-all only goes with install and grant");
}

Test(cli, logs_audit_shows_who_ran_which_admin_command_and_how_it_ended)
{
    output o;
    run(&o, NULL, (const char *[]){"unload", "example/audit", NULL});
    cr_assert_eq(o.status, 0, "stderr: %s", o.err);
    run(&o, NULL, (const char *[]){"load", "no/such", NULL});
    cr_assert_eq(o.status, 1);
    run(&o, NULL, (const char *[]){"logs", "--audit", "--lines", "2", NULL});
    cr_assert_eq(o.status, 0, "stderr: %s", o.err);
    cr_expect_eq(lines(o.out), 2, "stdout: %s", o.out);
    cr_expect(strstr(o.out, "[audit] host:plugbay-cli (uid ") &&
                  strstr(o.out, ", role admin): unload {\"id\":\"example/audit\"}: done\n"),
              "stdout: %s", o.out);
    cr_expect(strstr(o.out, ": load {\"id\":\"no/such\"}: BAY_ENOENT: no plugin \"no/such\" in "), "stdout: %s", o.out);
    run(&o, NULL, (const char *[]){"logs", NULL});
    cr_expect_eq(o.status, 2);
    cr_expect(strstr(o.err, "logs needs a plugin's ID (its lines) or --audit (plugbayd's audit lines)"), "%s", o.err);
    run(&o, NULL, (const char *[]){"logs", "--audit", "--lines", "0", NULL});
    cr_expect_eq(o.status, 2);
    cr_expect(strstr(o.err, "--lines needs a positive number, got \"0\""), "%s", o.err);
    run(&o, NULL, (const char *[]){"list", "--audit", NULL});
    cr_expect_eq(o.status, 2);
    cr_expect(strstr(o.err, "--audit, --follow and --lines only go with logs"), "%s", o.err);
    run(&o, NULL, (const char *[]){"load", "example/audit", NULL});
    cr_assert_eq(o.status, 0, "stderr: %s", o.err);
}

Test(cli, host_add_key_takes_one_public_key_file_and_refuses_what_is_not_one)
{
    char key[400], pub[400], bad[400], want[1200];
    snprintf(key, sizeof key, "%s/remote", h.dir);
    snprintf(pub, sizeof pub, "%s/remote.pub", h.dir);
    snprintf(bad, sizeof bad, "%s/bad.pub", h.dir);
    output o;
    const char *keygen[] = {BAY_BIN_DIR "/plugbay", "keygen", "--out", key, NULL};
    cr_assert_eq(h_run(&h, keygen, NULL, 0, o.err, sizeof o.err), 0, "stderr: %s", o.err);
    run(&o, NULL, (const char *[]){"host", "add", "remote", "--key", pub, "--role", "host", "--grant", "call:a.*", NULL});
    cr_assert_eq(o.status, 0, "stderr: %s", o.err);
    cr_expect(strstr(o.out, "remote: key ") && strstr(o.out, ", role host, granted call:a.*"), "stdout: %s", o.out);
    run(&o, NULL, (const char *[]){"host", "list", NULL});
    cr_expect(strstr(o.out, "NAME    UID  KEY               ROLE  GRANTED\nremote  -    "), "stdout: %s", o.out);

    run(&o, NULL, (const char *[]){"host", "add", "again", "--key", pub, "--role", "observer", NULL});
    cr_expect_eq(o.status, 1);
    cr_expect(strstr(o.err, " is host remote already; remove it first (`plugbay host remove remote`) (BAY_EEXIST)"),
              "%s", o.err);
    run(&o, NULL, (const char *[]){"host", "add", "secret", "--key", key, "--role", "host", NULL});
    cr_expect_eq(o.status, 1);
    snprintf(want, sizeof want, "plugbay: %s is a secret key; give the public key, %s.pub (and keep the secret key "
                                "private) (BAY_EINVAL)", key, key);
    cr_expect(strstr(o.err, want), "stderr lacks \"%s\": %s", want, o.err);
    FILE *f = fopen(bad, "w");
    cr_assert_not_null(f);
    fputs("plugbay-ed25519 not-base64\n", f);
    fclose(f);
    run(&o, NULL, (const char *[]){"host", "add", "bad", "--key", bad, "--role", "host", NULL});
    cr_expect_eq(o.status, 1);
    snprintf(want, sizeof want, "plugbay: %s: not a plugbay public key (expected one line \"plugbay-ed25519 BASE64 "
                                "[COMMENT]\" as plugbay keygen writes) (BAY_EINVAL)", bad);
    cr_expect(strstr(o.err, want), "stderr lacks \"%s\": %s", want, o.err);
    run(&o, NULL, (const char *[]){"host", "add", "both", "--key", pub, "--uid", "1001", "--role", "host", NULL});
    cr_expect_eq(o.status, 2);
    cr_expect(strstr(o.err, "host add needs --role, and --uid (a local user) or --key (a remote host's public key "
                            "file), not both"), "%s", o.err);
    run(&o, NULL, (const char *[]){"host", "add", "neither", "--role", "host", NULL});
    cr_expect_eq(o.status, 2);
    cr_expect(strstr(o.err, "host add needs --role"), "%s", o.err);
    run(&o, NULL, (const char *[]){"host", "add", "missing", "--key", "/nonexistent.pub", "--role", "host", NULL});
    cr_expect_eq(o.status, 1);
    cr_expect(strstr(o.err, "/nonexistent.pub: cannot read the public key: No such file or directory"), "%s", o.err);

    run(&o, NULL, (const char *[]){"host", "remove", "remote", NULL});
    cr_expect_eq(o.status, 0, "stderr: %s", o.err);
    run(&o, NULL, (const char *[]){"host", "list", NULL});
    cr_expect_str_eq(o.out, "NAME  UID  KEY  ROLE  GRANTED\n", "only what failed was added: %s", o.out);
}

Test(cli, granting_twice_keeps_each_permission_once)
{
    output o;
    for (int i = 0; i < 2; i++) {
        run(&o, NULL, (const char *[]){"grant", "example/audit", "--grant-all", NULL});
        cr_assert_eq(o.status, 0, "stderr: %s", o.err);
    }
    run(&o, NULL, (const char *[]){"info", "example/audit", "--json", NULL});
    cr_assert_eq(o.status, 0, "stderr: %s", o.err);
    json_t *j = json_loads(o.out, 0, NULL), *granted = json_object_get(j, "granted");
    cr_assert(json_array_size(granted) > 0, "stdout: %s", o.out);
    cr_expect_eq(json_array_size(granted), json_array_size(json_object_get(j, "requested")), "stdout: %s", o.out);
    for (size_t i = 0; i < json_array_size(granted); i++)
        for (size_t k = i + 1; k < json_array_size(granted); k++)
            cr_expect_str_neq(json_string_value(json_array_get(granted, i)), json_string_value(json_array_get(granted, k)),
                              "granted twice: %s", o.out);
    json_decref(j);
}

Test(cli, json_errors_are_one_json_object_on_stdout_with_the_usual_exit_status)
{
    output o;
    run(&o, NULL, (const char *[]){"info", "no/such", "--json", NULL});
    cr_assert_eq(o.status, 1);
    cr_expect_str_eq(o.err, "", "nothing on stderr");
    json_t *j = json_loads(o.out, 0, NULL), *e = json_object_get(j, "error");
    cr_assert(json_is_object(e), "stdout: %s", o.out);
    cr_expect_eq(json_integer_value(json_object_get(e, "code")), BAY_ENOENT);
    cr_expect_str_eq(json_string_value(json_object_get(e, "name")), "BAY_ENOENT");
    cr_expect(json_is_null(json_object_get(e, "plugin")), "stdout: %s", o.out);
    cr_expect(strstr(json_string_value(json_object_get(e, "message")), "no plugin \"no/such\""), "stdout: %s", o.out);
    json_decref(j);
    run(&o, NULL, (const char *[]){"call", "math.add", "[1, \"x\"]", "--json", NULL});
    cr_assert_eq(o.status, 1);
    j = json_loads(o.out, 0, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "plugin")), "example/audit",
                     "stdout: %s", o.out);
    json_decref(j);
    run(&o, NULL, (const char *[]){"--json", "info", NULL});
    cr_assert_eq(o.status, 2);
    cr_expect_str_eq(o.err, "");
    j = json_loads(o.out, 0, NULL);
    cr_expect(strstr(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
                     "missing ID; usage: plugbay info ID"), "stdout: %s", o.out);
    json_decref(j);
}

Test(cli, version_prints_the_cli_version_and_protocol)
{
    output o;
    run(&o, NULL, (const char *[]){"--version", NULL});
    cr_assert_eq(o.status, 0, "stderr: %s", o.err);
    char want[64];
    snprintf(want, sizeof want, " (protocol %d)\n", BAY_PROTOCOL_VERSION);
    cr_expect(strncmp(o.out, "plugbay ", 8) == 0 && strstr(o.out, want), "stdout: %s", o.out);
    run(&o, NULL, (const char *[]){"--version", "--json", NULL});
    json_t *j = json_loads(o.out, 0, NULL);
    cr_expect_eq(json_integer_value(json_object_get(j, "protocol")), BAY_PROTOCOL_VERSION, "stdout: %s", o.out);
    cr_expect(json_is_string(json_object_get(j, "version")), "stdout: %s", o.out);
    json_decref(j);
}

/* run_suggestions runs the n commands o's error suggests, in order, as
 * written, expecting each to succeed; the last one's output stays in o. */
static void run_suggestions(output *o, int n)
{
    char said[sizeof o->err];
    snprintf(said, sizeof said, "%s", o->err);
    for (int i = 0; i < n; i++) {
        o->status = h_run_suggested(&h, said, i, o->out, sizeof o->out, o->err, sizeof o->err);
        cr_assert_neq(o->status, -2, "suggests fewer than %d commands: %s", n, said);
        cr_assert_eq(o->status, 0, "suggestion %d of \"%s\" failed: %s", i + 1, said, o->err);
    }
}

/* provoke runs words, expecting them to fail (exit status 1) with a message holding part. */
static void provoke(output *o, const char *const *words, const char *part)
{
    run(o, NULL, words);
    cr_assert_eq(o->status, 1, "stdout: %s, stderr: %s", o->out, o->err);
    cr_assert(strstr(o->err, part), "stderr lacks \"%s\": %s", part, o->err);
}

Test(cli, every_command_a_message_suggests_runs_as_written)
{
    output o;
    provoke(&o, (const char *[]){"load", "no/such", NULL}, "(see `plugbay list`)");
    run_suggestions(&o, 1);
    cr_expect(strstr(o.out, "example/hello"), "stdout: %s", o.out);

    run(&o, NULL, (const char *[]){"uninstall", "example/audit", NULL});
    provoke(&o, (const char *[]){"load", "example/audit", NULL}, "`plugbay install example/audit --grant-all`");
    run_suggestions(&o, 1);
    cr_expect_str_eq(o.out, "example/audit: loaded\n");

    run(&o, NULL, (const char *[]){"disable", "example/audit", NULL});
    provoke(&o, (const char *[]){"load", "example/audit", NULL}, "`plugbay enable example/audit`");
    run_suggestions(&o, 1);
    cr_expect_str_eq(o.out, "example/audit: loaded\n");

    run(&o, NULL, (const char *[]){"uninstall", "example/audit", NULL});
    provoke(&o, (const char *[]){"install", "example/audit", "--grant", "provide:greet", NULL},
            "`plugbay grant example/audit --grant provide:");
    run_suggestions(&o, 2); /* grant what it lacks, then load it */
    cr_expect_str_eq(o.out, "example/audit: loaded\n");

    run(&o, NULL, (const char *[]){"host", "add", "h1", "--uid", "4242", "--role", "observer", NULL});
    cr_assert_eq(o.status, 0, "stderr: %s", o.err);
    provoke(&o, (const char *[]){"host", "add", "h1", "--uid", "4243", "--role", "observer", NULL},
            "(`plugbay host remove h1`)");
    run_suggestions(&o, 1);
    provoke(&o, (const char *[]){"host", "remove", "h1", NULL}, "(see `plugbay host list`)");
    run_suggestions(&o, 1);
    cr_expect_str_eq(o.out, "NAME  UID  KEY  ROLE  GRANTED\n", "h1 was removed: %s", o.out);
}

/* ---- logs ID: a plugin's last lines (test/slow writes two at each load) ---- */

static void start_slow(void)
{
    const char *ids[] = {"test/slow", NULL};
    h_setup(&h, ids);
    h_start_loaded(&h, NULL, ids);
}

TestSuite(logs_of_a_plugin, .init = start_slow, .fini = stop, .timeout = 60);

/* count returns how often needle occurs in s. */
static int count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *at = s; (at = strstr(at, needle)) != NULL; at += strlen(needle))
        n++;
    return n;
}

Test(logs_of_a_plugin, shows_a_plugins_output_and_plugbayds_lines_about_it)
{
    cr_assert(h_wait_log(&h, "[test/slow] output: stderr-line from slow"));
    output o;
    run(&o, NULL, (const char *[]){"logs", "test/slow", NULL});
    cr_assert_eq(o.status, 0, "stderr: %s", o.err);
    cr_expect(strstr(o.out, " INFO  [test/slow] output: stdout-line from slow\n"), "stdout: %s", o.out);
    cr_expect(strstr(o.out, "[test/slow] output: stderr-line from slow\n"), "stdout: %s", o.out);
    cr_expect(strstr(o.out, "[test/slow] loaded\n"), "plugbayd's own line about it: %s", o.out);
    cr_expect_eq(count(o.out, "[test/slow] "), lines(o.out), "only lines about test/slow: %s", o.out);
}

Test(logs_of_a_plugin, lines_n_shows_the_last_n)
{
    cr_assert(h_wait_log(&h, "[test/slow] output: stderr-line from slow"));
    output o, all;
    run(&all, NULL, (const char *[]){"logs", "test/slow", NULL});
    cr_assert_eq(all.status, 0, "stderr: %s", all.err);
    cr_assert_gt(lines(all.out), 2, "stdout: %s", all.out);
    run(&o, NULL, (const char *[]){"logs", "test/slow", "--lines", "2", NULL});
    cr_assert_eq(o.status, 0, "stderr: %s", o.err);
    cr_expect_eq(lines(o.out), 2, "stdout: %s", o.out);
    const char *tail = all.out + strlen(all.out) - strlen(o.out);
    cr_expect_str_eq(o.out, tail, "the last two of: %s", all.out);
}

Test(logs_of_a_plugin, an_unknown_plugin_is_a_clear_error)
{
    output o;
    run(&o, NULL, (const char *[]){"logs", "no/such", NULL});
    cr_expect_eq(o.status, 1);
    cr_expect(strstr(o.err, "no plugin \"no/such\"") && strstr(o.err, "(BAY_ENOENT)"), "stderr: %s", o.err);
    run(&o, NULL, (const char *[]){"logs", NULL});
    cr_expect_eq(o.status, 2);
    cr_expect(strstr(o.err, "logs needs a plugin's ID (its lines) or --audit"), "stderr: %s", o.err);
    run(&o, NULL, (const char *[]){"logs", "test/slow", "--audit", NULL});
    cr_expect_eq(o.status, 2);
    run(&o, NULL, (const char *[]){"logs", "--audit", "--follow", NULL});
    cr_expect_eq(o.status, 2);
    cr_expect(strstr(o.err, "--follow goes with logs ID"), "stderr: %s", o.err);
}

Test(logs_of_a_plugin, json_gives_the_lines_and_the_number_of_the_last)
{
    cr_assert(h_wait_log(&h, "[test/slow] output: stderr-line from slow"));
    output o;
    run(&o, NULL, (const char *[]){"logs", "test/slow", "--json", "--lines", "1", NULL});
    cr_assert_eq(o.status, 0, "stderr: %s", o.err);
    cr_expect(strncmp(o.out, "{\"id\":\"test/slow\",\"lines\":[\"", 28) == 0 && strstr(o.out, "\"last\":"),
              "stdout: %s", o.out);
}

struct followed {
    const char *path;
    int want; /* occurrences of the output line */
};

/* followed_enough tells whether the --follow output file holds the output line want times. */
static bool followed_enough(void *arg)
{
    const struct followed *f = arg;
    static char text[65536];
    FILE *in = fopen(f->path, "r");
    if (in == NULL)
        return false;
    text[fread(text, 1, sizeof text - 1, in)] = '\0';
    fclose(in);
    return count(text, "[test/slow] output: stdout-line from slow\n") >= f->want;
}

Test(logs_of_a_plugin, follow_shows_a_line_written_after_it_started)
{
    cr_assert(h_wait_log(&h, "[test/slow] output: stdout-line from slow"));
    char path[400];
    snprintf(path, sizeof path, "%s/follow.out", h.dir);
    const char *argv[] = {BAY_BIN_DIR "/plugbay", "--broker", h.url, "logs", "test/slow", "--follow", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, argv[0], &fa, NULL, (char **)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    struct followed f = {path, 1};
    bool first = h_wait_until(followed_enough, &f, H_WAIT_MS);
    output o;
    if (first) /* loading again writes the line again */
        run(&o, NULL, (const char *[]){"reload", "test/slow", NULL});
    f.want = 2;
    bool second = first && h_wait_until(followed_enough, &f, H_WAIT_MS);
    int status = 0;
    bool running = waitpid(pid, &status, WNOHANG) == 0;
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    cr_assert(first, "--follow printed the lines kept before it started");
    cr_assert_eq(o.status, 0, "reload: %s", o.err);
    cr_assert(second, "--follow printed the line written after it started");
    cr_assert(running, "--follow was still following");
}

Test(cli, package_and_index_commands_refuse_what_they_cannot_use)
{
    output o;
    run(&o, NULL, (const char *[]){"outdated", NULL});
    cr_assert_eq(o.status, 2);
    cr_assert(strstr(o.err, "outdated needs --index URL and --trusted-keys KEYDIR"), "stderr: %s", o.err);
    run(&o, NULL, (const char *[]){"update", "--index", "http://127.0.0.1:9/x", NULL});
    cr_assert_eq(o.status, 2);
    cr_assert(strstr(o.err, "update needs --index URL and --trusted-keys KEYDIR"), "stderr: %s", o.err);
    run(&o, NULL, (const char *[]){"update", "/no/such.bayplug", NULL});
    cr_assert_eq(o.status, 1);
    cr_assert(strstr(o.err, "/no/such.bayplug: No such file or directory"), "stderr: %s", o.err);
    run(&o, NULL, (const char *[]){"rollback", "example/hello", NULL});
    cr_assert_eq(o.status, 1);
    cr_assert(strstr(o.err, "no other version of example/hello is kept"), "stderr: %s", o.err);
    run(&o, NULL, (const char *[]){"list", "--verified-only", NULL});
    cr_assert_eq(o.status, 2);
    cr_assert(strstr(o.err, "--verified-only only goes with install and update with --index"), "stderr: %s", o.err);
    /* Nothing else changed: the plugins still answer. */
    run(&o, NULL, (const char *[]){"call", "greet", "[\"still\"]", NULL});
    cr_assert_eq(o.status, 0, "stderr: %s", o.err);
}
