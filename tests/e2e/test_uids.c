/* tests/e2e/test_uids.c — plugbayd as root runs each plugin's worker as a uid of its own (--plugin-uids). */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define FIRST 2100000000u
#define LAST 2100000099u

static harness h;
static bay_conn *c;

static const char *const plugins[] = {"example/hello",      "example/lua-hello", "example/py-hello",
                                      "example/wasm-hello", "test/hostile",      NULL};

/* open_one lets other users read one file or folder of the plugins folder (the harness makes them 0700 and 0600). */
static int open_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    return chmod(path, (st->st_mode & 07777) | (type == FTW_D ? 0055 : 0044));
}

static void start(void)
{
    if (geteuid() != 0)
        cr_skip_test("--plugin-uids needs plugbayd to run as root");
    h_setup(&h, plugins);
    cr_assert_eq(chmod(h.dir, 0711), 0);
    cr_assert_eq(nftw(h.plugins, open_one, 16, FTW_PHYS), 0);
    const char *extra[] = {"--plugin-uids", "2100000000-2100000099", NULL};
    h_start(&h, extra);
    c = h_connect(&h, "test-uids");
    h_wait_loaded(c, plugins);
}

static void stop(void)
{
    if (c)
        bay_close(c);
    h_cleanup(&h);
}

TestSuite(uids, .init = start, .fini = stop, .timeout = 120);

/* worker_uid reads the real, effective and saved uids of plugin id's worker; the real one, or -1. */
static long long worker_uid(const char *id)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)h_worker_pid(c, id));
    FILE *f = fopen(path, "re");
    long long real = -1, eff = -2, saved = -3;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "Uid:", 4) == 0)
            sscanf(line + 4, "%lld %lld %lld", &real, &eff, &saved);
    if (f)
        fclose(f);
    return real == eff && eff == saved ? real : -1;
}

/* data_owner returns the owner of plugin id's data folder, or -1. */
static long long data_owner(const char *id)
{
    char path[600];
    struct stat st;
    snprintf(path, sizeof path, "%s/data/%s", h.state, id);
    return stat(path, &st) == 0 ? (long long)st.st_uid : -1;
}

