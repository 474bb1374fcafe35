/* broker/index_build.c — builds and signs an index folder's index.json from its packages; publish and revoke. */
#include "index_build.h"
#include "permission.h"

#include "file.h"
#include "manifest.h"
#include "package.h"
#include "signature.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One package of the folder, read and checked. */
typedef struct package {
    char *file;        /* its name in the folder */
    bay__manifest *m;  /* its plugin.json */
    char sha256[65];   /* of the file, lowercase hex */
    uint64_t size;     /* of the file */
    bool is_signed;    /* it holds a plugin.sig (which verified: sig is its signer) */
    bay__sig_info sig;
} package;

typedef struct package_list {
    package *v;
    size_t n;
} package_list;

/* A revocation bay__index_revoke adds; id NULL when none. */
typedef struct revocation {
    const char *id, *version, *reason;
} revocation;

/* ---- reading packages --------------------------------------------------------- */

/* copy_hash reads the file path to its end, writing it to `to` as it goes
 * (NULL: nowhere), and fills p's sha256 and size. */
static int copy_hash(const char *path, FILE *to, package *p, bay_error *err)
{
    int e = bay__file_sha256(path, 0, to ? fileno(to) : -1, p->sha256, &p->size);
    if (e == 0)
        return 0;
    return to ? bay_error_set(err, BAY_EIO, NULL, "cannot copy %s: %s", path, strerror(e))
              : bay_error_set(err, BAY_EIO, NULL, "%s: cannot read the package: %s", path, strerror(e));
}

/* read_manifest parses folder/plugin.json, which bay__pkg_unpack checked, into p->m. */
static int read_manifest(const char *path, const char *folder, package *p, bay_error *err)
{
    char file[PATH_MAX + 32], where[PATH_MAX + 32];
    char *text = NULL;
    size_t len;
    struct stat st;
    snprintf(file, sizeof file, "%s/plugin.json", folder);
    snprintf(where, sizeof where, "%s: plugin.json", path);
    int e = bay__file_read_small(AT_FDCWD, file, O_NOFOLLOW, BAY_MANIFEST_MAX, &text, &len, &st);
    int rc = e ? bay_error_set(err, BAY_EIO, NULL, "%s: cannot read it: %s", where, strerror(e))
               : bay__manifest_parse(text, where, NULL, NULL, &p->m, err);
    free(text);
    return rc;
}

/* read_signature verifies folder's plugin.sig, when there, with the key it carries. */
static int read_signature(const char *path, const char *folder, package *p, bay_error *err)
{
    char sig[PATH_MAX + 32];
    bay_error inner;
    snprintf(sig, sizeof sig, "%s/" BAY_SIG_FILE, folder);
    p->is_signed = access(sig, F_OK) == 0;
    if (!p->is_signed || bay__signature_verify(folder, NULL, &p->sig, &inner) == 0)
        return 0;
    return bay_error_set(err, inner.code, NULL, "%s: its plugin.sig does not verify; get the package again from its "
                         "author (%s)", path, inner.message);
}

/* read_package checks the package file path (named file in the index) as
 * bay__pkg_unpack does, in a temporary folder removed after, and fills p. */
