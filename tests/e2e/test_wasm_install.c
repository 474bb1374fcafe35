/* tests/e2e/test_wasm_install.c — a WebAssembly plugin's module compiled by plugbayd when it is installed or updated, before its worker starts: its first load compiles nothing, a module wasm2c refuses is refused at install, and a slow compile stalls nothing. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define WASM "example/wasm-hello"
#define COMPILED_LINE "translated by wasm2c and compiled in" /* bridges/wasm/main.c's, once per compile */

static harness h;
static bay_conn *c;

static void stop(void)
{
    h_finish_greeted(&h, &c);
}

TestSuite(wasm_install, .fini = stop, .timeout = 120);

/* start copies ids (example/hello and more, NULL-terminated) and starts plugbayd without --autoinstall, with an
 * empty compile cache and example/hello installed. */
static void start(const char *const *ids)
{
    if (access(BAY_BIN_DIR "/plugbay-worker-wasm", X_OK) != 0 ||
        access(BAY_TEST_PLUGIN_DIR "/wasm/invalid/plugin.wasm", R_OK) != 0)
        cr_skip_test("plugbay-worker-wasm or the wasm test plugins were not built (wabt, clang-14, lld-14, "
                     "wasi-libc missing; scripts/install-deps installs them)");
    h_setup(&h, ids);
    h.manual = true;
    h_start(&h, NULL);
    c = h_connect(&h, "test-wasm-install");
    bay_error err;
    cr_assert_eq(h_install_all(c, "example/hello", &err), 0, "%s", err.message);
    h_wait_loaded(c, (const char *[]){"example/hello", NULL});
}

/* plugbay runs the CLI with words (NULL-terminated) against the test's plugbayd: its exit status, its output in
 * out and err (1 KiB each). */
static int plugbay(const char *const *words, char *out, char *err)
{
    const char *argv[16] = {BAY_BIN_DIR "/plugbay", "--broker", h.url};
    size_t n = 3;
    for (size_t i = 0; words[i] && n < 15; i++)
        argv[n++] = words[i];
    argv[n] = NULL;
    return h_run(&h, argv, out, 1024, err, 1024);
}

/* pack copies the built plugin id (from plugins, a folder of built plugins) to DIR/src/ID as version, its
 * module spoilt by edit (NULL: none), and packs that into DIR/name. */
static void pack(const char *plugins, const char *id, const char *version, void (*edit)(const char *wasm),
                 const char *name, char *file, size_t len)
{
    char src[700], cmd[4000], path[800], to[200], err[1024];
    snprintf(src, sizeof src, "%s/src/%s", h.dir, id);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s' && cp '%s/%s'/* '%s'/", src, src, plugins, id, src);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    snprintf(path, sizeof path, "%s/plugin.json", src);
    snprintf(to, sizeof to, "\"id\": \"%s\", \"version\": \"%s\"", id, version); /* a package names its plugin */
    h_edit_file(path, "\"version\": \"0.1.0\"", to);
    snprintf(path, sizeof path, "%s/plugin.wasm", src);
    if (edit)
        edit(path);
    snprintf(file, len, "%s/%s", h.dir, name);
    const char *argv[] = {BAY_BIN_DIR "/plugbay", "pack", src, "-o", file, NULL}; /* without plugbayd */
    cr_assert_eq(h_run(&h, argv, NULL, 0, err, sizeof err), 0, "pack %s: %s", src, err);
}

/* cache_objects counts the compiled modules in the cache; the path of one goes to so (NULL: not wanted). */
static int cache_objects(char *so, size_t len)
{
    char dir[400];
    snprintf(dir, sizeof dir, "%s/cache/wasm", h.state);
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (l > 3 && strcmp(e->d_name + l - 3, ".so") == 0 && ++n && so)
            snprintf(so, len, "%s/%s", dir, e->d_name);
    }
    if (d)
        closedir(d);
    return n;
}

/* log_count counts the lines of the broker's log that hold needle and, when also is not NULL, also. */
static int log_count(const char *needle, const char *also)
{
    FILE *f = fopen(h.log, "r");
    char line[4096];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, needle) && (also == NULL || strstr(line, also));
    if (f)
        fclose(f);
    return n;
}

