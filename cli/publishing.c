/* cli/publishing.c — plugbay index build, index revoke, publish, search, download and info --available: broker/index_build.c and broker/fetch.c from the command line. */
#include "publishing.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "fetch.h"
#include "index_build.h"

/* emit prints o (which it takes) as one line of compact JSON; ENOMEM when o is NULL. */
static int emit(json_t *o, bay_error *err)
{
    int rc = o && json_dumpf(o, stdout, JSON_COMPACT) == 0 ? 0 : bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    if (rc == 0)
        putchar('\n');
    json_decref(o);
    return rc;
}

/* built prints what an index build wrote, after what (a sentence about the
 * package published or the version revoked; "" for none). */
static int built(const signing_args *a, int rc, const bay__index_built *res, const char *what, bay_error *err)
{
    if (rc)
        return rc;
    if (a->json)
        return emit(json_pack("{s:s, s:s, s:I, s:I}", "index", res->path, "key_id", res->key_id, "packages",
                              (json_int_t)res->npackages, "plugins", (json_int_t)res->nplugins), err);
    printf("%s%s: %zu packages of %zu plugins, signed with key %s into " BAY_INDEX_SIG_FILE "\n", what, res->path,
           res->npackages, res->nplugins, res->key_id);
    return 0;
}

int cli_index_build(const signing_args *a, bay_error *err)
{
    bay__index_built res;
    return built(a, bay__index_build(a->dir, a->key, a->verified, &res, err), &res, "", err);
}

int cli_index_revoke(const signing_args *a, bay_error *err)
{
    bay__index_built res;
    char what[512];
    snprintf(what, sizeof what, "%s revoked (%s); ", a->operand2, a->reason);
    return built(a, bay__index_revoke(a->dir, a->operand2, a->reason, a->key, a->verified, &res, err), &res, what,
                 err);
}

int cli_publish(const signing_args *a, bay_error *err)
{
    bay__index_built res;
    int rc = bay__index_publish(a->dir, a->operand2, a->key, a->verified, &res, err);
    char what[4200];
    snprintf(what, sizeof what, "%s published as %s; ", a->dir, res.published);
    return built(a, rc, &res, what, err);
}

/* fetch_index fetches and checks the index a->index. */
static int fetch_index(const signing_args *a, bay__index **idx, bay_error *err)
{
    bay__fetch_limits l = {.timeout_ms = a->timeout_ms};
    return bay__fetch_index(a->index, a->trusted, &l, idx, err);
}


/* entry_json returns e as JSON: {"id", "version", "name", "brief", "key_id", "verified"}. */
static json_t *entry_json(const bay__index *idx, const bay__index_entry *e)
{
    const bay__index_publisher *p = bay__index_publisher_of(idx, e->key_id);
    return json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:b}", "id", e->id, "version", e->version, "name", e->name,
                     "brief", e->brief, "key_id", e->key_id, "verified", p && p->verified);
}

int cli_search(const signing_args *a, bay_error *err)
{
    bay__index *idx;
    int rc = fetch_index(a, &idx, err);
    if (rc)
        return rc;
    json_t *found = json_array();
    for (size_t i = 0; i < idx->nentries; i++) {
        const bay__index_entry *e;
        if ((i + 1 < idx->nentries && strcmp(idx->entries[i + 1].id, idx->entries[i].id) == 0) ||
            bay__index_resolve(idx, idx->entries[i].id, BAY_VERSION, &e, NULL) != 0 || !bay__index_matches(e, a->dir))
            continue; /* once per id, at its last entry: its newest version for this plugbay */
        char who[300];
        bay__index_signer(idx, e, who, sizeof who);
        if (a->json)
            json_array_append_new(found, entry_json(idx, e));
        else
            printf("%s %s: %s (%s)\n", e->id, e->version, e->brief ? e->brief : e->name ? e->name : "", who);
    }
    if (a->json)
        rc = emit(found, err);
    else
        json_decref(found);
    bay__index_free(idx);
    return rc;
}

