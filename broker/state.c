/* broker/state.c — the broker's persistent state, kept in DIR/state.json and replaced atomically on each change. */
#include "state.h"

#include "file.h"
#include "manifest.h" /* bay__plugin_id_valid, bay__strv_* */

#include <plugbay/error.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_FORMAT 1
#define CORRUPT_HINT "the state file is damaged: repair it or move it away; the broker does not overwrite it"

struct bay__state {
    char *dir;
    char *file;           /* DIR/state.json */
    char *tmp;            /* DIR/state.json.tmp */
    int lock;             /* DIR/state.lock, flock()ed; -1 when not open */
    bay__state_plugin **v; /* installed plugins, sorted by id */
    size_t n, cap;
    bay__state_host **hosts; /* local users let in, in the order added */
    size_t nhosts;
};

/* join returns "a/b" in a new string, or NULL. */
static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

int bay__state_mkdirs(const char *path, const char *plugin, bay_error *err)
{
    char buf[PATH_MAX];
    struct stat st;
    if ((size_t)snprintf(buf, sizeof buf, "%s", path) >= sizeof buf)
        return bay_error_set(err, BAY_EIO, plugin, "%s: path too long", path);
    int e = bay__file_mkdirs(buf, 0, true, 0700);
    if (e)
        return bay_error_set(err, BAY_EIO, plugin, "cannot create folder %s: %s", buf, strerror(e));
    if (stat(path, &st) != 0)
        return bay_error_set(err, BAY_EIO, plugin, "cannot read folder %s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return bay_error_set(err, BAY_EIO, plugin, "%s is not a folder", path);
    return 0;
}

/* remove_data deletes DIR/data/ID, then the parents it leaves empty below DIR/data. */
static int remove_data(bay__state *s, const char *id, bay_error *err)
{
    char rel[PATH_MAX];
    int dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;
    if (dirfd < 0)
        return bay_error_set(err, BAY_EIO, id, "cannot open folder %s: %s", s->dir, strerror(errno));
    snprintf(rel, sizeof rel, "data/%s", id); /* ids are short: it fits */
    rc = bay__file_remove_tree(dirfd, rel);
    for (char *slash; !rc && (slash = strrchr(rel, '/')) > rel + strlen("data");) {
        *slash = '\0';
        if (unlinkat(dirfd, rel, AT_REMOVEDIR) != 0) {
            if (errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT) /* another plugin's data, or none */
                rc = errno;
            break;
        }
    }
    close(dirfd);
    return rc ? bay_error_set(err, BAY_EIO, id, "cannot delete %s/%s: %s", s->dir, rel, strerror(rc)) : 0;
}

static void plugin_free(bay__state_plugin *p)
{
    if (!p)
        return;
    free(p->id);
    bay__strv_free(p->granted);
    free(p->failed);
    json_decref(p->settings);
    free(p->version);
    free(p);
}

/* unique_copy returns a deep copy of the NULL-terminated permissions v (NULL
 * = none) holding each only once, where it first appears: granting again
 * changes nothing. NULL when out of memory. */
static char **unique_copy(const char *const *v)
{
    size_t n = bay__strv_len(v), kept = 0;
    const char **unique = calloc(n + 1, sizeof *unique);
    if (unique == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!bay__strv_has(unique, v[i])) /* unique[kept] is still NULL */
            unique[kept++] = v[i];
    char **copy = bay__strv_copy(unique);
    free(unique);
    return copy;
}

/* plugin_new returns a new entry with copies of id, granted (NULL = none; each once) and failed (may be NULL), or NULL. */
static bay__state_plugin *plugin_new(const char *id, bool enabled, const char *const *granted, const char *failed)
{
    bay__state_plugin *p = calloc(1, sizeof *p);
    if (!p || !(p->id = strdup(id)) || !(p->granted = unique_copy(granted)) ||
        (failed && !(p->failed = strdup(failed))) || !(p->settings = json_object())) {
        plugin_free(p);
        return NULL;
    }
    p->enabled = enabled;
    return p;
}

/* find looks id up; *at is its index, or where it would be inserted. */
static bool find(const bay__state *s, const char *id, size_t *at)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->v[mid]->id, id);
        if (c == 0) {
            *at = mid;
            return true;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return false;
}

