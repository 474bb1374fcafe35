/* bridges/common/manage.c — plugin.h's timers at run time and plugins managed from a plugin, asked of plugbayd. */
#include "manage.h"

#include <stdio.h>
#include <string.h>

#define INTERVAL_MAX_MS 86400000

/* timer_key writes "timer:NAME" to key (len bytes). */
static void timer_key(const char *name, char *key, size_t len)
{
    snprintf(key, len, "timer:%s", name);
}

/* checked refuses what plugbayd would, before asking it: a bad interval, or a function the plugin lacks. */
static int checked(const char *name, int64_t interval_ms, const char *function, bay_error *err)
{
    if (name == NULL || function == NULL || *name == '\0' || strlen(name) > 128)
        return bay_error_set(err, BAY_EINVAL, bay__w.id, "bay_timer_set: needs a timer name (1 to 128 characters) "
                             "and a function");
    if (interval_ms < 1 || interval_ms > INTERVAL_MAX_MS)
        return bay_error_set(err, BAY_EINVAL, bay__w.id, "timer %s: the interval is from 1 to %d ms (one day), got %lld",
                             name, INTERVAL_MAX_MS, (long long)interval_ms);
    if (!bay__w.bridge->has || !bay__w.bridge->has(function))
        return bay_error_set(err, BAY_EINVAL, bay__w.id, "timer %s: the plugin has no function \"%s\"", name,
                             function);
    return 0;
}

/* remember maps timer name to function for the ticks to come (call.c), or forgets it (function NULL). */
static int remember(const char *name, const char *function, bay_error *err)
{
    char key[160];
    timer_key(name, key, sizeof key);
    if (bay__w.timers == NULL && (bay__w.timers = bay_map()) == NULL)
        return bay_error_set(err, BAY_ENOMEM, bay__w.id, "out of memory");
    if (function == NULL)
        return bay_map_set(bay__w.timers, key, bay_nil()) ? bay_error_set(err, BAY_ENOMEM, bay__w.id, "out of memory")
                                                           : 0;
    return bay_map_set(bay__w.timers, key, bay_str(function)) ? bay_error_set(err, BAY_ENOMEM, bay__w.id, "out of memory")
                                                               : 0;
}

/* set_args returns the timer.set args {name, interval_ms, function}. */
static bay_value *set_args(const char *name, int64_t interval_ms, const char *function)
{
    bay_value *args = bay_map();
    bay_map_set(args, "name", bay_str(name));
    bay_map_set(args, "interval_ms", bay_int(interval_ms));
    bay_map_set(args, "function", bay_str(function));
    return args;
}

/* send_set asks plugbayd to set the timer of args (timer.set's) and remembers its function. */
static int send_set(const bay_value *args, bay_error *err)
{
    int rc = bay__plugin_command("bay_timer_set", "timer.set", args, NULL, err);
    return rc ? rc
              : remember(bay_value_str(bay_map_get(args, "name"), NULL),
                         bay_value_str(bay_map_get(args, "function"), NULL), err);
}

int bay_timer_set(const char *name, int64_t interval_ms, const char *function, bay_error *err)
{
    int rc = checked(name, interval_ms, function, err);
    bay_value *args = rc ? NULL : set_args(name, interval_ms, function);
    if (rc == 0 && args == NULL)
        rc = bay_error_set(err, BAY_ENOMEM, bay__w.id, "out of memory");
    if (rc == 0 && !bay__w.loaded) { /* in on_load: set once the load answered (bay__timers_after_load) */
        if ((bay__w.pending_timers == NULL && (bay__w.pending_timers = bay_array()) == NULL) ||
            bay_array_push(bay__w.pending_timers, args) != 0)
            rc = bay_error_set(err, BAY_ENOMEM, bay__w.id, "out of memory");
        return rc;
    }
    if (rc == 0)
        rc = send_set(args, err);
    bay_value_free(args);
    return rc;
}

void bay__timers_after_load(void)
{
    bay_value *pending = bay__w.pending_timers;
    bay__w.pending_timers = NULL;
    bay_error e;
    for (size_t i = 0; i < bay_value_len(pending); i++)
        if (send_set(bay_array_get(pending, i), &e) != 0)
            bay_plugin_log(BAY_LOG_WARN, "a timer set in on_load was refused: %s", e.message);
    bay_value_free(pending);
}

int bay_timer_remove(const char *name, bay_error *err)
{
    if (name == NULL)
        return bay_error_set(err, BAY_EINVAL, bay__w.id, "bay_timer_remove: needs a timer name");
    bay_value *args = bay_map();
    bay_map_set(args, "name", bay_str(name));
    int rc = bay__plugin_command("bay_timer_remove", "timer.remove", args, NULL, err);
    bay_value_free(args);
    return rc ? rc : remember(name, NULL, err);
}

int bay_timer_list(bay_value **out, bay_error *err)
{
    return bay__plugin_command("bay_timer_list", "timer.list", NULL, out, err);
}

int bay_plugins_list(bay_value **out, bay_error *err)
{
    return bay__plugin_command("bay_plugins_list", "plugins.list", NULL, out, err);
}

int bay_plugins_manage(const char *what, const char *id, bay_value **out, bay_error *err)
{
    char name[32];
    if (what == NULL || id == NULL ||
        (strcmp(what, "load") != 0 && strcmp(what, "unload") != 0 && strcmp(what, "reload") != 0))
        return bay_error_set(err, BAY_EINVAL, bay__w.id, "bay_plugins_manage: what is \"load\", \"unload\" or "
                             "\"reload\", and id a plugin id");
    snprintf(name, sizeof name, "plugins.%s", what);
    bay_value *args = bay_map();
    bay_map_set(args, "id", bay_str(id));
    int rc = bay__plugin_command("bay_plugins_manage", name, args, out, err);
    bay_value_free(args);
    return rc;
}
