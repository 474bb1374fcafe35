/* tests/e2e/test_signing.c — plugbay keygen, sign, verify and pack as a user runs them; each tampering refused in one line. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

extern char **environ;

static harness h;
static char keys[400];    /* DIR/keys: ada (trusted) and mallory (not) */
static char trusted[400]; /* DIR/trusted: ada.pub */
static char ada_id[17];

/* What one run of a program printed and how it ended. */
typedef struct result {
    int status; /* exit status, -1 when killed */
    char out[4096], err[4096];
} result;

/* drain reads the memory file fd (from its start) into buf and closes it. */
static void drain(int fd, char *buf, size_t len)
{
    ssize_t n = pread(fd, buf, len - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
}

/* run runs argv (NULL-terminated) to its end, capturing what it printed. */
static void run(result *r, const char *const *argv)
{
    int out = memfd_create("stdout", MFD_CLOEXEC), err = memfd_create("stderr", MFD_CLOEXEC);
    cr_assert(out >= 0 && err >= 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, err, STDERR_FILENO);
    pid_t pid;
    int status;
    cr_assert_eq(posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ), 0, "cannot run %s", argv[0]);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    drain(out, r->out, sizeof r->out);
    drain(err, r->err, sizeof r->err);
}

#define PLUGBAY(r, ...) run(r, (const char *const[]){BAY_BIN_DIR "/plugbay", __VA_ARGS__, NULL})

/* refused asserts a failed verify: exit status 1, one line on stderr naming every one of the NULL-terminated words. */
static void refused(const result *r, const char *const *words)
{
    cr_assert_eq(r->status, 1, "exit status %d; stdout: %s; stderr: %s", r->status, r->out, r->err);
    cr_assert_str_eq(r->out, "", "nothing on stdout");
    size_t len = strlen(r->err);
    cr_assert(len > 0 && r->err[len - 1] == '\n' && strchr(r->err, '\n') == r->err + len - 1, "one line: %s", r->err);
    cr_assert(strncmp(r->err, "plugbay: ", 9) == 0 && strstr(r->err, "(BAY_EPERM)"), "%s", r->err);
    for (size_t i = 0; words[i]; i++)
        cr_assert(strstr(r->err, words[i]), "\"%s\" not in: %s", words[i], r->err);
}

#define REFUSED(r, ...) refused(r, (const char *const[]){__VA_ARGS__, NULL})

/* in writes DIR/rel to buf and returns buf. */
static char *in(char *buf, const char *rel)
{
    snprintf(buf, PATH_MAX, "%s/%s", h.dir, rel);
    return buf;
}

/* keygen makes the key pair KEYS/name and writes its key id, as the CLI prints it, to id. */
static void keygen(const char *name, char id[17])
{
    char path[PATH_MAX];
    result r;
    snprintf(path, sizeof path, "%s/%s", keys, name);
    PLUGBAY(&r, "keygen", "--out", path, "--comment", name);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(sscanf(r.out, "key %16[0-9a-f]: secret key in ", id), 1, "%s", r.out);
}

/* fresh copies the built example/hello to DIR/name and signs it with KEYS/signer; returns the copy's path. */
static char *fresh(const char *name, const char *signer)
{
    static char dir[PATH_MAX];
    char src[PATH_MAX], key[PATH_MAX];
    result r;
    snprintf(src, sizeof src, "%s/example/hello", h.plugins);
    snprintf(key, sizeof key, "%s/%s", keys, signer);
    run(&r, (const char *const[]){"/bin/cp", "-r", src, in(dir, name), NULL});
    cr_assert_eq(r.status, 0, "cp: %s", r.err);
    PLUGBAY(&r, "sign", dir, "--key", key);
    cr_assert_eq(r.status, 0, "sign: %s", r.err);
    cr_assert(strstr(r.out, "signed 2 files"), "%s", r.out);
    return dir;
}

static void verify(result *r, const char *dir)
{
    PLUGBAY(r, "verify", dir, "--trusted-keys", trusted);
}