/* installed finds plugin id, or fails with BAY_ENOENT. */
static int installed(bay__state *s, const char *id, size_t *at, bay_error *err)
{
    return id && find(s, id, at) ? 0
                                 : bay_error_set(err, BAY_ENOENT, id, "plugin %s is not installed", id ? id : "(null)");
}

/* reserve makes room for one more entry. */
static int reserve(bay__state *s, bay_error *err)
{
    if (s->n < s->cap)
        return 0;
    size_t cap = s->cap ? s->cap * 2 : 16;
    bay__state_plugin **v = realloc(s->v, cap * sizeof *v);
    if (!v)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    s->v = v;
    s->cap = cap;
    return 0;
}

/* insert puts p at index at; reserve() made room. */
static void insert(bay__state *s, size_t at, bay__state_plugin *p)
{
    memmove(&s->v[at + 1], &s->v[at], (s->n - at) * sizeof *s->v);
    s->v[at] = p;
    s->n++;
}

/* take removes and returns the entry at index at. */
static bay__state_plugin *take(bay__state *s, size_t at)
{
    bay__state_plugin *p = s->v[at];
    memmove(&s->v[at], &s->v[at + 1], (s->n - at - 1) * sizeof *s->v);
    s->n--;
    return p;
}

static void host_free(bay__state_host *h)
{
    if (!h)
        return;
    free(h->name);
    bay__strv_free(h->granted);
    free(h);
}

/* host_name_valid: 1 to 63 of [a-z0-9._-]. */
static bool host_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return n >= 1 && n <= 63 && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* host_push appends a new host entry (copies of name and granted) for local user uid or, when key is not
 * NULL, for the holder of that public key; BAY_ENOMEM when out of memory. */
static int host_push(bay__state *s, const char *name, uint32_t uid, const unsigned char *key, bay__role role,
                     const char *const *granted, bay_error *err)
{
    bay__state_host *h = calloc(1, sizeof *h), **v = realloc(s->hosts, (s->nhosts + 1) * sizeof *v);
    if (v)
        s->hosts = v;
    if (!h || !v || !(h->name = strdup(name)) || !(h->granted = bay__strv_copy(granted))) {
        host_free(h);
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    }
    h->uid = key ? 0 : uid;
    h->keyed = key != NULL;
    if (key) {
        memcpy(h->key, key, sizeof h->key);
        bay__key_id(key, h->key_id);
    }
    h->role = role;
    s->hosts[s->nhosts++] = h;
    return 0;
}

/* host_index returns the index of host name, or s->nhosts. */
static size_t host_index(const bay__state *s, const char *name)
{
    size_t i = 0;
    while (i < s->nhosts && strcmp(s->hosts[i]->name, name) != 0)
        i++;
    return i;
}

/* ---- state.json ---------------------------------------------------------- */

/* all_strings tells whether a is an array of strings only. */
static bool all_strings(const json_t *a)
{
    bool ok = json_is_array(a);
    for (size_t i = 0; ok && i < json_array_size(a); i++)
        ok = json_is_string(json_array_get(a, i));
    return ok;
}

/* borrow_strings returns the strings of array a (all_strings) as a new
 * NULL-terminated list of pointers into a, which the caller frees (not the
 * strings); NULL when out of memory. */
static const char **borrow_strings(const json_t *a)
{
    const char **list = calloc(json_array_size(a) + 1, sizeof *list);
    for (size_t i = 0; list && i < json_array_size(a); i++)
        list[i] = json_string_value(json_array_get(a, i));
    return list;
}

