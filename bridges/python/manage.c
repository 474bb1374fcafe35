/* bridges/python/manage.c — plugbay.timer and plugbay.plugins, the plugin's timers at run time and the plugins it manages (plugin.h's bay_timer_* and bay_plugins_*), with plugbay.TimerError and plugbay.ManageError. */
#include "py_bridge.h"

#include <stdio.h>

static PyObject *timer_error;  /* plugbay.TimerError, a subclass of plugbay.CallError */
static PyObject *manage_error; /* plugbay.ManageError, a subclass of plugbay.CallError */

static PyObject *timer_set(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"name", "interval_ms", "function", NULL};
    const char *name, *function;
    long long interval_ms;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "sLs:set", keywords, &name, &interval_ms, &function))
        return NULL;
    bay_error err;
    return pyb_api_outcome(timer_error, bay_timer_set(name, interval_ms, function, &err), NULL, &err);
}

static PyObject *timer_remove(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"name", NULL};
    const char *name;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s:remove", keywords, &name))
        return NULL;
    bay_error err;
    return pyb_api_outcome(timer_error, bay_timer_remove(name, &err), NULL, &err);
}

static PyObject *timer_list(PyObject *self, PyObject *unused)
{
    bay_value *timers = NULL;
    bay_error err;
    int rc = bay_timer_list(&timers, &err);
    return pyb_api_outcome(timer_error, rc, timers, &err);
}

static PyObject *plugins_list(PyObject *self, PyObject *unused)
{
    bay_value *plugins = NULL;
    bay_error err;
    int rc = bay_plugins_list(&plugins, &err);
    return pyb_api_outcome(manage_error, rc, plugins, &err);
}

/* manage runs what ("load", "unload", "reload") on the plugin id of args and returns its {id, version, state, reason}. */
static PyObject *manage(const char *what, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"id", NULL};
    const char *id;
    char format[16];
    snprintf(format, sizeof format, "s:%s", what);
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, format, keywords, &id))
        return NULL;
    bay_value *plugin = NULL;
    bay_error err;
    int rc = bay_plugins_manage(what, id, &plugin, &err);
    return pyb_api_outcome(manage_error, rc, plugin, &err);
}

static PyObject *plugins_load(PyObject *self, PyObject *args, PyObject *kwargs)
{
    return manage("load", args, kwargs);
}

static PyObject *plugins_unload(PyObject *self, PyObject *args, PyObject *kwargs)
{
    return manage("unload", args, kwargs);
}

static PyObject *plugins_reload(PyObject *self, PyObject *args, PyObject *kwargs)
{
    return manage("reload", args, kwargs);
}

static PyMethodDef timer_methods[] = {
    {"set", PYB_KEYWORDS(timer_set),
     "set(name, interval_ms, function): sets timer name (1 to 128 of A-Z a-z 0-9 _ . : -) to call the plugin's "
     "function (named by a str) every interval_ms (1 to 86400000), the first time one interval from now; a timer of "
     "that name, the manifest's too, moves to the new interval and function."},
    {"remove", PYB_KEYWORDS(timer_remove), "remove(name): stops timer name; TimerError BAY_ENOENT when there is none."},
    {"list", timer_list, METH_NOARGS,
     "list(): a list of the plugin's timers as dicts {name, interval_ms, function, next_in_ms, running, "
     "set_at_run_time}."},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef plugins_methods[] = {
    {"list", plugins_list, METH_NOARGS,
     "list(): a list of {id, version, state, reason} of this plugin and each plugin it may manage."},
    {"load", PYB_KEYWORDS(plugins_load), "load(id): loads plugin id; returns its {id, version, state, reason}."},
    {"unload", PYB_KEYWORDS(plugins_unload),
     "unload(id): unloads plugin id (itself included); returns its {id, version, state, reason} at once, the drain "
     "going on after."},
    {"reload", PYB_KEYWORDS(plugins_reload),
     "reload(id): reloads plugin id (itself included) in a new worker; returns its {id, version, state, reason}."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef timer_def = {
    PyModuleDef_HEAD_INIT, "plugbay.timer",
    "The plugin's timers at run time, besides its manifest's: they last while its worker runs (set them again in "
    "on_load, where they are set once the load ended, a refusal then logged); 64 at most. Errors raise "
    "plugbay.TimerError (docs/python-plugins.md).",
    -1, timer_methods, NULL, NULL, NULL, NULL,
};

static struct PyModuleDef plugins_def = {
    PyModuleDef_HEAD_INIT, "plugbay.plugins",
    "Plugins managed from this one: with the permission plugins.manage (every plugin) or plugins.manage:PATTERN, it "
    "lists, loads, unloads and reloads others; it may always unload or reload itself. Errors raise "
    "plugbay.ManageError (docs/python-plugins.md).",
    -1, plugins_methods, NULL, NULL, NULL, NULL,
};

int pyb_manage_add(PyObject *plugbay, PyObject *call_error)
{
    if (pyb_api_submodule(plugbay, &timer_def, "plugbay.TimerError",
                          "A plugbay.timer function failed: str(e) says why; e.code is the bay_errno, e.name its name "
                          "(\"BAY_EINVAL\" for a bad name or interval or a function the plugin lacks, \"BAY_EBUSY\" "
                          "for a 65th timer, \"BAY_ENOENT\" for no such timer), e.plugin the plugin's id. A subclass "
                          "of plugbay.CallError.",
                          call_error, &timer_error) != 0)
        return -1;
    return pyb_api_submodule(plugbay, &plugins_def, "plugbay.ManageError",
                             "A plugbay.plugins function failed: str(e) says why; e.code is the bay_errno, e.name its "
                             "name (\"BAY_EPERM\" when not granted, \"BAY_ENOENT\" for an unknown plugin, "
                             "\"BAY_EBUSY\" when others depend on it), e.plugin the plugin's id. A subclass of "
                             "plugbay.CallError.",
                             call_error, &manage_error);
}

void pyb_manage_stop(void)
{
    Py_CLEAR(timer_error);
    Py_CLEAR(manage_error);
}
