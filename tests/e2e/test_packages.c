/* tests/e2e/test_packages.c — plugbay install FILE: a package sent to plugbayd, checked, placed and installed; every bad one refused leaving nothing. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static harness h;
static bay_conn *c;
static char pkg[600];    /* DIR/hello.bayplug: example/hello packed, unsigned */
static char signed_[600]; /* DIR/signed.bayplug: example/hello packed, signed with a key plugbayd trusts */

/* plugbay runs the CLI with words (NULL-terminated), asserting it succeeds. */
static void plugbay(const char *const *words)
{
    const char *argv[16] = {BAY_BIN_DIR "/plugbay"};
    size_t n = 1;
    for (size_t i = 0; words[i] && n < 15; i++)
        argv[n++] = words[i];
    argv[n] = NULL;
    char out[1024], err[1024];
    cr_assert_eq(h_run(&h, argv, out, sizeof out, err, sizeof err), 0, "plugbay %s: %s", words[0], err);
}

#define PLUGBAY(...) plugbay((const char *const[]){__VA_ARGS__, NULL})

/* start_with packs example/hello twice (unsigned, and signed with a key the
 * state folder trusts, which test/slow is signed with too) and starts
 * plugbayd without --autoinstall, with test/slow installed. */
static void start_with(const char *const *extra)
{
    const char *ids[] = {"test/slow", NULL};
    h_setup(&h, ids);
    char dir[600], key[700], trusted[700], slow[700];
    snprintf(dir, sizeof dir, "%s/example/hello", BAY_EXAMPLE_PLUGIN_DIR);
    snprintf(pkg, sizeof pkg, "%s/hello.bayplug", h.dir);
    snprintf(signed_, sizeof signed_, "%s/signed.bayplug", h.dir);
    snprintf(key, sizeof key, "%s/key", h.dir);
    snprintf(slow, sizeof slow, "%s/test/slow", h.plugins);
    PLUGBAY("pack", dir, "-o", pkg);
    PLUGBAY("keygen", "--out", key, "--comment", "Test Publisher");
    PLUGBAY("pack", dir, "--key", key, "-o", signed_);
    PLUGBAY("sign", slow, "--key", key);
    snprintf(trusted, sizeof trusted, "%s/trusted-keys", h.state);
    cr_assert_eq(mkdir(h.state, 0700), 0);
    cr_assert_eq(mkdir(trusted, 0700), 0);
    strcat(trusted, "/key.pub");
    strcat(key, ".pub");
    cr_assert_eq(link(key, trusted), 0);
    h.manual = true; /* no --autoinstall: a package is installed as an admin says */
    h_start(&h, extra);
    c = h_connect(&h, "test-packages");
    bay_error e;
    cr_assert_eq(h_install_all(c, "test/slow", &e), 0, "%s", e.message);
    const char *loaded[] = {"test/slow", NULL};
    h_wait_loaded(c, loaded);
}

static void start(void)
{
    start_with(NULL);
}

static void start_signed_only(void)
{
    const char *extra[] = {"--signature-policy", "require-signed", NULL};
    start_with(extra);
}

static void stop(void)
{
    /* Whatever was sent, the plugin already there still answers. */
    char out[64];
    cr_expect_eq(h_call_str(c, "slow.echo", "still here", 5000, out, sizeof out, NULL), 0);
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(packages, .init = start, .fini = stop, .timeout = 120);
TestSuite(signed_packages, .init = start_signed_only, .fini = stop, .timeout = 120);

/* install runs plugbay install FILE with more words (NULL-terminated), its stderr in err: the exit status. */
static int install(const char *file, const char *const *more, char *out, size_t outlen, char *err, size_t errlen)
{
    const char *argv[16] = {BAY_BIN_DIR "/plugbay", "install", file, "--broker", h.url};
    size_t n = 5;
    for (size_t i = 0; more && more[i] && n < 15; i++)
        argv[n++] = more[i];
    argv[n] = NULL;
    return h_run(&h, argv, out, outlen, err, errlen);
}

/* entries counts the entries of folder dir (its own path; -1 when it cannot be read). */
static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = d ? 0 : -1;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (d)
        closedir(d);
    return n;
}

/* nothing_left asserts that the plugins folder holds test/slow alone and nothing waits in STATE/incoming. */
static void nothing_left(void)
{
    char dir[700];
    cr_assert_eq(entries(h.plugins), 1, "the plugins folder holds more than test/");
    snprintf(dir, sizeof dir, "%s/test", h.plugins);
    cr_assert_eq(entries(dir), 1, "test/ holds more than slow");
    snprintf(dir, sizeof dir, "%s/incoming", h.state);
    cr_assert_eq(entries(dir), 0, "a package was left in %s", dir);
}