/* order_valid tells whether n fits a place in load order (a manifest's "order" is an int too). */
static bool order_valid(int64_t n)
{
    return n >= INT32_MIN && n <= INT32_MAX;
}

/* load_entry adds the plugin id described by e, as read from state.json. */
static int load_entry(bay__state *s, const char *id, json_t *e, bay_error *err)
{
    json_t *enabled = json_object_get(e, "enabled"), *granted = json_object_get(e, "granted"),
           *failed = json_object_get(e, "failed"), *order = json_object_get(e, "order"),
           *settings = json_object_get(e, "settings"), *version = json_object_get(e, "version");
    const char **list;
    bay__state_plugin *p;
    size_t at;
    bool ok = bay__plugin_id_valid(id) && json_is_boolean(enabled) && all_strings(granted) &&
              (!failed || json_is_string(failed)) &&
              (!order || (json_is_integer(order) && order_valid(json_integer_value(order)))) &&
              (!settings || json_is_object(settings)) && (!version || json_is_string(version));
    if (!ok)
        return bay_error_set(err, BAY_EIO, NULL,
                             "%s: plugin \"%s\": expected a plugin id mapped to {\"enabled\": true or false, "
                             "\"granted\": [strings], \"failed\": string (optional), \"order\": integer "
                             "(optional), \"settings\": object (optional), \"version\": string (optional)} ("
                             CORRUPT_HINT ")",
                             s->file, id);
    if (!(list = borrow_strings(granted)))
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    p = plugin_new(id, json_is_true(enabled), list, json_string_value(failed));
    free(list);
    if (!p || reserve(s, err)) {
        plugin_free(p);
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    }
    p->ordered = order != NULL;
    p->order = order ? json_integer_value(order) : 0;
    if (settings)
        json_object_update(p->settings, settings);
    if (version && !(p->version = strdup(json_string_value(version)))) {
        plugin_free(p);
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    }
    find(s, id, &at);
    insert(s, at, p);
    return 0;
}

/* host_key reads a host's "key" from state.json (the base64 of a public key) into key; false when it is none. */
static bool host_key(json_t *v, unsigned char key[BAY_KEY_PUBLIC_BYTES])
{
    return json_is_string(v) && bay__key_base64_exact(json_string_value(v), json_string_length(v), key,
                                                      BAY_KEY_PUBLIC_BYTES);
}

/* load_host adds host name described by e, as read from state.json: a local user ("uid") or the holder of a
 * key ("key"). */
static int load_host(bay__state *s, const char *name, json_t *e, bay_error *err)
{
    json_t *uid = json_object_get(e, "uid"), *role = json_object_get(e, "role"), *granted = json_object_get(e, "granted");
    json_t *keyv = json_object_get(e, "key");
    unsigned char key[BAY_KEY_PUBLIC_BYTES];
    bool by_uid = keyv == NULL && json_is_integer(uid) && json_integer_value(uid) >= 0 &&
                  json_integer_value(uid) <= UINT32_MAX &&
                  bay__state_host_of_uid(s, (uint32_t)json_integer_value(uid)) == NULL;
    bool by_key = uid == NULL && host_key(keyv, key) && bay__state_host_of_key(s, key) == NULL;
    bool ok = host_name_valid(name) && (by_uid || by_key) && bay__role_parse(json_string_value(role)) != BAY_ROLE_NONE &&
              all_strings(granted) && host_index(s, name) == s->nhosts;
    if (!ok)
        return bay_error_set(err, BAY_EIO, NULL,
                             "%s: host \"%s\": expected a name of [a-z0-9._-] mapped to {\"uid\": a uid no other "
                             "host has, or \"key\": the base64 of an Ed25519 public key no other host has, \"role\": "
                             "\"observer\", \"host\" or \"admin\", \"granted\": [strings]} (" CORRUPT_HINT ")",
                             s->file, name);
    const char **list = borrow_strings(granted);
    if (!list)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    int rc = host_push(s, name, by_uid ? (uint32_t)json_integer_value(uid) : 0, by_key ? key : NULL,
                       bay__role_parse(json_string_value(role)), list, err);
    free(list);
    return rc;
}