static int read_package(const char *path, const char *file, package *p, bay_error *err)
{
    char tmp[PATH_MAX], folder[PATH_MAX + 16];
    *p = (package){.file = strdup(file)};
    if (p->file == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    int e = bay__file_temp_folder("index", tmp);
    if (e)
        return bay_error_set(err, BAY_EIO, NULL, "cannot create a temporary folder to check %s in: %s", path,
                             strerror(e));
    snprintf(folder, sizeof folder, "%s/plugin", tmp);
    int rc = copy_hash(path, NULL, p, err);
    if (rc == 0)
        rc = bay__pkg_unpack(path, folder, NULL, err);
    if (rc == 0)
        rc = read_manifest(path, folder, p, err);
    if (rc == 0)
        rc = read_signature(path, folder, p, err);
    bay__file_remove_tree(AT_FDCWD, tmp);
    return rc;
}

static void package_free(package *p)
{
    free(p->file);
    bay__manifest_free(p->m);
}

static void list_free(package_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        package_free(&l->v[i]);
    free(l->v);
}

static int by_id_version(const void *a, const void *b)
{
    const bay__manifest *x = ((const package *)a)->m, *y = ((const package *)b)->m;
    int c = strcmp(x->id, y->id);
    return c ? c : bay__semver_cmp(&x->ver, &y->ver);
}

/* is_package tells whether ent is a package's entry that the index lists: *.bayplug, not hidden (for scandir). */
static int is_package(const struct dirent *ent)
{
    size_t n = strlen(ent->d_name), s = strlen(BAY_PKG_SUFFIX);
    return ent->d_name[0] != '.' && n > s && strcmp(ent->d_name + n - s, BAY_PKG_SUFFIX) == 0;
}

/* list_packages reads every package of dir into l, sorted by id and version. */
static int list_packages(const char *dir, package_list *l, bay_error *err)
{
    struct dirent **names = NULL;
    char path[PATH_MAX];
    int n = scandir(dir, &names, is_package, alphasort), rc = 0;
    if (n < 0)
        return bay_error_set(err, BAY_EIO, NULL, "%s: cannot read the index folder: %s", dir, strerror(errno));
    if ((l->v = calloc((size_t)n + 1, sizeof *l->v)) == NULL)
        rc = bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    for (int i = 0; rc == 0 && i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if ((rc = read_package(path, names[i]->d_name, &l->v[l->n], err)) != 0)
            package_free(&l->v[l->n]);
        else
            l->n++;
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc)
        return rc;
    qsort(l->v, l->n, sizeof *l->v, by_id_version);
    for (size_t i = 1; i < l->n; i++)
        if (by_id_version(&l->v[i - 1], &l->v[i]) == 0)
            return bay_error_set(err, BAY_EEXIST, NULL, "%s: %s and %s both hold %s %s; remove one", dir,
                                 l->v[i - 1].file, l->v[i].file, l->v[i].m->id, l->v[i].m->version);
    return 0;
}

/* ---- the document ------------------------------------------------------------- */

/* read_old parses dir/index.json when there (*old NULL when not), for its revocations. */
static int read_old(const char *dir, bay__index **old, bay_error *err)
{
    char path[PATH_MAX], *text = NULL;
    size_t len;
    struct stat st;
    snprintf(path, sizeof path, "%s/" BAY_INDEX_FILE, dir);
    int e = bay__file_read_small(AT_FDCWD, path, O_NOFOLLOW, BAY_INDEX_MAX_BYTES, &text, &len, &st);
    if (e == ENOENT)
        return 0;
    int rc = e ? bay_error_set(err, BAY_EIO, NULL, "%s: cannot read it: %s", path, strerror(e))
               : bay__index_parse(text, len, path, old, err);
    free(text);
    if (rc && err)
        snprintf(err->message + strlen(err->message), sizeof err->message - strlen(err->message),
                 " (or remove it to build the index anew, losing its revocations)");
    return rc;
}

/* revoked returns why version v of plugin id is revoked: extra's reason, or old's; NULL when it is not. */
static const char *revoked(const bay__manifest *m, const bay__index *old, const revocation *extra)
{
    if (extra->id && strcmp(extra->id, m->id) == 0 && strcmp(extra->version, m->version) == 0)
        return extra->reason;
    const bay__index_entry *e = old ? bay__index_find(old, m->id, m->version) : NULL;
    return e ? e->revoked : NULL;
}

/* set_text sets o's field key to text when text is not NULL; false when out of memory. */
static bool set_text(json_t *o, const char *key, const char *text)
{
    return text == NULL || json_object_set_new(o, key, json_string(text)) == 0;
}

/* entry_json returns p's entry in the index (NULL when out of memory). */
static json_t *entry_json(const package *p, const char *why_revoked)
{
    const bay__manifest *m = p->m;
    json_t *perms = json_array(), *deps = json_object();
    char **asked = permission_requested(m); /* its "permissions" and the provide: of what it provides */
    if (asked == NULL) {
        json_decref(perms);
        json_decref(deps);
        return NULL;
    }
    for (size_t i = 0; asked[i]; i++)
        json_array_append_new(perms, json_string(asked[i]));
    bay__strv_free(asked);
    for (size_t i = 0; i < m->ndeps; i++)
        json_object_set_new(deps, m->deps[i].id, json_string(m->deps[i].range));
    json_t *e = json_pack("{s:s, s:s, s:o, s:o, s:s, s:I, s:o, s:s}", "version", m->version, "language", m->language,
                          "permissions", perms, "dependencies", deps, "sha256", p->sha256, "size",
                          (json_int_t)p->size, "key_id", p->is_signed ? json_string(p->sig.key_id) : json_null(),
                          "path", p->file);
    if (e && set_text(e, "name", m->name) && set_text(e, "brief", m->brief) && set_text(e, "host", m->host) &&
        set_text(e, "revoked", why_revoked))
        return e;
    json_decref(e);
    return NULL;
}

static int by_signer(const void *a, const void *b)
{
    return strcmp((*(const package *const *)a)->sig.key_id, (*(const package *const *)b)->sig.key_id);
}

/* old_publisher returns the publisher with key_id of the index old (NULL allowed), or NULL. */
static const bay__index_publisher *old_publisher(const bay__index *old, const char *key_id)
{
    for (size_t i = 0; old && i < old->npublishers; i++)
        if (strcmp(old->publishers[i].key_id, key_id) == 0)
            return &old->publishers[i];
    return NULL;
}

/* publisher_json returns the publisher entry of p's signer (NULL on failure,
 * with *rc set): verified when its key is in verified_dir or, without one,
 * when the index old said so. */
static json_t *publisher_json(const package *p, const char *verified_dir, const bay__index *old, bay_error *err,
                              int *rc)
{
    char comment[BAY_KEY_COMMENT_MAX + 1] = "", b64[BAY_KEY_BASE64_SIZE], *line = NULL;
    const bay__index_publisher *was = verified_dir ? NULL : old_publisher(old, p->sig.key_id);
    bool verified = was && was->verified;
    if (was)
        snprintf(comment, sizeof comment, "%s", was->comment);
    if (verified_dir &&
        (*rc = bay__signature_trusted_key(verified_dir, p->sig.public_key, comment, sizeof comment, &verified, err)))
        return NULL;
    bay__key_to_base64(p->sig.public_key, b64);
    if (asprintf(&line, BAY_KEY_PUBLIC_TAG " %s%s%s", b64, comment[0] ? " " : "", comment) < 0)
        line = NULL;
    json_t *o = line ? json_pack("{s:s, s:s, s:b}", "key_id", p->sig.key_id, "public_key", line, "verified",
                                 verified)
                     : NULL;
    free(line);
    if (o == NULL)
        *rc = bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    return o;
}

/* publishers_json returns the array of the keys that signed l's packages, sorted by key id, verified as publisher_json says. */
static int publishers_json(const package_list *l, const char *verified_dir, const bay__index *old, json_t **out,
                           bay_error *err)
{
    const package **signed_ = calloc(l->n + 1, sizeof *signed_);
    json_t *pubs = json_array();
    size_t n = 0;
    int rc = signed_ && pubs ? 0 : bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; rc == 0 && i < l->n; i++)
        if (l->v[i].is_signed)
            signed_[n++] = &l->v[i];
    if (rc == 0)
        qsort(signed_, n, sizeof *signed_, by_signer);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        json_t *p = i && strcmp(signed_[i - 1]->sig.key_id, signed_[i]->sig.key_id) == 0
                        ? NULL
                        : publisher_json(signed_[i], verified_dir, old, err, &rc);
        if (p)
            json_array_append_new(pubs, p);
    }
    free(signed_);
    if (rc)
        json_decref(pubs);
    else
        *out = pubs;
    return rc;
}

