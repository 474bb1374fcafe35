/* bridges/common/store.c — the plugin's storage (plugin.h): a placeholder until the SQLite store lands. */
#include "store.h"

#include <plugbay/plugin.h>

/* unavailable refuses every storage call until the store is built. */
static int unavailable(bay_error *err)
{
    return bay_error_set(err, BAY_EUNAVAIL, bay_plugin_id(), "plugin storage is not available in this build");
}

int bay_store_get(const char *key, bay_value **out, bay_error *err)
{
    (void)key, (void)out;
    return unavailable(err);
}

int bay_store_put(const char *key, const bay_value *value, bay_error *err)
{
    (void)key, (void)value;
    return unavailable(err);
}

int bay_store_delete(const char *key, bay_error *err)
{
    (void)key;
    return unavailable(err);
}

int bay_store_keys(const char *prefix, bay_value **out, bay_error *err)
{
    (void)prefix, (void)out;
    return unavailable(err);
}

int bay_store_sql(const char *sql, const bay_value *params, bay_value **out, bay_error *err)
{
    (void)sql, (void)params, (void)out;
    return unavailable(err);
}

int bay__store_begin(bay_error *err)
{
    (void)err;
    return 0;
}

int bay__store_end(bool commit, bay_error *err)
{
    (void)commit, (void)err;
    return 0;
}

void bay__store_close(void)
{
}
