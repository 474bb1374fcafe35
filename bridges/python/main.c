/* bridges/python/main.c — plugbay-worker-python: the bridge that runs Python plugins on an embedded CPython under the restricted policy. */
#include "py_bridge.h"
#include "zygote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"

const bay__plugin_info *pyb_plugin;

/* One function of the plugin that the manifest names. */
typedef struct function {
    const char *name; /* borrowed from the worker library until exit */
    PyObject *fn;
} function;

/* The plugin once loaded. */
static struct {
    PyObject *module; /* its entry module */
    function *fns;
    size_t nfns;
} plugin;

/* failed fills err from the pending Python exception, prefixed with what ran ("on_load raised "). */
static int failed(const char *what, bay_error *err)
{
    bay_error e;
    int rc = pyb_error_take(NULL, &e);
    return bay_error_set(err, rc, pyb_plugin->id, "%s%s", what, e.message);
}

/* defined writes the names of the entry module's public callables into buf. */
static void defined(char *buf, size_t size)
{
    PyObject *globals = PyModule_GetDict(plugin.module), *key, *value;
    Py_ssize_t pos = 0;
    size_t used = 0;
    buf[0] = '\0';
    while (PyDict_Next(globals, &pos, &key, &value) && used < size) {
        const char *name = PyUnicode_AsUTF8(key);
        if (name && name[0] != '_' && PyCallable_Check(value)) {
            int w = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", name);
            used += w > 0 ? (size_t)w : 0;
        }
    }
    PyErr_Clear();
    if (buf[0] == '\0')
        snprintf(buf, size, "no function");
}

/* find_functions looks up every function the manifest names. */
static int find_functions(const char *const *functions, bay_error *err)
{
    size_t n = 0;
    while (functions[n])
        n++;
    plugin.fns = calloc(n ? n : 1, sizeof *plugin.fns);
    if (plugin.fns == NULL)
        return bay_error_set(err, BAY_ENOMEM, pyb_plugin->id, "%s", bay_strerror(BAY_ENOMEM));
    for (; plugin.nfns < n; plugin.nfns++) {
        const char *name = functions[plugin.nfns];
        PyObject *fn = PyObject_GetAttrString(plugin.module, name);
        if (fn && PyCallable_Check(fn)) {
            plugin.fns[plugin.nfns] = (function){name, fn};
            continue;
        }
        Py_XDECREF(fn);
        PyErr_Clear();
        char names[256];
        defined(names, sizeof names);
        return bay_error_set(err, BAY_EMANIFEST, pyb_plugin->id,
                             "plugin.json names function \"%s\" but %s does not define it%s; it defines: %s", name,
                             pyb_plugin->entry, fn ? " as a function" : "", names);
    }
    return 0;
}

/* callable_global returns the entry module's global name when it is callable
 * (borrowed), else NULL; it reads the module's dict, so no plugin code runs. */
static PyObject *callable_global(const char *name)
{
    PyObject *fn = plugin.module ? PyDict_GetItemString(PyModule_GetDict(plugin.module), name) : NULL;
    return fn && PyCallable_Check(fn) ? fn : NULL;
}

/* The module's optional functions: on_load, on_unload and plugin.h's hooks. */
static const char *const optional[] = {"on_load",   "on_unload",    "on_install",
                                       "on_update", "on_uninstall", "on_settings", NULL};

/* check_optional fails the load when the module binds an optional function's
 * name to something neither callable nor None (None: it has none). */
static int check_optional(bay_error *err)
{
    PyObject *globals = PyModule_GetDict(plugin.module);
    for (const char *const *name = optional; *name; name++) {
        PyObject *v = PyDict_GetItemString(globals, *name);
        if (v && v != Py_None && !PyCallable_Check(v))
            return bay_error_set(err, BAY_EPLUGIN, pyb_plugin->id,
                                 "%s defines %s as a %s; it must be a function (or None for none)", pyb_plugin->entry,
                                 *name, Py_TYPE(v)->tp_name);
    }
    return 0;
}

/* run_hook calls the plugin's on_load or on_unload when it defines one. */
static int run_hook(const char *name, bay_error *err)
{
    PyObject *hook = Py_XNewRef(callable_global(name));
    if (hook == NULL)
        return 0;
    pyb_memcap_reset();
    PyObject *done = PyObject_CallNoArgs(hook);
    Py_DECREF(hook);
    char what[32];
    snprintf(what, sizeof what, "%s raised ", name);
    int rc = done ? 0 : failed(what, err);
    Py_XDECREF(done);
    pyb_memcap_reset();
    return rc;
}

