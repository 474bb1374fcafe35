/* tests/unit/test_state.c — the broker's persistent state and its atomic saves (broker/state.c). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw */
#endif
#include <criterion/criterion.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <plugbay/error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "state.h"

static char root[32];
static char dir[64]; /* the state folder, ROOT/state (created by bay__state_open) */

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void setup(void)
{
    snprintf(root, sizeof root, "/tmp/bay-state-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    snprintf(dir, sizeof dir, "%s/state", root);
}

static void teardown(void) { nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS); }

TestSuite(state, .init = setup, .fini = teardown);

static bay__state *open_state(void)
{
    bay_error err = {0};
    bay__state *s = NULL;
    cr_assert_eq(bay__state_open(dir, &s, &err), 0, "open: %s", err.message);
    cr_assert_not_null(s);
    return s;
}

/* path_of writes DIR/rel to buf. */
static const char *path_of(char *buf, const char *rel)
{
    snprintf(buf, PATH_MAX, "%s/%s", dir, rel);
    return buf;
}

static bool exists(const char *rel)
{
    char path[PATH_MAX];
    struct stat st;
    return lstat(path_of(path, rel), &st) == 0;
}

static void write_rel(const char *rel, const char *text)
{
    char path[PATH_MAX];
    FILE *f = fopen(path_of(path, rel), "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* read_rel returns the content of DIR/rel (static buffer). */
static const char *read_rel(const char *rel)
{
    static char text[4096];
    char path[PATH_MAX];
    FILE *f = fopen(path_of(path, rel), "r");
    cr_assert_not_null(f, "cannot read %s", path);
    text[fread(text, 1, sizeof text - 1, f)] = '\0';
    fclose(f);
    return text;
}

/* expect_open_fails writes text as state.json and expects open to refuse it
 * with code and a message naming the file and containing part. */
static void expect_open_fails(const char *text, int code, const char *part)
{
    char file[PATH_MAX];
    bay_error err = {0};
    bay__state *s;
    unlink(path_of(file, "state.json"));
    bay__state_close(open_state());
    write_rel("state.json", text);
    cr_expect_eq(bay__state_open(dir, &s, &err), code, "%s", err.message);
    cr_expect_null(s);
    cr_expect(strstr(err.message, path_of(file, "state.json")) != NULL, "message does not name the file: %s",
              err.message);
    cr_expect(strstr(err.message, part) != NULL, "message lacks \"%s\": %s", part, err.message);
    cr_expect_str_eq(read_rel("state.json"), text, "the damaged file must stay as it was");
}

Test(state, open_creates_the_folders)
{
    struct stat st;
    bay__state *s = open_state();
    cr_expect_str_eq(bay__state_dir(s), dir);
    cr_expect_eq(bay__state_count(s), 0);
    cr_expect_null(bay__state_at(s, 0));
    cr_expect(exists("data") && exists("run"));
    cr_assert_eq(stat(dir, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0700);
    cr_expect_not(exists("state.json"), "nothing is written before a change");
    bay__state_close(s);
    bay__state_close(NULL);
}

Test(state, changes_persist_across_close_and_open)
{
    const char *granted[] = {"net", "fs.read", NULL};
    bay__state_plugin *p = NULL;
    bay_error err = {0};
    bay__state *s = open_state();
    cr_assert_eq(bay__state_install(s, "example/hello", granted, &p, &err), 0, "%s", err.message);
    cr_expect_str_eq(p->id, "example/hello");
    cr_expect(p->enabled);
    cr_assert_eq(bay__state_install(s, "alpha", NULL, NULL, NULL), 0);
    cr_assert_eq(bay__state_install(s, "zed", NULL, NULL, NULL), 0);
    cr_assert_eq(bay__state_set_enabled(s, "zed", false, NULL), 0);
    cr_assert_eq(bay__state_set_failed(s, "alpha", "crashed 3 times in 60 s", NULL), 0);
    bay__state_close(s);

    s = open_state();
    cr_assert_eq(bay__state_count(s), 3);
    cr_expect_str_eq(bay__state_at(s, 0)->id, "alpha");
    cr_expect_str_eq(bay__state_at(s, 1)->id, "example/hello");
    cr_expect_str_eq(bay__state_at(s, 2)->id, "zed");
    p = bay__state_find(s, "example/hello");
    cr_assert_not_null(p);
    cr_expect(p->enabled);
    cr_expect_str_eq(p->granted[0], "net");
    cr_expect_str_eq(p->granted[1], "fs.read");
    cr_expect_null(p->granted[2]);
    cr_expect_null(p->failed);
    cr_expect_not(bay__state_find(s, "zed")->enabled);
    cr_expect_str_eq(bay__state_find(s, "alpha")->failed, "crashed 3 times in 60 s");
    cr_expect_null(bay__state_find(s, "alpha")->granted[0]);
    cr_expect_null(bay__state_find(s, "nope"));

    cr_assert_eq(bay__state_set_failed(s, "alpha", NULL, NULL), 0);
    cr_assert_eq(bay__state_set_enabled(s, "zed", true, NULL), 0);
    bay__state_close(s);
    s = open_state();
    cr_expect_null(bay__state_find(s, "alpha")->failed);
    cr_expect(bay__state_find(s, "zed")->enabled);
    bay__state_close(s);
}

Test(state, granting_again_keeps_each_permission_once)
{
    const char *first[] = {"net", "fs.read", NULL}, *again[] = {"net", "fs.read", "net", "call:greet", "fs.read", NULL};
    bay_error err = {0};
    bay__state *s = open_state();
    cr_assert_eq(bay__state_install(s, "a", again, NULL, &err), 0, "%s", err.message);
    char **g = bay__state_find(s, "a")->granted;
    cr_expect(g[0] && g[1] && g[2] && !g[3], "install keeps each once");
    cr_assert_eq(bay__state_set_granted(s, "a", first, &err), 0, "%s", err.message);
    cr_assert_eq(bay__state_set_granted(s, "a", again, &err), 0, "%s", err.message);
    bay__state_close(s);
    s = open_state();
    g = bay__state_find(s, "a")->granted;
    cr_expect_str_eq(g[0], "net");
    cr_expect_str_eq(g[1], "fs.read");
    cr_expect_str_eq(g[2], "call:greet");
    cr_expect_null(g[3], "each permission once, saved so: %s", read_rel("state.json"));
    bay__state_close(s);
    write_rel("state.json", "{\"format\": 1, \"plugins\": {\"b\": {\"enabled\": true, \"granted\": [\"x\", \"x\"]}}}");
    s = open_state();
    g = bay__state_find(s, "b")->granted;
    cr_expect(g[0] && !g[1], "a state file that lists a grant twice is read as once");
    bay__state_close(s);
}

Test(state, saves_readable_json_atomically)
{
    bay__state *s = open_state();
    cr_assert_eq(bay__state_install(s, "hello", (const char *const[]){"net", NULL}, NULL, NULL), 0);
    cr_assert_eq(bay__state_set_failed(s, "hello", "boom", NULL), 0);
    cr_expect(exists("state.json"));
    cr_expect_not(exists("state.json.tmp"), "the temporary file must be renamed away");
    cr_expect_str_eq(read_rel("state.json"), "{\n"
                                             "  \"format\": 1,\n"
                                             "  \"plugins\": {\n"
                                             "    \"hello\": {\n"
                                             "      \"enabled\": true,\n"
                                             "      \"granted\": [\n"
                                             "        \"net\"\n"
                                             "      ],\n"
                                             "      \"failed\": \"boom\"\n"
                                             "    }\n"
                                             "  }\n"
                                             "}\n");
    bay__state_close(s);
}

Test(state, open_drops_an_unfinished_save)
{
    bay__state *s = open_state();
    cr_assert_eq(bay__state_install(s, "hello", NULL, NULL, NULL), 0);
    bay__state_close(s);
    write_rel("state.json.tmp", "{\"format\": 1, \"plu");
    s = open_state();
    cr_expect_not(exists("state.json.tmp"));
    cr_expect_not_null(bay__state_find(s, "hello"));
    bay__state_close(s);
}

Test(state, refuses_a_corrupt_state_file)
{
    expect_open_fails("{\"format\": 1, \"plugins\": {", BAY_EIO, "line 1 column");
}

Test(state, refuses_a_state_file_of_the_wrong_shape)
{
    expect_open_fails("[]", BAY_EIO, "expected an object with \"format\": 1");
    expect_open_fails("{\"format\": 1, \"plugins\": []}", BAY_EIO, "\"plugins\"");
    expect_open_fails("{\"format\": 1, \"plugins\": {\"x\": {\"enabled\": \"yes\", \"granted\": []}}}", BAY_EIO,
                      "plugin \"x\"");
    expect_open_fails("{\"format\": 1, \"plugins\": {\"x\": {\"enabled\": true, \"granted\": [1]}}}", BAY_EIO,
                      "plugin \"x\"");
    expect_open_fails("{\"format\": 1, \"plugins\": {\"../x\": {\"enabled\": true, \"granted\": []}}}", BAY_EIO,
                      "plugin \"../x\"");
}

Test(state, an_operators_order_persists_until_cleared)
{
    bay_error err = {0};
    bay__state *s = open_state();
    cr_assert_eq(bay__state_install(s, "hello", NULL, NULL, NULL), 0);
    cr_expect_not(bay__state_find(s, "hello")->ordered, "no place is set at install");
    int64_t place = -7, too_big = (int64_t)INT32_MAX + 1;
    cr_assert_eq(bay__state_set_order(s, "hello", &place, &err), 0, "%s", err.message);
    cr_expect_eq(bay__state_set_order(s, "hello", &too_big, &err), BAY_EINVAL);
    cr_expect(strstr(err.message, "order 2147483648 is outside"), "message: %s", err.message);
    cr_expect_eq(bay__state_set_order(s, "nope", &place, NULL), BAY_ENOENT);
    bay__state_close(s);

    s = open_state();
    cr_expect(strstr(read_rel("state.json"), "\"order\": -7"), "state.json: %s", read_rel("state.json"));
    cr_assert(bay__state_find(s, "hello")->ordered, "the place survives a restart");
    cr_expect_eq(bay__state_find(s, "hello")->order, -7);
    cr_assert_eq(bay__state_set_order(s, "hello", NULL, &err), 0, "%s", err.message);
    bay__state_close(s);

    s = open_state();
    cr_expect_not(bay__state_find(s, "hello")->ordered, "cleared, the manifest's order counts again");
    cr_expect_null(strstr(read_rel("state.json"), "\"order\""), "state.json: %s", read_rel("state.json"));
    bay__state_close(s);
    expect_open_fails("{\"format\": 1, \"plugins\": {\"x\": {\"enabled\": true, \"granted\": [], \"order\": \"1\"}}}",
                      BAY_EIO, "\"order\": integer");
}

Test(state, settings_and_the_version_loaded_persist_and_forget_leaves_the_data_folder)
{
    bay_error err = {0};
    char path[PATH_MAX];
    bay__state *s = open_state();
    cr_assert_eq(bay__state_install(s, "hello", NULL, NULL, NULL), 0);
    cr_expect_eq(json_object_size(bay__state_find(s, "hello")->settings), 0, "no settings at install");
    cr_expect_null(bay__state_find(s, "hello")->version, "no version loaded at install");
    json_t *set = json_pack("{s:s, s:i}", "greeting", "Howdy", "retries", 7);
    cr_assert_eq(bay__state_set_settings(s, "hello", set, &err), 0, "%s", err.message);
    json_decref(set);
    cr_assert_eq(bay__state_set_version(s, "hello", "1.2.0", &err), 0, "%s", err.message);
    cr_expect_eq(bay__state_set_version(s, "nope", "1.0.0", NULL), BAY_ENOENT);
    cr_expect_eq(bay__state_set_settings(s, "nope", NULL, NULL), BAY_ENOENT);
    bay__state_close(s);

    s = open_state();
    bay__state_plugin *p = bay__state_find(s, "hello");
    cr_assert_not_null(p);
    cr_expect_str_eq(json_string_value(json_object_get(p->settings, "greeting")), "Howdy");
    cr_expect_eq(json_integer_value(json_object_get(p->settings, "retries")), 7);
    cr_expect_str_eq(p->version, "1.2.0");
    /* forget leaves the data folder until remove_data, which refuses while installed. */
    cr_assert_eq(bay__state_data_dir(s, "hello", path, sizeof path, NULL), 0);
    cr_expect_eq(bay__state_remove_data(s, "hello", &err), BAY_EBUSY);
    cr_assert_eq(bay__state_forget(s, "hello", &err), 0, "%s", err.message);
    cr_expect(exists("data/hello"), "forget removed the data folder");
    cr_assert_eq(bay__state_remove_data(s, "hello", &err), 0, "%s", err.message);
    cr_expect_not(exists("data/hello"));
    bay__state_close(s);
    expect_open_fails("{\"format\": 1, \"plugins\": {\"x\": {\"enabled\": true, \"granted\": [], \"settings\": []}}}",
                      BAY_EIO, "\"settings\": object");
    expect_open_fails("{\"format\": 1, \"plugins\": {\"x\": {\"enabled\": true, \"granted\": [], \"version\": 1}}}",
                      BAY_EIO, "\"version\": string");
}

Test(state, refuses_another_format)
{
    expect_open_fails("{\"format\": 2, \"plugins\": {}}", BAY_EIO, "format 2 is not the one this broker reads (1)");
}

Test(state, one_broker_at_a_time)
{
    bay_error err = {0};
    bay__state *s = open_state(), *t = NULL;
    cr_expect_eq(bay__state_open(dir, &t, &err), BAY_EBUSY);
    cr_expect(strstr(err.message, "in use by another broker") != NULL, "%s", err.message);
    bay__state_close(s);
    t = open_state();
    bay__state_close(t);
}

Test(state, install_refuses_duplicates_bad_ids_and_nesting)
{
    bay_error err = {0};
    bay__state *s = open_state();
    cr_assert_eq(bay__state_install(s, "example/hello", NULL, NULL, NULL), 0);
    cr_expect_eq(bay__state_install(s, "example/hello", NULL, NULL, &err), BAY_EEXIST);
    cr_expect(strstr(err.message, "already installed") != NULL);
    cr_expect_eq(bay__state_install(s, "../evil", NULL, NULL, NULL), BAY_EINVAL);
    cr_expect_eq(bay__state_install(s, NULL, NULL, NULL, NULL), BAY_EINVAL);
    cr_expect_eq(bay__state_install(s, "example", NULL, NULL, NULL), BAY_EINVAL);
    cr_expect_eq(bay__state_install(s, "example/hello/more", NULL, NULL, NULL), BAY_EINVAL);
    cr_expect_eq(bay__state_install(s, "example/hello2", NULL, NULL, NULL), 0);
    cr_expect_eq(bay__state_count(s), 2);
    bay__state_close(s);
}

Test(state, unknown_plugins_are_enoent)
{
    char path[PATH_MAX];
    bay_error err = {0};
    bay__state *s = open_state();
    cr_expect_eq(bay__state_set_enabled(s, "nope", false, &err), BAY_ENOENT);
    cr_expect_str_eq(err.message, "plugin nope is not installed");
    cr_expect_eq(bay__state_set_failed(s, "nope", "x", &err), BAY_ENOENT);
    cr_expect_str_eq(err.message, "plugin nope is not installed");
    cr_expect_eq(bay__state_uninstall(s, "nope", &err), BAY_ENOENT);
    cr_expect_str_eq(err.message, "plugin nope is not installed");
    cr_expect_eq(bay__state_data_dir(s, "nope", path, sizeof path, &err), BAY_ENOENT);
    cr_expect_str_eq(err.message, "plugin nope is not installed");
    bay__state_close(s);
}

Test(state, data_dir_is_created_inside_the_state_folder)
{
    char path[PATH_MAX], want[PATH_MAX], small[8];
    struct stat st;
    bay_error err = {0};
    bay__state *s = open_state();
    cr_assert_eq(bay__state_install(s, "example/hello", NULL, NULL, NULL), 0);
    cr_assert_eq(bay__state_data_dir(s, "example/hello", path, sizeof path, &err), 0, "%s", err.message);
    cr_expect_str_eq(path, path_of(want, "data/example/hello"));
    cr_assert_eq(stat(path, &st), 0);
    cr_expect(S_ISDIR(st.st_mode));
    cr_expect_eq(st.st_mode & 0777, 0700);
    cr_expect_eq(bay__state_data_dir(s, "example/hello", small, sizeof small, NULL), BAY_EINVAL);
    bay__state_close(s);
}

Test(state, uninstall_removes_the_entry_and_the_data_folder)
{
    char path[PATH_MAX], outside[PATH_MAX], link[PATH_MAX];
    bay_error err = {0};
    bay__state *s = open_state();
    cr_assert_eq(bay__state_install(s, "example/hello", NULL, NULL, NULL), 0);
    cr_assert_eq(bay__state_install(s, "example/world", NULL, NULL, NULL), 0);
    cr_assert_eq(bay__state_data_dir(s, "example/hello", path, sizeof path, NULL), 0);
    cr_assert_eq(bay__state_data_dir(s, "example/world", path, sizeof path, NULL), 0);
    cr_assert_eq(mkdir(path_of(path, "data/example/hello/sub"), 0700), 0);
    write_rel("data/example/hello/sub/file", "x");
    snprintf(outside, sizeof outside, "%s/keep", root);
    cr_assert_eq(mkdir(outside, 0700), 0);
    cr_assert_eq(symlink(outside, path_of(link, "data/example/hello/link")), 0);

    cr_assert_eq(bay__state_uninstall(s, "example/hello", &err), 0, "%s", err.message);
    cr_expect_null(bay__state_find(s, "example/hello"));
    cr_expect_not(exists("data/example/hello"));
    cr_expect(exists("data/example/world"), "another plugin's data must stay");
    cr_expect_eq(access(outside, F_OK), 0, "links must not be followed");

    cr_assert_eq(bay__state_uninstall(s, "example/world", NULL), 0);
    cr_expect_not(exists("data/example"), "emptied parent folders go too");
    cr_expect(exists("data"));
    bay__state_close(s);
    s = open_state();
    cr_expect_eq(bay__state_count(s), 0);
    bay__state_close(s);
}

Test(state, install_starts_with_no_leftover_data)
{
    char path[PATH_MAX];
    bay__state *s = open_state();
    cr_assert_eq(mkdir(path_of(path, "data/hello"), 0700), 0);
    write_rel("data/hello/old", "stale");
    cr_assert_eq(bay__state_install(s, "hello", NULL, NULL, NULL), 0);
    cr_expect_not(exists("data/hello/old"));
    bay__state_close(s);
}

Test(state, a_failed_save_changes_nothing)
{
    char path[PATH_MAX];
    bay_error err = {0};
    bay__state *s = open_state();
    cr_assert_eq(bay__state_install(s, "hello", NULL, NULL, NULL), 0);
    cr_assert_eq(mkdir(path_of(path, "state.json.tmp"), 0700), 0); /* the next save cannot write its file */

    cr_expect_eq(bay__state_set_enabled(s, "hello", false, &err), BAY_EIO);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "cannot create %s: Is a directory", path);
    cr_expect_str_eq(err.message, want);
    cr_expect(bay__state_find(s, "hello")->enabled);
    cr_expect_eq(bay__state_set_failed(s, "hello", "boom", NULL), BAY_EIO);
    cr_expect_null(bay__state_find(s, "hello")->failed);
    cr_expect_eq(bay__state_install(s, "other", NULL, NULL, NULL), BAY_EIO);
    cr_expect_null(bay__state_find(s, "other"));
    cr_expect_eq(bay__state_uninstall(s, "hello", NULL), BAY_EIO);
    cr_expect_not_null(bay__state_find(s, "hello"));
    cr_expect_eq(bay__state_count(s), 1);

    cr_assert_eq(rmdir(path), 0);
    cr_expect_eq(bay__state_set_enabled(s, "hello", false, NULL), 0);
    bay__state_close(s);
    s = open_state();
    cr_expect_eq(bay__state_count(s), 1);
    cr_expect_not(bay__state_find(s, "hello")->enabled);
    bay__state_close(s);
}

/* expect_error expects err's message to be fmt filled with the state folder (each %s). */
static void expect_error(const bay_error *err, const char *fmt)
{
    char want[1024];
    snprintf(want, sizeof want, fmt, dir, dir, dir);
    cr_expect_str_eq(err->message, want);
}

Test(state, a_full_disk_names_the_step_the_file_and_the_reason)
{
    char tmp[PATH_MAX], before[4096];
    bay_error err = {0};
    bay__state *s = open_state();
    cr_assert_eq(bay__state_install(s, "hello", NULL, NULL, NULL), 0);
    snprintf(before, sizeof before, "%s", read_rel("state.json"));
    cr_assert_eq(symlink("/dev/full", path_of(tmp, "state.json.tmp")), 0); /* every write: ENOSPC */

    cr_expect_eq(bay__state_install(s, "other", NULL, NULL, &err), BAY_EIO);
    expect_error(&err, "cannot write %s/state.json.tmp: No space left on device");
    cr_expect_null(bay__state_find(s, "other"));
    cr_expect_str_eq(read_rel("state.json"), before, "state.json must keep the previous state");
    cr_expect_not(exists("state.json.tmp"), "the failed save must not leave its file");

    cr_expect_eq(bay__state_install(s, "other", NULL, NULL, &err), 0, "%s", err.message); /* space again */
    bay__state_close(s);
    s = open_state();
    cr_expect_not_null(bay__state_find(s, "other"));
    bay__state_close(s);
}

Test(state, a_save_into_a_missing_folder_names_it)
{
    char moved[PATH_MAX];
    bay_error err = {0};
    bay__state *s = open_state();
    cr_assert_eq(bay__state_install(s, "hello", NULL, NULL, NULL), 0);
    snprintf(moved, sizeof moved, "%s/moved", root);
    cr_assert_eq(rename(dir, moved), 0);
    cr_expect_eq(bay__state_set_enabled(s, "hello", false, &err), BAY_EIO);
    expect_error(&err, "cannot create %s/state.json.tmp: No such file or directory");
    cr_expect(bay__state_find(s, "hello")->enabled);
    cr_expect_eq(bay__state_install(s, "other", NULL, NULL, &err), BAY_EIO);
    expect_error(&err, "cannot open folder %s: No such file or directory");
    cr_assert_eq(mkdir(dir, 0700), 0); /* a folder there again */
    cr_expect_eq(bay__state_set_enabled(s, "hello", false, &err), 0, "%s", err.message);
    bay__state_close(s);
}

Test(state, a_data_folder_that_cannot_be_made_names_it)
{
    char path[PATH_MAX];
    bay_error err = {0};
    bay__state *s = open_state();
    cr_assert_eq(bay__state_install(s, "a", NULL, NULL, NULL), 0);
    write_rel("data/a", "a file where the folder goes");
    cr_expect_eq(bay__state_data_dir(s, "a", path, sizeof path, &err), BAY_EIO);
    expect_error(&err, "%s/data/a is not a folder");
    cr_assert_eq(bay__state_install(s, "b/c", NULL, NULL, NULL), 0);
    write_rel("data/b", "a file where the parent folder goes");
    cr_expect_eq(bay__state_data_dir(s, "b/c", path, sizeof path, &err), BAY_EIO);
    expect_error(&err, "cannot create folder %s/data/b/c: Not a directory");
    bay__state_close(s);
}

Test(state, a_broker_killed_while_saving_leaves_a_consistent_state)
{
    char id[32];
    size_t n;
    bay__state *s;
    pid_t child = fork();
    cr_assert_neq(child, -1);
    if (child == 0) { /* a broker that installs plugins as fast as it can */
        if (bay__state_open(dir, &s, NULL) == 0)
            for (int i = 0; i < 100000; i++) {
                snprintf(id, sizeof id, "p%d", i);
                bay__state_install(s, id, NULL, NULL, NULL);
            }
        _exit(0);
    }
    nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);

    s = open_state(); /* every save held all earlier installs: p0 .. p(n-1) */
    n = bay__state_count(s);
    for (size_t i = 0; i < n; i++) {
        snprintf(id, sizeof id, "p%zu", i);
        cr_expect_not_null(bay__state_find(s, id), "%s missing from %zu plugins", id, n);
    }
    cr_expect_not(exists("state.json.tmp"));
    bay__state_close(s);
}

Test(state, hosts_persist_and_each_name_and_uid_is_one_host)
{
    bay_error err = {0};
    bay__state *s = open_state();
    const char *grants[] = {"call:greet", "provide:app.*", NULL};
    cr_assert_eq(bay__state_host_add(s, "app", 1001, BAY_ROLE_HOST, grants, &err), 0, "%s", err.message);
    cr_assert_eq(bay__state_host_add(s, "watcher", 1002, BAY_ROLE_OBSERVER, NULL, &err), 0, "%s", err.message);
    cr_expect_eq(bay__state_host_add(s, "app", 1003, BAY_ROLE_HOST, NULL, &err), BAY_EEXIST);
    cr_expect_str_eq(err.message, "host app exists; remove it first (`plugbay host remove app`)");
    cr_expect_eq(bay__state_host_add(s, "other", 1001, BAY_ROLE_ADMIN, NULL, &err), BAY_EEXIST);
    cr_expect_str_eq(err.message, "uid 1001 is host app already; remove it first (`plugbay host remove app`)");
    cr_expect_eq(bay__state_host_add(s, "Bad Name", 1004, BAY_ROLE_HOST, NULL, &err), BAY_EINVAL);
    cr_expect_str_eq(err.message, "host name \"Bad Name\" must be 1 to 63 of a-z, 0-9, '.', '_' and '-'");
    cr_expect_eq(bay__state_host_add(s, "norole", 1005, BAY_ROLE_NONE, NULL, &err), BAY_EINVAL);
    cr_expect_str_eq(err.message, "host norole needs a role: observer, host or admin");
    cr_expect_eq(bay__state_host_remove(s, "nope", &err), BAY_ENOENT);
    cr_expect_str_eq(err.message, "no host nope (see `plugbay host list`)");
    bay__state_close(s);

    s = open_state();
    cr_assert_eq(bay__state_host_count(s), 2);
    const bay__state_host *h = bay__state_host_of_uid(s, 1001);
    cr_assert_not_null(h);
    cr_expect_str_eq(h->name, "app");
    cr_expect_eq(h->role, BAY_ROLE_HOST);
    cr_expect_str_eq(h->granted[0], "call:greet");
    cr_expect_str_eq(h->granted[1], "provide:app.*");
    cr_expect_null(h->granted[2]);
    cr_expect_eq(bay__state_host_of_uid(s, 1002)->role, BAY_ROLE_OBSERVER);
    cr_expect_null(bay__state_host_of_uid(s, 1003));
    cr_assert_eq(bay__state_host_remove(s, "app", &err), 0, "%s", err.message);
    bay__state_close(s);

    s = open_state();
    cr_expect_eq(bay__state_host_count(s), 1);
    cr_expect_str_eq(bay__state_host_at(s, 0)->name, "watcher");
    cr_expect_null(bay__state_host_of_uid(s, 1001));
    bay__state_close(s);
}

Test(state, a_host_change_that_cannot_be_saved_changes_nothing)
{
    char path[PATH_MAX];
    bay__state *s = open_state();
    cr_assert_eq(bay__state_host_add(s, "app", 1001, BAY_ROLE_HOST, NULL, NULL), 0);
    cr_assert_eq(mkdir(path_of(path, "state.json.tmp"), 0700), 0);
    cr_expect_eq(bay__state_host_add(s, "more", 1002, BAY_ROLE_HOST, NULL, NULL), BAY_EIO);
    cr_expect_eq(bay__state_host_remove(s, "app", NULL), BAY_EIO);
    cr_expect_eq(bay__state_host_count(s), 1);
    cr_expect_str_eq(bay__state_host_at(s, 0)->name, "app");
    cr_expect_null(bay__state_host_of_uid(s, 1002));
    cr_assert_eq(rmdir(path), 0);
    bay__state_close(s);
}

Test(state, refuses_hosts_of_the_wrong_shape)
{
    expect_open_fails("{\"format\": 1, \"plugins\": {}, \"hosts\": []}", BAY_EIO, "\"hosts\"");
    expect_open_fails("{\"format\": 1, \"plugins\": {}, \"hosts\": {\"a\": {\"uid\": -1, \"role\": \"host\", "
                      "\"granted\": []}}}",
                      BAY_EIO, "host \"a\"");
    expect_open_fails("{\"format\": 1, \"plugins\": {}, \"hosts\": {\"a\": {\"uid\": 5, \"role\": \"root\", "
                      "\"granted\": []}}}",
                      BAY_EIO, "host \"a\"");
    expect_open_fails("{\"format\": 1, \"plugins\": {}, \"hosts\": {\"a\": {\"uid\": 5, \"role\": \"host\", "
                      "\"granted\": []}, \"b\": {\"uid\": 5, \"role\": \"observer\", \"granted\": []}}}",
                      BAY_EIO, "host \"b\"");
    expect_open_fails("{\"format\": 1, \"plugins\": {}, \"hosts\": {\"A B\": {\"uid\": 5, \"role\": \"host\", "
                      "\"granted\": [2]}}}",
                      BAY_EIO, "host \"A B\"");
}

/* KEY_A and KEY_B are the base64 of two 32-byte public keys; KEY_A's bytes are 0, 1, ..., 31. */
#define KEY_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_B "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="

Test(state, keyed_hosts_persist_and_each_key_is_one_host)
{
    bay_error err = {0};
    unsigned char a[BAY_KEY_PUBLIC_BYTES], b[BAY_KEY_PUBLIC_BYTES];
    for (int i = 0; i < BAY_KEY_PUBLIC_BYTES; i++)
        a[i] = (unsigned char)i, b[i] = (unsigned char)(32 + i);
    char id[BAY_KEY_ID_SIZE];
    bay__key_id(a, id);
    bay__state *s = open_state();
    const char *grants[] = {"call:a.*", NULL};
    cr_assert_eq(bay__state_host_add_key(s, "remote", a, BAY_ROLE_HOST, grants, &err), 0, "%s", err.message);
    cr_assert_eq(bay__state_host_add(s, "local", 1001, BAY_ROLE_OBSERVER, NULL, &err), 0, "%s", err.message);
    cr_expect_eq(bay__state_host_add_key(s, "again", a, BAY_ROLE_ADMIN, NULL, &err), BAY_EEXIST);
    char want[160];
    snprintf(want, sizeof want, "key %s is host remote already; remove it first (`plugbay host remove remote`)", id);
    cr_expect_str_eq(err.message, want);
    cr_expect_eq(bay__state_host_add_key(s, "local", b, BAY_ROLE_HOST, NULL, &err), BAY_EEXIST);
    cr_expect_null(bay__state_host_of_uid(s, 0), "a keyed host is no local user's");
    bay__state_close(s);

    const char *text = read_rel("state.json");
    cr_expect(strstr(text, "\"key\": \"" KEY_A "\""), "state.json: %s", text);
    s = open_state();
    cr_assert_eq(bay__state_host_count(s), 2);
    const bay__state_host *h = bay__state_host_of_key(s, a);
    cr_assert_not_null(h);
    cr_expect_str_eq(h->name, "remote");
    cr_expect(h->keyed);
    cr_expect_str_eq(h->key_id, id);
    cr_expect_eq(h->role, BAY_ROLE_HOST);
    cr_expect_str_eq(h->granted[0], "call:a.*");
    cr_expect_null(bay__state_host_of_key(s, b));
    cr_expect_str_eq(bay__state_host_of_uid(s, 1001)->name, "local");
    cr_assert_eq(bay__state_host_remove(s, "remote", &err), 0, "%s", err.message);
    cr_expect_null(bay__state_host_of_key(s, a));
    bay__state_close(s);
}

Test(state, refuses_keyed_hosts_of_the_wrong_shape)
{
    expect_open_fails("{\"format\": 1, \"plugins\": {}, \"hosts\": {\"a\": {\"key\": \"AAAA\", \"role\": \"host\", "
                      "\"granted\": []}}}",
                      BAY_EIO, "host \"a\": expected a name of [a-z0-9._-] mapped to {\"uid\": a uid no other host "
                               "has, or \"key\": the base64 of an Ed25519 public key no other host has");
    expect_open_fails("{\"format\": 1, \"plugins\": {}, \"hosts\": {\"a\": {\"key\": \"" KEY_A "\", \"uid\": 5, "
                      "\"role\": \"host\", \"granted\": []}}}",
                      BAY_EIO, "host \"a\"");
    expect_open_fails("{\"format\": 1, \"plugins\": {}, \"hosts\": {\"a\": {\"key\": \"" KEY_A "\", \"role\": "
                      "\"host\", \"granted\": []}, \"b\": {\"key\": \"" KEY_A "\", \"role\": \"observer\", "
                      "\"granted\": []}}}",
                      BAY_EIO, "host \"b\"");
    expect_open_fails("{\"format\": 1, \"plugins\": {}, \"hosts\": {\"a\": {\"key\": 7, \"role\": \"host\", "
                      "\"granted\": []}}}",
                      BAY_EIO, "host \"a\"");
}
