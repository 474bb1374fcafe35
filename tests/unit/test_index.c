/* tests/unit/test_index.c — plugin indexes (broker/index.c, broker/index_build.c): build, publish, revoke, signature, parsing and resolving ID[@RANGE]. */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <limits.h>
#include <plugbay/error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "index.h"
#include "index_build.h"
#include "key.h"
#include "package.h"

static char tmp[32];            /* the test's folder */
static char idx_dir[64];        /* TMP/index: the index folder */
static char owner[64];          /* TMP/keys/owner: the index's key (TMP/trusted holds its .pub) */
static char trusted[64];        /* TMP/trusted */
static char verified[64];       /* TMP/verified: ada.pub, the publisher the owner vouches for */
static char ada_id[BAY_KEY_ID_SIZE], eve_id[BAY_KEY_ID_SIZE];
static int nsrc;                /* plugin folders made so far */
static bay_error err;

static char *at(char *buf, const char *rel)
{
    snprintf(buf, PATH_MAX, "%s/%s", tmp, rel);
    return buf;
}

static void put(const char *path, const char *text, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert(fd >= 0 && write(fd, text, len) == (ssize_t)len, "cannot write %s", path);
    close(fd);
}

/* slurp reads the file name of the folder dir (NULL: name is a path) into a new buffer of *len bytes. */
static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[PATH_MAX + 64], *text = NULL;
    struct stat st;
    snprintf(path, sizeof path, "%s%s%s", dir ? dir : "", dir ? "/" : "", name);
    int e = bay__file_read_small(AT_FDCWD, path, 0, 1 << 24, &text, len, &st);
    cr_assert_eq(e, 0, "cannot read %s", path);
    return text;
}

/* keygen makes TMP/keys/name and copies its .pub into folder (NULL: nowhere). */
static void keygen(const char *name, const char *folder, char id[BAY_KEY_ID_SIZE])
{
    char path[PATH_MAX], pub[PATH_MAX + 8], copy[PATH_MAX + 8];
    size_t len;
    cr_assert_eq(bay__key_generate(at(path, name), name, id, &err), 0, "%s", err.message);
    if (folder == NULL)
        return;
    snprintf(pub, sizeof pub, "%s.pub", path);
    snprintf(copy, sizeof copy, "%s/%s.pub", folder, strrchr(name, '/') + 1);
    char *text = slurp(NULL, pub, &len);
    put(copy, text, len);
    free(text);
}