static void setup(void)
{
    h_setup(&h, (const char *const[]){"example/hello", "example/audit", NULL});
    char pub[PATH_MAX], tmp[PATH_MAX];
    cr_assert_eq(mkdir(in(tmp, "tmp"), 0700), 0);
    setenv("TMPDIR", tmp, 1); /* where verify unpacks a package */
    result r;
    cr_assert_eq(mkdir(in(keys, "keys"), 0700), 0);
    cr_assert_eq(mkdir(in(trusted, "trusted"), 0700), 0);
    keygen("ada", ada_id);
    snprintf(pub, sizeof pub, "%s/ada.pub", keys);
    run(&r, (const char *const[]){"/bin/cp", pub, trusted, NULL});
    cr_assert_eq(r.status, 0, "cp: %s", r.err);
}

static void teardown(void)
{
    h_cleanup(&h);
}

TestSuite(signing, .init = setup, .fini = teardown, .timeout = 60);

Test(signing, a_signed_plugin_verifies_and_names_its_trusted_signer)
{
    result r;
    verify(&r, fresh("hello", "ada"));
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, ": OK, 2 files signed by trusted key ") && strstr(r.out, ada_id) && strstr(r.out, "(ada)"),
              "%s", r.out);
    PLUGBAY(&r, "verify", "--json", in((char[PATH_MAX]){0}, "hello"), "--trusted-keys", trusted);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "\"trusted\":true") && strstr(r.out, "\"signer\":\"ada\"") && strstr(r.out, ada_id), "%s",
              r.out);
}

Test(signing, without_trusted_keys_verify_says_the_key_was_not_checked)
{
    result r;
    PLUGBAY(&r, "verify", fresh("hello", "ada"));
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, ada_id) && strstr(r.out, "not checked against trusted keys"), "%s", r.out);
}

/* flip changes the byte in the middle of the file path. */
static void flip(const char *path)
{
    int fd = open(path, O_RDWR);
    struct stat st;
    unsigned char c;
    cr_assert(fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0, "%s", path);
    cr_assert_eq(pread(fd, &c, 1, st.st_size / 2), 1);
    c ^= 0x20;
    cr_assert_eq(pwrite(fd, &c, 1, st.st_size / 2), 1);
    close(fd);
}

Test(signing, a_changed_byte_in_any_file_is_refused_naming_the_file)
{
    DIR *d = opendir(fresh("listing", "ada"));
    cr_assert_not_null(d);
    int checked = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "plugin.sig") == 0)
            continue;
        char copy[64], path[PATH_MAX], quoted[300];
        snprintf(copy, sizeof copy, "byte-%d", checked++);
        snprintf(path, sizeof path, "%s/%s", fresh(copy, "ada"), e->d_name);
        flip(path);
        result r;
        verify(&r, in((char[PATH_MAX]){0}, copy));
        snprintf(quoted, sizeof quoted, "\"%s\" altered", e->d_name);
        REFUSED(&r, copy, quoted, ada_id);
    }
    closedir(d);
    cr_assert_eq(checked, 2, "plugin.json and plugin.so");
}

Test(signing, a_swapped_manifest_is_refused)
{
    char manifest[PATH_MAX], other[PATH_MAX];
    result r;
    snprintf(manifest, sizeof manifest, "%s/plugin.json", fresh("hello", "ada"));
    snprintf(other, sizeof other, "%s/example/audit/plugin.json", h.plugins);
    run(&r, (const char *const[]){"/bin/cp", other, manifest, NULL});
    cr_assert_eq(r.status, 0, "cp: %s", r.err);
    verify(&r, in((char[PATH_MAX]){0}, "hello"));
    REFUSED(&r, "\"plugin.json\" altered");
}

Test(signing, an_added_file_is_refused_even_in_a_new_folder)
{
    char path[PATH_MAX];
    result r;
    snprintf(path, sizeof path, "%s/lib", fresh("hello", "ada"));
    cr_assert_eq(mkdir(path, 0700), 0);
    strcat(path, "/payload.so");
    close(open(path, O_WRONLY | O_CREAT, 0600));
    verify(&r, in(path, "hello"));
    REFUSED(&r, "\"lib/payload.so\" added");
}

Test(signing, a_removed_file_is_refused)
{
    char path[PATH_MAX];
    result r;
    snprintf(path, sizeof path, "%s/plugin.so", fresh("hello", "ada"));
    cr_assert_eq(unlink(path), 0);
    verify(&r, in(path, "hello"));
    REFUSED(&r, "\"plugin.so\" removed");
}

