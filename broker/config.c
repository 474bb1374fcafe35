/* broker/config.c — the "config" command: a plugin's settings read, changed by an admin and told to its worker. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "route.h"
#include "setting.h"
#include "translate.h"
#include "value_convert.h"

#define SETTINGS_HOOK_MS 10000 /* the time on_settings has */

bool config_changes(const bay_value *args)
{
    return bay_map_get(args, "set") || bay_map_get(args, "set_text") || bay_map_get(args, "reset");
}

/* declared lists the settings p declares into names (len bytes). */
static void declared(const plugin *p, char *names, size_t len)
{
    size_t used = 0;
    names[0] = '\0';
    for (void *it = json_object_iter(p->m->settings); it && used < len; it = json_object_iter_next(p->m->settings, it))
        used += (size_t)snprintf(names + used, len - used, "%s%s", used ? ", " : "", json_object_iter_key(it));
    if (names[0] == '\0')
        snprintf(names, len, "none");
}

/* decl_of returns p's declaration of key, or NULL with err (BAY_ENOENT) listing those it has. */
static const json_t *decl_of(const plugin *p, const char *key, bay_error *err)
{
    const json_t *decl = json_object_get(p->m->settings, key);
    char names[600];
    if (decl == NULL) {
        declared(p, names, sizeof names);
        bay_error_set(err, BAY_ENOENT, p->id, "%s declares no setting \"%s\" (its settings: %s)", p->id, key, names);
    }
    return decl;
}

/* unfit refuses value v of setting key (decl) of p, saying what it takes and, unless secret, what came (raw's
 * type when v is NULL: a value JSON cannot hold). */
static int unfit(const plugin *p, const char *key, const json_t *decl, const json_t *v, const bay_value *raw,
                 const char *takes, bay_error *err)
{
    char *got = v && !bay__setting_secret(decl) ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
    bay_error_set(err, BAY_EINVAL, p->id, "%s: setting \"%s\": expected %s, got %s%s", p->id, key, takes,
                  got ? got : v ? "another value (not shown: the setting is secret)" : "a ",
                  got || v ? "" : bay_type_name(bay_value_type(raw)));
    free(got);
    return BAY_EINVAL;
}

/* given reads the value args give setting key of p (decl): val itself ("set"), or val's text read as the
 * setting's type ("set_text", text true). A new value that fits, or NULL with err. */
static json_t *given(const plugin *p, const char *key, const json_t *decl, const bay_value *val, bool text,
                     bay_error *err)
{
    char takes[400];
    if (text && bay_value_type(val) != BAY_STR) {
        bay_error_set(err, BAY_EINVAL, p->id, "command \"config\": set_text.%s must be a string", key);
        return NULL;
    }
    json_t *v = text                             ? bay__setting_parse(decl, bay_value_str(val, NULL), takes, sizeof takes)
                : bay_value_type(val) == BAY_BIN ? NULL /* JSON would hold it as a "base64:" string */
                                                 : bay__value_to_jansson(val, NULL);
    if (v && (text || bay__setting_fits(decl, v, takes, sizeof takes)))
        return v;
    if (v == NULL && !text)
        bay__setting_fits(decl, NULL, takes, sizeof takes); /* says what it takes */
    json_t *shown = text ? json_string(bay_value_str(val, NULL)) : v;
    unfit(p, key, decl, shown, val, takes, err);
    json_decref(shown);
    return NULL;
}