/* open_plugin arms the policy and loads the entry module through it, its functions and its on_load. */
static int open_plugin(const bay__plugin_info *p, const char *const *functions, bay_error *err)
{
    PyObject *refused = pyb_policy_error();
    PyObject *plugbay = pyb_api_bind(p, refused);
    int rc = plugbay ? pyb_audit_arm(refused, err) : failed("cannot set up the plugbay module: ", err);
    PyObject *granted = rc == 0 ? pyb_audit_modules() : NULL;
    PyObject *view = granted ? PyObject_CallMethod(pyb_policy(), "Plugin", "ssOO", p->dir, p->entry, granted, plugbay)
                             : NULL;
    Py_XDECREF(granted);
    if (rc)
        return rc;
    plugin.module = view ? PyObject_CallMethod(view, "load_entry", NULL) : NULL;
    Py_XDECREF(view);
    rc = plugin.module ? 0 : failed("", err);
    pyb_memcap_reset();
    if (rc == 0)
        rc = find_functions(functions, err);
    if (rc == 0)
        rc = check_optional(err);
    return rc ? rc : run_hook("on_load", err);
}

/* close_plugin lets go of the plugin's objects and ends the interpreter. */
static void close_plugin(void)
{
    for (size_t i = 0; i < plugin.nfns; i++)
        Py_DECREF(plugin.fns[i].fn);
    free(plugin.fns);
    Py_CLEAR(plugin.module);
    plugin.fns = NULL;
    plugin.nfns = 0;
    pyb_runtime_stop();
}

static int py_load(const bay__plugin_info *p, const char *const *functions, bay_error *err)
{
    pyb_plugin = p;
    size_t cap = (size_t)bay__plugin_limit(p, PYB_LIMIT_MEMORY, PYB_MEMORY_MB_DEFAULT) << 20;
    int rc = pyb_audit_setup(p, err);
    if (rc == 0 && (rc = pyb_runtime_start(cap, err)) == 0 && (rc = open_plugin(p, functions, err)) != 0)
        close_plugin();
    if (rc)
        pyb_audit_clear();
    return rc;
}

/* function_of returns the function call runs (borrowed): one the manifest
 * names, as load found it, or another the module defines now (a hook); NULL
 * when it has none. */
static PyObject *function_of(const char *function)
{
    for (size_t i = 0; i < plugin.nfns; i++)
        if (strcmp(plugin.fns[i].name, function) == 0)
            return plugin.fns[i].fn;
    return callable_global(function);
}

/* failed_call ends call with the pending exception: its code, and its
 * message unless a failed plugbay.emit's or .receive's is in the call already. */
static int failed_call(bay_invocation *call)
{
    int recorded = pyb_failure_recorded();
    bay_error e;
    int rc = pyb_error_take(call, &e);
    return rc == recorded ? rc : bay_call_error(call, rc, "%s", e.message);
}

static int py_call(const char *function, bay_invocation *call, const bay_value *args, bay_value **result)
{
    PyObject *fn = Py_XNewRef(function_of(function)); /* held: the call may rebind the module's global */
    if (fn == NULL)
        return bay_call_error(call, BAY_EPLUGIN, "%s no longer defines function \"%s\"", pyb_plugin->entry,
                              function);
    bay_invocation *outer = pyb_api_enter(call);
    pyb_memcap_reset();
    PyObject *pargs = pyb_args_to_python(args);
    PyObject *ret = pargs ? PyObject_Call(fn, pargs, NULL) : NULL;
    Py_XDECREF(pargs);
    Py_DECREF(fn);
    if (ret && PyGen_Check(ret))
        ret = pyb_stream(function, ret); /* a generator function streams what it yields */
    int rc = 0;
    bay_error e;
    if (ret == NULL) {
        rc = failed_call(call);
    } else if ((rc = pyb_from_python(ret, "result", result, &e)) != 0) {
        bay_call_error(call, rc, "%s returned a value plugbay cannot carry: %s", function, e.message);
    }
    Py_XDECREF(ret);
    pyb_memcap_reset();
    pyb_api_leave(outer);
    return rc;
}

static void py_unload(void)
{
    bay_error err = {0};
    if (run_hook("on_unload", &err))
        bay_plugin_log(BAY_LOG_WARN, "%s", err.message);
    close_plugin();
}

static bool py_has(const char *function)
{
    return function_of(function) != NULL;
}

static void py_interrupt(void)
{
    pyb_api_interrupt();
}

static const bay__bridge python_bridge = {
    .language = "python",
    .load = py_load,
    .call = py_call,
    .unload = py_unload,
    .has = py_has,
    .interrupt = py_interrupt,
    .prepare = pyb_runtime_prepare,
    .forked = pyb_runtime_forked,
};

int main(int argc, char **argv)
{
    bay__zygote(argc, argv, &python_bridge);
    return bay__worker_main(&python_bridge);
}
