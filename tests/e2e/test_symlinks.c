/* tests/e2e/test_symlinks.c — symbolic links in plugin folders: inside the folder they load, outside they are refused
 * with the reason, and a link never widens what the sandbox lets a plugin read. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static harness h;
static bay_conn *c;

/* clone_as copies the built plugin src as id, serving name with its function fn. */
static void clone_as(const char *src, const char *id, const char *language, const char *entry, const char *name,
                  const char *fn)
{
    char manifest[512];
    snprintf(manifest, sizeof manifest,
             "{\"name\": \"%s\", \"version\": \"1.0.0\", \"language\": \"%s\", \"entry\": \"%s\", "
             "\"provides\": [{\"name\": \"%s\", \"kind\": \"handle\", \"function\": \"%s\"}]}",
             id, language, entry, name, fn);
    h_clone_plugin(&h, src, id, manifest);
}

/* path_of writes DIR/plugins/ID/FILE, or DIR/FILE when id is NULL. */
static void path_of(const char *id, const char *file, char *out, size_t len)
{
    if (id)
        snprintf(out, len, "%s/%s/%s", h.plugins, id, file);
    else
        snprintf(out, len, "%s/%s", h.dir, file);
}

/* relink moves plugin id's file to where (a path below DIR, or below the plugin
 * folder when inside) and leaves at its place a symbolic link whose text is target. */
static void relink(const char *id, const char *file, bool inside, const char *where, const char *target)
{
    char from[600], to[600];
    path_of(id, file, from, sizeof from);
    path_of(inside ? id : NULL, where, to, sizeof to);
    cr_assert_eq(rename(from, to), 0, "rename %s -> %s", from, to);
    cr_assert_eq(symlink(target, from), 0, "symlink %s -> %s", from, target);
}

static void start(void)
{
    const char *ids[] = {"example/hello", "test/hostile", NULL};
    char path[600];
    h_setup(&h, ids);
    path_of(NULL, "outside", path, sizeof path);
    cr_assert_eq(mkdir(path, 0700), 0);
    clone_as("example/hello", "link/c-inside", "c", "plugin.so", "c_inside.greet", "greet");
    clone_as("example/hello", "link/c-outside", "c", "plugin.so", "c_outside.greet", "greet");
    clone_as("example/lua-hello", "link/lua-inside", "lua", "main.lua", "lua_inside.greet", "lua_greet");
    clone_as("example/lua-hello", "link/lua-outside", "lua", "main.lua", "lua_outside.greet", "lua_greet");
    relink("link/c-inside", "plugin.so", true, "real.so", "real.so");
    path_of(NULL, "outside/hello.so", path, sizeof path);
    relink("link/c-outside", "plugin.so", false, "outside/hello.so", path); /* an absolute link */
    relink("link/lua-inside", "main.lua", true, "real.lua", "./real.lua");
    relink("link/lua-outside", "main.lua", false, "outside/main.lua", "../../../outside/main.lua"); /* relative */
    /* test/hostile's folder gets a link to a file of ours and one to a file of its own. */
    path_of(NULL, "secret.txt", path, sizeof path);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("not for plugins\n", f);
    fclose(f);
    char link[600];
    path_of("test/hostile", "secret", link, sizeof link);
    cr_assert_eq(symlink(path, link), 0);
    path_of("test/hostile", "own", link, sizeof link);
    cr_assert_eq(symlink("plugin.json", link), 0);

    h_start(&h, NULL);
    c = h_connect(&h, "test-symlinks");
    const char *loaded[] = {"example/hello", "test/hostile", "link/c-inside", "link/lua-inside", NULL};
    h_wait_loaded(c, loaded);
}

static void stop(void)
{
    /* Whatever links the others hold, example/hello still serves. */
    char out[64];
    bay_error err;
    cr_expect_eq(h_call_str(c, "greet", "survivor", 5000, out, sizeof out, &err), 0, "%s", err.message);
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(symlinks, .init = start, .fini = stop, .timeout = 120);

static void expect_greeting(const char *ext)
{
    char out[64];
    bay_error err;
    cr_assert_eq(h_call_str(c, ext, "link", 5000, out, sizeof out, &err), 0, "%s: %s", ext, err.message);
    cr_assert_str_eq(out, "Hello, link!", "%s", ext);
}

Test(symlinks, code_linked_inside_its_folder_loads)
{
    expect_greeting("c_inside.greet");
    expect_greeting("lua_inside.greet");
}

/* expect_refused checks that id stays invalid, saying which file leads where and what to do. */
static void expect_refused(const char *id, const char *file, const char *target)
{
    char state[64], reason[512], want[700];
    cr_assert(h_wait_state(c, id, "invalid", H_WAIT_MS), "%s is not invalid", id);
    h_plugin_state(c, id, state, sizeof state, reason, sizeof reason);
    snprintf(want, sizeof want, "field \"entry\": %s leads through a symbolic link to %s/%s, outside the plugin folder",
             file, h.dir, target);
    cr_assert(strstr(reason, want) != NULL, "%s: %s", id, reason);
    cr_assert(strstr(reason, "copy the file into the folder, or move the whole plugin folder into the plugins "
                             "folder instead") != NULL,
              "%s: %s", id, reason);
    cr_assert(h_wait_log(&h, want), "the log says why %s is refused", id);
    bay_error err;
    cr_assert_eq(h_command(c, "load", id, &err), BAY_EMANIFEST, "loading %s by hand is refused too", id);
    cr_assert(strstr(err.message, want) != NULL, "%s", err.message);
}

Test(symlinks, code_linked_outside_its_folder_is_refused_with_the_reason)
{
    expect_refused("link/c-outside", "plugin.so", "outside/hello.so");
    expect_refused("link/lua-outside", "main.lua", "outside/main.lua");
    bay_error err;
    cr_assert_eq(h_call_str(c, "c_outside.greet", "x", 5000, NULL, 0, &err), BAY_ENOENT, "%s", err.message);
    expect_greeting("c_inside.greet");
    expect_greeting("lua_inside.greet");
}

/* read_through has test/hostile open its folder's file and returns its answer. */
static void read_through(const char *file, char *out, size_t len)
{
    char path[600];
    bay_error err;
    path_of("test/hostile", file, path, sizeof path);
    cr_assert_eq(h_call_str(c, "hostile.read", path, 5000, out, len, &err), 0, "%s", err.message);
}

Test(symlinks, a_link_in_a_plugin_folder_opens_nothing_outside_it)
{
    char out[400];
    read_through("secret", out, sizeof out);
    cr_assert(strncmp(out, "refused: ", 9) == 0 && strstr(out, "Permission denied"), "secret: %s", out);
    read_through("own", out, sizeof out);
    cr_assert(strncmp(out, "ALLOWED", 7) == 0, "a link to its own file reads: %s", out);
}
