/* tests/unit/test_signature.c — plugin folder signatures (broker/signature.c): keys, format, tampering, trust. */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <plugbay/error.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "signature.h"

static char tmp[32];          /* the test's folder */
static char plugin[64];       /* TMP/plugin: a small plugin folder */
static char key[64];          /* TMP/key and TMP/key.pub, made by setup */
static char trusted[64];      /* TMP/trusted, holding a copy of key.pub */
static char key_id[BAY_KEY_ID_SIZE];
static bay_error err;

/* at writes TMP/rel to buf and returns buf. */
static const char *at(char *buf, const char *rel)
{
    snprintf(buf, PATH_MAX, "%s/%s", tmp, rel);
    return buf;
}

static void put(const char *rel, const char *text)
{
    char path[PATH_MAX];
    int fd = open(at(path, rel), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text), "cannot write %s", path);
    close(fd);
}

/* take reads TMP/rel into a new string. */
static char *take(const char *rel)
{
    char path[PATH_MAX];
    FILE *f = fopen(at(path, rel), "r");
    cr_assert_not_null(f, "%s", path);
    char *text = calloc(1, 1 << 20);
    fread(text, 1, (1 << 20) - 1, f);
    fclose(f);
    return text;
}

static void folder(const char *rel)
{
    char path[PATH_MAX];
    cr_assert_eq(mkdir(at(path, rel), 0700), 0, "%s", path);
}

