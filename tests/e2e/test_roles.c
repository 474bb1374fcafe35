/* tests/e2e/test_roles.c — who may talk to plugbayd: a second local user is refused until an admin adds it, then
 * does what its role and grants allow and nothing more, while plugbayd's own user keeps being served. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

extern char **environ;

#define OTHER_UID "65534" /* nobody */
#define SETPRIV "/usr/bin/setpriv"

static harness h;
static bay_conn *admin; /* plugbayd's own user: an admin */

static void start(void)
{
    if (geteuid() != 0 || access(SETPRIV, X_OK) != 0)
        cr_skip_test("acting as a second local user needs root and %s", SETPRIV);
    const char *ids[] = {"example/hello", "example/lua-hello", NULL};
    h_setup(&h, ids);
    h_listen_public(&h); /* where another user can reach it */
    const char *extra[] = {"--listen", h.url, NULL};
    h_start_loaded(&h, extra, ids);
    admin = h_connect(&h, "admin-app");
}

static void stop(void)
{
    if (admin)
        bay_close(admin);
    admin = NULL;
    h_cleanup(&h);
}

TestSuite(roles, .init = start, .fini = stop, .timeout = 120);

typedef struct output {
    int status;
    char out[4096], err[2048];
} output;

/* run_as runs plugbay with the words given (NULL-terminated): as the other user, or as plugbayd's own;
 * with --broker, unless url is NULL. */
static void run_as_at(bool other, const char *url, output *o, const char *const *words)
{
    const char *argv[24] = {SETPRIV, "--reuid=" OTHER_UID, "--regid=" OTHER_UID, "--clear-groups"};
    size_t n = other ? 4 : 0;
    argv[n++] = BAY_BIN_DIR "/plugbay";
    if (url) {
        argv[n++] = "--broker";
        argv[n++] = url;
    }
    for (size_t i = 0; words[i] && n < 23; i++)
        argv[n++] = words[i];
    argv[n] = NULL;
    o->status = h_run(&h, argv, o->out, sizeof o->out, o->err, sizeof o->err);
}

static void as_other(output *o, const char *const *words) { run_as_at(true, h.url, o, words); }

static void as_admin(output *o, const char *const *words) { run_as_at(false, h.url, o, words); }

static void expect_refused(const output *o, const char *needle)
{
    cr_expect_eq(o->status, 1, "exit %d, out: %s", o->status, o->out);
    cr_expect(strstr(o->err, needle), "stderr lacks \"%s\": %s", needle, o->err);
}

static void expect_ok(const output *o)
{
    cr_expect_eq(o->status, 0, "exit %d, stderr: %s", o->status, o->err);
}

/* admin_still_served: plugbayd's own user calls on, whatever the other user tried. */
static void admin_still_served(void)
{
    char out[64];
    cr_assert_eq(h_call_str(admin, "greet", "admin", 5000, out, sizeof out, NULL), 0);
    cr_assert_str_eq(out, "Hello, admin!");
}

Test(roles, another_local_user_is_refused_until_an_admin_adds_it)
{
    output o;
    as_other(&o, (const char *[]){"list", NULL});
    expect_refused(&o, "uid " OTHER_UID " may not use plugbayd; an admin lets it in with `plugbay host add uid" OTHER_UID
                       " --uid " OTHER_UID " --role observer` (or --role host, or admin) (BAY_EPERM)");
    as_other(&o, (const char *[]){"call", "greet", "[\"x\"]", NULL});
    expect_refused(&o, "uid " OTHER_UID " may not use plugbayd");
    cr_expect(h_wait_log(&h, "refused a connection: uid " OTHER_UID " may not use plugbayd"));
    admin_still_served();

    as_admin(&o, (const char *[]){"host", "add", "watcher", "--uid", OTHER_UID, "--role", "observer", NULL});
    expect_ok(&o);
    cr_expect_str_eq(o.out, "watcher: uid " OTHER_UID ", role observer, granted -\n");
    as_other(&o, (const char *[]){"list", NULL});
    expect_ok(&o);
    cr_expect(strstr(o.out, "example/hello"), "%s", o.out);
    as_other(&o, (const char *[]){"stats", "example/hello", "--since", "1m", NULL});
    expect_ok(&o); /* an observer reads the history, and would get /metrics' token: */
    as_other(&o, (const char *[]){"metrics", NULL});
    expect_refused(&o, "plugbayd serves no /metrics: start it with --metrics 127.0.0.1:PORT (BAY_ENOENT)");
    cr_expect(h_wait_log(&h, "connected (pid "));
    as_admin(&o, (const char *[]){"host", "remove", "watcher", NULL});
    expect_ok(&o);
    as_other(&o, (const char *[]){"status", NULL});
    expect_refused(&o, "uid " OTHER_UID " may not use plugbayd");
    admin_still_served();
}

