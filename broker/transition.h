/* broker/transition.h — the states of a plugin's life and the decisions that
 * move it between them: what asking to load it comes to, and how a
 * dependency in a given state stands. A decision of the broker's core: it
 * knows states, not plugins, workers or connections; lifecycle.c applies it. */
#ifndef BAY_TRANSITION_H
#define BAY_TRANSITION_H

#include <stdbool.h>

typedef enum plugin_state {
    PS_AVAILABLE, /* discovered, not installed */
    PS_DISABLED,  /* installed, not enabled */
    PS_STOPPED,   /* enabled, not loaded */
    PS_WAITING,   /* enabled, waiting for its dependencies to load */
    PS_STARTING,  /* worker started, loading */
    PS_LOADED,
    PS_UNLOADING, /* refusing new calls, draining in-flight ones */
    PS_FAILED,    /* load failed or crashed; restart may be scheduled */
    PS_INVALID,   /* manifest is invalid */
} plugin_state;

/* plugin_state_name returns the state's name as the CLI, the log and the
 * notices show it ("loaded"). Static. */
const char *plugin_state_name(plugin_state s);

/* What asking to load a plugin comes to. */
typedef enum load_step {
    LOAD_START,         /* start it: check its dependencies, then start its worker */
    LOAD_NOTHING,       /* loaded, or on its way already */
    LOAD_AFTER_UNLOAD,  /* unloading: load it again once it has stopped */
    LOAD_NOT_INSTALLED, /* refused: install it first */
    LOAD_DISABLED,      /* refused: enable it first */
    LOAD_INVALID,       /* refused: its manifest is invalid */
} load_step;

/* transition_load decides what asking to load a plugin in state s comes to.
 * fresh: it was just installed or enabled, so that available, disabled and
 * failed count as stopped. A waiting plugin starts if its dependencies now
 * allow; a failed one is restarted. */
load_step transition_load(plugin_state s, bool fresh);

/* How a dependency stands for a plugin that needs it. */
typedef enum dep_step {
    DEP_READY,       /* loaded */
    DEP_PENDING,     /* on its way: wait for it */
    DEP_LOAD_FIRST,  /* stopped: load it, then wait for it */
    DEP_UNAVAILABLE, /* it will not load by itself: the plugin fails */
} dep_step;

/* transition_dependency decides how a dependency in state s stands;
 * restarting: it failed, and plugbayd restarts it (a restart is scheduled,
 * or its worker has not ended yet). */
dep_step transition_dependency(plugin_state s, bool restarting);

/* transition_in_use tells whether a plugin in state s holds its
 * dependencies: loaded, or on its way to it. */
bool transition_in_use(plugin_state s);

#endif
