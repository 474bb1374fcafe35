/* bridges/python/api.c — the plugbay module plugins import (identity, config, settings, log, calls through plugbayd, the running call and its streams) and the stop of a cancelled call. */
#include "py_bridge.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "convert.h"

/* The signal the I/O thread sends the main thread when the running call is
 * cancelled: its Python handler raises the stop exception in the plugin's
 * code, and it wakes the code from time.sleep and other blocking calls. */
#define STOP_SIGNAL SIGUSR1

static struct {
    PyObject *module;     /* plugbay */
    PyObject *call_error; /* plugbay.CallError */
    PyObject *stop;       /* plugbay.CallStopped: a BaseException no module hands to plugins */
    bay_invocation *current;    /* the innermost call running, NULL outside calls */
    PyObject *next_input; /* the function plugbay.inputs()'s iterators call */
    PyObject *end;        /* what next_input returns at the end of the input: an object of no use elsewhere */
    pthread_t main_thread;
    atomic_bool live;     /* the stop signal has its handler */
} api;

/* stop raises the stop exception for the running call and returns NULL. */
static PyObject *stop(void)
{
    PyErr_SetString(api.stop, bay_call_cancelled(api.current) == BAY_ETIMEDOUT ? "the call's deadline passed"
                                                                                : "the call was cancelled");
    return NULL;
}

static PyObject *on_stop_signal(PyObject *self, PyObject *args)
{
    if (api.current && bay_call_cancelled(api.current))
        return stop();
    Py_RETURN_NONE; /* the call it was sent for has ended already */
}

static PyMethodDef stop_handler = {"plugbay_stop", on_stop_signal, METH_VARARGS,
                                   "The handler of the signal that stops a cancelled call."};

static PyObject *api_log(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"message", "level", NULL};
    static const char *const levels[] = {"debug", "info", "warn", "error"}; /* BAY_LOG_DEBUG .. BAY_LOG_ERROR */
    const char *message, *level = "info";
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|s:log", keywords, &message, &level))
        return NULL;
    for (int i = 0; i < 4; i++)
        if (strcmp(level, levels[i]) == 0) {
            bay_plugin_log(i, "%s", message);
            Py_RETURN_NONE;
        }
    return PyErr_Format(PyExc_ValueError, "plugbay.log: level must be \"debug\", \"info\", \"warn\" or \"error\", "
                                          "not \"%.40s\"", level);
}

/* timeout_of reads call's keyword arguments: timeout_ms only. Returns -1 with an exception set when wrong. */
static int timeout_of(PyObject *kwargs)
{
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    long ms = 0;
    while (kwargs && PyDict_Next(kwargs, &pos, &key, &value)) {
        if (PyUnicode_CompareWithASCIIString(key, "timeout_ms") != 0) {
            PyErr_Format(PyExc_TypeError, "plugbay.call() got an unexpected keyword argument %R", key);
            return -1;
        }
        ms = PyLong_Check(value) ? PyLong_AsLong(value) : -1;
        if (ms < 0 || ms > INT_MAX) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "plugbay.call: timeout_ms must be an int from 0 to %d, not %R", INT_MAX,
                         value);
            return -1;
        }
    }
    return (int)ms;
}

/* args_of converts plugbay.call's arguments after the name into a new array, or NULL with TypeError set. */
static bay_value *args_of(PyObject *args, const char *name)
{
    char fn[300];
    snprintf(fn, sizeof fn, "plugbay.call(\"%s\")", name);
    bay_value *array = bay_array();
    for (Py_ssize_t i = 1; array && i < PyTuple_GET_SIZE(args); i++) {
        char what[32];
        bay_value *item;
        snprintf(what, sizeof what, "argument %zd", i);
        if (pyb_api_value(fn, PyTuple_GET_ITEM(args, i), what, &item) != 0 || bay_array_push(array, item) != 0) {
            if (!PyErr_Occurred())
                PyErr_NoMemory();
            bay_value_free(array);
            return NULL;
        }
    }
    if (array == NULL)
        PyErr_NoMemory();
    return array;
}