/* build_doc returns the index document of l in *doc, signed by key key_id. */
static int build_doc(const package_list *l, const bay__index *old, const revocation *extra, const char *verified_dir,
                     const char *key_id, json_t **doc, bay_error *err)
{
    json_t *plugins = json_object(), *pubs = NULL;
    int rc = plugins ? 0 : bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    for (size_t i = 0; rc == 0 && i < l->n; i++) {
        const package *p = &l->v[i];
        json_t *versions = json_object_get(plugins, p->m->id), *e = entry_json(p, revoked(p->m, old, extra));
        if (versions == NULL && json_object_set_new(plugins, p->m->id, versions = json_array()) != 0)
            versions = NULL;
        if (e == NULL || versions == NULL || json_array_append_new(versions, e) != 0)
            rc = bay_error_set(err, BAY_EINVAL, NULL, "%s: a name or text that is not UTF-8, or out of memory",
                               p->file);
    }
    if (rc == 0)
        rc = publishers_json(l, verified_dir, old, &pubs, err);
    if (rc == 0 && (*doc = json_pack("{s:i, s:s, s:o, s:o}", "format", BAY_INDEX_FORMAT, "key_id", key_id,
                                     "publishers", pubs, "plugins", plugins)) == NULL)
        rc = bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    else if (rc)
        json_decref(plugins);
    return rc;
}

