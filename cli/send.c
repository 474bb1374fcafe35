/* cli/send.c — plugbay install FILE: what a package is and asks, read here; the package sent to plugbayd in parts. */
#include "send.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch.h"
#include "file.h"
#include "index.h"
#include "manifest.h"
#include "package.h"
#include "permission.h"
#include "semver.h"
#include "signature.h"
#include "signing.h"

/* what_it_is reads the manifest and the signature of the package unpacked in folder into f. */
static int what_it_is(const char *file, const char *folder, package_facts *f, bay_error *err)
{
    bay__manifest *m = NULL;
    int rc = bay__manifest_read(folder, file, &m, err);
    if (rc)
        return rc;
    snprintf(f->id, sizeof f->id, "%s", m->id);
    snprintf(f->version, sizeof f->version, "%s", m->version);
    char **asked = permission_requested(m);
    f->asked = asked ? bay_array() : NULL;
    for (char **a = asked; f->asked && *a; a++)
        bay_array_push(f->asked, bay_str(*a));
    bay__strv_free(asked);
    bay__manifest_free(m);
    bay__sig_info si;
    bay_error unsigned_why;
    snprintf(f->key_id, sizeof f->key_id, "%s",
             bay__signature_verify(folder, NULL, &si, &unsigned_why) == 0 ? si.key_id : "");
    return f->asked ? 0 : bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
}

int package_read(const char *file, package_facts *f, bay_error *err)
{
    memset(f, 0, sizeof *f);
    char tmp[PATH_MAX], folder[PATH_MAX];
    struct stat st;
    if (stat(file, &st) != 0)
        return bay_error_set(err, BAY_EIO, NULL, "%s: %s", file, strerror(errno));
    f->size = st.st_size;
    int e = bay__file_sha256(file, O_NOFOLLOW, -1, f->sha256, NULL);
    if (e)
        return bay_error_set(err, BAY_EIO, NULL, "%s: %s", file, strerror(e));
    int rc = cli_unpack_temp(file, tmp, folder, err);
    if (rc == 0)
        rc = what_it_is(file, folder, f, err);
    if (tmp[0])
        bay__file_remove_tree(AT_FDCWD, tmp);
    return rc;
}

void package_facts_free(package_facts *f)
{
    bay_value_free(f->asked);
    f->asked = NULL;
}

int package_send(bay_conn *conn, const char *file, const package_facts *f, int timeout_ms, bay_error *err)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bay_error_set(err, BAY_EIO, NULL, "%s: %s", file, strerror(errno));
    static char part[BAY_PKG_PART];
    int64_t offset = 0;
    int rc = 0;
    while (rc == 0 && offset < f->size) {
        ssize_t n = pread(fd, part, sizeof part, offset);
        if (n <= 0) {
            rc = bay_error_set(err, BAY_EIO, NULL, "%s: %s", file, n < 0 ? strerror(errno) : "it got shorter");
            break;
        }
        bay_value *args = bay_map(), *reply = NULL;
        bay_map_set(args, "sha256", bay_str(f->sha256));
        bay_map_set(args, "size", bay_int(f->size));
        bay_map_set(args, "offset", bay_int(offset));
        bay_map_set(args, "data", bay_bin(part, (size_t)n));
        rc = bay_command(conn, "package.put", args, timeout_ms, &reply, err);
        bay_value_free(args);
        bay_value_free(reply);
        offset += n;
    }
    close(fd);
    return rc;
}

/* How deep dependencies may nest in an index before the plan gives up (a cycle, or a chain no one meant). */
#define DEPENDS_DEPTH 8

/* One plan of packages to fetch from an index, dependencies first. */
typedef struct plan {
    const bay__index *idx;
    const char *url, *dir;
    const bay__fetch_limits *limits;
    const bay_value *listed; /* plugbayd's list: the plugins it has, each installed one with its "dependencies" */
    bool verified_only;      /* take only packages signed by publishers the index's owner verified */
    char **files;            /* NULL-terminated */
    char **origins;          /* for each file, what it is and who signed it */
    const char *ids[64];     /* the plugins planned, so that each is fetched once */
    size_t n;
} plan;

