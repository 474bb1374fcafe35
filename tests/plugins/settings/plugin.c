/* tests/plugins/settings/plugin.c — test/settings: reads its settings, keeps what on_settings and its hooks saw
 * (in memory and in its store), and fails on_update when its fail_update setting says so. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <plugbay/plugin.h>

static bay_value *heard; /* the last on_settings' arguments: [settings, changed] */
static char hooks[512];  /* the hooks this worker ran, space-separated, "on_update(1.0.0)" with its argument */

static int settings_get(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const char *key;
    int rc = bay_arg_str(call, args, 0, &key);
    const bay_value *v = rc ? NULL : bay_plugin_setting(key);
    if (rc == 0 && v == NULL)
        return bay_call_error(call, BAY_ENOENT, "no setting %s", key);
    *result = rc ? NULL : bay_value_copy(v);
    return rc;
}

static int settings_all(bay_invocation *call, const bay_value *args, bay_value **result)
{
    (void)call, (void)args;
    *result = bay_value_copy(bay_plugin_settings());
    return 0;
}

static int settings_heard(bay_invocation *call, const bay_value *args, bay_value **result)
{
    (void)call, (void)args;
    *result = heard ? bay_value_copy(heard) : NULL;
    return 0;
}

/* settings_hooks answers the hooks this worker ran and what its store kept of the hooks that ran before. */
static int settings_hooks(bay_invocation *call, const bay_value *args, bay_value **result)
{
    (void)call, (void)args;
    bay_value *kept = NULL;
    *result = bay_map();
    bay_map_set(*result, "ran", bay_str(hooks));
    if (bay_store_get("hooks", &kept, NULL) == 0)
        bay_map_set(*result, "kept", kept);
    return 0;
}

/* ran notes hook (with its argument) in memory and, appended, in the store. */
static int ran(bay_invocation *call, const char *hook)
{
    size_t n = strlen(hooks);
    snprintf(hooks + n, sizeof hooks - n, "%s%s", n ? " " : "", hook);
    bay_value *kept = NULL;
    char all[512] = "";
    bay_error e;
    if (bay_store_get("hooks", &kept, NULL) == 0)
        snprintf(all, sizeof all, "%s ", bay_value_str(kept, NULL));
    bay_value_free(kept);
    strncat(all, hook, sizeof all - strlen(all) - 1);
    bay_value *v = bay_str(all);
    int rc = bay_store_put("hooks", v, &e);
    bay_value_free(v);
    return rc ? bay_call_error(call, rc, "%s", e.message) : 0;
}

/* on_install fails when the manifest's config says "fail_install": true (a test's switch). */
static int on_install(bay_invocation *call, const bay_value *args, bay_value **result)
{
    (void)args, (void)result;
    int rc = ran(call, "on_install");
    if (rc == 0 && bay_value_bool(bay_map_get(bay_plugin_config(), "fail_install")))
        return bay_call_error(call, BAY_EPLUGIN, "cannot set up: told to fail");
    return rc;
}

static int on_update(bay_invocation *call, const bay_value *args, bay_value **result)
{
    (void)result;
    const char *from;
    char what[128];
    int rc = bay_arg_str(call, args, 0, &from);
    if (rc)
        return rc;
    snprintf(what, sizeof what, "on_update(%s)", from);
    rc = ran(call, what);
    /* The manifest's config "update_ms": on_update takes that long (a test's window). */
    for (int64_t ms = bay_value_int(bay_map_get(bay_plugin_config(), "update_ms")); ms > 0; ms -= 10)
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    if (rc == 0 && bay_value_bool(bay_plugin_setting("fail_update")))
        return bay_call_error(call, BAY_EPLUGIN, "cannot migrate from %s: told to fail", from);
    return rc;
}

static int on_uninstall(bay_invocation *call, const bay_value *args, bay_value **result)
{
    (void)args, (void)result;
    bay_plugin_log(BAY_LOG_INFO, "on_uninstall ran");
    return ran(call, "on_uninstall");
}

static int on_settings(bay_invocation *call, const bay_value *args, bay_value **result)
{
    (void)call, (void)result;
    bay_value_free(heard);
    heard = bay_value_copy(args);
    return 0;
}

static void unload(void)
{
    bay_value_free(heard);
    heard = NULL;
}

BAY_PLUGIN(NULL, unload, {"settings_get", settings_get}, {"settings_all", settings_all},
           {"settings_heard", settings_heard}, {"settings_hooks", settings_hooks}, {"on_install", on_install},
           {"on_update", on_update}, {"on_uninstall", on_uninstall}, {"on_settings", on_settings});