/* ---- writing ------------------------------------------------------------------ */

/* write_replace writes len bytes of text to dir/name through a hidden temporary file renamed over it. */
static int write_replace(const char *dir, const char *name, const char *text, size_t len, bay_error *err)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    const char *step = "create";
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(tmp); /* left by a build that was killed */
    int e = bay__file_write_new(AT_FDCWD, tmp, 0644, text, len, &step);
    if (e == 0 && rename(tmp, path) != 0) {
        e = errno;
        step = "rename";
        unlink(tmp);
    }
    return e ? bay_error_set(err, BAY_EIO, NULL, "%s: cannot %s it: %s", path, step, strerror(e)) : 0;
}

/* key_id_of reads the secret key file key_path for its key id, so that a wrong key fails before any work. */
static int key_id_of(const char *key_path, char key_id[BAY_KEY_ID_SIZE], bay_error *err)
{
    unsigned char sk[BAY_KEY_SECRET_BYTES];
    int rc = bay__key_init(err);
    if (rc == 0 && (rc = bay__key_read_secret(key_path, sk, err)) == 0)
        bay__key_id(sk + BAY_KEY_SECRET_BYTES - BAY_KEY_PUBLIC_BYTES, key_id);
    sodium_memzero(sk, sizeof sk);
    return rc;
}

/* sign_write dumps doc sorted, signs it and writes index.json and index.json.sig to dir. */
static int sign_write(const char *dir, json_t *doc, const char *key_path, bay__index_built *res, bay_error *err)
{
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS), *line = NULL, *sig = NULL;
    int rc = text && asprintf(&line, "%s\n", text) >= 0 ? 0 : bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    free(text);
    if (rc)
        return rc;
    size_t len = strlen(line);
    rc = bay__index_sign(line, len, key_path, &sig, res->key_id, err);
    if (rc == 0)
        rc = write_replace(dir, BAY_INDEX_FILE, line, len, err);
    if (rc == 0)
        rc = write_replace(dir, BAY_INDEX_SIG_FILE, sig, strlen(sig), err);
    free(line);
    free(sig);
    return rc;
}

/* build writes dir's index, with extra's revocation added. */
static int build(const char *dir, const char *key_path, const char *verified_dir, const revocation *extra,
                 bay__index_built *res, bay_error *err)
{
    package_list l = {0};
    bay__index *old = NULL;
    json_t *doc = NULL;
    char key_id[BAY_KEY_ID_SIZE];
    snprintf(res->path, sizeof res->path, "%s/" BAY_INDEX_FILE, dir);
    int rc = key_id_of(key_path, key_id, err);
    if (rc == 0)
        rc = list_packages(dir, &l, err);
    if (rc == 0)
        rc = read_old(dir, &old, err);
    bool listed = false;
    for (size_t i = 0; rc == 0 && extra->id && i < l.n; i++)
        listed |= strcmp(l.v[i].m->id, extra->id) == 0 && strcmp(l.v[i].m->version, extra->version) == 0;
    if (rc == 0 && extra->id && !listed)
        rc = bay_error_set(err, BAY_ENOENT, NULL, "%s holds no package of %s %s; `plugbay index build %s` lists "
                           "what it holds", dir, extra->id, extra->version, dir);
    if (rc == 0)
        rc = build_doc(&l, old, extra, verified_dir, key_id, &doc, err);
    if (rc == 0)
        rc = sign_write(dir, doc, key_path, res, err);
    for (size_t i = 0; rc == 0 && i < l.n; i++)
        res->nplugins += i == 0 || strcmp(l.v[i - 1].m->id, l.v[i].m->id) != 0;
    res->npackages = l.n;
    json_decref(doc);
    bay__index_free(old);
    list_free(&l);
    return rc;
}