/* log_offset returns where needle first is in the broker's log (-1: nowhere). */
static long log_offset(const char *needle)
{
    FILE *f = fopen(h.log, "r");
    char line[4096];
    long at = -1;
    while (f && at < 0) {
        long here = ftell(f);
        if (!fgets(line, sizeof line, f))
            break;
        if (strstr(line, needle))
            at = here;
    }
    if (f)
        fclose(f);
    return at;
}

static int64_t mtime_ns(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s", path);
    return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

static void expect_greeting(const char *who)
{
    char out[64], want[64];
    bay_error err;
    cr_assert_eq(h_call_str(c, "wasm.greet", who, 5000, out, sizeof out, &err), 0, "%s", err.message);
    snprintf(want, sizeof want, "Hello, %s!", who);
    cr_assert_str_eq(out, want);
}

Test(wasm_install, a_package_is_compiled_at_install_before_its_worker_starts_and_its_first_load_compiles_nothing)
{
    start((const char *[]){"example/hello", NULL});
    char pkg[600], out[1024], err[1024], so[700];
    pack(BAY_EXAMPLE_PLUGIN_DIR, WASM, "0.1.0", NULL, "wasm-hello.bayplug", pkg, sizeof pkg);
    cr_assert_eq(cache_objects(NULL, 0), 0);
    cr_assert_eq(plugbay((const char *[]){"install", pkg, "--grant-all", NULL}, out, err), 0, "%s", err);
    cr_assert_str_eq(out, WASM ": loaded\n");
    cr_assert_eq(cache_objects(so, sizeof so), 1);
    /* plugbayd compiled it, and only then started the worker, which compiled nothing. */
    cr_assert_eq(log_count(COMPILED_LINE, NULL), 1, "not compiled once: %s", h.log);
    cr_assert_eq(log_count(COMPILED_LINE, "its WebAssembly module is compiled ("), 1, "not plugbayd's compile");
    long compiled = log_offset("its WebAssembly module is compiled ("), starting = log_offset("[" WASM "] starting");
    cr_assert(compiled >= 0 && starting > compiled, "the worker started before the compile ended: %s", h.log);
    cr_assert_gt(h_plugin_int(c, WASM, "compile_ms"), 0, "info shows no compile_ms");
    expect_greeting("install");
    /* A load again uses the same object: nothing compiles, nothing is rewritten. */
    int64_t before = mtime_ns(so);
    bay_error e;
    cr_assert_eq(h_command(c, "unload", WASM, &e), 0, "%s", e.message);
    cr_assert_eq(h_command(c, "load", WASM, &e), 0, "%s", e.message);
    expect_greeting("again");
    cr_assert_eq(mtime_ns(so), before);
    cr_assert_eq(log_count(COMPILED_LINE, NULL), 1);
}

Test(wasm_install, a_package_whose_module_wasm2c_refuses_is_refused_at_install_with_its_reason_leaving_nothing)
{
    start((const char *[]){"example/hello", NULL});
    char pkg[600], out[1024], err[1024], dir[700];
    pack(BAY_TEST_PLUGIN_DIR, "wasm/invalid", "0.1.0", NULL, "invalid.bayplug", pkg, sizeof pkg);
    cr_assert_eq(plugbay((const char *[]){"install", pkg, "--grant-all", NULL}, out, err), 1);
    cr_assert(strstr(err, "wasm/invalid") && strstr(err, "plugin.wasm fails validation: wasm2c says: plugin.wasm:") &&
                  strstr(err, "type mismatch"),
              "the refusal lacks the plugin or wasm2c's reason: %s", err);
    snprintf(dir, sizeof dir, "%s/wasm/invalid", h.plugins);
    cr_assert_neq(access(dir, F_OK), 0, "%s was left in the plugins folder", dir);
    cr_assert_eq(cache_objects(NULL, 0), 0);
}

/* An install on a thread of its own, to see what plugbayd does while it compiles. */
struct installer {
    pthread_t thread;
    atomic_bool done;
    int rc;
    bay_error err;
};

static void *install_wasm(void *arg)
{
    struct installer *in = arg;
    bay_conn *own = h_connect(&h, "installer");
    in->rc = h_install_all(own, WASM, &in->err);
    bay_close(own);
    atomic_store(&in->done, true);
    return NULL;
}

static bool exists(void *path)
{
    return access(path, F_OK) == 0;
}

/* start_slow_compiler sets up example/hello and the wasm plugin and starts plugbayd (with extra options) with a
 * compiler (CC) that writes its pid to STARTED and waits until GO exists, both files in h.dir. */
static void start_slow_compiler(const char *const *extra, char *started, char *go)
{
    char cc[300];
    h_setup(&h, (const char *[]){"example/hello", WASM, NULL});
    snprintf(cc, sizeof cc, "%s/slow-cc", h.dir);
    snprintf(started, 300, "%s/cc-started", h.dir);
    snprintf(go, 300, "%s/cc-go", h.dir);
    FILE *f = fopen(cc, "w");
    cr_assert_not_null(f);
    fprintf(f, "#!/bin/sh\necho $$ > '%s'\nwhile [ ! -e '%s' ]; do sleep 0.05; done\nexec /usr/bin/cc \"$@\"\n",
            started, go);
    fclose(f);
    cr_assert_eq(chmod(cc, 0755), 0);
    setenv("CC", cc, 1);
    h.manual = true;
    h_start(&h, extra);
    unsetenv("CC");
}

Test(wasm_install, a_slow_compile_stalls_nothing_and_the_install_answers_once_it_loaded)
{
    /* The compiler plugbayd's compile runs (CC) waits until the test lets it go on. */
    char started[300], go[300];
    start_slow_compiler(NULL, started, go);
    FILE *f;
    c = h_connect(&h, "test-wasm-install");
    bay_error err;
    cr_assert_eq(h_install_all(c, "example/hello", &err), 0, "%s", err.message);

    struct installer in = {0};
    cr_assert_eq(pthread_create(&in.thread, NULL, install_wasm, &in), 0);
    cr_assert(h_wait_until(exists, started, H_WAIT_MS), "the compile never reached cc: %s", h.log);
    char state[64], reason[512], out[64];
    h_plugin_state(c, WASM, state, sizeof state, reason, sizeof reason);
    cr_assert_str_eq(state, "waiting");
    cr_assert(strstr(reason, "its WebAssembly module is being compiled"), "%s", reason);
    cr_assert_eq(h_worker_pid(c, WASM), 0, "a worker started before its module was compiled");
    /* plugbayd answers calls and commands meanwhile, at once. */
    for (int i = 0; i < 20; i++) {
        long long t0 = h_now_ms();
        cr_assert_eq(h_call_str(c, "greet", "meanwhile", 5000, out, sizeof out, &err), 0, "%s", err.message);
        cr_assert_eq(bay_command(c, "status", NULL, 5000, NULL, &err), 0, "%s", err.message);
        cr_assert_lt(h_now_ms() - t0, 1000, "a call and status took %lld ms while a module compiled",
                     h_now_ms() - t0);
    }
    cr_assert(!atomic_load(&in.done), "the install answered before its plugin loaded");
    f = fopen(go, "w");
    cr_assert_not_null(f);
    fclose(f);
    pthread_join(in.thread, NULL);
    cr_assert_eq(in.rc, 0, "%s", in.err.message);
    h_plugin_state(c, WASM, state, sizeof state, NULL, 0);
    cr_assert_str_eq(state, "loaded");
    expect_greeting("slow");
    cr_assert_eq(cache_objects(NULL, 0), 1);
}

static bool gone(void *pid)
{
    return kill(*(pid_t *)pid, 0) != 0 && errno == ESRCH;
}

Test(wasm_install, a_compile_past_its_timeout_is_killed_and_its_load_fails_with_why)
{
    char started[300], go[300];
    start_slow_compiler((const char *const[]){"--compile-timeout-ms", "1500", NULL}, started, go);
    c = h_connect(&h, "test-wasm-install");
    bay_error err;
    cr_assert_eq(h_install_all(c, "example/hello", &err), 0, "%s", err.message);
    long long t0 = h_now_ms();
    int rc = h_install_all(c, WASM, &err);
    cr_assert_neq(rc, 0, "an install whose compile was killed succeeded");
    cr_assert(strstr(err.message, WASM) && strstr(err.message, "still compiling after 1500 ms (--compile-timeout-ms)"),
              "%s", err.message);
    cr_assert_lt(h_now_ms() - t0, 30000, "the install waited %lld ms for a compile limited to 1500",
                 h_now_ms() - t0);
    FILE *f = fopen(started, "r");
    pid_t cc = 0;
    cr_assert(f && fscanf(f, "%d", &cc) == 1 && cc > 0, "the compiler never started");
    fclose(f);
    cr_assert(h_wait_until(gone, &cc, H_WAIT_MS), "the compiler (pid %d) outlived its timeout", (int)cc);
    char state[64];
    h_plugin_state(c, WASM, state, sizeof state, NULL, 0);
    cr_assert_str_neq(state, "loaded");
    char out[64];
    cr_assert_eq(h_call_str(c, "greet", "after", 5000, out, sizeof out, &err), 0, "%s", err.message);
}

/* append_custom_section makes the module at path other bytes, the same code: a custom section at its end. */
static void append_custom_section(const char *path)
{
    static const unsigned char section[] = {0x00, 0x05, 0x04, 'p', 'b', 'a', 'y'};
    FILE *f = fopen(path, "ab");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(section, 1, sizeof section, f), sizeof section);
    fclose(f);
}