/* apply puts args' changes into next (the settings set), adding each key changed to changed. */
static int apply(const plugin *p, const bay_value *args, json_t *next, json_t *changed, bay_error *err)
{
    static const char *const kinds[] = {"set", "set_text"};
    for (size_t k = 0; k < 2; k++) {
        const bay_value *map = bay_map_get(args, kinds[k]), *val;
        if (map && bay_value_type(map) != BAY_MAP)
            return bay_error_set(err, BAY_EINVAL, p->id, "command \"config\": \"%s\" must be a map of setting to value",
                                 kinds[k]);
        const char *key;
        for (size_t i = 0; map && (key = bay_map_entry(map, i, &val)) != NULL; i++) {
            const json_t *decl = decl_of(p, key, err);
            json_t *v = decl ? given(p, key, decl, val, k == 1, err) : NULL;
            if (v == NULL)
                return err->code;
            json_object_set_new(next, key, v);
            json_array_append_new(changed, json_string(key));
        }
    }
    const bay_value *reset = bay_map_get(args, "reset");
    if (reset && bay_value_type(reset) != BAY_ARRAY)
        return bay_error_set(err, BAY_EINVAL, p->id, "command \"config\": \"reset\" must be an array of settings");
    for (size_t i = 0; i < bay_value_len(reset); i++) {
        const char *key = bay_value_str(bay_array_get(reset, i), NULL);
        if (key == NULL)
            return bay_error_set(err, BAY_EINVAL, p->id, "command \"config\": \"reset\" must be an array of settings");
        if (decl_of(p, key, err) == NULL)
            return BAY_ENOENT;
        json_object_del(next, key);
        json_array_append_new(changed, json_string(key));
    }
    return 0;
}

/* shown_value is what a log line shows of setting key's value v: the value, or (secret). Free it. */
static char *shown_value(const json_t *decl, const json_t *v)
{
    return bay__setting_secret(decl) ? strdup("(secret)") : json_dumps(v, JSON_ENCODE_ANY);
}

/* tell has p's serving worker hear of the keys in changed (on_settings), logging each change when log. */
static void tell(broker *b, plugin *p, const json_t *set, const json_t *changed, bool log)
{
    json_t *values = bay__settings_values(p->m->settings, set);
    for (size_t i = 0; log && values && i < json_array_size(changed); i++) {
        const char *key = json_string_value(json_array_get(changed, i));
        char *v = shown_value(json_object_get(p->m->settings, key), json_object_get(values, key));
        bay__log(BAY_LOG_INFO, p->id, "setting %s is now %s%s", key, v ? v : "?",
                 json_object_get(set, key) ? "" : " (its default)");
        free(v);
    }
    json_t *args = values ? json_pack("[O, O]", values, changed) : NULL;
    bay_value *packed = NULL;
    void *raw = NULL;
    size_t len = 0;
    if (p->life.state == PS_LOADED && args && bay__value_from_jansson(args, &packed, NULL) == 0 &&
        bay_value_pack(packed, &raw, &len) == 0) {
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        if (msgpack_unpack_next(&u, raw, len, NULL) == MSGPACK_UNPACK_SUCCESS &&
            route_hook(b, p, "hook:settings", &u.data, SETTINGS_HOOK_MS) == 0)
            bay__log(BAY_LOG_ERROR, p->id, "its worker did not hear of the new settings: out of memory");
        msgpack_unpacked_destroy(&u);
    }
    free(raw);
    bay_value_free(packed);
    json_decref(args);
    json_decref(values);
}

/* describe answers the settings of p (only setting only, when not NULL) with the values set, each label and
 * description in locale (NULL: the manifest's; translate.h). */