Test(packages, a_package_installs_loads_and_answers_and_the_audit_shows_no_bytes)
{
    char out[1024], err[1024];
    const char *all[] = {"--grant-all", NULL};
    cr_assert_eq(install(pkg, all, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(out, "example/hello: loaded\n");
    char greeting[64];
    bay_error e;
    cr_assert_eq(h_call_str(c, "greet", "package", 5000, greeting, sizeof greeting, &e), 0, "%s", e.message);
    cr_assert_str_eq(greeting, "Hello, package!");
    char sent[700];
    snprintf(sent, sizeof sent, "%s/incoming", h.state);
    cr_assert_eq(entries(sent), 0, "the package sent was not removed");
    cr_assert(h_wait_log(&h, "package.put {\"sha256\":\""));
    cr_assert(h_log_contains(&h, "\"data\":\"10240 bytes\"}: done"));
    /* The same package again: the plugins folder has it. */
    cr_assert_eq(install(pkg, all, out, sizeof out, err, sizeof err), 1);
    cr_assert(strstr(err, "the plugins folder has example/hello already; uninstall it and remove its folder first, "
                          "or update it with `plugbay update FILE` (BAY_EEXIST)"),
              "%s", err);
}

Test(packages, without_consent_a_package_is_refused_listing_what_it_asks_and_leaves_nothing)
{
    char out[1024], err[1024];
    cr_assert_eq(install(pkg, NULL, out, sizeof out, err, sizeof err), 1);
    cr_assert(strstr(err, "example/hello asks for: provide:greet, provide:app.started"), "%s", err);
    nothing_left();
    cr_assert_eq(install("/no/such.bayplug", NULL, out, sizeof out, err, sizeof err), 1);
    cr_assert(strstr(err, "no plugin \"/no/such.bayplug\""), "a path that is no file is taken as an id: %s", err);
}

/* send sends bytes to plugbayd as the package named sha in parts of part bytes, as a host that is not the CLI
 * could: the first refusal's code, with err. */
static int send(const char *bytes, size_t len, const char *sha, size_t part, bay_error *err)
{
    for (size_t at = 0; at < len; at += part) {
        bay_value *args = bay_map(), *reply = NULL;
        bay_map_set(args, "sha256", bay_str(sha));
        bay_map_set(args, "size", bay_int((int64_t)len));
        bay_map_set(args, "offset", bay_int((int64_t)at));
        bay_map_set(args, "data", bay_bin(bytes + at, len - at < part ? len - at : part));
        int rc = bay_command(c, "package.put", args, 5000, &reply, err);
        bay_value_free(args);
        bay_value_free(reply);
        if (rc)
            return rc;
    }
    return 0;
}

/* place asks plugbayd to install the package sha, granting all. */
static int place(const char *sha, bay_error *err)
{
    bay_value *args = bay_map(), *reply = NULL;
    bay_map_set(args, "sha256", bay_str(sha));
    bay_map_set(args, "grant_all", bay_bool(true));
    int rc = bay_command(c, "install.package", args, 10000, &reply, err);
    bay_value_free(args);
    bay_value_free(reply);
    return rc;
}

/* slurp reads the file path whole (len bytes, a NUL after). */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    char *buf = malloc(1 << 20);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* sha_of writes the SHA-256 of the file path in hex to sha. */
static void sha_of(const char *path, char sha[65])
{
    char out[200], cmd_err[200];
    const char *argv[] = {"/usr/bin/sha256sum", path, NULL};
    cr_assert_eq(h_run(&h, argv, out, sizeof out, cmd_err, sizeof cmd_err), 0);
    snprintf(sha, 65, "%.64s", out);
}

Test(packages, a_package_sent_by_a_host_in_parts_installs_and_parts_out_of_order_or_a_wrong_sha256_are_refused)
{
    size_t len;
    char sha[65], wrong[65];
    char *bytes = slurp(pkg, &len);
    sha_of(pkg, sha);
    bay_error err;
    /* A part that is not where the last one ended. */
    bay_value *args = bay_map(), *reply = NULL;
    bay_map_set(args, "sha256", bay_str(sha));
    bay_map_set(args, "size", bay_int((int64_t)len));
    bay_map_set(args, "offset", bay_int(100));
    bay_map_set(args, "data", bay_bin(bytes, 10));
    cr_assert_eq(bay_command(c, "package.put", args, 5000, &reply, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "package part at byte 100, but 0 bytes were received: send the parts in order"),
              "%s", err.message);
    bay_value_free(args);
    /* Bytes that are not the package announced. */
    memcpy(wrong, sha, sizeof wrong);
    wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
    cr_assert_eq(send(bytes, len, wrong, 4096, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "not ") && strstr(err.message, "as announced: it changed or was damaged on the way"),
              "%s", err.message);
    cr_assert_eq(place(wrong, &err), BAY_ENOENT);
    cr_assert(strstr(err.message, "was received whole: send it with package.put first"), "%s", err.message);
    nothing_left();
    /* Other malformed parts. */
    args = bay_map();
    bay_map_set(args, "sha256", bay_str("ABC"));
    cr_assert_eq(bay_command(c, "package.put", args, 5000, &reply, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "its SHA-256 in 64 lowercase hex digits"), "%s", err.message);
    bay_map_set(args, "sha256", bay_str(sha));
    bay_map_set(args, "size", bay_int(1LL << 40));
    cr_assert_eq(bay_command(c, "package.put", args, 5000, &reply, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "a package's \"size\" is 1 to "), "%s", err.message);
    bay_value_free(args);
    /* In 4 KiB parts, the real one installs. */
    cr_assert_eq(send(bytes, len, sha, 4096, &err), 0, "%s", err.message);
    cr_assert_eq(place(sha, &err), 0, "%s", err.message);
    cr_assert(h_wait_state(c, "example/hello", "loaded", H_WAIT_MS));
    free(bytes);
}

/* refused_package makes DIR/evil.bayplug with /bin/tar (tar_args, FILE standing for it), sends it as a host
 * and asserts plugbayd's refusal: code, a message holding why, nothing left. */
static void refused_package(const char *const *tar_args, int code, const char *why)
{
    char file[700], sha[65], out[256], err_text[1024];
    snprintf(file, sizeof file, "%s/evil.bayplug", h.dir);
    const char *argv[16] = {"/bin/tar"};
    size_t n = 1;
    for (size_t i = 0; tar_args[i] && n < 15; i++)
        argv[n++] = strcmp(tar_args[i], "FILE") == 0 ? file : tar_args[i];
    argv[n] = NULL;
    cr_assert_eq(h_run(&h, argv, out, sizeof out, err_text, sizeof err_text), 0, "tar: %s", err_text);
    size_t len;
    char *bytes = slurp(file, &len);
    sha_of(file, sha);
    bay_error err;
    cr_assert_eq(send(bytes, len, sha, 65536, &err), 0, "%s", err.message);
    cr_assert_eq(place(sha, &err), code, "%s", err.message);
    cr_assert(strstr(err.message, why), "\"%s\" is not in: %s", why, err.message);
    free(bytes);
    nothing_left();
}

/* make writes the files of a would-be package in DIR/evil: a plugin.json with an id, and what the test adds. */
static void make(const char *manifest)
{
    char path[700];
    snprintf(path, sizeof path, "%s/evil", h.dir);
    mkdir(path, 0755);
    strcat(path, "/plugin.json");
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(manifest ? manifest
                   : "{\"id\": \"evil/one\", \"name\": \"e\", \"version\": \"1.0.0\", \"language\": \"c\", \"entry\": "
                     "\"plugin.so\", \"provides\": []}",
          f);
    fclose(f);
}

Test(packages, a_package_climbing_out_linking_out_without_an_id_or_not_a_package_is_refused_leaving_nothing)
{
    char dir[700];
    snprintf(dir, sizeof dir, "%s/evil", h.dir);
    make(NULL);
    /* An entry named ../escaped (-P keeps it as written): unpacked, it would land beside the plugin folders. */
    char escaped[700];
    snprintf(escaped, sizeof escaped, "%s/escaped", h.dir);
    FILE *f = fopen(escaped, "w");
    cr_assert_not_null(f);
    fclose(f);
    refused_package((const char *const[]){"-czPf", "FILE", "-C", dir, "plugin.json", "../escaped", NULL}, BAY_EPERM,
                    "a path may not leave the package");
    /* A symbolic link out. */
    char link_path[760];
    snprintf(link_path, sizeof link_path, "%s/passwd", dir);
    cr_assert_eq(symlink("/etc/passwd", link_path), 0);
    refused_package((const char *const[]){"-czf", "FILE", "-C", dir, "plugin.json", "passwd", NULL}, BAY_EPERM,
                    "a symbolic link");
    unlink(link_path);
    /* No id: a package must say which plugin it is. */
    make("{\"name\": \"e\", \"version\": \"1.0.0\", \"language\": \"c\", \"entry\": \"plugin.so\", \"provides\": []}");
    refused_package((const char *const[]){"-czf", "FILE", "-C", dir, "plugin.json", NULL}, BAY_EMANIFEST,
                    "plugin.json has no \"id\"");
    /* Not gzip at all. */
    make(NULL);
    refused_package((const char *const[]){"-cf", "FILE", "-C", dir, "plugin.json", NULL}, BAY_EINVAL,
                    "not a plugbay package");
}

Test(signed_packages, under_require_signed_an_unsigned_package_is_refused_and_a_signed_one_installs)
{
    char out[1024], err[1024];
    const char *all[] = {"--grant-all", NULL};
    cr_assert_eq(install(pkg, all, out, sizeof out, err, sizeof err), 1);
    cr_assert(strstr(err, "refused by --signature-policy require-signed: ") && strstr(err, "is not signed"), "%s",
              err);
    nothing_left();
    cr_assert_eq(install(signed_, all, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(out, "example/hello: loaded\n");
    cr_assert(h_log_contains(&h, "[example/hello] 2 files signed by trusted key "), "the log names the signer");
}

/* ---- update and rollback ------------------------------------------------------------- */

/* pack_folder makes DIR/NAME holding so (copied as entry) and a plugin.json of manifest, and packs it signed
 * with the key plugbayd trusts into DIR/NAME.bayplug, whose path it writes to file (700 bytes) and returns. */
static const char *pack_folder(char *file, const char *name, const char *so, const char *entry, const char *manifest)
{
    char dir[700], path[760], key[700];
    snprintf(dir, sizeof dir, "%s/%s", h.dir, name);
    cr_assert_eq(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/%s", dir, entry);
    const char *cp[] = {"/bin/cp", so, path, NULL};
    cr_assert_eq(h_run(&h, cp, NULL, 0, NULL, 0), 0);
    snprintf(path, sizeof path, "%s/plugin.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(manifest, f);
    fclose(f);
    snprintf(file, 700, "%s/%s.bayplug", h.dir, name);
    snprintf(key, sizeof key, "%s/key", h.dir);
    PLUGBAY("pack", dir, "--key", key, "-o", file);
    return file;
}

/* version packs example/hello as version, its greeting greeting, its entry entry and asking for perm (NULL: none)
 * too, into DIR/vVERSION.bayplug, whose path it writes to file (700 bytes) and returns. */
static const char *version(char *file, const char *version, const char *greeting, const char *entry, const char *perm)
{
    char name[80], manifest[1024];
    snprintf(name, sizeof name, "v%s", version);
    snprintf(manifest, sizeof manifest,
             "{\"id\": \"example/hello\", \"name\": \"Hello\", \"version\": \"%s\", \"language\": \"c\", \"entry\": "
             "\"%s\", \"provides\": [{\"name\": \"greet\", \"kind\": \"handle\"}], \"config\": {\"greeting\": \"%s\"}%s%s%s}",
             version, entry, greeting, perm ? ", \"permissions\": [\"" : "", perm ? perm : "", perm ? "\"]" : "");
    return pack_folder(file, name, BAY_EXAMPLE_PLUGIN_DIR "/example/hello/plugin.so", "plugin.so", manifest);
}

/* update runs plugbay update FILE with more words (NULL-terminated): the exit status, stderr in err. */
static int update(const char *file, const char *const *more, char *err, size_t errlen)
{
    const char *argv[16] = {BAY_BIN_DIR "/plugbay", "update", file, "--broker", h.url};
    size_t n = 5;
    for (size_t i = 0; more && more[i] && n < 15; i++)
        argv[n++] = more[i];
    argv[n] = NULL;
    char out[512];
    return h_run(&h, argv, out, sizeof out, err, errlen);
}

/* greets asks example/hello to greet and returns its answer (static), or "" when the call failed. */
static const char *greets(bay_conn *with)
{
    static _Thread_local char out[600];
    bay_error e;
    if (h_call_str(with, "greet", "you", 5000, out, sizeof out, &e) != 0)
        snprintf(out, sizeof out, "failed: %s", e.message);
    return out;
}

/* The host calling in a loop while versions change: how many calls, how many failed, and the first failure. */
static struct caller {
    pthread_t thread;
    atomic_bool stop;
    long calls, failed;
    char first[600];
} caller;

static void *call_on(void *arg)
{
    (void)arg;
    bay_conn *own = h_connect(&h, "test-packages-caller");
    while (!atomic_load(&caller.stop)) {
        const char *got = greets(own);
        caller.calls++;
        if (strncmp(got, "failed", 6) == 0 && caller.failed++ == 0)
            snprintf(caller.first, sizeof caller.first, "%s", got);
    }
    bay_close(own);
    return NULL;
}

Test(packages, an_update_under_load_fails_no_call_a_broken_version_rolls_back_and_rollback_returns)
{
    char out[1024], err[1024];
    const char *all[] = {"--grant-all", NULL};
    cr_assert_eq(install(pkg, all, out, sizeof out, err, sizeof err), 0, "%s", err);
    char v2[700], v3[700];
    version(v2, "1.1.0", "Howdy", "plugin.so", NULL);
    version(v3, "1.2.0", "Hi", "missing.so", NULL);
    cr_assert_eq(pthread_create(&caller.thread, NULL, call_on, NULL), 0);
    cr_assert_eq(update(v2, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(greets(c), "Howdy, you!");
    /* A version whose worker cannot load: the one before serves on, its folder back in place. */
    cr_assert_eq(update(v3, NULL, err, sizeof err), 1);
    cr_assert(strstr(err, "was not reloaded: load failed: ") && strstr(err, "version 1.1.0 keeps serving"), "%s", err);
    cr_assert_str_eq(greets(c), "Howdy, you!");
    char state[32], reason[600];
    h_plugin_state(c, "example/hello", state, sizeof state, reason, sizeof reason);
    cr_assert(strstr(reason, "version 1.2.0 failed to load (load failed: ") && strstr(reason, "rolled back to 1.1.0"),
              "%s", reason);
    /* Back to the version before the update. */
    const char *rollback[] = {BAY_BIN_DIR "/plugbay", "rollback", "example/hello", "--broker", h.url, NULL};
    cr_assert_eq(h_run(&h, rollback, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(greets(c), "Hello, you!");
    atomic_store(&caller.stop, true);
    pthread_join(caller.thread, NULL);
    cr_assert_gt(caller.calls, 10);
    cr_assert_eq(caller.failed, 0, "%ld of %ld calls failed, the first: %s", caller.failed, caller.calls,
                 caller.first);
    /* And forward again, from the versions kept. */
    cr_assert_eq(h_run(&h, rollback, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(greets(c), "Howdy, you!", "a rollback from the oldest goes to the newest kept");
    /* Uninstalled, its kept versions go with it. */
    char kept[700];
    snprintf(kept, sizeof kept, "%s/.versions/example/hello", h.plugins);
    cr_assert_eq(access(kept, F_OK), 0, "%s", kept);
    bay_error e;
    cr_assert_eq(h_command(c, "uninstall", "example/hello", &e), 0, "%s", e.message);
    snprintf(kept, sizeof kept, "%s/.versions", h.plugins);
    cr_assert_neq(access(kept, F_OK), 0, "%s is still there", kept);
}

/* slow_version packs test/slow's plugin.so as version, its entry entry, into DIR/slow-VERSION.bayplug (path in
 * file). */
static const char *slow_version(char *file, const char *version, const char *entry)
{
    char name[80], manifest[600];
    snprintf(name, sizeof name, "slow-%s", version);
    snprintf(manifest, sizeof manifest,
             "{\"id\": \"test/slow\", \"name\": \"Slow\", \"version\": \"%s\", \"language\": \"c\", \"entry\": "
             "\"%s\", \"provides\": [{\"name\": \"slow.sleep\", \"kind\": \"handle\"}, {\"name\": \"slow.echo\", "
             "\"kind\": \"handle\"}]}",
             version, entry);
    return pack_folder(file, name, BAY_TEST_PLUGIN_DIR "/test/slow/plugin.so", "plugin.so", manifest);
}

/* A slow.sleep call from a host of its own, in a thread. */
static struct sleeper {
    pthread_t thread;
    int rc;
    bay_error err;
} sleeper;

static void *sleep_on(void *arg)
{
    bay_conn *own = h_connect(&h, "test-packages-sleeper");
    bay_value *args = bay_array(), *res = NULL;
    bay_array_push(args, bay_int((int64_t)(intptr_t)arg));
    bay_call_opts o = {.timeout_ms = 60000};
    sleeper.rc = bay_call(own, "slow.sleep", args, &o, &res, &sleeper.err);
    bay_value_free(res);
    bay_value_free(args);
    bay_close(own);
    return NULL;
}

/* draining starts a long slow.sleep and updates test/slow to file under it: the worker running the call
 * finishes it while the new version serves. */
static void draining(const char *file)
{
    char err[1024];
    pid_t worker = h_worker_pid(c, "test/slow");
    cr_assert_eq(pthread_create(&sleeper.thread, NULL, sleep_on, (void *)(intptr_t)3000), 0);
    cr_assert(h_wait_until(h_main_thread_sleeps, &worker, H_WAIT_MS), "the sleep never reached test/slow");
    cr_assert_eq(update(file, NULL, err, sizeof err), 0, "%s", err);
}

/* version_of returns the version test/slow serves (static). */
static const char *version_of(void)
{
    static char v[64];
    bay_value *a = bay_map(), *out = NULL;
    bay_map_set(a, "id", bay_str("test/slow"));
    bay_command(c, "info", a, 5000, &out, NULL);
    const char *got = bay_value_str(bay_map_get(out, "version"), NULL);
    snprintf(v, sizeof v, "%s", got ? got : "");
    bay_value_free(a);
    bay_value_free(out);
    return v;
}

Test(packages, an_update_while_the_version_before_finishes_its_calls_waits_its_turn_and_a_failed_one_rolls_back)
{
    char v2[700], v3[700], v4[700], broken[700], err[1024];
    slow_version(v2, "0.2.0", "plugin.so");
    slow_version(v3, "0.3.0", "plugin.so");
    slow_version(v4, "0.4.0", "plugin.so");
    slow_version(broken, "0.5.0", "missing.so");
    /* 0.1.0 finishes a 3 s call while 0.2.0 serves: the update to 0.3.0 waits for it, then runs. */
    draining(v2);
    cr_assert_str_eq(version_of(), "0.2.0");
    cr_assert_eq(update(v3, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(version_of(), "0.3.0");
    pthread_join(sleeper.thread, NULL);
    cr_assert_eq(sleeper.rc, 0, "the call the version before held failed: %s", sleeper.err.message);
    /* The same under a version that cannot load: refused when its turn comes, the one serving serves on. */
    draining(v4);
    cr_assert_eq(update(broken, NULL, err, sizeof err), 1, "%s", err);
    cr_assert(strstr(err, "was not reloaded: load failed: ") && strstr(err, "version 0.4.0 keeps serving"), "%s", err);
    cr_assert_str_eq(version_of(), "0.4.0");
    char state[32], reason[600];
    h_plugin_state(c, "test/slow", state, sizeof state, reason, sizeof reason);
    cr_assert(strstr(reason, "version 0.5.0 failed to load (load failed: ") && strstr(reason, "rolled back to 0.4.0"),
              "%s", reason);
    pthread_join(sleeper.thread, NULL);
    cr_assert_eq(sleeper.rc, 0, "the call the version before held failed: %s", sleeper.err.message);
    /* And the rollback after it finds 0.3.0 kept and nothing under way. */
    const char *rollback[] = {BAY_BIN_DIR "/plugbay", "rollback", "test/slow", "--broker", h.url, NULL};
    char out[512];
    cr_assert_eq(h_run(&h, rollback, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(version_of(), "0.3.0");
}

Test(packages, an_update_is_refused_when_not_installed_the_same_version_or_new_permissions_not_granted)
{
    char out[1024], err[1024];
    cr_assert_eq(update(pkg, NULL, err, sizeof err), 1);
    cr_assert(strstr(err, "example/hello is not installed: install it first") && strstr(err, "(BAY_ESTATE)"), "%s",
              err);
    const char *all[] = {"--grant-all", NULL};
    cr_assert_eq(install(pkg, all, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert_eq(update(pkg, NULL, err, sizeof err), 1);
    cr_assert(strstr(err, "example/hello runs version 1.0.0 already (BAY_EEXIST)"), "%s", err);
    char asks[700];
    version(asks, "2.0.0", "Ahoy", "plugin.so", "net.connect:127.0.0.1:9");
    cr_assert_eq(update(asks, NULL, err, sizeof err), 1);
    cr_assert(strstr(err, "example/hello 2.0.0 asks for net.connect:127.0.0.1:9, not granted: update with --grant"),
              "%s", err);
    cr_assert_str_eq(greets(c), "Hello, you!", "the version before serves on");
    const char *rollback[] = {BAY_BIN_DIR "/plugbay", "rollback", "example/hello", "--broker", h.url, NULL};
    cr_assert_eq(h_run(&h, rollback, out, sizeof out, err, sizeof err), 1);
    cr_assert(strstr(err, "no other version of example/hello is kept"), "%s", err);
    const char *grant[] = {"--grant", "net.connect:127.0.0.1:9", NULL};
    cr_assert_eq(update(asks, grant, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(greets(c), "Ahoy, you!");
}

/* ---- what the code imports, checked at install -------------------------------------------- */

/* hostile_package packs test/hostile's plugin.so as plugin id, language language (its entry entry) asking for
 * asks (a JSON array's inside), into DIR/NAME.bayplug (NAME: id after its '/'), whose path it writes to file. */
static void hostile_package(char *file, const char *id, const char *language, const char *entry, const char *asks)
{
    char manifest[1024];
    snprintf(manifest, sizeof manifest,
             "{\"id\": \"%s\", \"name\": \"x\", \"version\": \"1.0.0\", \"language\": \"%s\", \"entry\": \"%s\", "
             "\"provides\": [{\"name\": \"%s.ping\", \"kind\": \"handle\", \"function\": \"ping\"}], "
             "\"permissions\": [%s]}",
             id, language, entry, strchr(id, '/') + 1, asks);
    pack_folder(file, strchr(id, '/') + 1, BAY_TEST_PLUGIN_DIR "/test/hostile/plugin.so", entry, manifest);
}

Test(packages, a_native_plugin_importing_what_it_is_not_granted_is_refused_naming_the_symbol_and_the_permission)
{
    char pkg_asks[700], pkg_quiet[700], out[1024], err[2048];
    hostile_package(pkg_asks, "evil/spawner", "c", "plugin.so", "\"process.spawn\", \"net.connect:127.0.0.1:9\"");
    hostile_package(pkg_quiet, "evil/quiet", "c", "plugin.so", "");
    const char *spawn_only[] = {"--grant", "provide:spawner.ping", "--grant", "process.spawn", NULL};
    cr_assert_eq(install(pkg_asks, spawn_only, out, sizeof out, err, sizeof err), 1);
    cr_assert(strstr(err, "evil/spawner: plugin.so imports ") &&
                  strstr(err, ", which works only with a net.connect grant, not granted: the sandbox would refuse it; "
                              "grant it, or leave the plugin out (BAY_EPERM)"),
              "%s", err);
    nothing_left();
    const char *all[] = {"--grant-all", NULL};
    cr_assert_eq(install(pkg_quiet, all, out, sizeof out, err, sizeof err), 1);
    cr_assert(strstr(err, "evil/quiet: plugin.so imports ") &&
                  strstr(err, "its manifest does not ask for it, so its author must ask for it or leave the call out"),
              "%s", err);
    nothing_left();
    /* verify runs the same check, against what the manifest asks. */
    const char *verify[] = {BAY_BIN_DIR "/plugbay", "verify", pkg_quiet, NULL};
    cr_assert_eq(h_run(&h, verify, out, sizeof out, err, sizeof err), 1);
    cr_assert(strstr(err, "its manifest does not ask for it"), "%s", err);
    /* Granted all it imports needs, it installs. */
    cr_assert_eq(install(pkg_asks, all, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(out, "evil/spawner: loaded\n");
}

Test(packages, a_webassembly_module_that_does_not_fit_the_plugin_abi_is_refused_at_install)
{
    char file[700], out[1024], err[2048];
    hostile_package(file, "evil/notwasm", "wasm", "plugin.wasm", ""); /* an ELF file where a module should be */
    const char *all[] = {"--grant-all", NULL};
    cr_assert_eq(install(file, all, out, sizeof out, err, sizeof err), 1);
    cr_assert(strstr(err, "evil/notwasm: plugin.wasm: ") && strstr(err, "(BAY_EPLUGIN)"), "%s", err);
    nothing_left();
}

/* ---- plugbayd's caps on what a package may unpack to ----------------------------------------- */

static void start_capped(void)
{
    const char *extra[] = {"--package-max-mb", "1", "--package-max-files", "20", NULL};
    start_with(extra);
}

TestSuite(capped, .init = start_capped, .fini = stop, .timeout = 120);

/* bomb packs DIR/bomb (a plugin.json with an id, and what fill made) with /bin/tar and gzip into DIR/bomb.bayplug. */
static void bomb(const char *fill, char *file)
{
    char dir[700], script[4000];
    snprintf(dir, sizeof dir, "%s/bomb", h.dir);
    snprintf(file, 700, "%s/bomb.bayplug", h.dir);
    snprintf(script, sizeof script,
             "set -e; rm -rf %s %s; mkdir %s; cd %s; "
             "printf '{\"id\": \"evil/bomb\", \"name\": \"b\", \"version\": \"1.0.0\", \"language\": \"lua\", "
             "\"entry\": \"main.lua\", \"provides\": []}' > plugin.json; %s; tar -czf %s *",
             dir, file, dir, dir, fill, file);
    const char *sh[] = {"/bin/sh", "-c", script, NULL};
    char err[512];
    cr_assert_eq(h_run(&h, sh, NULL, 0, err, sizeof err), 0, "%s", err);
}

Test(capped, packages_past_plugbayds_caps_are_refused_and_leave_nothing)
{
    char file[700], out[1024], err[2048];
    const char *all[] = {"--grant-all", NULL};
    /* 2 MiB of zeros: a package of a few kB that unpacks past 1 MiB. */
    bomb("head -c 2097152 /dev/zero > main.lua", file);
    cr_assert_eq(install(file, all, out, sizeof out, err, sizeof err), 1);
    cr_assert(strstr(err, "the files would take more than 1048576 bytes unpacked") && strstr(err, "(BAY_EPERM)"), "%s",
              err);
    nothing_left();
    /* 30 files: more than 20. */
    bomb("for i in $(seq 30); do echo x > f$i; done; echo 'return {}' > main.lua", file);
    cr_assert_eq(install(file, all, out, sizeof out, err, sizeof err), 1);
    cr_assert(strstr(err, "more than 20 files and folders, the most a package may hold"), "%s", err);
    nothing_left();
    /* A package file itself past 1 MiB (random bytes do not compress): refused before a byte is kept. */
    bomb("head -c 1572864 /dev/urandom > main.lua", file);
    cr_assert_eq(install(file, all, out, sizeof out, err, sizeof err), 1);
    cr_assert(strstr(err, "a package's \"size\" is 1 to 1048576 bytes (plugbayd --package-max-mb)"), "%s", err);
    nothing_left();
}

Test(packages, a_lua_plugin_shipping_a_precompiled_chunk_is_refused_at_install)
{
    char file[700], out[1024], err[2048];
    bomb("printf '\\033LuaT\\000\\031\\223' > main.lua", file);
    const char *all[] = {"--grant-all", NULL};
    cr_assert_eq(install(file, all, out, sizeof out, err, sizeof err), 1);
    cr_assert(strstr(err, "evil/bomb: main.lua is a precompiled Lua chunk: the Lua worker loads source only") &&
                  strstr(err, "(BAY_EPLUGIN)"),
              "%s", err);
    nothing_left();
}

/* gone_from_list tells whether plugbayd no longer lists plugin id (arg). */
static bool gone_from_list(void *arg)
{
    bay_value *listed = NULL;
    bool gone = bay_command(c, "list", NULL, 5000, &listed, NULL) == 0;
    for (size_t i = 0; gone && i < bay_value_len(listed); i++)
        gone = strcmp(bay_value_str(bay_map_get(bay_array_get(listed, i), "id"), NULL), arg) != 0;
    bay_value_free(listed);
    return gone;
}

Test(packages, a_package_whose_first_load_fails_is_withdrawn_leaving_nothing)
{
    /* Python whose source the worker's policy refuses: the install's load fails, and the package goes. */
    char dir[700], path[760], file[700], out[1024], err[2048];
    snprintf(dir, sizeof dir, "%s/pyevil", h.dir);
    cr_assert_eq(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/plugin.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"id\": \"evil/py\", \"name\": \"e\", \"version\": \"1.0.0\", \"language\": \"python\", \"entry\": "
          "\"main.py\", \"provides\": [{\"name\": \"evil.py\", \"kind\": \"handle\", \"function\": \"greet\"}]}",
          f);
    fclose(f);
    snprintf(path, sizeof path, "%s/main.py", dir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("def greet(name):\n    return ().__class__.__subclasses__()\n", f);
    fclose(f);
    snprintf(file, sizeof file, "%s/pyevil.bayplug", h.dir);
    PLUGBAY("pack", dir, "-o", file);
    const char *all[] = {"--grant-all", NULL};
    cr_assert_eq(install(file, all, out, sizeof out, err, sizeof err), 1);
    cr_assert(strstr(err, "evil/py is failed: ") && strstr(err, "__class__"), "%s", err);
    cr_assert(h_wait_log(&h, "[evil/py] its package is withdrawn: its first load failed"), "never withdrawn");
    cr_assert(h_wait_until(gone_from_list, "evil/py", H_WAIT_MS), "evil/py is still listed");
    nothing_left();
}