static PyObject *api_call(PyObject *self, PyObject *args, PyObject *kwargs)
{
    PyObject *point = PyTuple_GET_SIZE(args) ? PyTuple_GET_ITEM(args, 0) : NULL;
    const char *name = point && PyUnicode_Check(point) ? PyUnicode_AsUTF8(point) : NULL;
    if (name == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "plugbay.call(name, *args, timeout_ms=0): name must be a str");
        return NULL;
    }
    int timeout_ms = timeout_of(kwargs);
    bay_value *array = timeout_ms < 0 ? NULL : args_of(args, name), *result = NULL;
    if (array == NULL)
        return NULL;
    bay_error err = {0};
    int rc = bay_plugin_call(name, array, timeout_ms, &result, &err);
    bay_value_free(array);
    if (api.current && bay_call_cancelled(api.current)) {
        bay_value_free(result);
        return stop();
    }
    return pyb_api_outcome(api.call_error, rc, result, &err);
}

/* in_call tells whether a call is running; outside one it raises fn's RuntimeError (does: "emits"). */
static bool in_call(const char *fn, const char *does)
{
    if (api.current == NULL)
        PyErr_Format(PyExc_RuntimeError, "%s: no call is running: a function %s while it serves a call, not "
                                         "while its module is imported, in on_load or in on_unload", fn, does);
    return api.current != NULL;
}

int pyb_api_emit(const char *fn, PyObject *chunk, const char *what)
{
    if (!in_call(fn, "emits"))
        return -1;
    bay_value *v;
    if (pyb_api_value(fn, chunk, what, &v) != 0)
        return -1;
    int rc = bay_call_emit(api.current, v);
    bay_value_free(v);
    if (rc == BAY_ECANCELED || rc == BAY_ETIMEDOUT)
        stop();
    else if (rc)
        pyb_failure_stream(fn, rc);
    return rc ? -1 : 0;
}

/* receive takes the next chunk of the running call's input (bay_call_receive)
 * for fn ("plugbay.receive"): a new reference to it, or to end once the input
 * ended; NULL with the exception that ends the call raised (the stop once it
 * must stop, pyb_failure_stream's when the caller sends no input), or
 * RuntimeError outside a call. */
static PyObject *receive(const char *fn, PyObject *end)
{
    if (!in_call(fn, "receives"))
        return NULL;
    bay_value *chunk = NULL;
    int rc = bay_call_receive(api.current, &chunk);
    if (rc == BAY_ECANCELED || rc == BAY_ETIMEDOUT)
        return stop();
    if (rc)
        return pyb_failure_stream(fn, rc);
    if (chunk == NULL)
        return Py_NewRef(end);
    PyObject *o = pyb_to_python(chunk);
    bay_value_free(chunk);
    return o;
}

static PyObject *api_receive(PyObject *self, PyObject *unused)
{
    return receive("plugbay.receive", Py_None);
}

/* next_input is what plugbay.inputs()'s iterators call: the next chunk, or api.end. */
static PyObject *next_input(PyObject *self, PyObject *unused)
{
    return receive("plugbay.inputs", api.end);
}

static PyMethodDef next_input_def = {"next_input", next_input, METH_NOARGS,
                                     "The next chunk of the running call's input, for plugbay.inputs()."};

static PyObject *api_inputs(PyObject *self, PyObject *unused)
{
    return PyCallIter_New(api.next_input, api.end);
}

static PyObject *api_emit(PyObject *self, PyObject *chunk)
{
    return pyb_api_emit("plugbay.emit", chunk, "the chunk") ? NULL : Py_NewRef(Py_None);
}

static PyObject *api_cancelled(PyObject *self, PyObject *unused)
{
    return PyBool_FromLong(api.current && bay_call_cancelled(api.current));
}

