/* bridges/python/storage.c — plugbay.store, the plugin's key-value store and SQL (plugin.h's bay_store_*), and plugbay.StoreError. */
#include "py_bridge.h"

static PyObject *store_error; /* plugbay.StoreError, a subclass of plugbay.CallError */

static PyObject *store_get(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"key", "default", NULL};
    const char *key;
    PyObject *dflt = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|O:get", keywords, &key, &dflt))
        return NULL;
    bay_value *value = NULL;
    bay_error err;
    int rc = bay_store_get(key, &value, &err);
    return rc == BAY_ENOENT ? Py_NewRef(dflt) : pyb_api_outcome(store_error, rc, value, &err);
}

static PyObject *store_put(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"key", "value", NULL};
    const char *key;
    PyObject *o;
    bay_value *value;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "sO:put", keywords, &key, &o) ||
        pyb_api_value("plugbay.store.put", o, "value", &value) != 0)
        return NULL;
    bay_error err;
    int rc = bay_store_put(key, value, &err);
    bay_value_free(value);
    return pyb_api_outcome(store_error, rc, NULL, &err);
}

static PyObject *store_delete(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"key", NULL};
    const char *key;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s:delete", keywords, &key))
        return NULL;
    bay_error err;
    return pyb_api_outcome(store_error, bay_store_delete(key, &err), NULL, &err);
}

static PyObject *store_keys(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"prefix", NULL};
    const char *prefix = "";
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|s:keys", keywords, &prefix))
        return NULL;
    bay_value *keys = NULL;
    bay_error err;
    int rc = bay_store_keys(prefix, &keys, &err);
    return pyb_api_outcome(store_error, rc, keys, &err);
}

/* params_of converts sql's params (None, a list or tuple, a dict) into a new
 * bay_value *out (NULL for None). Returns 0, or -1 with TypeError or MemoryError set. */
static int params_of(PyObject *params, bay_value **out)
{
    *out = NULL;
    if (params == Py_None)
        return 0;
    if (!PyList_Check(params) && !PyTuple_Check(params) && !PyDict_Check(params)) {
        PyErr_Format(PyExc_TypeError, "plugbay.store.sql: params must be a list or tuple (for ? parameters) or a "
                                      "dict (for :name parameters), not %.80s",
                     Py_TYPE(params)->tp_name);
        return -1;
    }
    return pyb_api_value("plugbay.store.sql", params, "params", out) ? -1 : 0;
}

static PyObject *store_sql(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"sql", "params", NULL};
    const char *sql;
    PyObject *params = Py_None;
    bay_value *bound, *rows = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|O:sql", keywords, &sql, &params) ||
        params_of(params, &bound) != 0)
        return NULL;
    bay_error err;
    int rc = bay_store_sql(sql, bound, &rows, &err);
    bay_value_free(bound);
    return pyb_api_outcome(store_error, rc, rows, &err);
}

static PyMethodDef methods[] = {
    {"get", PYB_KEYWORDS(store_get),
     "get(key, default=None): the value stored under key (a str of 1 to 256 bytes), or default when there is none."},
    {"put", PYB_KEYWORDS(store_put),
     "put(key, value): stores value (None, bool, int, float, str, bytes, list, tuple or dict with str keys; "
     "1 MiB at most) under key, replacing what was there."},
    {"delete", PYB_KEYWORDS(store_delete), "delete(key): removes key, whether or not it was there."},
    {"keys", PYB_KEYWORDS(store_keys), "keys(prefix=\"\"): a list of the keys that start with prefix, in byte order."},
    {"sql", PYB_KEYWORDS(store_sql),
     "sql(sql, params=None): runs one SQL statement on the plugin's SQLite database with params bound (a list or "
     "tuple for ?, a dict for :name) and returns its rows as a list of dicts of column to value."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef store_def = {
    PyModuleDef_HEAD_INIT, "plugbay.store",
    "The plugin's storage: a key-value store and SQL on one SQLite database of its own, kept across restarts and "
    "updates; errors raise plugbay.StoreError (docs/python-plugins.md).",
    -1, methods, NULL, NULL, NULL, NULL,
};

int pyb_storage_add(PyObject *plugbay, PyObject *call_error)
{
    return pyb_api_submodule(plugbay, &store_def,
        "plugbay.StoreError",
        "A plugbay.store function failed: str(e) says why; e.code is the bay_errno, e.name its name (\"BAY_EPERM\" "
        "for SQL the store refuses, \"BAY_ENOSPC\" when its quota is full, \"BAY_EINVAL\" for a bad key, statement or "
        "parameter), e.plugin the plugin's id. A subclass of plugbay.CallError.",
        call_error, &store_error);
}

void pyb_storage_stop(void)
{
    Py_CLEAR(store_error);
}