/* load reads state.json, when there is one. */
static int load(bay__state *s, bay_error *err)
{
    json_t *root, *format, *plugins, *hosts;
    json_error_t je;
    FILE *f = fopen(s->file, "r");
    int rc = 0;
    if (!f)
        return errno == ENOENT ? 0
                               : bay_error_set(err, BAY_EIO, NULL, "cannot read %s: %s", s->file, strerror(errno));
    root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    if (!root)
        return bay_error_set(err, BAY_EIO, NULL, "%s: line %d column %d: %s (" CORRUPT_HINT ")", s->file, je.line,
                             je.column, je.text);
    format = json_object_get(root, "format");
    plugins = json_object_get(root, "plugins");
    hosts = json_object_get(root, "hosts");
    if (!json_is_integer(format) || !json_is_object(plugins) || (hosts && !json_is_object(hosts)))
        rc = bay_error_set(err, BAY_EIO, NULL,
                           "%s: expected an object with \"format\": 1, \"plugins\": {...} and optionally "
                           "\"hosts\": {...} (" CORRUPT_HINT ")",
                           s->file);
    else if (json_integer_value(format) != STATE_FORMAT)
        rc = bay_error_set(err, BAY_EIO, NULL,
                           "%s: format %" JSON_INTEGER_FORMAT " is not the one this broker reads (%d)", s->file,
                           json_integer_value(format), STATE_FORMAT);
    for (void *it = json_object_iter(plugins); !rc && it; it = json_object_iter_next(plugins, it))
        rc = load_entry(s, json_object_iter_key(it), json_object_iter_value(it), err);
    for (void *it = json_object_iter(hosts); !rc && it; it = json_object_iter_next(hosts, it))
        rc = load_host(s, json_object_iter_key(it), json_object_iter_value(it), err);
    json_decref(root);
    return rc;
}

/* to_json returns the state as a new JSON object, or NULL when out of memory. */
static json_t *to_json(const bay__state *s)
{
    json_t *root = json_pack("{s:i, s:{}}", "format", STATE_FORMAT, "plugins");
    json_t *plugins = json_object_get(root, "plugins");
    bool ok = root != NULL;
    for (size_t i = 0; ok && i < s->n; i++) {
        const bay__state_plugin *p = s->v[i];
        json_t *e = json_pack("{s:b, s:[]}", "enabled", p->enabled, "granted");
        json_t *granted = json_object_get(e, "granted");
        ok = !json_object_set_new(plugins, p->id, e) &&
             (!p->failed || !json_object_set_new(e, "failed", json_string(p->failed))) &&
             (!p->ordered || !json_object_set_new(e, "order", json_integer(p->order))) &&
             (!json_object_size(p->settings) || !json_object_set_new(e, "settings", json_deep_copy(p->settings))) &&
             (!p->version || !json_object_set_new(e, "version", json_string(p->version)));
        for (char **g = p->granted; ok && *g; g++)
            ok = !json_array_append_new(granted, json_string(*g));
    }
    json_t *hosts = s->nhosts ? json_object() : NULL;
    ok = ok && (!hosts || !json_object_set_new(root, "hosts", hosts));
    for (size_t i = 0; ok && i < s->nhosts; i++) {
        const bay__state_host *h = s->hosts[i];
        json_t *e = json_pack("{s:s, s:[]}", "role", bay__role_name(h->role), "granted");
        json_t *granted = json_object_get(e, "granted");
        char b64[BAY_KEY_BASE64_SIZE];
        if (h->keyed)
            bay__key_to_base64(h->key, b64);
        ok = !json_object_set_new(hosts, h->name, e) && granted &&
             !json_object_set_new(e, h->keyed ? "key" : "uid", h->keyed ? json_string(b64) : json_integer(h->uid));
        for (char **g = h->granted; ok && *g; g++)
            ok = !json_array_append_new(granted, json_string(*g));
    }
    if (!ok) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* write_all writes len bytes of buf to fd. Returns 0 or an errno value. */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno != EINTR)
            return errno;
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        }
    }
    return 0;
}