static void setup(void)
{
    char path[PATH_MAX], id[BAY_KEY_ID_SIZE];
    snprintf(tmp, sizeof tmp, "/tmp/bay-index-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    at(idx_dir, "index");
    at(trusted, "trusted");
    at(verified, "verified");
    at(owner, "keys/owner");
    cr_assert_eq(mkdir(idx_dir, 0700) | mkdir(trusted, 0700) | mkdir(verified, 0700) | mkdir(at(path, "keys"), 0700),
                 0);
    keygen("keys/owner", trusted, id);
    keygen("keys/ada", verified, ada_id);
    keygen("keys/eve", NULL, eve_id);
    nsrc = 0;
}

static void teardown(void)
{
    bay__file_remove_tree(AT_FDCWD, tmp);
}

TestSuite(index, .init = setup, .fini = teardown);

/* package makes a plugin folder of id at version (extra: more manifest
 * fields, starting with a comma; code: its plugin.so) and packs it into
 * TMP/pkg-N.bayplug, signed by TMP/keys/signer (NULL: unsigned). Returns the package's path. */
static char *package(const char *id, const char *version, const char *extra, const char *code, const char *signer,
                     bay__pkg_packed *res)
{
    static char pkg[PATH_MAX];
    char dir[PATH_MAX], file[PATH_MAX + 16], key[PATH_MAX], manifest[1024], rel[32];
    snprintf(rel, sizeof rel, "src-%d", nsrc);
    cr_assert_eq(mkdir(at(dir, rel), 0700), 0);
    snprintf(rel, sizeof rel, "pkg-%d.bayplug", nsrc++);
    int n = snprintf(manifest, sizeof manifest, "{\"id\": \"%s\", \"name\": \"N %s\", \"brief\": \"does %s\", "
                     "\"version\": \"%s\", \"language\": \"c\", \"entry\": \"plugin.so\", \"provides\": []%s}\n",
                     id, id, id, version, extra ? extra : "");
    snprintf(file, sizeof file, "%s/plugin.json", dir);
    put(file, manifest, (size_t)n);
    snprintf(file, sizeof file, "%s/plugin.so", dir);
    put(file, code ? code : "\177ELF", strlen(code ? code : "\177ELF"));
    cr_assert_eq(bay__pkg_pack(dir, signer ? at(key, signer) : NULL, at(pkg, rel), res, &err), 0, "%s", err.message);
    return pkg;
}

/* publish packs id at version (as package does) and publishes it into the index folder. */
static void publish(const char *id, const char *version, const char *extra, const char *signer)
{
    bay__pkg_packed packed;
    bay__index_built built;
    char *pkg = package(id, version, extra, NULL, signer, &packed);
    cr_assert_eq(bay__index_publish(pkg, idx_dir, owner, verified, &built, &err), 0, "%s", err.message);
}

/* read_index reads the index folder's index.json and index.json.sig. */
static void read_index(char **text, size_t *len, char **sig)
{
    size_t slen;
    *text = slurp(idx_dir, BAY_INDEX_FILE, len);
    *sig = slurp(idx_dir, BAY_INDEX_SIG_FILE, &slen);
}

/* load reads the index folder's index.json, verifies it against TMP/trusted and parses it. */
static bay__index *load(void)
{
    char key_id[BAY_KEY_ID_SIZE];
    size_t len;
    bay__index *idx = NULL;
    char *text, *sig;
    read_index(&text, &len, &sig);
    cr_assert_eq(bay__index_verify(text, len, sig, trusted, "index.json", key_id, &err), 0, "%s", err.message);
    cr_assert_eq(bay__index_parse(text, len, "index.json", &idx, &err), 0, "%s", err.message);
    cr_assert_str_eq(idx->key_id, key_id);
    free(text);
    free(sig);
    return idx;
}

/* resolves asserts that spec resolves to version under host (NULL: any). */
static void resolves(const bay__index *idx, const char *spec, const char *host, const char *version)
{
    const bay__index_entry *e;
    cr_assert_eq(bay__index_resolve(idx, spec, host, &e, &err), 0, "%s: %s", spec, err.message);
    cr_assert_str_eq(e->version, version, "%s gave %s", spec, e->version);
}

/* refused asserts that spec does not resolve, with code and a message holding words. */
static void refused(const bay__index *idx, const char *spec, const char *host, int code, const char *words)
{
    const bay__index_entry *e;
    cr_assert_eq(bay__index_resolve(idx, spec, host, &e, &err), code, "%s: %s", spec, err.message);
    cr_assert_null(e);
    cr_assert(strstr(err.message, words), "\"%s\" not in: %s", words, err.message);
}

static void four_versions(void)
{
    publish("example/hello", "1.0.0", NULL, "keys/ada");
    publish("example/hello", "2.0.0", NULL, "keys/eve");
    publish("example/hello", "1.2.0", ", \"dependencies\": {\"example/base\": \"^1\"}, \"permissions\": "
            "[\"provide:x\"]", "keys/ada");
    publish("example/base", "1.0.0", NULL, NULL);
}

/* ---- building ------------------------------------------------------------------ */

Test(index, lists_every_version_with_its_manifest_signer_and_digest)
{
    bay__pkg_packed packed;
    bay__index_built built;
    char *pkg = package("example/hello", "1.0.0", NULL, NULL, "keys/ada", &packed);
    cr_assert_eq(bay__index_publish(pkg, idx_dir, owner, verified, &built, &err), 0, "%s", err.message);
    cr_assert_eq(built.npackages, 1);
    cr_assert(strstr(built.published, "/index/example-hello-1.0.0.bayplug"), "%s", built.published);
    publish("example/hello", "2.0.0", NULL, "keys/eve");
    publish("example/hello", "1.2.0", ", \"dependencies\": {\"example/base\": \"^1\"}, \"permissions\": "
            "[\"provide:x\"], \"host\": \">=0.1.0\"", "keys/ada");
    publish("example/base", "1.0.0", NULL, NULL);
    bay__index *idx = load();
    cr_assert_eq(idx->nentries, 4);
    const bay__index_entry *e = idx->entries;
    cr_assert_str_eq(e[0].id, "example/base");
    cr_assert_null(e[0].key_id, "an unsigned package has no signing key");
    cr_assert_str_eq(e[1].version, "1.0.0");
    cr_assert_str_eq(e[2].version, "1.2.0");
    cr_assert_str_eq(e[3].version, "2.0.0", "versions oldest first");
    cr_assert_str_eq(e[1].sha256, packed.sha256);
    struct stat st;
    cr_assert_eq(stat(built.published, &st), 0);
    cr_assert_eq(e[1].size, (uint64_t)st.st_size);
    cr_assert_str_eq(e[1].path, "example-hello-1.0.0.bayplug");
    cr_assert_str_eq(e[1].key_id, ada_id);
    cr_assert_str_eq(e[3].key_id, eve_id);
    cr_assert_str_eq(e[1].brief, "does example/hello");
    cr_assert_str_eq(e[1].language, "c");
    cr_assert_str_eq(e[2].host, ">=0.1.0");
    cr_assert_str_eq(json_string_value(json_object_get(e[2].dependencies, "example/base")), "^1");
    cr_assert_str_eq(json_string_value(json_array_get(e[2].permissions, 0)), "provide:x");
    cr_assert_eq(idx->npublishers, 2);
    for (size_t i = 0; i < 2; i++) {
        bool ada = strcmp(idx->publishers[i].key_id, ada_id) == 0;
        cr_assert_eq(idx->publishers[i].verified, ada, "only ada's key is in the verified folder");
        cr_assert_str_eq(idx->publishers[i].comment, ada ? "keys/ada" : "");
    }
    bay__index_free(idx);
}

/* Built again without --verified-keys, publishers stay as verified as they were. */
Test(index, the_same_packages_give_the_same_bytes)
{
    bay__index_built built;
    size_t alen, blen;
    four_versions();
    char *a = slurp(idx_dir, BAY_INDEX_FILE, &alen);
    cr_assert_eq(bay__index_build(idx_dir, owner, NULL, &built, &err), 0, "%s", err.message);
    cr_assert_eq(built.npackages, 4);
    cr_assert_eq(built.nplugins, 2);
    char *b = slurp(idx_dir, BAY_INDEX_FILE, &blen);
    cr_assert(alen == blen && memcmp(a, b, alen) == 0);
    free(a);
    free(b);
}

Test(index, publish_refuses_other_bytes_for_a_published_version)
{
    bay__pkg_packed packed;
    bay__index_built built;
    publish("example/hello", "1.0.0", NULL, "keys/ada");
    char *pkg = package("example/hello", "1.0.0", NULL, "\177ELF changed", "keys/ada", &packed);
    cr_assert_eq(bay__index_publish(pkg, idx_dir, owner, verified, &built, &err), BAY_EEXIST);
    cr_assert(strstr(err.message, "never changes"), "%s", err.message);
    pkg = package("example/hello", "1.0.0", NULL, NULL, "keys/ada", &packed);
    cr_assert_eq(bay__index_publish(pkg, idx_dir, owner, verified, &built, &err), 0, "the same bytes again: %s",
                 err.message);
}

Test(index, build_refuses_a_package_that_does_not_unpack)
{
    char path[PATH_MAX + 16];
    bay__index_built built;
    publish("example/hello", "1.0.0", NULL, "keys/ada");
    snprintf(path, sizeof path, "%s/broken.bayplug", idx_dir);
    put(path, "not a package", 13);
    cr_assert_eq(bay__index_build(idx_dir, owner, verified, &built, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "broken.bayplug"), "%s", err.message);
}

/* ---- resolving ------------------------------------------------------------------ */

Test(index, resolve_takes_the_newest_version_in_the_range)
{
    four_versions();
    bay__index *idx = load();
    resolves(idx, "example/hello", NULL, "2.0.0");
    resolves(idx, "example/hello@^1", NULL, "1.2.0");
    resolves(idx, "example/hello@~1.0", NULL, "1.0.0");
    resolves(idx, "example/hello@1.0.0 || 2.0.0", NULL, "2.0.0");
    refused(idx, "example/hello@>=3", NULL, BAY_ENOENT, "2.0.0 is outside \">=3\"");
    refused(idx, "example/nope", NULL, BAY_ENOENT, "the index has no plugin example/nope");
    refused(idx, "../x@1", NULL, BAY_EINVAL, "is not ID or ID@RANGE");
    refused(idx, "example/hello@>>1", NULL, BAY_EINVAL, "");
    bay__index_free(idx);
}

Test(index, resolve_passes_over_revoked_versions_and_revocations_last)
{
    bay__index_built built;
    four_versions();
    cr_assert_eq(bay__index_revoke(idx_dir, "example/hello@1.2.0", "leaks tokens", owner, verified, &built, &err), 0,
                 "%s", err.message);
    bay__index *idx = load();
    resolves(idx, "example/hello@^1", NULL, "1.0.0");
    cr_assert_str_eq(bay__index_find(idx, "example/hello", "1.2.0")->revoked, "leaks tokens");
    bay__index_free(idx);
    publish("example/other", "1.0.0", NULL, "keys/ada"); /* builds again: the revocation stays */
    cr_assert_eq(bay__index_build(idx_dir, owner, verified, &built, &err), 0, "%s", err.message);
    idx = load();
    refused(idx, "example/hello@~1.2", NULL, BAY_ENOENT, "1.2.0 is revoked (leaks tokens)");
    bay__index_free(idx);
    cr_assert_eq(bay__index_revoke(idx_dir, "example/hello@9.0.0", "x", owner, verified, &built, &err), BAY_ENOENT);
    cr_assert_eq(bay__index_revoke(idx_dir, "example/hello@1", "x", owner, verified, &built, &err), BAY_EINVAL);
    cr_assert_eq(bay__index_revoke(idx_dir, "example/hello@1.0.0", "two\nlines", owner, verified, &built, &err),
                 BAY_EINVAL);
}

Test(index, resolve_passes_over_versions_for_another_host)
{
    publish("example/hello", "1.0.0", ", \"host\": \"^0.1\"", "keys/ada");
    publish("example/hello", "1.1.0", ", \"host\": \">=2.0.0\"", "keys/ada");
    bay__index *idx = load();
    resolves(idx, "example/hello", "0.1.0", "1.0.0");
    resolves(idx, "example/hello", NULL, "1.1.0");
    resolves(idx, "example/hello", "3.0.0", "1.1.0");
    refused(idx, "example/hello", "1.0.0", BAY_ENOENT, "no version of example/hello in the index fits: 1.1.0 needs a "
            "plugbay in \">=2.0.0\" (this one is 1.0.0), 1.0.0 needs a plugbay in \"^0.1\"");
    refused(idx, "example/hello@1.1.0", "0.1.0", BAY_ENOENT, "1.1.0 needs a plugbay in \">=2.0.0\" (this one is 0.1.0)");
    bay__index_free(idx);
}

/* ---- verifying and parsing ------------------------------------------------------ */

Test(index, an_index_altered_or_signed_by_a_key_not_trusted_is_refused)
{
    char *text, *sig, key_id[BAY_KEY_ID_SIZE];
    size_t len;
    publish("example/hello", "1.0.0", NULL, "keys/ada");
    read_index(&text, &len, &sig);
    char *brief = strstr(text, "does example/hello");
    brief[0] = 'D';
    cr_assert_eq(bay__index_verify(text, len, sig, trusted, "I", key_id, &err), BAY_EPERM);
    cr_assert(strstr(err.message, "I: does not match its signature by key"), "%s", err.message);
    brief[0] = 'd';
    cr_assert_eq(bay__index_verify(text, len, sig, trusted, "I", key_id, &err), 0, "%s", err.message);
    sig[30] = sig[30] == 'A' ? 'B' : 'A';
    cr_assert_eq(bay__index_verify(text, len, sig, trusted, "I", key_id, &err), BAY_EPERM);
    cr_assert_eq(bay__index_verify(text, len, "plugbay-index-signature x y\n", trusted, "I", key_id, &err), BAY_EPERM);
    cr_assert(strstr(err.message, "I.sig: not an index signature"), "%s", err.message);
    sig[30] = sig[30] == 'A' ? 'B' : 'A';
    cr_assert_eq(bay__index_verify(text, len, sig, verified, "I", key_id, &err), BAY_EPERM, "ada's key only");
    cr_assert(strstr(err.message, "which is not among the trusted keys in"), "%s", err.message);
    free(text);
    free(sig);
}

/* parse_fails asserts that text, signed by the owner (so verified), does not parse, with code and words. */
static void parse_fails(const char *text, int code, const char *words)
{
    char *sig, key_id[BAY_KEY_ID_SIZE], path[PATH_MAX];
    bay__index *idx = NULL;
    cr_assert_eq(bay__index_sign(text, strlen(text), at(path, "keys/owner"), &sig, key_id, &err), 0, "%s",
                 err.message);
    cr_assert_eq(bay__index_verify(text, strlen(text), sig, trusted, "I", key_id, &err), 0, "%s", err.message);
    free(sig);
    cr_assert_eq(bay__index_parse(text, strlen(text), "I", &idx, &err), code, "%s", err.message);
    cr_assert_null(idx);
    cr_assert(strstr(err.message, words), "\"%s\" not in: %s", words, err.message);
}

#define ENTRY(path) \
    "{\"format\": 1, \"key_id\": \"0123456789abcdef\", \"publishers\": [], \"plugins\": {\"a/b\": [{\"version\": " \
    "\"1.0.0\", \"language\": \"c\", \"permissions\": [], \"dependencies\": {}, \"sha256\": \"" \
    "0000000000000000000000000000000000000000000000000000000000000000\", \"size\": 10, \"key_id\": null, " \
    "\"path\": \"" path "\"}]}}"

Test(index, parse_refuses_what_is_not_an_index_of_this_format)
{
    parse_fails("<html>hello</html>", BAY_EINVAL, "I: not JSON (line 1 column 1");
    parse_fails("{\"format\": 2}", BAY_EVERSION, "I: format 2 is not one this plugbay reads (only 1); upgrade plugbay");
    parse_fails("[1]", BAY_EINVAL, "not a plugbay index");
    parse_fails("{\"format\": 1, \"key_id\": \"0123456789abcdef\", \"publishers\": []}", BAY_EINVAL, "plugins");
    parse_fails(ENTRY("../x.bayplug"), BAY_EINVAL, "I: plugins[\"a/b\"][0]: path: expected the package's file name");
    bay__index *idx = NULL;
    cr_assert_eq(bay__index_parse(ENTRY("a-b-1.0.0.bayplug"), strlen(ENTRY("a-b-1.0.0.bayplug")), "I", &idx, &err),
                 0, "%s", err.message);
    cr_assert_eq(idx->nentries, 1);
    cr_assert_null(idx->entries[0].key_id);
    bay__index_free(idx);
}

Test(index, read_checks_json_then_the_signature_then_the_key_the_index_names)
{
    char *sig, key_id[BAY_KEY_ID_SIZE], path[PATH_MAX];
    const char *text = ENTRY("a-b-1.0.0.bayplug");
    bay__index *idx = NULL;
    cr_assert_eq(bay__index_read("<html>", 6, "", trusted, "I", &idx, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "I: not JSON"), "%s", err.message);
    cr_assert_eq(bay__index_read(text, strlen(text), "", trusted, "I", &idx, &err), BAY_EPERM);
    cr_assert_eq(bay__index_sign(text, strlen(text), at(path, "keys/owner"), &sig, key_id, &err), 0, "%s",
                 err.message);
    cr_assert_eq(bay__index_read(text, strlen(text), sig, trusted, "I", &idx, &err), BAY_EPERM);
    cr_assert_null(idx);
    cr_assert(strstr(err.message, "I: says it is signed by key 0123456789abcdef but key "), "%s", err.message);
    free(sig);
}