Test(uids, each_plugin_runs_as_a_uid_of_its_own_that_owns_its_data_folder)
{
    long long seen[8];
    for (size_t i = 0; plugins[i]; i++) {
        seen[i] = worker_uid(plugins[i]);
        cr_assert(seen[i] >= FIRST && seen[i] <= LAST, "%s runs as uid %lld", plugins[i], seen[i]);
        cr_assert_eq(data_owner(plugins[i]), seen[i], "%s's data folder", plugins[i]);
        cr_assert_eq(h_plugin_int(c, plugins[i], "uid"), seen[i], "info says %s's uid", plugins[i]);
        for (size_t j = 0; j < i; j++)
            cr_assert_neq(seen[i], seen[j], "%s and %s share uid %lld", plugins[i], plugins[j], seen[i]);
    }
    /* Above the data folders, other uids pass through; they list nothing. */
    struct stat st;
    cr_assert_eq(stat(h.state, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0711, "state folder mode %o", st.st_mode & 0777);
    /* The wasm worker compiled its module into a cache of its uid's, not the one every plugbayd user shares. */
    char cache[600];
    snprintf(cache, sizeof cache, "%s/cache/wasm-u%lld", h.state, worker_uid("example/wasm-hello"));
    cr_assert_eq(stat(cache, &st), 0, "%s", cache);
    cr_assert_eq((long long)st.st_uid, worker_uid("example/wasm-hello"));
    cr_assert_eq(st.st_mode & 0777, 0700);
    char out[128];
    bay_error err;
    const char *calls[][2] = {{"greet", "uid"}, {"lua.greet", "uid"}, {"py.greet", "uid"}, {"wasm.greet", "uid"}};
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(h_call_str(c, calls[i][0], calls[i][1], 10000, out, sizeof out, &err), 0, "%s: %s", calls[i][0],
                     err.message);
}

Test(uids, a_plugin_keeps_its_uid_across_restarts_and_its_files_are_its_own)
{
    long long before = worker_uid("test/hostile");
    char out[256], path[600];
    bay_error err;
    snprintf(path, sizeof path, "%s/data/test/hostile/mine", h.state);
    cr_assert_eq(h_call_str(c, "hostile.write", path, 5000, out, sizeof out, &err), 0, "%s", err.message);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s (%s)", path, out);
    cr_assert_eq((long long)st.st_uid, before, "a file the plugin made belongs to uid %u", (unsigned)st.st_uid);
    cr_assert_eq(h_command(c, "unload", "test/hostile", &err), 0, "%s", err.message);
    cr_assert_eq(h_command(c, "load", "test/hostile", &err), 0, "%s", err.message);
    cr_assert(h_wait_state(c, "test/hostile", "loaded", H_WAIT_MS));
    cr_assert_eq(worker_uid("test/hostile"), before);
    /* A file plugbayd's user left in it is handed over with the folder, as on a first start with --plugin-uids. */
    cr_assert_eq(chown(path, 0, 0), 0);
    struct stat dir;
    snprintf(path, sizeof path, "%s/data/test/hostile", h.state);
    cr_assert_eq(chown(path, 0, 0), 0);
    cr_assert_eq(h_command(c, "unload", "test/hostile", &err), 0, "%s", err.message);
    cr_assert_eq(h_command(c, "load", "test/hostile", &err), 0, "%s", err.message);
    cr_assert(h_wait_state(c, "test/hostile", "loaded", H_WAIT_MS));
    long long after = worker_uid("test/hostile");
    cr_assert(after >= FIRST && after <= LAST, "uid %lld", after);
    cr_assert_eq(stat(path, &dir), 0);
    cr_assert_eq((long long)dir.st_uid, after);
    strcat(path, "/mine");
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq((long long)st.st_uid, after, "the file left by uid 0 was handed over");
}

Test(uids, a_hard_link_in_a_data_folder_does_not_change_hands)
{
    /* A file with a second name elsewhere would be chowned through the link: it is left alone. */
    char path[600], outside[600];
    snprintf(outside, sizeof outside, "%s/outside", h.dir);
    FILE *f = fopen(outside, "w");
    cr_assert(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/data/example/hello/link", h.state);
    cr_assert_eq(link(outside, path), 0);
    snprintf(path, sizeof path, "%s/data/example/hello", h.state);
    cr_assert_eq(chown(path, 0, 0), 0);
    bay_error err;
    cr_assert_eq(h_command(c, "unload", "example/hello", &err), 0, "%s", err.message);
    cr_assert_eq(h_command(c, "load", "example/hello", &err), 0, "%s", err.message);
    cr_assert(h_wait_state(c, "example/hello", "loaded", H_WAIT_MS));
    struct stat st;
    cr_assert_eq(stat(outside, &st), 0);
    cr_assert_eq(st.st_uid, 0u, "the linked file now belongs to uid %u", (unsigned)st.st_uid);
    cr_assert(h_wait_log(&h, "has 2 names: left to uid 0"));
}

Test(uids, a_plugin_folder_closed_to_other_users_is_refused_saying_which_and_what_to_do)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/example/hello", h.plugins);
    cr_assert_eq(chmod(dir, 0700), 0);
    bay_error err;
    cr_assert_eq(h_command(c, "unload", "example/hello", &err), 0, "%s", err.message);
    int rc = h_command(c, "load", "example/hello", &err);
    char want[1600];
    snprintf(want, sizeof want, "--plugin-uids: its worker cannot read %s (mode 0700): a plugin's files and the folders "
                                "above them must be open to other users (chmod o+rx %s)",
             dir, dir);
    cr_assert(rc == BAY_EPERM || h_wait_state(c, "example/hello", "failed", H_WAIT_MS), "load: %s", bay_errname(rc));
    cr_assert(h_wait_log(&h, want), "the log says: %s", want);
    char out[64];
    cr_assert_eq(h_call_str(c, "lua.greet", "still", 5000, out, sizeof out, &err), 0, "%s", err.message);
    cr_assert_eq(chmod(dir, 0755), 0);
    cr_assert_eq(h_command(c, "load", "example/hello", &err), 0, "%s", err.message);
    cr_assert(h_wait_state(c, "example/hello", "loaded", H_WAIT_MS));
}