static PyObject *api_remaining_ms(PyObject *self, PyObject *unused)
{
    int ms = api.current ? bay_call_remaining_ms(api.current) : INT_MAX;
    return ms == INT_MAX ? Py_NewRef(Py_None) : PyLong_FromLong(ms);
}

/* text_or_none returns s as a new str, or None when s is NULL. */
static PyObject *text_or_none(const char *s)
{
    return s ? PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "surrogateescape") : Py_NewRef(Py_None);
}

static PyObject *api_context(PyObject *self, PyObject *unused)
{
    return text_or_none(api.current ? bay_call_context(api.current) : NULL);
}

static PyObject *api_call_name(PyObject *self, PyObject *unused)
{
    return text_or_none(api.current ? bay_call_name(api.current) : NULL);
}

static PyObject *api_settings(PyObject *self, PyObject *unused)
{
    return pyb_to_python(bay_plugin_settings());
}

static PyObject *api_setting(PyObject *self, PyObject *args)
{
    const char *key;
    if (!PyArg_ParseTuple(args, "s:setting", &key))
        return NULL;
    const bay_value *value = bay_plugin_setting(key);
    return value ? pyb_to_python(value) : Py_NewRef(Py_None);
}

static PyMethodDef methods[] = {
    {"log", (PyCFunction)(void (*)(void))api_log, METH_VARARGS | METH_KEYWORDS,
     "log(message, level=\"info\"): writes a line to plugbayd's log, tagged with the plugin's id; level is "
     "\"debug\", \"info\", \"warn\" or \"error\"."},
    {"call", (PyCFunction)(void (*)(void))api_call, METH_VARARGS | METH_KEYWORDS,
     "call(name, *args, timeout_ms=0): calls extension point name through plugbayd, as a host would, and returns "
     "its result; raises plugbay.CallError. timeout_ms 0 means what is left of the running call (5 s outside one)."},
    {"emit", api_emit, METH_O,
     "emit(chunk): sends chunk (a value as a result is) as the next piece of the running call's streamed answer, "
     "waiting while the caller has not taken those before; raises plugbay.Failure when it cannot be sent, and stops "
     "the call once it was cancelled or its deadline passed. A generator function streams what it yields."},
    {"receive", api_receive, METH_NOARGS,
     "receive(): the next chunk of the input the running call's caller streams (a host's bay_call_upload), waiting "
     "for it, or None once the input ended; raises plugbay.Failure when the caller sends no input, and stops the "
     "call once it was cancelled or its deadline passed."},
    {"inputs", api_inputs, METH_NOARGS,
     "inputs(): an iterator over the chunks of the running call's input, as receive() takes them, to its end "
     "(a chunk that is None included)."},
    {"cancelled", api_cancelled, METH_NOARGS,
     "cancelled(): True once the running call was cancelled or its deadline passed."},
    {"remaining_ms", api_remaining_ms, METH_NOARGS,
     "remaining_ms(): the milliseconds left before the running call's deadline, or None when it has none."},
    {"context", api_context, METH_NOARGS, "context(): the running call's context, or None."},
    {"call_name", api_call_name, METH_NOARGS,
     "call_name(): the extension point the running call is for (\"greet\", \"timer:tick\"), or None outside calls."},
    {"settings", api_settings, METH_NOARGS,
     "settings(): a new dict of every setting plugin.json declares to its value (set, or its default); after a "
     "change, on_settings(settings, changed) runs and this returns the new values."},
    {"setting", api_setting, METH_VARARGS,
     "setting(key): the value of setting key, or None when plugin.json declares no such setting."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "plugbay",
    "The plugin API of plugbay's Python plugins: id, config, data_dir, log, call, emit, receive, inputs, the running "
    "call's cancelled, remaining_ms, context and call_name, settings and setting, the store, timers, managing plugins, and the "
    "fail(code, message), the exceptions Failure, CallError, StoreError, TimerError, ManageError and PolicyError (docs/python-plugins.md).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyObject *pyb_api_init(void)
{
    PyObject *module = PyModule_Create(&module_def);
    PyObject *call_error = module ? PyErr_NewExceptionWithDoc(
                                        "plugbay.CallError",
                                        "plugbay.call failed: str(e) says why; e.code is the bay_errno, e.name its "
                                        "name (\"BAY_ETIMEDOUT\"), e.plugin the plugin that failed (\"\" if none).",
                                        NULL, NULL)
                                  : NULL;
    if (call_error == NULL || PyModule_AddObjectRef(module, "CallError", call_error) != 0 ||
        pyb_storage_add(module, call_error) != 0 || pyb_manage_add(module, call_error) != 0 ||
        pyb_failure_add(module) != 0)
        Py_CLEAR(module);
    Py_XDECREF(call_error);
    return module;
}

int pyb_api_start(bay_error *err)
{
    api.main_thread = pthread_self();
    api.module = PyImport_ImportModule("plugbay");
    api.call_error = api.module ? PyObject_GetAttrString(api.module, "CallError") : NULL;
    api.stop = api.call_error ? PyErr_NewExceptionWithDoc("plugbay.CallStopped",
                                                          "Stops plugin code in a call that was cancelled or went "
                                                          "past its deadline.",
                                                          PyExc_BaseException, NULL)
                              : NULL;
    PyObject *signals = api.stop ? PyImport_ImportModule("_signal") : NULL;
    PyObject *handler = signals ? PyCFunction_New(&stop_handler, NULL) : NULL;
    PyObject *old = handler ? PyObject_CallMethod(signals, "signal", "iO", STOP_SIGNAL, handler) : NULL;
    Py_XDECREF(signals);
    Py_XDECREF(handler);
    api.next_input = old ? PyCFunction_New(&next_input_def, NULL) : NULL;
    api.end = api.next_input ? PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type) : NULL;
    if (api.end == NULL) {
        Py_XDECREF(old);
        bay_error e;
        pyb_error_take(NULL, &e);
        return bay_error_set(err, BAY_EIO, pyb_plugin_id(), "cannot set up the plugbay module: %s", e.message);
    }
    Py_DECREF(old);
    atomic_store(&api.live, true);
    return 0;
}

PyObject *pyb_api_bind(const bay__plugin_info *p, PyObject *policy_error)
{
    PyObject *config = pyb_to_python(p->config);
    PyObject *data_dir = PyUnicode_DecodeFSDefault(p->data_dir);
    bool ok = config && data_dir && PyModule_AddStringConstant(api.module, "id", p->id) == 0 &&
              PyModule_AddObjectRef(api.module, "config", config) == 0 &&
              PyModule_AddObjectRef(api.module, "data_dir", data_dir) == 0 &&
              PyModule_AddObjectRef(api.module, "PolicyError", policy_error) == 0;
    Py_XDECREF(config);
    Py_XDECREF(data_dir);
    return ok ? api.module : NULL;
}

void pyb_api_stop(void)
{
    atomic_store(&api.live, false);
    pyb_storage_stop();
    pyb_manage_stop();
    pyb_failure_stop();
    Py_CLEAR(api.end);
    Py_CLEAR(api.next_input);
    Py_CLEAR(api.stop);
    Py_CLEAR(api.call_error);
    Py_CLEAR(api.module);
}

bay_invocation *pyb_api_enter(bay_invocation *call)
{
    bay_invocation *outer = api.current;
    api.current = call;
    return outer;
}

void pyb_api_leave(bay_invocation *outer)
{
    api.current = outer;
}

PyObject *pyb_api_stop_type(void)
{
    return api.stop;
}

void pyb_api_interrupt(void)
{
    if (atomic_load(&api.live))
        pthread_kill(api.main_thread, STOP_SIGNAL);
}