/* write_tmp writes text and a newline to state.json.tmp and flushes it to
 * disk; on failure it removes the file and the message names the step. */
static int write_tmp(bay__state *s, const char *text, bay_error *err)
{
    int fd = open(s->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), e;
    const char *step = "write";
    if (fd < 0)
        return bay_error_set(err, BAY_EIO, NULL, "cannot create %s: %s", s->tmp, strerror(errno));
    if (!(e = write_all(fd, text, strlen(text))) && !(e = write_all(fd, "\n", 1)) && fsync(fd) != 0)
        e = errno, step = "flush to disk";
    if (close(fd) != 0 && !e)
        e = errno;
    if (!e)
        return 0;
    unlink(s->tmp); /* a leftover is dropped by the next bay__state_open */
    return bay_error_set(err, BAY_EIO, NULL, "cannot %s %s: %s", step, s->tmp, strerror(e));
}

int bay__state_save(bay__state *s, bay_error *err)
{
    json_t *root = to_json(s);
    char *text = root ? json_dumps(root, JSON_INDENT(2)) : NULL;
    int rc, dirfd;
    json_decref(root);
    if (!text)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    rc = write_tmp(s, text, err);
    free(text);
    if (rc)
        return rc;
    if (rename(s->tmp, s->file) != 0) {
        rc = bay_error_set(err, BAY_EIO, NULL, "cannot rename %s to %s: %s", s->tmp, s->file, strerror(errno));
        unlink(s->tmp);
        return rc;
    }
    if ((dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return bay_error_set(err, BAY_EIO, NULL, "cannot open folder %s to flush the saved state: %s", s->dir,
                             strerror(errno));
    if (fsync(dirfd) != 0)
        rc = bay_error_set(err, BAY_EIO, NULL, "cannot flush folder %s after saving the state: %s", s->dir,
                           strerror(errno));
    close(dirfd);
    return rc;
}

/* ---- opening ---------------------------------------------------------------- */

/* take_lock opens DIR/state.lock and locks it, so one broker at a time uses DIR. */
static int take_lock(bay__state *s, bay_error *err)
{
    char *path = join(s->dir, "state.lock");
    int rc = 0;
    if (!path)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    if ((s->lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
        rc = bay_error_set(err, BAY_EIO, NULL, "cannot open %s: %s", path, strerror(errno));
    else if (flock(s->lock, LOCK_EX | LOCK_NB))
        rc = errno == EWOULDBLOCK
                 ? bay_error_set(err, BAY_EBUSY, NULL, "state folder %s is in use by another broker", s->dir)
                 : bay_error_set(err, BAY_EIO, NULL, "cannot lock %s: %s", path, strerror(errno));
    free(path);
    return rc;
}

/* make_sub creates DIR/name. */
static int make_sub(bay__state *s, const char *name, bay_error *err)
{
    char *path = join(s->dir, name);
    int rc = path ? bay__state_mkdirs(path, NULL, err) : bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    free(path);
    return rc;
}

int bay__state_open(const char *dir, bay__state **out, bay_error *err)
{
    bay__state *s;
    int rc;
    if (!out || !dir || !*dir)
        return bay_error_set(err, BAY_EINVAL, NULL, "no state folder given");
    *out = NULL;
    if (!(s = calloc(1, sizeof *s)))
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    s->lock = -1;
    if (!(s->dir = strdup(dir)) || !(s->file = join(dir, "state.json")) || !(s->tmp = join(dir, "state.json.tmp")))
        rc = bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    else if (!(rc = bay__state_mkdirs(dir, NULL, err)) && !(rc = make_sub(s, "data", err)) && !(rc = make_sub(s, "run", err)) &&
             !(rc = take_lock(s, err)) && unlink(s->tmp) && errno != ENOENT)
        rc = bay_error_set(err, BAY_EIO, NULL, "cannot remove the unfinished %s: %s", s->tmp, strerror(errno));
    if (!rc)
        rc = load(s, err);
    if (rc) {
        bay__state_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void bay__state_close(bay__state *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        plugin_free(s->v[i]);
    for (size_t i = 0; i < s->nhosts; i++)
        host_free(s->hosts[i]);
    free(s->hosts);
    if (s->lock >= 0)
        close(s->lock);
    free(s->v);
    free(s->dir);
    free(s->file);
    free(s->tmp);
    free(s);
}

const char *bay__state_dir(const bay__state *s) { return s->dir; }

size_t bay__state_count(const bay__state *s) { return s->n; }

bay__state_plugin *bay__state_at(bay__state *s, size_t i) { return i < s->n ? s->v[i] : NULL; }

bay__state_plugin *bay__state_find(bay__state *s, const char *id)
{
    size_t at;
    return id && find(s, id, &at) ? s->v[at] : NULL;
}

/* ---- changes ------------------------------------------------------------------ */

/* inside tells whether plugin id a is in a folder of plugin id b ("b/x" in "b"). */
static bool inside(const char *a, const char *b)
{
    size_t n = strlen(b);
    return strncmp(a, b, n) == 0 && a[n] == '/';
}

int bay__state_install(bay__state *s, const char *id, const char *const *granted, bay__state_plugin **out,
                       bay_error *err)
{
    bay__state_plugin *p;
    size_t at;
    int rc;
    if (!bay__plugin_id_valid(id))
        return bay_error_set(err, BAY_EINVAL, NULL, "\"%s\" is not a plugin id", id ? id : "(null)");
    if (find(s, id, &at))
        return bay_error_set(err, BAY_EEXIST, id, "plugin %s is already installed", id);
    for (size_t i = 0; i < s->n; i++)
        if (inside(id, s->v[i]->id) || inside(s->v[i]->id, id))
            return bay_error_set(err, BAY_EINVAL, id,
                                 "plugin %s cannot be installed beside %s: one's folder is inside the other's", id,
                                 s->v[i]->id);
    if ((rc = remove_data(s, id, err)) || (rc = reserve(s, err)))
        return rc;
    if (!(p = plugin_new(id, true, granted, NULL)))
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    insert(s, at, p);
    if ((rc = bay__state_save(s, err))) {
        plugin_free(take(s, at));
        return rc;
    }
    if (out)
        *out = p;
    return 0;
}

int bay__state_forget(bay__state *s, const char *id, bay_error *err)
{
    size_t at;
    int rc = installed(s, id, &at, err);
    if (rc)
        return rc;
    bay__state_plugin *p = take(s, at);
    if ((rc = bay__state_save(s, err))) {
        insert(s, at, p);
        return rc;
    }
    plugin_free(p);
    return 0;
}

int bay__state_remove_data(bay__state *s, const char *id, bay_error *err)
{
    if (bay__state_find(s, id))
        return bay_error_set(err, BAY_EBUSY, id, "%s is installed: its data folder stays", id);
    return remove_data(s, id, err);
}

int bay__state_uninstall(bay__state *s, const char *id, bay_error *err)
{
    int rc = bay__state_forget(s, id, err);
    return rc ? rc : remove_data(s, id, err);
}

int bay__state_set_enabled(bay__state *s, const char *id, bool enabled, bay_error *err)
{
    size_t at;
    int rc = installed(s, id, &at, err);
    if (rc || s->v[at]->enabled == enabled)
        return rc;
    s->v[at]->enabled = enabled;
    if ((rc = bay__state_save(s, err)))
        s->v[at]->enabled = !enabled;
    return rc;
}

int bay__state_set_failed(bay__state *s, const char *id, const char *reason, bay_error *err)
{
    char *copy = NULL, *old;
    size_t at;
    int rc = installed(s, id, &at, err);
    if (rc)
        return rc;
    if (reason && !(copy = strdup(reason)))
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    old = s->v[at]->failed;
    s->v[at]->failed = copy;
    if ((rc = bay__state_save(s, err))) {
        free(s->v[at]->failed);
        s->v[at]->failed = old;
        return rc;
    }
    free(old);
    return 0;
}

int bay__state_set_granted(bay__state *s, const char *id, const char *const *granted, bay_error *err)
{
    size_t at;
    int rc = installed(s, id, &at, err);
    if (rc)
        return rc;
    char **copy = unique_copy(granted), **old = s->v[at]->granted;
    if (copy == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    s->v[at]->granted = copy;
    if ((rc = bay__state_save(s, err))) {
        s->v[at]->granted = old;
        bay__strv_free(copy);
        return rc;
    }
    bay__strv_free(old);
    return 0;
}

int bay__state_add_granted(bay__state *s, const char *id, const char *const *more, bay_error *err)
{
    size_t at;
    int rc = installed(s, id, &at, err);
    if (rc)
        return rc;
    size_t had = bay__strv_len((const char *const *)s->v[at]->granted), n = bay__strv_len(more);
    const char **all = calloc(had + n + 1, sizeof *all);
    if (all == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    memcpy(all, s->v[at]->granted, had * sizeof *all);
    memcpy(all + had, more, n * sizeof *all);
    rc = bay__state_set_granted(s, id, all, err);
    free(all);
    return rc;
}

int bay__state_set_order(bay__state *s, const char *id, const int64_t *order, bay_error *err)
{
    size_t at;
    int rc = installed(s, id, &at, err);
    if (rc)
        return rc;
    if (order && !order_valid(*order))
        return bay_error_set(err, BAY_EINVAL, id, "order %lld is outside -2147483648..2147483647", (long long)*order);
    bay__state_plugin *p = s->v[at];
    bool was_ordered = p->ordered;
    int64_t was = p->order;
    p->ordered = order != NULL;
    p->order = order ? *order : 0;
    if ((rc = bay__state_save(s, err))) {
        p->ordered = was_ordered;
        p->order = was;
    }
    return rc;
}

int bay__state_data_dir(bay__state *s, const char *id, char *path, size_t len, bay_error *err)
{
    size_t at;
    int rc = installed(s, id, &at, err);
    if (rc)
        return rc;
    if ((size_t)snprintf(path, len, "%s/data/%s", s->dir, id) >= len)
        return bay_error_set(err, BAY_EINVAL, id, "the data folder path of plugin %s does not fit in %zu bytes", id,
                             len);
    return bay__state_mkdirs(path, id, err);
}

/* ---- hosts ------------------------------------------------------------------ */

/* host_add records host name for local user uid or, when key is not NULL, for the holder of that public key,
 * and saves (bay__state_host_add, bay__state_host_add_key). */
static int host_add(bay__state *s, const char *name, uint32_t uid, const unsigned char *key, bay__role role,
                    const char *const *granted, bay_error *err)
{
    if (!host_name_valid(name))
        return bay_error_set(err, BAY_EINVAL, NULL, "host name \"%s\" must be 1 to 63 of a-z, 0-9, '.', '_' and '-'",
                             name ? name : "(null)");
    if (role == BAY_ROLE_NONE)
        return bay_error_set(err, BAY_EINVAL, NULL, "host %s needs a role: observer, host or admin", name);
    if (host_index(s, name) < s->nhosts)
        return bay_error_set(err, BAY_EEXIST, NULL, "host %s exists; remove it first (`plugbay host remove %s`)", name,
                             name);
    const bay__state_host *same = key ? bay__state_host_of_key(s, key) : bay__state_host_of_uid(s, uid);
    if (same && key)
        return bay_error_set(err, BAY_EEXIST, NULL, "key %s is host %s already; remove it first (`plugbay host remove "
                             "%s`)", same->key_id, same->name, same->name);
    if (same)
        return bay_error_set(err, BAY_EEXIST, NULL, "uid %u is host %s already; remove it first (`plugbay host remove %s`)",
                             uid, same->name, same->name);
    int rc = host_push(s, name, uid, key, role, granted, err);
    if (rc == 0 && (rc = bay__state_save(s, err)) != 0)
        host_free(s->hosts[--s->nhosts]);
    return rc;
}

int bay__state_host_add(bay__state *s, const char *name, uint32_t uid, bay__role role, const char *const *granted,
                        bay_error *err)
{
    return host_add(s, name, uid, NULL, role, granted, err);
}

int bay__state_host_add_key(bay__state *s, const char *name, const unsigned char key[BAY_KEY_PUBLIC_BYTES],
                            bay__role role, const char *const *granted, bay_error *err)
{
    return host_add(s, name, 0, key, role, granted, err);
}

int bay__state_host_remove(bay__state *s, const char *name, bay_error *err)
{
    size_t i = name ? host_index(s, name) : s->nhosts;
    if (i == s->nhosts)
        return bay_error_set(err, BAY_ENOENT, NULL, "no host %s (see `plugbay host list`)", name ? name : "(null)");
    bay__state_host *h = s->hosts[i];
    memmove(&s->hosts[i], &s->hosts[i + 1], (s->nhosts - i - 1) * sizeof *s->hosts);
    s->nhosts--;
    int rc = bay__state_save(s, err);
    if (rc) { /* put it back where it was */
        memmove(&s->hosts[i + 1], &s->hosts[i], (s->nhosts - i) * sizeof *s->hosts);
        s->hosts[i] = h;
        s->nhosts++;
        return rc;
    }
    host_free(h);
    return 0;
}

size_t bay__state_host_count(const bay__state *s) { return s->nhosts; }

const bay__state_host *bay__state_host_at(const bay__state *s, size_t i) { return i < s->nhosts ? s->hosts[i] : NULL; }

const bay__state_host *bay__state_host_named(const bay__state *s, const char *name)
{
    size_t i = host_index(s, name);
    return i < s->nhosts ? s->hosts[i] : NULL;
}

const bay__state_host *bay__state_host_of_uid(const bay__state *s, uint32_t uid)
{
    for (size_t i = 0; i < s->nhosts; i++)
        if (!s->hosts[i]->keyed && s->hosts[i]->uid == uid)
            return s->hosts[i];
    return NULL;
}

const bay__state_host *bay__state_host_of_key(const bay__state *s, const unsigned char key[BAY_KEY_PUBLIC_BYTES])
{
    for (size_t i = 0; i < s->nhosts; i++)
        if (s->hosts[i]->keyed && memcmp(s->hosts[i]->key, key, BAY_KEY_PUBLIC_BYTES) == 0)
            return s->hosts[i];
    return NULL;
}

int bay__state_set_settings(bay__state *s, const char *id, const json_t *settings, bay_error *err)
{
    size_t at;
    int rc = installed(s, id, &at, err);
    if (rc)
        return rc;
    json_t *copy = settings ? json_deep_copy(settings) : json_object(), *old = s->v[at]->settings;
    if (copy == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    s->v[at]->settings = copy;
    if ((rc = bay__state_save(s, err))) {
        s->v[at]->settings = old;
        json_decref(copy);
        return rc;
    }
    json_decref(old);
    return 0;
}

int bay__state_set_version(bay__state *s, const char *id, const char *version, bay_error *err)
{
    size_t at;
    int rc = installed(s, id, &at, err);
    if (rc)
        return rc;
    char *copy = strdup(version), *old = s->v[at]->version;
    if (copy == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    s->v[at]->version = copy;
    if ((rc = bay__state_save(s, err))) {
        s->v[at]->version = old;
        free(copy);
        return rc;
    }
    free(old);
    return 0;
}