/* has tells whether plugbayd lists plugin id. */
static bool has(const bay_value *listed, const char *id)
{
    for (size_t i = 0; i < bay_value_len(listed); i++)
        if (strcmp(bay_value_str(bay_map_get(bay_array_get(listed, i), "id"), NULL), id) == 0)
            return true;
    return false;
}

/* planned tells whether the plan fetches plugin id already. */
static bool planned(const plan *p, const char *id)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->ids[i], id) == 0)
            return true;
    return false;
}

/* append adds s (taken) to the NULL-terminated list *v. */
static int append(char ***v, char *s, bay_error *err)
{
    size_t n = bay__strv_len((const char *const *)*v);
    char **more = realloc(*v, (n + 2) * sizeof *more);
    if (more == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    more[n] = s;
    more[n + 1] = NULL;
    *v = more;
    return 0;
}

/* asks_for returns what the plugins of listed (plugbayd's list, each installed one with its "dependencies")
 * ask of plugin id: [{"by", "range"}], which the caller frees. */
static bay_value *asks_for(const bay_value *listed, const char *id, size_t id_len)
{
    bay_value *asks = bay_array();
    char key[BAY_PLUGIN_ID_MAX + 1];
    snprintf(key, sizeof key, "%.*s", (int)id_len, id);
    for (size_t i = 0; asks && i < bay_value_len(listed); i++) {
        const bay_value *p = bay_array_get(listed, i), *range = bay_map_get(bay_map_get(p, "dependencies"), key);
        if (range == NULL)
            continue;
        bay_value *ask = bay_map();
        bay_map_set(ask, "by", bay_value_copy(bay_map_get(p, "id")));
        bay_map_set(ask, "range", bay_value_copy(range));
        bay_array_push(asks, ask);
    }
    return asks;
}

/* fitting resolves spec to the newest version of it in idx that also fits each range the plugins of listed ask of
 * it: each time one does not, the versions from that one up are left out. */
static int fitting(const bay__index *idx, const char *spec, const bay_value *listed, const bay__index_entry **out,
                   bay_error *err)
{
    char narrowed[BAY_PLUGIN_ID_MAX + 100];
    snprintf(narrowed, sizeof narrowed, "%s", spec);
    size_t id_len = strcspn(spec, "@");
    bay_value *asks = asks_for(listed, spec, id_len);
    int rc;
    for (;;) {
        if ((rc = bay__index_resolve(idx, narrowed, BAY_VERSION, out, err)) != 0)
            break;
        const bay_value *against = NULL;
        for (size_t i = 0; !against && i < bay_value_len(asks); i++) {
            const bay_value *ask = bay_array_get(asks, i);
            if (!bay__semver_satisfies(&(*out)->ver, bay_value_str(bay_map_get(ask, "range"), NULL)))
                against = ask;
        }
        if (against == NULL)
            break;
        if (spec[id_len] == '@') { /* a range given: it is not narrowed behind the user's back */
            rc = bay_error_set(err, BAY_ENOENT, (*out)->id, "%s %s is outside \"%s\", which %s asks of it", (*out)->id,
                               (*out)->version, bay_value_str(bay_map_get(against, "range"), NULL),
                               bay_value_str(bay_map_get(against, "by"), NULL));
            break;
        }
        snprintf(narrowed, sizeof narrowed, "%.*s@<%s", (int)id_len, spec, (*out)->version);
    }
    bay_value_free(asks);
    return rc;
}

/* add resolves spec in the index and plans it after the dependencies plugbayd lacks (depth: how deep it is). */
static int add(plan *p, const char *spec, int depth, bay_error *err)
{
    const bay__index_entry *e;
    int rc = depth == 0 ? fitting(p->idx, spec, p->listed, &e, err)
                        : bay__index_resolve(p->idx, spec, BAY_VERSION, &e, err);
    if (rc || planned(p, e->id))
        return rc;
    if (depth > DEPENDS_DEPTH || p->n == sizeof p->ids / sizeof *p->ids)
        return bay_error_set(err, BAY_EINVAL, NULL, "%s: its dependencies in %s nest deeper than %d or are more than "
                             "%zu: install them one by one", spec, p->url, DEPENDS_DEPTH, sizeof p->ids / sizeof *p->ids);
    const char *dep;
    json_t *range;
    json_object_foreach((json_t *)e->dependencies, dep, range) {
        char sub[BAY_PLUGIN_ID_MAX + 200];
        snprintf(sub, sizeof sub, "%s@%s", dep, json_string_value(range));
        if (!has(p->listed, dep) && !planned(p, dep) && (rc = add(p, sub, depth + 1, err)) != 0)
            return rc;
    }
    char who[400], *file = NULL, *origin = NULL;
    const bay__index_publisher *pub = bay__index_publisher_of(p->idx, e->key_id);
    bay__index_signer(p->idx, e, who, sizeof who);
    if (p->verified_only && !(pub && pub->verified))
        return bay_error_set(err, BAY_EPERM, e->id,
                             "%s %s in %s is %s: --verified-only takes only packages of publishers the index's owner "
                             "verified",
                             e->id, e->version, p->url, who);
    if (asprintf(&file, "%s/%s", p->dir, e->path) < 0 || asprintf(&origin, "%s %s from %s, %s", e->id, e->version,
                                                                    p->url, who) < 0) {
        free(file);
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    }
    if ((rc = bay__fetch_package(p->url, e, p->limits, file, err)) == 0 && (rc = append(&p->files, file, err)) == 0)
        rc = append(&p->origins, origin, err);
    else
        free(file);
    if (rc)
        free(origin);
    else
        p->ids[p->n++] = e->id;
    return rc;
}

int package_fetch(const package_source *from, const char *spec, const bay_value *listed, const char *dir,
                  char ***files, char ***origins, bay_error *err)
{
    bay__fetch_limits limits = {.timeout_ms = from->timeout_ms};
    bay__index *idx = NULL;
    int rc = bay__fetch_index(from->url, from->trusted, &limits, &idx, err);
    plan p = {.idx = idx, .url = from->url, .dir = dir, .limits = &limits, .listed = listed,
              .verified_only = from->verified_only};
    if (rc == 0)
        rc = add(&p, spec, 0, err);
    bay__index_free(idx);
    if (rc) {
        bay__strv_free(p.files);
        bay__strv_free(p.origins);
        p.files = p.origins = NULL;
    }
    *files = p.files;
    *origins = p.origins;
    return rc;
}

int package_newer(const package_source *from, const bay_value *listed, bay_value **out, bay_error *err)
{
    bay__fetch_limits limits = {.timeout_ms = from->timeout_ms};
    bay__index *idx = NULL;
    int rc = bay__fetch_index(from->url, from->trusted, &limits, &idx, err);
    *out = rc ? NULL : bay_array();
    for (size_t i = 0; rc == 0 && i < bay_value_len(listed); i++) {
        const bay_value *p = bay_array_get(listed, i);
        const char *id = bay_value_str(bay_map_get(p, "id"), NULL), *now = bay_value_str(bay_map_get(p, "version"), NULL);
        const bay__index_entry *e;
        bay__semver v;
        bay_error none;
        if (strcmp(bay_value_str(bay_map_get(p, "state"), NULL), "available") == 0 || now == NULL ||
            bay__semver_parse(now, &v) != 0 || fitting(idx, id, listed, &e, &none) != 0 ||
            bay__semver_cmp(&e->ver, &v) <= 0)
            continue;
        bay_value *row = bay_map();
        bay_map_set(row, "id", bay_str(id));
        bay_map_set(row, "installed", bay_str(now));
        bay_map_set(row, "newest", bay_str(e->version));
        bay_array_push(*out, row);
    }
    bay__index_free(idx);
    return rc;
}

int package_download(const char *url, int timeout_ms, const char *dir, char *file, size_t len, bay_error *err)
{
    const char *name = strrchr(url, '/');
    name = name && name[1] ? name + 1 : "package.bayplug";
    if ((size_t)snprintf(file, len, "%s/%.*s", dir, (int)strcspn(name, "?#"), name) >= len)
        return bay_error_set(err, BAY_EINVAL, NULL, "%s: the URL's file name is too long", url);
    bay__fetch_limits limits = {.max_bytes = BAY_PKG_MAX_BYTES, .timeout_ms = timeout_ms};
    bay__fetched got;
    return bay__fetch(url, &limits, file, &got, err);
}
