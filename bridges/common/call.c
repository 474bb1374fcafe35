/* bridges/common/call.c — running one CALL on the main thread: refused, run by the bridge, answered. */
#include "call.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "stream.h"
#include "value_convert.h"

/* served_names writes the call names the plugin serves, comma-separated, into buf. */
static void served_names(char *buf, size_t size)
{
    size_t n = bay_value_len(bay__w.functions), used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", bay_map_entry(bay__w.functions, i, NULL));
        used += w > 0 ? (size_t)w : 0;
    }
    if (n == 0)
        snprintf(buf, size, "nothing");
}

/* refuse returns the code of a call that must not run (answering it with an
 * ERROR saying why), or 0 when it may. */
static int refuse(const bay__job *j)
{
    const bay_invocation *c = &j->call;
    if (!bay__w.loaded)
        return bay__worker_error(c->chan, c->id, BAY_EUNAVAIL, "call \"%s\" arrived before the plugin was loaded", c->name);
    if (c->function == NULL) {
        char names[400];
        served_names(names, sizeof names);
        return bay__worker_error(c->chan, c->id, BAY_ENOENT, "plugin %s does not serve \"%s\"; it serves: %s", bay__w.id,
                                c->name, names);
    }
    switch (bay__call_stop_code(c)) {
    case BAY_ECANCELED:
        return bay__worker_error(c->chan, c->id, BAY_ECANCELED, "call \"%s\" was cancelled before it started", c->name);
    case BAY_ETIMEDOUT:
        return bay__worker_error(c->chan, c->id, BAY_ETIMEDOUT,
                                "call \"%s\" waited %lld ms in the worker's queue, past its timeout of %lld ms",
                                c->name, (long long)((bay__now_ns() - j->received_ns) / 1000000),
                                (long long)j->f.timeout_ms);
    }
    if (bay__w.depth > BAY_CALL_NESTING_MAX)
        return bay__worker_error(c->chan, c->id, BAY_EBUSY,
                                "call \"%s\" refused: %d calls already run nested in this worker, each waiting in "
                                "bay_plugin_call (does the plugin call its own extension points recursively?)",
                                c->name, BAY_CALL_NESTING_MAX);
    return 0;
}

/* answer_failure answers a call whose function returned code rc, and
 * returns the code it answered with. A function told to stop returns
 * BAY_ECANCELED (plugin.h); when its deadline was the reason, the caller gets
 * BAY_ETIMEDOUT, as it would had plugbayd answered first. */
static int answer_failure(const bay_invocation *c, int rc)
{
    if (rc == BAY_ECANCELED && bay__call_stop_code(c) == BAY_ETIMEDOUT)
        rc = BAY_ETIMEDOUT;
    if (strcmp(bay_errname(rc), "BAY_E?") == 0)
        return bay__worker_error(c->chan, c->id, BAY_EPLUGIN, "%s returned %d, which is not a plugbay error code%s%s",
                                 c->function, rc, c->code ? ": " : "", c->code ? c->message : "");
    if (c->code)
        return bay__worker_error(c->chan, c->id, rc, "%s", c->message);
    return bay__worker_error(c->chan, c->id, rc, "%s returned %s: %s", c->function, bay_errname(rc), bay_strerror(rc));
}

/* The call plugbayd sends when the plugin's settings changed: args [settings map, changed keys]. */
#define HOOK_SETTINGS "hook:settings"

/* take_settings serves the HOOK_SETTINGS call c with args: the new settings
 * take effect, then on_settings runs when the plugin has one. Same contract
 * as bay_plugin_fn. */
static int take_settings(bay_invocation *c, const bay_value *args, bay_value **result)
{
    const bay_value *settings = bay_array_get(args, 0), *changed = bay_array_get(args, 1);
    if (bay_value_type(settings) != BAY_MAP || bay_value_type(changed) != BAY_ARRAY)
        return bay_call_error(c, BAY_EPROTO, "%s: expected [settings map, changed keys], got something else",
                              HOOK_SETTINGS);
    bay_value *copy = bay_value_copy(settings);
    if (copy == NULL)
        return bay_call_error(c, BAY_ENOMEM, "%s: %s", HOOK_SETTINGS, bay_strerror(BAY_ENOMEM));
    bay_value_free(bay__w.settings);
    bay__w.settings = copy;
    *result = NULL;
    bool defined = bay__w.bridge->has && bay__w.bridge->has("on_settings");
    return defined ? bay__w.bridge->call("on_settings", c, args, result) : 0;
}

void bay__run_call(bay__job *j)
{
    bay_invocation *c = &j->call;
    c->name = j->f.name;
    c->context = j->f.context;
    int64_t timeout_ms = j->f.timeout_ms < INT32_MAX ? j->f.timeout_ms : INT32_MAX; /* ~24 days at most */
    c->deadline_ns = timeout_ms > 0 ? j->received_ns + timeout_ms * 1000000 : 0;
    bool settings = strcmp(c->name, HOOK_SETTINGS) == 0; /* plugbayd's, not an extension point */
    const char *set = bay_value_str(bay_map_get(bay__w.timers, c->name), NULL); /* a timer set at run time */
    c->function = settings ? "on_settings" : set ? set : bay_value_str(bay_map_get(bay__w.functions, c->name), NULL);
    c->code = 0;
    c->message[0] = '\0';
    if ((j->answered = refuse(j)) != 0)
        return;

    bay_value *args = NULL, *result = NULL;
    bay_error e;
    int rc = bay__value_from_object(j->f.value, &args, &e);
    if (rc) {
        j->answered = bay__worker_error(c->chan, c->id, rc, "call \"%s\": arguments: %s", c->name, e.message);
        return;
    }
    bay__stream_start(c);
    rc = settings ? take_settings(c, args, &result) : bay__w.bridge->call(c->function, c, args, &result);
    bay_value_free(args);
    if (rc == 0)
        rc = bay__stream_end(c, &result);
    bay__stream_free(c);
    if (rc == 0 && bay__value_nests_deeper(result, BAY_CONVERT_MAX_DEPTH)) /* as Lua's and Python's conversions refuse it */
        rc = bay_call_error(c, BAY_ETYPE, "%s returned a value that cannot cross a call: arrays and maps nest deeper "
                                          "than %d levels",
                            c->function, BAY_CONVERT_MAX_DEPTH);
    j->answered = rc == 0 ? bay__worker_result(c->chan, c->id, result) : answer_failure(c, rc);
    bay_value_free(result);
}