Test(roles, an_observer_reads_but_cannot_call_or_change_anything)
{
    output o;
    as_admin(&o, (const char *[]){"host", "add", "watcher", "--uid", OTHER_UID, "--role", "observer", NULL});
    expect_ok(&o);
    as_other(&o, (const char *[]){"info", "example/hello", NULL});
    expect_ok(&o);
    as_other(&o, (const char *[]){"logs", "example/hello", NULL});
    expect_ok(&o);
    cr_expect(strstr(o.out, "[example/hello] loaded\n"), "an observer reads a plugin's lines: %s", o.out);
    as_other(&o, (const char *[]){"call", "greet", "[\"x\"]", NULL});
    expect_refused(&o, "(uid " OTHER_UID ", role observer) may not send CALL frames: they need role host (BAY_EPERM)");
    as_other(&o, (const char *[]){"unload", "example/hello", NULL});
    expect_refused(&o, "(uid " OTHER_UID ", role observer) may not run unload: it needs role admin (BAY_EPERM)");
    as_other(&o, (const char *[]){"host", "add", "me", "--uid", "0", "--role", "admin", NULL});
    expect_refused(&o, "may not run host.add: it needs role admin");
    as_other(&o, (const char *[]){"logs", "--audit", NULL});
    expect_refused(&o, "may not run audit: it needs role admin");
    as_other(&o, (const char *[]){"config", "example/hello", NULL});
    expect_ok(&o);
    cr_expect(strstr(o.out, "greeting  Hello"), "an observer reads the settings: %s", o.out);
    as_other(&o, (const char *[]){"config", "example/hello", "greeting=Howdy", NULL});
    expect_refused(&o, "(uid " OTHER_UID ", role observer) may not run config with changes: it needs role admin "
                       "(BAY_EPERM)");
    as_other(&o, (const char *[]){"config", "example/hello", "greeting", "--reset", NULL});
    expect_refused(&o, "may not run config with changes: it needs role admin");
    cr_expect(h_wait_log(&h, "[audit] host:plugbay-cli (uid " OTHER_UID ", role observer): unload {\"id\":"
                             "\"example/hello\"}: BAY_EPERM"));
    char state[32];
    h_plugin_state(admin, "example/hello", state, sizeof state, NULL, 0);
    cr_expect_str_eq(state, "loaded");
    admin_still_served();
}