int cli_download(const signing_args *a, bay_error *err)
{
    bay__index *idx;
    const bay__index_entry *e = NULL;
    int rc = fetch_index(a, &idx, err);
    if (rc)
        return rc;
    rc = bay__index_resolve(idx, a->dir, BAY_VERSION, &e, err);
    const char *dest = a->out ? a->out : e ? e->path : NULL;
    bay__fetch_limits l = {.timeout_ms = a->timeout_ms};
    if (rc == 0)
        rc = bay__fetch_package(a->index, e, &l, dest, err);
    char who[300];
    if (rc == 0 && a->json) {
        json_t *o = entry_json(idx, e);
        json_object_set_new(o, "file", json_string(dest));
        json_object_set_new(o, "sha256", json_string(e->sha256));
        rc = emit(o, err);
    } else if (rc == 0) {
        bay__index_signer(idx, e, who, sizeof who);
        printf("%s: %s %s, sha256 %s as the index says, %s\n", dest, e->id, e->version, e->sha256, who);
    }
    bay__index_free(idx);
    return rc;
}

/* join_strings writes the strings of the array or object v to text (len
 * bytes), comma-separated; for an object, each key and its value. "-" when none. */
static void join_strings(const json_t *v, char *text, size_t len)
{
    size_t n = 0;
    const char *key;
    json_t *item;
    snprintf(text, len, "-");
    for (size_t i = 0; i < json_array_size(v) && n < len; i++)
        n += (size_t)snprintf(text + n, len - n, "%s%s", i ? ", " : "", json_string_value(json_array_get(v, i)));
    json_object_foreach((json_t *)v, key, item)
    {
        if (n < len)
            n += (size_t)snprintf(text + n, len - n, "%s%s %s", n ? ", " : "", key, json_string_value(item));
    }
}

/* show_version prints version e of the index for people; newest says whether this plugbay would take it. */
static void show_version(const bay__index *idx, const bay__index_entry *e, bool newest)
{
    char who[300], perms[1024], deps[1024];
    bay__index_signer(idx, e, who, sizeof who);
    join_strings(e->permissions, perms, sizeof perms);
    join_strings(e->dependencies, deps, sizeof deps);
    char state[300] = "";
    if (e->revoked)
        snprintf(state, sizeof state, " (revoked: %s)", e->revoked);
    else if (newest)
        snprintf(state, sizeof state, " (the newest for this plugbay)");
    printf("%s %s%s\n", e->id, e->version, state);
    printf("  name: %s\n  brief: %s\n  language: %s\n  host: %s\n  permissions: %s\n  dependencies: %s\n"
           "  package: %s, %llu bytes, sha256 %s\n  %s\n", e->name ? e->name : "-", e->brief ? e->brief : "-",
           e->language, e->host ? e->host : "any", perms, deps, e->path, (unsigned long long)e->size, e->sha256, who);
}

int cli_info_available(const signing_args *a, bay_error *err)
{
    bay__index *idx;
    const bay__index_entry *newest = NULL;
    if (strchr(a->dir, '@'))
        return bay_error_set(err, BAY_EINVAL, NULL, "info --available takes a plugin's ID, not \"%s\": it shows "
                             "every version", a->dir);
    int rc = fetch_index(a, &idx, err);
    if (rc)
        return rc;
    json_t *versions = json_object_get(json_object_get(idx->doc, "plugins"), a->dir);
    rc = bay__index_resolve(idx, a->dir, BAY_VERSION, &newest, err);
    if (rc == BAY_ENOENT && versions) /* listed, but no version fits this plugbay: show them all the same */
        rc = 0;
    if (rc == 0 && a->json)
        rc = emit(json_pack("{s:s, s:s?, s:O}", "id", a->dir, "newest", newest ? newest->version : NULL,
                            "versions", versions), err);
    for (size_t i = idx->nentries; rc == 0 && !a->json && i-- > 0;)
        if (strcmp(idx->entries[i].id, a->dir) == 0)
            show_version(idx, &idx->entries[i], &idx->entries[i] == newest);
    bay__index_free(idx);
    return rc;
}