int bay__index_build(const char *dir, const char *key_path, const char *verified_dir, bay__index_built *res,
                     bay_error *err)
{
    *res = (bay__index_built){0};
    return build(dir, key_path, verified_dir, &(revocation){0}, res, err);
}

/* ---- publish and revoke ------------------------------------------------------- */

/* copy_in copies the package file path into dest (through a hidden temporary
 * file in dir renamed into place); the copy's sha256 must be p's. */
static int copy_in(const char *path, const char *dir, const char *name, const char *dest, const package *p,
                   bay_error *err)
{
    char tmp[2 * PATH_MAX];
    package copied = {0};
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    unlink(tmp);
    FILE *f = fopen(tmp, "wxe");
    if (f == NULL)
        return bay_error_set(err, BAY_EIO, NULL, "%s: cannot create %s: %s", dir, tmp, strerror(errno));
    int rc = copy_hash(path, f, &copied, err);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        rc = rc ? rc : bay_error_set(err, BAY_EIO, NULL, "%s: cannot write it: %s", tmp, strerror(errno));
    fclose(f);
    if (rc == 0 && strcmp(copied.sha256, p->sha256) != 0)
        rc = bay_error_set(err, BAY_EIO, NULL, "%s changed while it was copied into %s; publish it again", path, dir);
    if (rc == 0 && rename(tmp, dest) != 0)
        rc = bay_error_set(err, BAY_EIO, NULL, "%s: cannot rename %s to it: %s", dest, tmp, strerror(errno));
    if (rc)
        unlink(tmp);
    return rc;
}

int bay__index_publish(const char *package_path, const char *dir, const char *key_path, const char *verified_dir,
                       bay__index_built *res, bay_error *err)
{
    package p = {0}, there = {0};
    char name[NAME_MAX + 1], dest[PATH_MAX];
    *res = (bay__index_built){0};
    int rc = key_id_of(key_path, res->key_id, err);
    if (rc == 0)
        rc = read_package(package_path, package_path, &p, err);
    if (rc == 0) {
        bay__pkg_file_name(p.m->id, p.m->version, name, sizeof name);
        if ((size_t)snprintf(dest, sizeof dest, "%s/%s", dir, name) >= sizeof dest)
            rc = bay_error_set(err, BAY_EINVAL, NULL, "%s: the path is too long", dir);
        memcpy(res->published, dest, sizeof dest);
    }
    if (rc == 0 && access(dest, F_OK) == 0) {
        rc = copy_hash(dest, NULL, &there, err);
        if (rc == 0 && strcmp(there.sha256, p.sha256) != 0)
            rc = bay_error_set(err, BAY_EEXIST, NULL, "%s holds another package of %s %s already: a published version "
                               "never changes (users pin its sha256); publish this one as a new version", dest,
                               p.m->id, p.m->version);
    } else if (rc == 0) {
        rc = copy_in(package_path, dir, name, dest, &p, err);
    }
    package_free(&p);
    if (rc == 0)
        rc = build(dir, key_path, verified_dir, &(revocation){0}, res, err);
    return rc;
}

int bay__index_revoke(const char *dir, const char *spec, const char *reason, const char *key_path,
                      const char *verified_dir, bay__index_built *res, bay_error *err)
{
    char id[BAY_PLUGIN_ID_MAX + 1];
    const char *at = strchr(spec, '@');
    bay__semver v;
    *res = (bay__index_built){0};
    size_t n = at ? (size_t)(at - spec) : sizeof id;
    if (n < sizeof id) {
        memcpy(id, spec, n);
        id[n] = '\0';
    }
    if (n >= sizeof id || !bay__plugin_id_valid(id) || bay__semver_parse(at + 1, &v) != 0)
        return bay_error_set(err, BAY_EINVAL, NULL, "\"%s\" is not ID@VERSION (a plugin id and the exact version to "
                             "revoke, like example/hello@1.0.0)", spec);
    for (const char *c = reason; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return bay_error_set(err, BAY_EINVAL, NULL, "the reason must be one line of printable text");
    if (reason[0] == '\0')
        return bay_error_set(err, BAY_EINVAL, NULL, "say why the version is revoked: users see the reason");
    return build(dir, key_path, verified_dir, &(revocation){id, at + 1, reason}, res, err);
}
