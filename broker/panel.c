/* broker/panel.c — the commands behind plugins' own panels: panels, panel.call and messages. */
#include "panel.h"
#include "conn.h"
#include "console.h"
#include "route.h"
#include "translate.h"

#include <stdio.h>
#include <string.h>

#include "value_convert.h"

/* add_panels appends p's panels to list, titles in locale. */
static void add_panels(broker *b, const plugin *p, const char *locale, bay_value *list)
{
    char url[1024];
    for (size_t i = 0; i < p->m->npanels; i++) {
        const bay__panel_decl *d = &p->m->panels[i];
        bay_value *v = bay_map();
        bay_map_set(v, "plugin", bay_str(p->id));
        bay_map_set(v, "panel", bay_str(d->panel));
        bay_map_set(v, "title", bay_str(bay__translate_title(p->m, locale, d)));
        bay_map_set(v, "url", console_panel_url(b, p, d->panel, url, sizeof url) == 0 ? bay_str(url) : bay_nil());
        bay_array_push(list, v);
    }
}

int panel_list(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    (void)p;
    const char *id = bay_value_str(bay_map_get(args, "id"), NULL), *locale = bay_value_str(bay_map_get(args, "locale"), NULL);
    const plugin *only = id ? broker_plugin(b, id) : NULL;
    if (id && only == NULL)
        return bay_error_set(err, BAY_ENOENT, NULL, "no plugin \"%s\" in %s (see `plugbay list`)", id, b->opt.plugins_dir);
    *out = bay_array();
    for (size_t i = 0; i < b->nplugins; i++) {
        const plugin *q = b->plugins[i];
        if ((only && q != only) || q->m == NULL || q->life.state == PS_AVAILABLE)
            continue;
        add_panels(b, q, locale, *out);
    }
    return 0;
}

int panel_messages(broker *b, plugin *p, const bay_value *args, bay_value **out, bay_error *err)
{
    (void)b;
    char chosen[BAY_LOCALE_MAX];
    json_t *messages = NULL;
    bay_value *v = NULL;
    if (p->m == NULL)
        return bay_error_set(err, BAY_EMANIFEST, p->id, "%s has an invalid manifest (%s): fix it first", p->id,
                             p->life.reason);
    int rc = bay__translate_messages(p->m, bay_value_str(bay_map_get(args, "locale"), NULL), chosen, &messages, err);
    if (rc == 0 && bay__value_from_jansson(messages, &v, NULL) != 0)
        rc = bay_error_set(err, BAY_ENOMEM, p->id, "out of memory");
    json_decref(messages);
    if (rc)
        return rc;
    *out = bay_map();
    bay_map_set(*out, "locale", bay_str(chosen));
    bay_map_set(*out, "messages", v);
    return 0;
}

/* field returns the value of key in the msgpack map m, or NULL. */
static const msgpack_object *field(const msgpack_object *m, const char *key)
{
    size_t n = strlen(key);
    for (uint32_t i = 0; m && m->type == MSGPACK_OBJECT_MAP && i < m->via.map.size; i++) {
        const msgpack_object *k = &m->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && memcmp(k->via.str.ptr, key, n) == 0)
            return &m->via.map.ptr[i].val;
    }
    return NULL;
}

int panel_call(broker *b, conn *c, const bay__frame *f, plugin *p, const bay_value *args, bay_error *err)
{
    const char *name = bay_value_str(bay_map_get(args, "name"), NULL);
    const msgpack_object *call_args = field(f->value, "args");
    const bay_value *timeout = bay_map_get(args, "timeout_ms");
    if (name == NULL || (call_args && call_args->type != MSGPACK_OBJECT_ARRAY) ||
        (timeout && (bay_value_type(timeout) != BAY_INT || bay_value_int(timeout) < 0)))
        return bay_error_set(err, BAY_EINVAL, p->id, "command \"panel.call\" needs {\"id\": PLUGIN-ID, \"name\": "
                             "HANDLE, \"args\": [...], \"timeout_ms\": N} (args and timeout_ms optional)");
    if (!conn_may(c, "call", name))
        return bay_error_set(err, BAY_EPERM, p->id, "%s may not call \"%s\": it was not granted call:%s", conn_who(c),
                             name, name);
    return route_call_plugin(b, c, f->id, p, name, call_args, timeout ? bay_value_int(timeout) : 0, err);
}