Test(signing, a_key_outside_the_trusted_folder_is_refused_naming_it)
{
    char mallory_id[17];
    result r;
    keygen("mallory", mallory_id);
    verify(&r, fresh("hello", "mallory"));
    REFUSED(&r, mallory_id, "not among the trusted keys", trusted);
}

Test(signing, an_unsigned_plugin_is_refused)
{
    result r;
    verify(&r, in((char[PATH_MAX]){0}, "plugins/example/hello"));
    REFUSED(&r, "example/hello is not signed", "plugbay sign");
}

Test(signing, a_signature_file_edited_by_hand_is_refused)
{
    char sig[PATH_MAX];
    result r;
    snprintf(sig, sizeof sig, "%s/plugin.sig", fresh("hello", "ada"));
    flip(sig);
    verify(&r, in((char[PATH_MAX]){0}, "hello"));
    REFUSED(&r, "plugin.sig");
}

Test(signing, mistakes_on_the_command_line_are_usage_errors)
{
    result r;
    PLUGBAY(&r, "sign", h.plugins);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "sign needs --key"), "%s", r.err);
    PLUGBAY(&r, "sign", h.plugins, "--key", "k", "--trusted-keys", trusted);
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--trusted-keys only goes with verify"), "%s", r.err);
    PLUGBAY(&r, "keygen");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "keygen needs --out"), "%s", r.err);
    PLUGBAY(&r, "verify", h.plugins, "--key", "k");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--key only goes with sign, pack, index build, index revoke and publish (a secret key) "
                            "and host add (a public key)"), "%s", r.err);
}

/* ---- packages: plugbay pack, and plugbay verify FILE ----------------------------------- */

/* unpacked_nothing asserts that $TMPDIR, where verify unpacks a package, holds nothing after it. */
static void unpacked_nothing(void)
{
    DIR *d = opendir(getenv("TMPDIR"));
    cr_assert_not_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        cr_assert(strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0, "verify left %s behind", e->d_name);
    closedir(d);
}

/* pack_ok runs plugbay pack dir to DIR/name with key KEYS/signer (NULL: none) twice and checks its line
 * (nfiles files, the file's sha256) and that it is the same both times; returns the package's path. */
static char *pack_ok(const char *dir, const char *name, const char *signer, int nfiles)
{
    static char pkg[PATH_MAX];
    char key[PATH_MAX], line[2 * PATH_MAX + 200], sum[80], first[sizeof line];
    result r;
    snprintf(key, sizeof key, "%s/%s", keys, signer ? signer : "");
    in(pkg, name);
    for (int i = 0; i < 2; i++) {
        if (signer)
            PLUGBAY(&r, "pack", dir, "--key", key, "-o", pkg);
        else
            PLUGBAY(&r, "pack", dir, "-o", pkg);
        cr_assert_eq(r.status, 0, "pack: %s", r.err);
        if (i == 0)
            snprintf(first, sizeof first, "%s", r.out);
    }
    cr_assert_str_eq(r.out, first, "packed again: another sha256");
    run(&r, (const char *const[]){"/usr/bin/sha256sum", pkg, NULL});
    cr_assert_eq(sscanf(r.out, "%64s", sum), 1);
    snprintf(line, sizeof line, "%s: packed %d files from %s%s%s; sha256 %s\n", pkg, nfiles, dir,
             signer ? ", signed with key " : "", signer ? ada_id : "", sum);
    cr_assert_str_eq(first, line);
    return pkg;
}

Test(signing, a_package_signed_by_pack_verifies_and_the_folder_is_left_alone)
{
    char dir[PATH_MAX], sig[PATH_MAX + 16];
    result r;
    run(&r, (const char *const[]){"/bin/cp", "-r", in(sig, "plugins/example/hello"), in(dir, "unsigned"), NULL});
    cr_assert_eq(r.status, 0, "cp: %s", r.err);
    const char *pkg = pack_ok(dir, "hello.bayplug", "ada", 3);
    snprintf(sig, sizeof sig, "%s/plugin.sig", dir);
    cr_assert_neq(access(sig, F_OK), 0, "pack wrote into the folder");
    verify(&r, pkg);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strncmp(r.out, pkg, strlen(pkg)) == 0 && strstr(r.out, ": OK, 2 files signed by trusted key ") &&
              strstr(r.out, ada_id) && strstr(r.out, "(ada)"), "%s", r.out);
    unpacked_nothing();
}

