/* broker/translate.c — a plugin's texts in a locale: its manifest's translations and its message catalogues. */
#include "translate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"

/* lookup returns the string at path (keys, NULL-terminated) inside m's
 * translation for the first locale of the chain for locale that has it, or NULL. */
static const char *lookup(const bay__manifest *m, const char *locale, const char *const *path)
{
    char chain[3][BAY_LOCALE_MAX];
    size_t n = bay__locale_chain(locale, m->locale, chain);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(m->translations, chain[i]);
        for (size_t k = 0; v && path[k]; k++)
            v = json_object_get(v, path[k]);
        if (json_is_string(v))
            return json_string_value(v);
    }
    return NULL;
}

const char *bay__translate_text(const bay__manifest *m, const char *locale, const char *field)
{
    const char *path[] = {field, NULL}, *t = lookup(m, locale, path);
    if (t)
        return t;
    return strcmp(field, "name") == 0 ? m->name : strcmp(field, "brief") == 0 ? m->brief : m->description;
}

const char *bay__translate_setting(const bay__manifest *m, const char *locale, const char *key, const char *field)
{
    const char *path[] = {"settings", key, field, NULL}, *t = lookup(m, locale, path);
    return t ? t : json_string_value(json_object_get(json_object_get(m->settings, key), field));
}

const char *bay__translate_title(const bay__manifest *m, const char *locale, const bay__panel_decl *panel)
{
    const char *path[] = {"ui", panel->panel, "title", NULL}, *t = lookup(m, locale, path);
    return t ? t : panel->title;
}

/* catalogue checks text, the catalogue file (m's messages folder's name), and parses it into *out. */
static int catalogue(const bay__manifest *m, const char *name, const char *text, json_t **out, bay_error *err)
{
    json_error_t je;
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL)
        return bay_error_set(err, BAY_EMANIFEST, m->id, "%s/%s/%s: line %d column %d: %s", m->dir, m->messages, name,
                             je.line, je.column, je.text);
    const char *key;
    json_t *v;
    bool strings = json_is_object(doc);
    json_object_foreach(doc, key, v) strings = strings && json_is_string(v);
    if (!strings) {
        json_decref(doc);
        return bay_error_set(err, BAY_EMANIFEST, m->id, "%s/%s/%s: expected a JSON object of strings like "
                             "{\"hello\": \"Bonjour\"}", m->dir, m->messages, name);
    }
    *out = doc;
    return 0;
}

/* open_folder opens m's messages folder, refusing one a link leads out of the plugin folder. */
static int open_folder(const bay__manifest *m, int *fd, bay_error *err)
{
    char path[PATH_MAX], real[PATH_MAX], root[PATH_MAX];
    size_t n;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", m->dir, m->messages) >= sizeof path || !realpath(m->dir, root) ||
        !realpath(path, real))
        return bay_error_set(err, BAY_EIO, m->id, "%s/%s: cannot open the message catalogues: %s", m->dir,
                             m->messages, strerror(errno));
    n = strlen(root);
    if (strncmp(real, root, n) != 0 || real[n] != '/')
        return bay_error_set(err, BAY_EMANIFEST, m->id, "%s/%s leads through a symbolic link to %s, outside the "
                             "plugin folder", m->dir, m->messages, real);
    if ((*fd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return bay_error_set(err, BAY_EIO, m->id, "%s/%s: %s", m->dir, m->messages, strerror(errno));
    return 0;
}

int bay__translate_messages(const bay__manifest *m, const char *locale, char chosen[BAY_LOCALE_MAX], json_t **out,
                            bay_error *err)
{
    char chain[3][BAY_LOCALE_MAX], name[BAY_LOCALE_MAX + 8];
    size_t n = bay__locale_chain(locale, m->locale, chain);
    int fd = -1, rc = m->messages ? open_folder(m, &fd, err) : 0;
    snprintf(chosen, BAY_LOCALE_MAX, "%s", m->locale);
    *out = NULL;
    for (size_t i = 0; rc == 0 && fd >= 0 && i < n && *out == NULL; i++) {
        char *text = NULL;
        size_t len;
        struct stat st;
        snprintf(name, sizeof name, "%.7s.json", chain[i]);
        int e = bay__file_read_small(fd, name, O_NOFOLLOW, BAY_CATALOGUE_MAX, &text, &len, &st);
        if (e == ENOENT)
            continue;
        if (e == ELOOP || e == EINVAL || e == EFBIG)
            rc = bay_error_set(err, BAY_EMANIFEST, m->id, "%s/%s/%s: %s", m->dir, m->messages, name,
                               e == EFBIG ? "larger than a message catalogue may be (256 KiB)"
                                          : "not a regular file (a catalogue may not be a symbolic link)");
        else if (e)
            rc = bay_error_set(err, e == ENOMEM ? BAY_ENOMEM : BAY_EIO, m->id, "%s/%s/%s: %s", m->dir, m->messages,
                               name, strerror(e));
        else if ((rc = catalogue(m, name, text, out, err)) == 0)
            snprintf(chosen, BAY_LOCALE_MAX, "%.7s", chain[i]);
        free(text);
    }
    if (fd >= 0)
        close(fd);
    if (rc == 0 && *out == NULL && (*out = json_object()) == NULL)
        rc = bay_error_set(err, BAY_ENOMEM, m->id, "out of memory");
    return rc;
}
