/* broker/index.c — index.json read and checked (jansson), its Ed25519 signature made and verified, ID[@RANGE] resolved. */
#include "index.h"

#include "manifest.h"
#include "signature.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define B64 sodium_base64_VARIANT_ORIGINAL
#define SIG_BASE64_SIZE 89 /* a 64-byte signature in base64 and the NUL */
#define WHY_SHOWN 3        /* versions resolve explains, newest first */

/* ---- parsing ------------------------------------------------------------------ */

/* hex_ok tells whether s is n lowercase hex digits exactly. */
static bool hex_ok(const char *s, size_t n)
{
    return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

/* file_name_ok tells whether path is a plain file name in the index's folder: printable, no '/', not hidden. */
static bool file_name_ok(const char *path)
{
    if (path[0] == '\0' || path[0] == '.' || strchr(path, '/') || strchr(path, '\\'))
        return false;
    for (const char *p = path; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* permissions_ok tells whether v is an array of strings. */
static bool permissions_ok(const json_t *v)
{
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!json_is_string(json_array_get(v, i)))
            return false;
    return json_is_array(v);
}

/* dependencies_ok tells whether v is an object of plugin ids to semver ranges. */
static bool dependencies_ok(json_t *v)
{
    const char *id;
    json_t *range;
    json_object_foreach(v, id, range)
    {
        if (!bay__plugin_id_valid(id) || !json_is_string(range) || bay__semver_range_check(json_string_value(range), NULL))
            return false;
    }
    return json_is_object(v);
}

/* entry_check returns what is wrong with the fields of e, or NULL. */
static const char *entry_check(bay__index_entry *e, json_int_t size, const json_t *key)
{
    if (bay__semver_parse(e->version, &e->ver) != 0)
        return "version: expected a semver string like \"1.2.0\"";
    if (e->host && bay__semver_range_check(e->host, NULL) != 0)
        return "host: expected a semver range like \">=0.1.0\"";
    if (!permissions_ok(e->permissions))
        return "permissions: expected an array of strings";
    if (!dependencies_ok((json_t *)e->dependencies))
        return "dependencies: expected an object of plugin ids to semver ranges";
    if (!hex_ok(e->sha256, 64))
        return "sha256: expected 64 lowercase hex digits";
    if (size < 0)
        return "size: expected a number of bytes";
    if (!json_is_null(key) && !(json_is_string(key) && hex_ok(json_string_value(key), 16)))
        return "key_id: expected a key id (16 lowercase hex digits) or null";
    if (!file_name_ok(e->path))
        return "path: expected the package's file name in the index's folder (no '/', not hidden)";
    return NULL;
}

/* parse_entry reads v, the nth version of plugin id, into e. */
static int parse_entry(const char *where, const char *id, size_t nth, json_t *v, bay__index_entry *e, bay_error *err)
{
    json_error_t je;
    json_t *key = NULL, *perms = NULL, *deps = NULL;
    json_int_t size = 0;
    *e = (bay__index_entry){.id = id};
    const char *why = NULL;
    if (json_unpack_ex(v, &je, 0, "{s:s, s?s, s?s, s:s, s?s, s:o, s:o, s:s, s:I, s:o, s:s, s?s}", "version",
                       &e->version, "name", &e->name, "brief", &e->brief, "language", &e->language, "host", &e->host,
                       "permissions", &perms, "dependencies", &deps, "sha256", &e->sha256, "size", &size, "key_id",
                       &key, "path", &e->path, "revoked", &e->revoked) != 0)
        why = je.text;
    e->permissions = perms;
    e->dependencies = deps;
    if (why == NULL && (why = entry_check(e, size, key)) == NULL) {
        e->size = (uint64_t)size;
        e->key_id = json_string_value(key);
        return 0;
    }
    return bay_error_set(err, BAY_EINVAL, NULL, "%s: plugins[\"%s\"][%zu]: %s; the index is damaged, ask its owner to "
                         "build it again", where, id, nth, why);
}

/* parse_publisher reads v, the nth publisher, into p. */
static int parse_publisher(const char *where, size_t nth, json_t *v, bay__index_publisher *p, bay_error *err)
{
    json_error_t je;
    const char *line = NULL;
    int verified = 0;
    char id[BAY_KEY_ID_SIZE];
    const char *why = NULL;
    if (json_unpack_ex(v, &je, 0, "{s:s, s:s, s:b}", "key_id", &p->key_id, "public_key", &line, "verified",
                       &verified) != 0)
        why = je.text;
    else if (!bay__key_parse_public(line, p->public_key, p->comment, sizeof p->comment))
        why = "public_key: expected a line \"" BAY_KEY_PUBLIC_TAG " BASE64 [COMMENT]\"";
    else if (bay__key_id(p->public_key, id), strcmp(id, p->key_id) != 0)
        why = "key_id: not the id of its public_key";
    p->verified = verified;
    return why ? bay_error_set(err, BAY_EINVAL, NULL, "%s: publishers[%zu]: %s; the index is damaged, ask its owner "
                               "to build it again", where, nth, why)
               : 0;
}

static int by_key_id(const void *a, const void *b)
{
    return strcmp(((const bay__index_publisher *)a)->key_id, ((const bay__index_publisher *)b)->key_id);
}

static int by_id_version(const void *a, const void *b)
{
    const bay__index_entry *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : bay__semver_cmp(&x->ver, &y->ver);
}

/* parse_publishers reads the array pubs into idx->publishers. */
static int parse_publishers(bay__index *idx, const char *where, json_t *pubs, bay_error *err)
{
    if (!json_is_array(pubs))
        return bay_error_set(err, BAY_EINVAL, NULL, "%s: publishers: expected an array", where);
    idx->publishers = calloc(json_array_size(pubs) + 1, sizeof *idx->publishers);
    if (idx->publishers == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    size_t i;
    json_t *v;
    json_array_foreach(pubs, i, v)
    {
        int rc = parse_publisher(where, i, v, &idx->publishers[i], err);
        if (rc)
            return rc;
        idx->npublishers++;
    }
    qsort(idx->publishers, idx->npublishers, sizeof *idx->publishers, by_key_id);
    return 0;
}

/* parse_plugins reads the object plugins (id -> array of versions) into idx->entries. */
static int parse_plugins(bay__index *idx, const char *where, json_t *plugins, bay_error *err)
{
    const char *id;
    json_t *versions, *v;
    size_t n = 0, i;
    if (!json_is_object(plugins))
        return bay_error_set(err, BAY_EINVAL, NULL, "%s: plugins: expected an object", where);
    json_object_foreach(plugins, id, versions) n += json_array_size(versions);
    if ((idx->entries = calloc(n + 1, sizeof *idx->entries)) == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    json_object_foreach(plugins, id, versions)
    {
        if (!bay__plugin_id_valid(id) || !json_is_array(versions))
            return bay_error_set(err, BAY_EINVAL, NULL, "%s: plugins[\"%s\"]: expected a plugin id and an array of "
                                 "its versions", where, id);
        json_array_foreach(versions, i, v)
        {
            int rc = parse_entry(where, id, i, v, &idx->entries[idx->nentries], err);
            if (rc)
                return rc;
            idx->nentries++;
        }
    }
    qsort(idx->entries, idx->nentries, sizeof *idx->entries, by_id_version);
    for (i = 1; i < idx->nentries; i++)
        if (by_id_version(&idx->entries[i - 1], &idx->entries[i]) == 0)
            return bay_error_set(err, BAY_EINVAL, NULL, "%s: plugins[\"%s\"]: version %s appears twice", where,
                                 idx->entries[i].id, idx->entries[i].version);
    return 0;
}

/* parse_doc checks idx->doc's format, then reads its fields. */
static int parse_doc(bay__index *idx, const char *where, bay_error *err)
{
    json_t *format = json_object_get(idx->doc, "format"), *pubs, *plugins;
    json_error_t je;
    if (!json_is_integer(format))
        return bay_error_set(err, BAY_EINVAL, NULL, "%s: not a plugbay index (a JSON object with a \"format\" "
                             "number); check the index's URL", where);
    if (json_integer_value(format) != BAY_INDEX_FORMAT)
        return bay_error_set(err, BAY_EVERSION, NULL, "%s: format %" JSON_INTEGER_FORMAT " is not one this plugbay "
                             "reads (only %d); upgrade plugbay", where, json_integer_value(format), BAY_INDEX_FORMAT);
    if (json_unpack_ex(idx->doc, &je, 0, "{s:s, s:o, s:o}", "key_id", &idx->key_id, "publishers", &pubs, "plugins",
                       &plugins) != 0)
        return bay_error_set(err, BAY_EINVAL, NULL, "%s: %s; the index is damaged, ask its owner to build it again",
                             where, je.text);
    int rc = parse_publishers(idx, where, pubs, err);
    return rc ? rc : parse_plugins(idx, where, plugins, err);
}

/* load reads len bytes of text as JSON into *doc. */
static int load(const char *text, size_t len, const char *where, json_t **doc, bay_error *err)
{
    json_error_t je;
    *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    return *doc ? 0 : bay_error_set(err, BAY_EINVAL, NULL, "%s: not JSON (line %d column %d: %s); check the index's URL",
                                    where, je.line, je.column, je.text);
}

/* finish reads doc (which it takes) into a new index *out. */
static int finish(json_t *doc, const char *where, bay__index **out, bay_error *err)
{
    bay__index *idx = calloc(1, sizeof *idx);
    if (idx == NULL) {
        json_decref(doc);
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    }
    idx->doc = doc;
    int rc = parse_doc(idx, where, err);
    if (rc)
        bay__index_free(idx);
    else
        *out = idx;
    return rc;
}

int bay__index_parse(const char *text, size_t len, const char *where, bay__index **out, bay_error *err)
{
    json_t *doc;
    *out = NULL;
    int rc = load(text, len, where, &doc, err);
    return rc ? rc : finish(doc, where, out, err);
}

int bay__index_read(const char *text, size_t len, const char *sig, const char *trusted_dir, const char *where,
                    bay__index **out, bay_error *err)
{
    json_t *doc;
    char key_id[BAY_KEY_ID_SIZE];
    *out = NULL;
    int rc = load(text, len, where, &doc, err);
    if (rc == 0 && (rc = bay__index_verify(text, len, sig, trusted_dir, where, key_id, err)) != 0)
        json_decref(doc);
    if (rc == 0)
        rc = finish(doc, where, out, err);
    if (rc == 0 && strcmp((*out)->key_id, key_id) != 0) {
        rc = bay_error_set(err, BAY_EPERM, NULL, "%s: says it is signed by key %s but key %s signed it; ask the "
                           "index's owner to build it again", where, (*out)->key_id, key_id);
        bay__index_free(*out);
        *out = NULL;
    }
    return rc;
}

const bay__index_publisher *bay__index_publisher_of(const bay__index *idx, const char *key_id)
{
    for (size_t i = 0; key_id && i < idx->npublishers; i++)
        if (strcmp(idx->publishers[i].key_id, key_id) == 0)
            return &idx->publishers[i];
    return NULL;
}

void bay__index_signer(const bay__index *idx, const bay__index_entry *e, char *text, size_t len)
{
    const bay__index_publisher *p = bay__index_publisher_of(idx, e->key_id);
    if (e->key_id == NULL)
        snprintf(text, len, "unsigned");
    else
        snprintf(text, len, "signed by key %s%s%s%s, %s", e->key_id, p && p->comment[0] ? " (" : "",
                 p ? p->comment : "", p && p->comment[0] ? ")" : "",
                 p && p->verified ? "a publisher the index's owner verified" : "not verified by the index's owner");
}

void bay__index_free(bay__index *idx)
{
    if (idx == NULL)
        return;
    json_decref(idx->doc);
    free(idx->publishers);
    free(idx->entries);
    free(idx);
}

/* ---- signature ---------------------------------------------------------------- */

int bay__index_sign(const char *text, size_t len, const char *key_path, char **sig, char key_id[BAY_KEY_ID_SIZE],
                    bay_error *err)
{
    unsigned char sk[BAY_KEY_SECRET_BYTES], raw[BAY_KEY_SIGNATURE_BYTES];
    char pk64[BAY_KEY_BASE64_SIZE], sig64[SIG_BASE64_SIZE];
    *sig = NULL;
    int rc = bay__key_init(err);
    if (rc == 0)
        rc = bay__key_read_secret(key_path, sk, err);
    if (rc)
        return rc;
    const unsigned char *pk = sk + BAY_KEY_SECRET_BYTES - BAY_KEY_PUBLIC_BYTES;
    crypto_sign_detached(raw, NULL, (const unsigned char *)text, len, sk);
    bay__key_to_base64(pk, pk64);
    bay__key_id(pk, key_id);
    sodium_memzero(sk, sizeof sk);
    sodium_bin2base64(sig64, sizeof sig64, raw, sizeof raw, B64);
    if (asprintf(sig, BAY_INDEX_SIG_TAG " %s %s\n", pk64, sig64) < 0) {
        *sig = NULL;
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    }
    return 0;
}

/* sig_parse reads the line "TAG PUBLIC_KEY SIGNATURE[\n]" into pk and raw. */
static bool sig_parse(const char *sig, unsigned char pk[BAY_KEY_PUBLIC_BYTES], unsigned char raw[BAY_KEY_SIGNATURE_BYTES])
{
    size_t tag = strlen(BAY_INDEX_SIG_TAG);
    if (strncmp(sig, BAY_INDEX_SIG_TAG " ", tag + 1) != 0)
        return false;
    const char *key = sig + tag + 1, *space = strchr(key, ' ');
    if (space == NULL || !bay__key_base64_exact(key, (size_t)(space - key), pk, BAY_KEY_PUBLIC_BYTES))
        return false;
    size_t n = strcspn(space + 1, "\n");
    return (space[1 + n] == '\0' || strcmp(space + 1 + n, "\n") == 0) &&
           bay__key_base64_exact(space + 1, n, raw, BAY_KEY_SIGNATURE_BYTES);
}

int bay__index_verify(const char *text, size_t len, const char *sig, const char *trusted_dir, const char *where,
                      char key_id[BAY_KEY_ID_SIZE], bay_error *err)
{
    unsigned char pk[BAY_KEY_PUBLIC_BYTES], raw[BAY_KEY_SIGNATURE_BYTES];
    bool found = false;
    int rc = bay__key_init(err);
    if (rc)
        return rc;
    if (!sig_parse(sig, pk, raw))
        return bay_error_set(err, BAY_EPERM, NULL, "%s.sig: not an index signature (expected one line \""
                             BAY_INDEX_SIG_TAG " PUBLIC_KEY SIGNATURE\"); ask the index's owner to sign it again",
                             where);
    bay__key_id(pk, key_id);
    if ((rc = bay__signature_trusted_key(trusted_dir, pk, NULL, 0, &found, err)) != 0)
        return rc;
    if (!found)
        return bay_error_set(err, BAY_EPERM, NULL, "%s: signed by key %s, which is not among the trusted keys in %s; "
                             "if you trust the index's owner, copy their .pub file there", where, key_id, trusted_dir);
    if (crypto_sign_verify_detached(raw, (const unsigned char *)text, len, pk) != 0)
        return bay_error_set(err, BAY_EPERM, NULL, "%s: does not match its signature by key %s: it was altered since "
                             "it was signed (or was being published: try again)", where, key_id);
    return 0;
}

/* ---- resolving ---------------------------------------------------------------- */

bool bay__index_matches(const bay__index_entry *e, const char *text)
{
    return strcasestr(e->id, text) || (e->name && strcasestr(e->name, text)) || (e->brief && strcasestr(e->brief, text));
}

const bay__index_entry *bay__index_find(const bay__index *idx, const char *id, const char *version)
{
    for (size_t i = 0; i < idx->nentries; i++)
        if (strcmp(idx->entries[i].id, id) == 0 && strcmp(idx->entries[i].version, version) == 0)
            return &idx->entries[i];
    return NULL;
}

/* unfit says why e does not fit range and host (in why, len bytes), or returns false when it fits. */
static bool unfit(const bay__index_entry *e, const char *range, const char *host_version, const bay__semver *host,
                  char *why, size_t len)
{
    if (!bay__semver_satisfies(&e->ver, range))
        snprintf(why, len, "%s is outside \"%s\"", e->version, range);
    else if (e->revoked)
        snprintf(why, len, "%s is revoked (%s)", e->version, e->revoked);
    else if (host_version && e->host && !bay__semver_satisfies(host, e->host))
        snprintf(why, len, "%s needs a plugbay in \"%s\" (this one is %s)", e->version, e->host, host_version);
    else
        return false;
    return true;
}

int bay__index_resolve(const bay__index *idx, const char *spec, const char *host_version,
                       const bay__index_entry **out, bay_error *err)
{
    char id[BAY_PLUGIN_ID_MAX + 1];
    const char *at = strchr(spec, '@'), *range = at ? at + 1 : "*";
    size_t n = at ? (size_t)(at - spec) : strlen(spec);
    bay__semver host;
    *out = NULL;
    if (n >= sizeof id || (snprintf(id, sizeof id, "%.*s", (int)n, spec), !bay__plugin_id_valid(id)))
        return bay_error_set(err, BAY_EINVAL, NULL, "\"%s\" is not ID or ID@RANGE (a plugin id like example/hello, "
                             "then a semver range like ^1.2)", spec);
    int rc = bay__semver_range_check(range, err);
    if (rc == 0 && host_version && bay__semver_parse(host_version, &host) != 0)
        rc = bay_error_set(err, BAY_EINVAL, NULL, "host version \"%s\" is not a semver version", host_version);
    if (rc)
        return rc;
    char why[512] = "", one[256];
    size_t seen = 0, wn = 0;
    for (size_t i = idx->nentries; i-- > 0;) {
        const bay__index_entry *e = &idx->entries[i];
        if (strcmp(e->id, id) != 0)
            continue;
        if (!unfit(e, range, host_version, &host, one, sizeof one)) {
            *out = e;
            return 0;
        }
        if (seen++ < WHY_SHOWN && wn < sizeof why)
            wn += (size_t)snprintf(why + wn, sizeof why - wn, "%s%s", seen > 1 ? ", " : "", one);
    }
    if (seen == 0)
        return bay_error_set(err, BAY_ENOENT, NULL, "the index has no plugin %s; look for it with `plugbay search`", id);
    return bay_error_set(err, BAY_ENOENT, NULL, "no version of %s in the index fits: %s%s", id, why,
                         seen > WHY_SHOWN ? ", …" : "");
}