static bay_value *describe(const plugin *p, const json_t *set, const char *only, const char *locale)
{
    static const char *const shown[] = {"type", "enum", "minimum", "maximum", "pattern"};
    static const char *const texts[] = {"label", "description"};
    json_t *list = json_array(), *values = bay__settings_values(p->m->settings, set);
    for (void *it = json_object_iter(p->m->settings); it; it = json_object_iter_next(p->m->settings, it)) {
        const char *key = json_object_iter_key(it);
        if (only && strcmp(only, key) != 0)
            continue;
        const json_t *decl = json_object_iter_value(it);
        bool secret = bay__setting_secret(decl);
        json_t *e = json_pack("{s:s, s:b, s:b}", "key", key, "set", json_object_get(set, key) != NULL, "secret", secret);
        for (size_t i = 0; i < sizeof shown / sizeof *shown; i++)
            if (json_object_get(decl, shown[i]))
                json_object_set(e, shown[i], json_object_get(decl, shown[i]));
        for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
            const char *t = bay__translate_setting(p->m, locale, key, texts[i]);
            if (t)
                json_object_set_new(e, texts[i], json_string(t));
        }
        json_object_set_new(e, "default", secret ? json_null() : json_incref(json_object_get(decl, "default")));
        json_object_set_new(e, "value", secret ? json_null() : json_incref(json_object_get(values, key)));
        json_array_append_new(list, e);
    }
    json_t *answer = json_pack("{s:s, s:o}", "id", p->id, "settings", list);
    bay_value *out = NULL;
    bay__value_from_jansson(answer, &out, NULL);
    json_decref(answer);
    json_decref(values);
    return out;
}

int config_command(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    if (p->m == NULL)
        return bay_error_set(err, BAY_EMANIFEST, p->id, "%s has an invalid manifest (%s): fix it first", p->id,
                             p->life.reason);
    bay__state_plugin *sp = bay__state_find(b->state, p->id);
    if (sp == NULL)
        return bay_error_set(err, BAY_ESTATE, p->id, "%s is not installed: settings are kept for installed plugins; "
                             "run `plugbay install %s` first", p->id, p->id);
    const char *only = bay_value_str(bay_map_get(args, "key"), NULL);
    if (only && decl_of(p, only, err) == NULL)
        return BAY_ENOENT;
    json_t *next = json_deep_copy(sp->settings), *changed = json_array();
    int rc = next && changed ? apply(p, args, next, changed, err) : bay_error_set(err, BAY_ENOMEM, p->id, "out of memory");
    bay_error e;
    if (rc == 0 && json_array_size(changed) && (rc = bay__state_set_settings(b->state, p->id, next, &e)) != 0)
        bay_error_set(err, rc, p->id, "%s: settings not changed: %s", p->id, e.message);
    if (rc == 0 && json_array_size(changed)) {
        p->settings_changes++;
        tell(b, p, sp->settings, changed, true);
    }
    json_decref(next);
    json_decref(changed);
    if (rc == 0 && (*out = describe(p, sp->settings, only, bay_value_str(bay_map_get(args, "locale"), NULL))) == NULL)
        rc = bay_error_set(err, BAY_ENOMEM, p->id, "out of memory");
    return rc;
}

void config_adopted(broker *b, plugin *p)
{
    bay__state_plugin *sp = bay__state_find(b->state, p->id);
    json_t *kept = sp ? json_deep_copy(sp->settings) : NULL;
    bool dropped = false;
    char takes[400];
    const char *key;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(kept, tmp, key, v) {
        const json_t *decl = json_object_get(p->m->settings, key);
        if (decl && bay__setting_fits(decl, v, takes, sizeof takes))
            continue;
        if (decl)
            bay__log(BAY_LOG_WARN, p->id, "version %s: setting %s now takes %s: the value it had does not fit, so it "
                     "is back to its default", p->m->version, key, takes);
        else
            bay__log(BAY_LOG_WARN, p->id, "version %s no longer declares setting %s: the value it had is removed",
                     p->m->version, key);
        json_object_del(kept, key);
        dropped = true;
    }
    bay_error e;
    if (dropped && bay__state_set_settings(b->state, p->id, kept, &e) != 0)
        bay__log(BAY_LOG_ERROR, p->id, "settings no version declares are kept: %s", e.message);
    json_decref(kept);
}

void config_resend(broker *b, plugin *p)
{
    bay__state_plugin *sp = bay__state_find(b->state, p->id);
    json_t *all = json_array();
    for (void *it = json_object_iter(p->m->settings); all && it; it = json_object_iter_next(p->m->settings, it))
        json_array_append_new(all, json_string(json_object_iter_key(it)));
    if (sp && all)
        tell(b, p, sp->settings, all, false);
    json_decref(all);
}