Test(signing, a_package_of_files_changed_after_signing_is_refused_naming_the_package)
{
    char path[PATH_MAX], quoted[PATH_MAX + 40];
    const char *dir = fresh("changed", "ada");
    snprintf(path, sizeof path, "%s/plugin.so", dir);
    flip(path);
    const char *pkg = pack_ok(dir, "changed.bayplug", NULL, 3);
    result r;
    verify(&r, pkg);
    snprintf(quoted, sizeof quoted, "plugbay: %s: changed since key %s signed it", pkg, ada_id);
    REFUSED(&r, quoted, "\"plugin.so\" altered");
    unpacked_nothing();
}

Test(signing, an_unsigned_package_is_refused)
{
    char src[PATH_MAX], dir[PATH_MAX], pkg[PATH_MAX], line[2 * PATH_MAX];
    result r;
    run(&r, (const char *const[]){"/bin/cp", "-r", in(src, "plugins/example/hello"), in(dir, "bare"), NULL});
    cr_assert_eq(r.status, 0, "cp: %s", r.err);
    PLUGBAY(&r, "pack", dir, "-o", in(pkg, "bare.bayplug"));
    cr_assert_eq(r.status, 0, "%s", r.err);
    verify(&r, pkg);
    snprintf(line, sizeof line, "plugbay: %s is not signed (it has no plugin.sig); ask its author for a signed package, "
             "or make one with `plugbay pack DIR --key FILE` (BAY_EPERM)\n", pkg);
    cr_assert_eq(r.status, 1);
    cr_assert_str_eq(r.err, line);
    unpacked_nothing();
}

Test(signing, a_damaged_package_is_refused)
{
    const char *pkg = pack_ok(fresh("damaged", "ada"), "damaged.bayplug", NULL, 3);
    result r;
    flip(pkg);
    verify(&r, pkg);
    cr_assert_eq(r.status, 1, "%s", r.out);
    cr_assert(strstr(r.err, pkg) && strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "one line: %s", r.err);
    unpacked_nothing();
}

Test(signing, pack_refuses_a_folder_holding_a_link)
{
    char link[PATH_MAX], pkg[PATH_MAX];
    const char *dir = fresh("linked", "ada");
    snprintf(link, sizeof link, "%s/passwd", dir);
    cr_assert_eq(symlink("/etc/passwd", link), 0);
    result r;
    PLUGBAY(&r, "pack", dir, "-o", in(pkg, "linked.bayplug"));
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "\"passwd\" is a symbolic link; a package holds only files and folders") &&
              strstr(r.err, "(BAY_EINVAL)"), "%s", r.err);
    cr_assert_neq(access(pkg, F_OK), 0);
}

/* A signed folder is an ordinary plugin folder to the broker: plugin.sig does not disturb it. */
Test(signing, a_signed_plugin_loads_and_answers)
{
    char dir[PATH_MAX], key[PATH_MAX], out[64];
    bay_error e;
    result r;
    snprintf(dir, sizeof dir, "%s/example/hello", h.plugins);
    snprintf(key, sizeof key, "%s/ada", keys);
    PLUGBAY(&r, "sign", dir, "--key", key);
    cr_assert_eq(r.status, 0, "%s", r.err);
    h_start(&h, NULL);
    bay_conn *c = h_connect(&h, "signing");
    cr_assert(h_wait_state(c, "example/hello", "loaded", H_WAIT_MS));
    cr_assert_eq(h_call_str(c, "greet", "signed", 5000, out, sizeof out, &e), 0, "%s", e.message);
    cr_assert_str_eq(out, "Hello, signed!");
    bay_close(c);
}

/* ---- the broker's policy ---------------------------------------------------- */

/* sign_installed signs DIR/plugins/id with KEYS/signer. */
static void sign_installed(const char *id, const char *signer)
{
    char dir[PATH_MAX], key[PATH_MAX];
    result r;
    snprintf(dir, sizeof dir, "%s/%s", h.plugins, id);
    snprintf(key, sizeof key, "%s/%s", keys, signer);
    PLUGBAY(&r, "sign", dir, "--key", key);
    cr_assert_eq(r.status, 0, "%s", r.err);
}