static void setup(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/bay-sig-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    snprintf(plugin, sizeof plugin, "%s/plugin", tmp);
    snprintf(key, sizeof key, "%s/key", tmp);
    snprintf(trusted, sizeof trusted, "%s/trusted", tmp);
    folder("plugin");
    folder("plugin/lib");
    folder("trusted");
    put("plugin/plugin.json", "{\"name\": \"t\", \"version\": \"1.0.0\", \"language\": \"lua\", "
                              "\"entry\": \"main.lua\", \"provides\": []}\n");
    put("plugin/main.lua", "return {}\n");
    put("plugin/lib/util.lua", "return 42\n");
    cr_assert_eq(bay__key_generate(key, "Ada Lovelace <ada@example.org>", key_id, &err), 0, "%s", err.message);
    char *pub = take("key.pub");
    put("trusted/ada.pub", pub);
    free(pub);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void teardown(void) { nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

TestSuite(signature, .init = setup, .fini = teardown);

static void sign(void)
{
    bay__sig_info info;
    cr_assert_eq(bay__signature_sign(plugin, key, &info, &err), 0, "%s", err.message);
    cr_assert_str_eq(info.key_id, key_id);
    cr_assert_eq(info.nfiles, 3);
}

/* refused asserts that verifying the plugin fails with code and a message holding each of the NULL-terminated words. */
static void refused(const char *trusted_dir, int code, const char *const *words)
{
    bay__sig_info info;
    int rc = bay__signature_verify(plugin, trusted_dir, &info, &err);
    cr_assert_eq(rc, code, "got %s: %s", bay_errname(rc), err.message);
    cr_assert_null(strchr(err.message, '\n'), "one line: %s", err.message);
    for (size_t i = 0; words[i]; i++)
        cr_assert(strstr(err.message, words[i]), "\"%s\" not in: %s", words[i], err.message);
}

#define REFUSED(code, ...) refused(trusted, code, (const char *const[]){__VA_ARGS__, NULL})

/* edit_sig replaces the first `from` in plugin.sig by `to`. */
static void edit_sig(const char *from, const char *to)
{
    char *text = take("plugin/plugin.sig"), *p = strstr(text, from);
    cr_assert_not_null(p, "%s not in plugin.sig", from);
    char *edited = calloc(1, strlen(text) + strlen(to) + 1);
    memcpy(edited, text, (size_t)(p - text));
    strcat(strcat(edited, to), p + strlen(from));
    put("plugin/plugin.sig", edited);
    free(text);
    free(edited);
}

/* ---- keys ------------------------------------------------------------------ */

Test(signature, keygen_writes_a_private_secret_key_and_a_public_key_line)
{
    struct stat st;
    char path[PATH_MAX];
    cr_assert_eq(stat(key, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(stat(at(path, "key.pub"), &st), 0);
    cr_assert_eq(st.st_mode & 0022, 0, "only its owner may change the public key (mode %o)", st.st_mode);
    char *pub = take("key.pub"), b64[64];
    cr_assert_eq(sscanf(pub, "plugbay-ed25519 %63s Ada Lovelace <ada@example.org>\n", b64), 1, "%s", pub);
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], h[crypto_generichash_BYTES];
    size_t n;
    cr_assert_eq(sodium_base642bin(pk, sizeof pk, b64, strlen(b64), NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
    cr_assert_eq(n, sizeof pk);
    crypto_generichash(h, sizeof h, pk, sizeof pk, NULL, 0);
    char want[BAY_KEY_ID_SIZE];
    sodium_bin2hex(want, sizeof want, h, 8);
    cr_assert_str_eq(key_id, want, "the key id is the first 16 hex digits of BLAKE2b-256(public key)");
    free(pub);
}

Test(signature, keygen_leaves_existing_files_alone)
{
    char id[BAY_KEY_ID_SIZE], *before = take("key");
    cr_assert_eq(bay__key_generate(key, NULL, id, &err), BAY_EEXIST);
    cr_assert(strstr(err.message, key) && strstr(err.message, "exists"), "%s", err.message);
    char *after = take("key");
    cr_assert_str_eq(before, after);
    free(before);
    free(after);
}

Test(signature, keygen_refuses_a_comment_that_would_break_the_line)
{
    char id[BAY_KEY_ID_SIZE], path[PATH_MAX];
    cr_assert_eq(bay__key_generate(at(path, "k2"), "two\nlines", id, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "comment"), "%s", err.message);
    cr_assert_neq(access(path, F_OK), 0, "no key is left behind");
}

Test(signature, a_secret_key_others_can_read_is_refused)
{
    bay__sig_info info;
    chmod(key, 0644);
    cr_assert_eq(bay__signature_sign(plugin, key, &info, &err), BAY_EPERM);
    cr_assert(strstr(err.message, "chmod 600") && strstr(err.message, key), "%s", err.message);
}

Test(signature, a_public_key_is_no_signing_key)
{
    bay__sig_info info;
    char path[PATH_MAX];
    cr_assert_eq(bay__signature_sign(plugin, at(path, "key.pub"), &info, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "is a public key") && strstr(err.message, "without .pub"), "%s", err.message);
}

Test(signature, a_damaged_secret_key_is_refused)
{
    bay__sig_info info;
    char *text = take("key");
    size_t at_pk = strlen("plugbay-ed25519-secret ") + 60; /* base64 digit 60 encodes byte 45, in the public half */
    text[at_pk] = text[at_pk] == 'A' ? 'B' : 'A';
    put("key", text);
    free(text);
    chmod(key, 0600);
    cr_assert_eq(bay__signature_sign(plugin, key, &info, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "damaged"), "%s", err.message);
    put("key", "hello\n");
    cr_assert_eq(bay__signature_sign(plugin, key, &info, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "not a plugbay secret key"), "%s", err.message);
}

/* ---- signing and the signed format ----------------------------------------------------- */

Test(signature, a_signed_folder_verifies_and_names_its_signer)
{
    sign();
    bay__sig_info info;
    cr_assert_eq(bay__signature_verify(plugin, trusted, &info, &err), 0, "%s", err.message);
    cr_assert_str_eq(info.key_id, key_id);
    cr_assert_str_eq(info.signer, "Ada Lovelace <ada@example.org>");
    cr_assert_eq(info.nfiles, 3);
    cr_assert_eq(bay__signature_verify(plugin, NULL, &info, &err), 0, "%s", err.message);
    cr_assert_str_eq(info.signer, "", "without trusted keys nobody is named");
}

/* The signature covers exactly the text docs/signing.md describes, rebuilt here from the files. */
Test(signature, the_signature_covers_the_documented_text)
{
    sign();
    json_t *sig = json_load_file(at((char[PATH_MAX]){0}, "plugin/plugin.sig"), 0, NULL);
    cr_assert_not_null(sig);
    cr_assert_eq(json_integer_value(json_object_get(sig, "format")), 1);
    const char *files[] = {"lib/util.lua", "main.lua", "plugin.json"}; /* byte order */
    char text[4096];
    size_t n = (size_t)snprintf(text, sizeof text, "plugbay-signature 1\nkey %s\n", key_id);
    for (size_t i = 0; i < 3; i++) {
        char rel[PATH_MAX], *content = take((snprintf(rel, sizeof rel, "plugin/%s", files[i]), rel));
        unsigned char h[crypto_hash_sha256_BYTES];
        char hex[2 * sizeof h + 1];
        crypto_hash_sha256(h, (const unsigned char *)content, strlen(content));
        sodium_bin2hex(hex, sizeof hex, h, sizeof h);
        cr_assert_str_eq(json_string_value(json_object_get(json_object_get(sig, "files"), files[i])), hex);
        n += (size_t)snprintf(text + n, sizeof text - n, "%s  %s\n", hex, files[i]);
        free(content);
    }
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], s[crypto_sign_BYTES];
    const char *pk64 = json_string_value(json_object_get(sig, "public_key"));
    const char *s64 = json_string_value(json_object_get(sig, "signature"));
    int variant = sodium_base64_VARIANT_ORIGINAL;
    cr_assert_eq(sodium_base642bin(pk, sizeof pk, pk64, strlen(pk64), NULL, NULL, NULL, variant), 0);
    cr_assert_eq(sodium_base642bin(s, sizeof s, s64, strlen(s64), NULL, NULL, NULL, variant), 0);
    cr_assert_eq(crypto_sign_verify_detached(s, (const unsigned char *)text, n, pk), 0, "signed text:\n%s", text);
    json_decref(sig);
}

Test(signature, signing_again_replaces_the_signature_and_ignores_a_stale_temporary_file)
{
    sign();
    put("plugin/plugin.sig.tmp", "left by an interrupted sign");
    put("plugin/main.lua", "return {version = 2}\n");
    sign();
    cr_assert_neq(access(at((char[PATH_MAX]){0}, "plugin/plugin.sig.tmp"), F_OK), 0);
    bay__sig_info info;
    cr_assert_eq(bay__signature_verify(plugin, trusted, &info, &err), 0, "%s", err.message);
}

Test(signature, only_plugin_folders_are_signed)
{
    bay__sig_info info;
    char path[PATH_MAX];
    cr_assert_eq(bay__signature_sign(at(path, "plugin/lib"), key, &info, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "no plugin.json"), "%s", err.message);
    cr_assert_eq(bay__signature_sign(at(path, "nowhere"), key, &info, &err), BAY_EIO);
    cr_assert(strstr(err.message, "nowhere") && strstr(err.message, "No such file"), "%s", err.message);
}

Test(signature, links_and_special_files_cannot_be_signed)
{
    bay__sig_info info;
    char path[PATH_MAX];
    cr_assert_eq(symlink("/etc/passwd", at(path, "plugin/lib/passwd")), 0);
    cr_assert_eq(bay__signature_sign(plugin, key, &info, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "\"lib/passwd\" is a symbolic link"), "%s", err.message);
    unlink(path);
    cr_assert_eq(mkfifo(at(path, "plugin/pipe"), 0600), 0);
    cr_assert_eq(bay__signature_sign(plugin, key, &info, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "\"pipe\" is neither a file nor a folder"), "%s", err.message);
}

Test(signature, names_that_would_break_the_signed_lines_are_refused)
{
    bay__sig_info info;
    put("plugin/two\nlines", "x");
    cr_assert_eq(bay__signature_sign(plugin, key, &info, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "\"two?lines\"") && strstr(err.message, "rename it"), "%s", err.message);
    cr_assert_null(strchr(err.message, '\n'));
}

Test(signature, utf8_names_and_a_nested_plugin_sig_are_signed)
{
    folder("plugin/données");
    put("plugin/données/plugin.sig", "only the top plugin.sig is left out\n");
    bay__sig_info info;
    cr_assert_eq(bay__signature_sign(plugin, key, &info, &err), 0, "%s", err.message);
    cr_assert_eq(info.nfiles, 4);
    put("plugin/données/plugin.sig", "changed\n");
    REFUSED(BAY_EPERM, "\"données/plugin.sig\" altered");
}

Test(signature, folders_nested_too_deep_are_refused)
{
    char rel[PATH_MAX] = "plugin";
    for (int i = 0; i < 33; i++) {
        strcat(rel, "/d");
        folder(rel);
    }
    bay__sig_info info;
    cr_assert_eq(bay__signature_sign(plugin, key, &info, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "more than 32 folders deep"), "%s", err.message);
}

/* ---- tampering ------------------------------------------------------------ */

Test(signature, an_unsigned_folder_is_refused)
{
    REFUSED(BAY_EPERM, plugin, "is not signed", "plugbay sign");
}

Test(signature, a_changed_byte_is_named)
{
    sign();
    put("plugin/lib/util.lua", "return 43\n");
    REFUSED(BAY_EPERM, plugin, key_id, "\"lib/util.lua\" altered");
}

Test(signature, added_and_removed_files_are_named_together)
{
    sign();
    put("plugin/lib/evil.lua", "os.execute('sh')\n");
    char path[PATH_MAX];
    unlink(at(path, "plugin/main.lua"));
    REFUSED(BAY_EPERM, "\"lib/evil.lua\" added, \"main.lua\" removed");
}

Test(signature, many_changes_are_counted_when_they_do_not_fit)
{
    sign();
    for (int i = 0; i < 40; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "plugin/lib/added-file-with-a-long-name-%02d.lua", i);
        put(rel, "x");
    }
    REFUSED(BAY_EPERM, "added-file-with-a-long-name-00.lua\" added", "more (get a fresh copy");
}

Test(signature, a_link_added_after_signing_is_refused)
{
    sign();
    char path[PATH_MAX];
    cr_assert_eq(symlink("/etc/shadow", at(path, "plugin/shadow")), 0);
    REFUSED(BAY_EPERM, "\"shadow\" is a symbolic link");
}

Test(signature, a_key_outside_the_trusted_folder_is_named)
{
    sign();
    char path[PATH_MAX];
    unlink(at(path, "trusted/ada.pub"));
    REFUSED(BAY_EPERM, plugin, key_id, "not among the trusted keys", trusted);
}

Test(signature, a_file_list_edited_to_hide_a_change_breaks_the_signature)
{
    sign();
    json_t *sig = json_load_file(at((char[PATH_MAX]){0}, "plugin/plugin.sig"), 0, NULL);
    char old[80];
    snprintf(old, sizeof old, "%s", json_string_value(json_object_get(json_object_get(sig, "files"), "main.lua")));
    json_decref(sig);
    put("plugin/main.lua", "return 'evil'\n");
    unsigned char h[crypto_hash_sha256_BYTES];
    char hex[2 * sizeof h + 1];
    crypto_hash_sha256(h, (const unsigned char *)"return 'evil'\n", 14);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    edit_sig(old, hex);
    REFUSED(BAY_EPERM, "signature does not match", "plugin.sig was altered");
}

Test(signature, a_public_key_swapped_under_the_key_id_is_refused)
{
    sign();
    char id[BAY_KEY_ID_SIZE], path[PATH_MAX];
    cr_assert_eq(bay__key_generate(at(path, "other"), NULL, id, &err), 0, "%s", err.message);
    char *pub = take("other.pub"), b64[64];
    sscanf(pub, "plugbay-ed25519 %63s", b64);
    json_t *sig = json_load_file(at(path, "plugin/plugin.sig"), 0, NULL);
    edit_sig(json_string_value(json_object_get(sig, "public_key")), b64);
    REFUSED(BAY_EPERM, "is not the id of its public_key");
    json_decref(sig);
    free(pub);
}

/* Each malformed plugin.sig is refused with the field it gets wrong. */
Test(signature, malformed_signature_files_name_the_field)
{
    static const struct {
        const char *from, *to, *says;
    } cases[] = {
        {"\"format\": 1", "\"format\": 2", "format 2 is not one this plugbay reads"},
        {"\"format\": 1", "\"format\": \"1\"", "field \"format\""},
        {"\"format\": 1", "\"format\": 1, \"comment\": 1", "field \"comment\" is not part of format 1"},
        {"\"key_id\": \"", "\"key_id\": \"x", "field \"key_id\""},
        {"\"public_key\": \"", "\"public_key\": \"!", "field \"public_key\""},
        {"\"signature\": \"", "\"signature\": \"AAAA", "field \"signature\""},
        {"\"main.lua\"", "\"../main.lua\"", "field \"files.../main.lua\""},
        {"\"files\": {", "\"files\": {\"x\": \"abc\",", "field \"files.x\": expected a SHA-256"},
        {"\"files\": {", "\"files\": [", "line"},
        {"{", "[", "line"},
    };
    sign();
    char *good = take("plugin/plugin.sig");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        put("plugin/plugin.sig", good);
        edit_sig(cases[i].from, cases[i].to);
        REFUSED(BAY_EPERM, "plugin.sig", cases[i].says);
    }
    put("plugin/plugin.sig", "[1]");
    REFUSED(BAY_EPERM, "expected a JSON object");
    free(good);
}

/* ---- trusted keys ----------------------------------------------------------- */

Test(signature, a_malformed_trusted_key_is_named_whatever_the_order)
{
    sign();
    put("trusted/zz-broken.pub", "ssh-ed25519 AAAA me@host\n");
    REFUSED(BAY_EIO, "zz-broken.pub", "not a plugbay public key");
    put("trusted/zz-broken.pub", "plugbay-ed25519 AAAA\n");
    REFUSED(BAY_EIO, "zz-broken.pub");
}

Test(signature, other_files_in_the_trusted_folder_are_passed_over)
{
    sign();
    put("trusted/README", "not a key");
    folder("trusted/old.pub");
    bay__sig_info info;
    cr_assert_eq(bay__signature_verify(plugin, trusted, &info, &err), 0, "%s", err.message);
}

Test(signature, a_trusted_key_may_be_a_link)
{
    sign();
    char path[PATH_MAX], link[PATH_MAX];
    cr_assert_eq(rename(at(path, "trusted/ada.pub"), at(link, "ada.pub")), 0);
    cr_assert_eq(symlink(link, path), 0);
    bay__sig_info info;
    cr_assert_eq(bay__signature_verify(plugin, trusted, &info, &err), 0, "%s", err.message);
    cr_assert_str_eq(info.signer, "Ada Lovelace <ada@example.org>");
}

Test(signature, a_missing_trusted_folder_is_named)
{
    sign();
    char path[PATH_MAX];
    refused(at(path, "no-such-keys"), BAY_EIO, (const char *const[]){"no-such-keys", "trusted-keys folder", NULL});
}

/* ---- policy ----------------------------------------------------------------- */

Test(signature, policies_read_and_print_the_same)
{
    bay__sig_policy p;
    const char *names[] = {"off", "warn", "require-signed"};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(bay__signature_policy_parse(names[i], &p), 0);
        cr_assert_str_eq(bay__signature_policy_name(p), names[i]);
    }
    cr_assert_eq(bay__signature_policy_parse("require", &p), BAY_EINVAL);
    cr_assert_eq(bay__signature_policy_parse(NULL, &p), BAY_EINVAL);
}