/* put_invalid_module replaces the module at path with wasm/invalid's, which wasm2c refuses. */
static void put_invalid_module(const char *path)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", BAY_TEST_PLUGIN_DIR "/wasm/invalid/plugin.wasm", path);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

Test(wasm_install, an_update_compiles_the_new_module_while_the_old_serves_and_a_rollback_finds_the_old_compiled)
{
    start((const char *[]){"example/hello", NULL});
    char pkg[600], pkg2[600], out[1024], err[1024];
    pack(BAY_EXAMPLE_PLUGIN_DIR, WASM, "0.1.0", NULL, "wasm-hello.bayplug", pkg, sizeof pkg);
    cr_assert_eq(plugbay((const char *[]){"install", pkg, "--grant-all", NULL}, out, err), 0, "%s", err);
    /* Version 0.2.0: the same code in other bytes. */
    pack(BAY_EXAMPLE_PLUGIN_DIR, WASM, "0.2.0", append_custom_section, "wasm-hello-2.bayplug", pkg2, sizeof pkg2);

    cr_assert_eq(plugbay((const char *[]){"update", pkg2, NULL}, out, err), 0, "%s", err);
    cr_assert_str_eq(out, WASM ": loaded\n");
    char version[64];
    h_plugin_str(c, WASM, "version", version, sizeof version);
    cr_assert_str_eq(version, "0.2.0");
    expect_greeting("update");
    cr_assert_eq(cache_objects(NULL, 0), 2);
    cr_assert_eq(log_count(COMPILED_LINE, NULL), 2, "not compiled once each: %s", h.log);
    cr_assert_eq(log_count(COMPILED_LINE, "its WebAssembly module is compiled ("), 2, "not plugbayd's compiles");

    cr_assert_eq(plugbay((const char *[]){"rollback", WASM, NULL}, out, err), 0, "%s", err);
    h_plugin_str(c, WASM, "version", version, sizeof version);
    cr_assert_str_eq(version, "0.1.0");
    expect_greeting("rollback");
    cr_assert_eq(cache_objects(NULL, 0), 2);
    cr_assert_eq(log_count(COMPILED_LINE, NULL), 2, "the rollback compiled again");

    /* Version 0.3.0, whose module wasm2c refuses: refused with its reason, 0.1.0 serving on. */
    char pkg3[600];
    pack(BAY_EXAMPLE_PLUGIN_DIR, WASM, "0.3.0", put_invalid_module, "wasm-hello-3.bayplug", pkg3, sizeof pkg3);
    cr_assert_eq(plugbay((const char *[]){"update", pkg3, NULL}, out, err), 1);
    cr_assert(strstr(err, WASM) && strstr(err, "plugin.wasm fails validation: wasm2c says: plugin.wasm:"),
              "the refusal lacks the plugin or wasm2c's reason: %s", err);
    h_plugin_str(c, WASM, "version", version, sizeof version);
    cr_assert_str_eq(version, "0.1.0");
    expect_greeting("refused");
}
