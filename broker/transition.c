/* broker/transition.c — the states of a plugin's life and the decisions that move it between them. */
#include "transition.h"

static const char *const names[] = {
    [PS_AVAILABLE] = "available", [PS_DISABLED] = "disabled",   [PS_STOPPED] = "stopped",
    [PS_WAITING] = "waiting",     [PS_STARTING] = "starting",   [PS_LOADED] = "loaded",
    [PS_UNLOADING] = "unloading", [PS_FAILED] = "failed",       [PS_INVALID] = "invalid",
};

const char *plugin_state_name(plugin_state s)
{
    return (unsigned)s < sizeof names / sizeof *names ? names[s] : "unknown";
}

load_step transition_load(plugin_state s, bool fresh)
{
    switch (s) {
    case PS_LOADED:
    case PS_STARTING: return LOAD_NOTHING;
    case PS_UNLOADING: return LOAD_AFTER_UNLOAD;
    case PS_AVAILABLE: return fresh ? LOAD_START : LOAD_NOT_INSTALLED;
    case PS_DISABLED: return fresh ? LOAD_START : LOAD_DISABLED;
    case PS_INVALID: return LOAD_INVALID;
    case PS_WAITING:
    case PS_STOPPED:
    case PS_FAILED: return LOAD_START;
    }
    return LOAD_INVALID;
}

dep_step transition_dependency(plugin_state s, bool restarting)
{
    switch (s) {
    case PS_LOADED: return DEP_READY;
    case PS_STARTING:
    case PS_WAITING: return DEP_PENDING;
    case PS_STOPPED: return DEP_LOAD_FIRST;
    case PS_FAILED: return restarting ? DEP_PENDING : DEP_UNAVAILABLE;
    default: return DEP_UNAVAILABLE;
    }
}

bool transition_in_use(plugin_state s)
{
    return s == PS_LOADED || s == PS_STARTING || s == PS_WAITING;
}