Test(roles, a_host_calls_what_it_was_granted_and_nothing_else_on_either_path)
{
    output o;
    as_admin(&o, (const char *[]){"host", "add", "app", "--uid", OTHER_UID, "--role", "host", "--grant", "call:greet",
                                  NULL});
    expect_ok(&o);
    cr_expect_str_eq(o.out, "app: uid " OTHER_UID ", role host, granted call:greet\n");
    for (int fast = 0; fast < 2; fast++) {
        setenv("PLUGBAY_FASTPATH", fast ? "1" : "0", 1); /* the CLI keeps what it is given */
        as_other(&o, (const char *[]){"call", "greet", "[\"app\"]", NULL});
        expect_ok(&o);
        cr_expect_str_eq(o.out, "\"Hello, app!\"\n");
        as_other(&o, (const char *[]){"call", "lua.greet", "[\"app\"]", NULL});
        expect_refused(&o, "(uid " OTHER_UID ", role host) may not call \"lua.greet\": it was not granted "
                           "call:lua.greet (BAY_EPERM)");
    }
    unsetenv("PLUGBAY_FASTPATH");
    as_other(&o, (const char *[]){"install", "example/hello", "--grant-all", NULL});
    expect_refused(&o, "may not run install: it needs role admin");
    as_other(&o, (const char *[]){"grant", "example/hello", "--grant", "call:*", NULL});
    expect_refused(&o, "may not run grant: it needs role admin");
    /* A package: not one part of it is taken from a host that is no admin. */
    char pkg[64], err[512];
    snprintf(pkg, sizeof pkg, "/tmp/plugbay-roles-%d.bayplug", (int)getpid());
    const char *pack[] = {BAY_BIN_DIR "/plugbay", "pack", BAY_EXAMPLE_PLUGIN_DIR "/example/hello", "-o", pkg, NULL};
    cr_assert_eq(h_run(&h, pack, NULL, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(chmod(pkg, 0644), 0);
    as_other(&o, (const char *[]){"install", pkg, "--grant-all", NULL});
    unlink(pkg);
    expect_refused(&o, "may not run package.put: it needs role admin");
    admin_still_served();
}

Test(roles, bad_host_entries_are_refused_clearly)
{
    output o;
    as_admin(&o, (const char *[]){"host", "add", "x", "--uid", "no-such-user-here", "--role", "host", NULL});
    cr_expect_eq(o.status, 2);
    cr_expect(strstr(o.err, "--uid needs a uid or a user name of this machine, got \"no-such-user-here\""), "%s", o.err);
    as_admin(&o, (const char *[]){"host", "add", "x", "--uid", OTHER_UID, "--role", "root", NULL});
    expect_refused(&o, "role \"root\" is none of observer, host, admin (BAY_EINVAL)");
    as_admin(&o, (const char *[]){"host", "add", "x", "--uid", "0", "--role", "observer", NULL});
    expect_refused(&o, "uid 0 is plugbayd's own user or root, an admin always (BAY_EINVAL)");
    as_admin(&o, (const char *[]){"host", "add", "x", "--uid", OTHER_UID, "--role", "observer", "--grant",
                                  "call:greet", NULL});
    expect_refused(&o, "only a host is limited by grants; an observer is not (BAY_EINVAL)");
    as_admin(&o, (const char *[]){"host", "add", "x", "--uid", OTHER_UID, "--role", "host", "--grant", "fs.read:/",
                                  NULL});
    expect_refused(&o, "a host's grant is call:PATTERN or provide:PATTERN, not \"fs.read:/\" (BAY_EINVAL)");
    as_admin(&o, (const char *[]){"host", "add", "Bad Name", "--uid", OTHER_UID, "--role", "host", NULL});
    expect_refused(&o, "host name \"Bad Name\" must be 1 to 63 of a-z, 0-9, '.', '_' and '-' (BAY_EINVAL)");
    as_admin(&o, (const char *[]){"host", "add", "x", "--uid", OTHER_UID, NULL});
    cr_expect_eq(o.status, 2);
    cr_expect(strstr(o.err, "host add needs --role, and --uid (a local user) or --key"), "%s", o.err);
    as_admin(&o, (const char *[]){"host", "remove", "nobody-here", NULL});
    expect_refused(&o, "no host nobody-here (see `plugbay host list`) (BAY_ENOENT)");
    as_admin(&o, (const char *[]){"host", "list", NULL});
    expect_ok(&o);
    cr_expect_str_eq(o.out, "NAME  UID  KEY  ROLE  GRANTED\n", "nothing was added: %s", o.out);
    as_other(&o, (const char *[]){"list", NULL});
    expect_refused(&o, "may not use plugbayd");
    admin_still_served();
}

/* A user's plugbay, given no URL, finds its own plugbayd at $XDG_RUNTIME_DIR/plugbay/plugbayd.sock, from any
 * folder; with no plugbayd there it says where it looked and how to choose another. */
Test(roles, a_users_client_finds_its_plugbayd_in_its_runtime_folder_or_says_where_it_looked)
{
    output o;
    as_admin(&o, (const char *[]){"host", "add", "watcher", "--uid", OTHER_UID, "--role", "observer", NULL});
    expect_ok(&o);
    unsetenv("PLUGBAY_BROKER");
    cr_assert_eq(setenv("XDG_RUNTIME_DIR", h.dir, 1), 0); /* DIR/plugbay/plugbayd.sock is plugbayd's socket */
    cr_assert_eq(chdir("/"), 0);
    run_as_at(true, NULL, &o, (const char *[]){"list", NULL});
    expect_ok(&o);
    cr_expect(strstr(o.out, "example/hello"), "%s", o.out);
    cr_assert_eq(setenv("XDG_RUNTIME_DIR", "/nonexistent-runtime", 1), 0);
    run_as_at(true, NULL, &o, (const char *[]){"list", NULL});
    cr_expect_eq(o.status, 1, "exit %d: %s", o.status, o.out);
    cr_expect(strstr(o.err, "given no URL, libplugbay dialed your own plugbayd's "
                            "/nonexistent-runtime/plugbay/plugbayd.sock (not there), the system's "
                            "/run/plugbay/plugbayd.sock; set PLUGBAY_BROKER, or give plugbay --broker URL"),
              "%s", o.err);
}

/* h_wait_until's condition: the CLI, run as the other user with no URL, answers `status`. */
static bool users_plugbayd_answers(void *unused)
{
    output o;
    run_as_at(true, NULL, &o, (const char *[]){"status", NULL});
    return o.status == 0;
}

/* A user's own plugbayd, started without --state or --listen, keeps its state under $XDG_STATE_HOME and listens
 * in $XDG_RUNTIME_DIR; that user's plugbay, given no URL, finds it from any folder. */
Test(roles, a_users_plugbayd_and_its_clients_meet_in_the_well_known_places)
{
    char home[400], run[420], state[440], cmd[2600];
    snprintf(home, sizeof home, "%s/home", h.dir);
    snprintf(run, sizeof run, "%s/run", home);
    snprintf(state, sizeof state, "%s/xstate", home);
    /* The other user's copy of the plugins, in a home of its own. */
    snprintf(cmd, sizeof cmd, "mkdir -p %s && cp -r %s %s/plugins && chown -R " OTHER_UID ":" OTHER_UID " %s && chmod 700 %s",
             run, h.plugins, home, home, run);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    unsetenv("PLUGBAY_BROKER");
    setenv("HOME", home, 1);
    setenv("XDG_RUNTIME_DIR", run, 1);
    setenv("XDG_STATE_HOME", state, 1);
    char plugins[420], log[420];
    snprintf(plugins, sizeof plugins, "%s/plugins", home);
    snprintf(log, sizeof log, "%s/plugbayd.log", home);
    const char *argv[] = {SETPRIV, "--reuid=" OTHER_UID, "--regid=" OTHER_UID, "--clear-groups", BAY_BIN_DIR "/plugbayd",
                          "--plugins", plugins, "--autoinstall", "--log", log, "--exit-with-parent", NULL};
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, argv[0], NULL, NULL, (char **)argv, environ), 0);
    cr_assert_eq(chdir("/"), 0);
    bool up = h_wait_until(users_plugbayd_answers, NULL, H_WAIT_MS);
    output o;
    run_as_at(true, NULL, &o, (const char *[]){"call", "greet", "[\"home\"]", "--timeout", "20000", NULL});
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    cr_assert(up, "the user's plugbay found no plugbayd in %s/plugbay", run);
    expect_ok(&o);
    cr_expect(strstr(o.out, "Hello, home!"), "%s", o.out);
    char path[600];
    snprintf(path, sizeof path, "%s/plugbay/state.json", state);
    cr_expect_eq(access(path, F_OK), 0, "no state in %s", path);
    snprintf(path, sizeof path, "%s/plugbay", run);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0700, "the user's socket folder is its alone");
}

Test(roles, the_command_a_refused_user_is_told_lets_it_in_as_written)
{
    output o, added;
    as_other(&o, (const char *[]){"list", NULL});
    expect_refused(&o, "may not use plugbayd");
    cr_assert_eq(h_run_suggested(&h, o.err, 0, added.out, sizeof added.out, added.err, sizeof added.err), 0,
                 "the suggestion in \"%s\" failed: %s", o.err, added.err);
    as_other(&o, (const char *[]){"list", NULL});
    expect_ok(&o);
    as_admin(&o, (const char *[]){"host", "remove", "uid" OTHER_UID, NULL});
    expect_ok(&o);
}
