/* broker/provide.c — what hosts offer: the extension points they declare, provide and withdraw, and their notices. */
#include "provide.h"
#include "conn.h"
#include "lifecycle.h"

void provide_frame(broker *b, conn *c, const bay__frame *f)
{
    bay_error e;
    int kind = bay__kind_parse(f->kind);
    int rc = kind == 0 ? BAY_EINVAL : 0;
    if (rc)
        bay_error_set(&e, rc, NULL, "kind of \"%s\" must be \"handle\", \"event\" or \"filter\", got \"%s\"", f->name, f->kind);
    else if (f->type == BAY_F_DECLARE)
        rc = bay__registry_declare(b->reg, f->name, kind, c->name, &e);
    else
        rc = bay__registry_add(b->reg, f->name, kind, c, c->name, INT64_MAX / 2 + (int64_t)c->session, f->contexts,
                              &e);
    if (rc) {
        conn_send_error(b, c, f->id, rc, NULL, "%s", e.message);
        return;
    }
    conn_send_value(b, c, f->id, NULL);
    lifecycle_notice(b, f->type == BAY_F_DECLARE ? "declared" : "provider-added", f->name, c->name, "", "");
}

int provide_declare_typed(broker *b, conn *c, const bay__frame *f, plugin *p, const bay_value *args, bay_error *err)
{
    (void)p;
    const char *name = bay_value_str(bay_map_get(args, "name"), NULL);
    int kind = bay__kind_parse(bay_value_str(bay_map_get(args, "kind"), NULL));
    const bay_value *types = bay_map_get(args, "types");
    if (name == NULL || *name == '\0' || kind == 0 || bay_value_type(types) != BAY_MAP)
        return bay_error_set(err, BAY_EINVAL, NULL, "command \"declare\" needs {\"name\": NAME, \"kind\": \"handle\", "
                             "\"event\" or \"filter\", \"types\": {\"args\": SCHEMA, \"result\": SCHEMA}}");
    char *text = NULL;
    json_t *j = bay_value_to_json(types, &text) == 0 ? json_loads(text, 0, NULL) : NULL;
    free(text);
    int rc = j ? bay__registry_type(b->reg, name, kind, j, c->name, err)
               : bay_error_set(err, BAY_EINVAL, NULL, "the types of \"%s\" are not JSON", name);
    json_decref(j);
    if (rc)
        return rc;
    conn_send_value(b, c, f->id, NULL);
    lifecycle_notice(b, "declared", name, c->name, "", "");
    return 0;
}

void provide_withdraw(broker *b, conn *c, const bay__frame *f)
{
    if (bay__registry_remove(b->reg, f->name, c) != 0) {
        conn_send_error(b, c, f->id, BAY_ENOENT, NULL, "%s does not provide \"%s\"", c->name, f->name);
        return;
    }
    conn_send_value(b, c, f->id, NULL);
    lifecycle_notice(b, "provider-removed", f->name, c->name, "", "");
}

void provide_subscribe(broker *b, conn *c, const bay__frame *f)
{
    c->subscribed = f->on;
    conn_send_value(b, c, f->id, NULL);
}

void provide_host_gone(broker *b, conn *c)
{
    lifecycle_withdraw(b, c, c->name);
}