/* start_with starts the broker under policy and waits until id is in state. */
static bay_conn *start_with(const char *policy, const char *id, const char *state)
{
    h_start(&h, (const char *const[]){"--signature-policy", policy, "--trusted-keys", trusted, NULL});
    bay_conn *c = h_connect(&h, "signing");
    cr_assert(h_wait_state(c, id, state, H_WAIT_MS), "%s did not become %s", id, state);
    return c;
}

/* reason_of returns (in buf) why the broker says plugin id is in its state. */
static const char *reason_of(bay_conn *c, const char *id, char *buf, size_t len)
{
    char state[64];
    h_plugin_state(c, id, state, sizeof state, buf, len);
    return buf;
}

static void greet_answers(bay_conn *c)
{
    char out[64];
    bay_error e;
    cr_assert_eq(h_call_str(c, "greet", "signed", 5000, out, sizeof out, &e), 0, "%s", e.message);
    cr_assert_str_eq(out, "Hello, signed!");
}

Test(signing, require_signed_refuses_an_unsigned_plugin_and_loads_the_signed_one)
{
    char why[512];
    bay_error e;
    sign_installed("example/hello", "ada");
    bay_conn *c = start_with("require-signed", "example/audit", "failed");
    cr_assert(h_wait_state(c, "example/hello", "loaded", H_WAIT_MS));
    cr_assert(strstr(reason_of(c, "example/audit", why, sizeof why), "example/audit is not signed"), "%s", why);
    greet_answers(c);
    cr_assert_eq(h_command(c, "load", "example/audit", &e), BAY_EPERM, "%s", e.message);
    cr_assert(strstr(e.message, "require-signed") && strstr(e.message, "not signed"), "%s", e.message);
    greet_answers(c);
    bay_close(c);
}

Test(signing, require_signed_refuses_a_plugin_altered_after_signing_until_it_is_signed_again)
{
    char why[512], so[PATH_MAX];
    bay_error e;
    sign_installed("example/hello", "ada");
    sign_installed("example/audit", "ada");
    snprintf(so, sizeof so, "%s/example/audit/plugin.so", h.plugins);
    flip(so);
    bay_conn *c = start_with("require-signed", "example/audit", "failed");
    cr_assert(strstr(reason_of(c, "example/audit", why, sizeof why), "\"plugin.so\" altered"), "%s", why);
    cr_assert(h_wait_state(c, "example/hello", "loaded", H_WAIT_MS));
    greet_answers(c);
    sign_installed("example/audit", "ada");
    cr_assert_eq(h_command(c, "load", "example/audit", &e), 0, "%s", e.message);
    cr_assert(h_wait_state(c, "example/audit", "loaded", H_WAIT_MS));
    bay_close(c);
}

Test(signing, require_signed_refuses_a_key_it_does_not_trust_at_install)
{
    char mallory_id[17], why[512];
    result r;
    keygen("mallory", mallory_id);
    sign_installed("example/hello", "ada");
    sign_installed("example/audit", "mallory");
    bay_conn *c = start_with("require-signed", "example/audit", "failed");
    cr_assert(strstr(reason_of(c, "example/audit", why, sizeof why), mallory_id), "%s", why);
    PLUGBAY(&r, "--broker", h.url, "uninstall", "example/audit");
    cr_assert_eq(r.status, 0, "%s", r.err);
    PLUGBAY(&r, "--broker", h.url, "install", "example/audit", "--grant-all");
    cr_assert_eq(r.status, 1, "%s", r.out);
    cr_assert(strstr(r.err, mallory_id) && strstr(r.err, "not among the trusted keys") && strstr(r.err, "BAY_EPERM"),
              "%s", r.err);
    greet_answers(c);
    bay_close(c);
}

Test(signing, warn_loads_an_unsigned_plugin_and_logs_why)
{
    bay_conn *c = start_with("warn", "example/hello", "loaded");
    greet_answers(c);
    cr_assert(h_wait_log(&h, "is not signed") && h_log_contains(&h, "used anyway"), "log: %s", h.log);
    bay_close(c);
}
