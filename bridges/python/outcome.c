/* bridges/python/outcome.c — what the plugbay module's functions give back: values, exceptions carrying the plugbay error, their submodules. */
#include "py_bridge.h"

#include <string.h>

#include "convert.h"

/* set_attr sets o.name to value (a new reference, which it takes; NULL fails). */
static bool set_attr(PyObject *o, const char *name, PyObject *value)
{
    bool ok = value && PyObject_SetAttrString(o, name, value) == 0;
    Py_XDECREF(value);
    return ok;
}

PyObject *pyb_api_raise(PyObject *type, int code, const bay_error *err)
{
    PyObject *e = PyObject_CallFunction(type, "s", err->message);
    if (e && set_attr(e, "code", PyLong_FromLong(code)) &&
        set_attr(e, "name", PyUnicode_FromString(bay_errname(code))) &&
        set_attr(e, "plugin", PyUnicode_FromString(err->plugin)))
        PyErr_SetObject(type, e);
    Py_XDECREF(e);
    return NULL;
}

PyObject *pyb_api_outcome(PyObject *type, int rc, bay_value *value, const bay_error *err)
{
    PyObject *o = rc ? pyb_api_raise(type, rc, err) : pyb_to_python(value);
    bay_value_free(value);
    return o;
}

int pyb_api_submodule(PyObject *plugbay, PyModuleDef *def, const char *error, const char *error_doc,
                      PyObject *base, PyObject **type)
{
    *type = PyErr_NewExceptionWithDoc(error, error_doc, base, NULL);
    PyObject *module = *type ? PyModule_Create(def) : NULL;
    int rc = module && PyModule_AddObjectRef(plugbay, strrchr(error, '.') + 1, *type) == 0 &&
                     PyModule_AddObjectRef(plugbay, strrchr(def->m_name, '.') + 1, module) == 0
                 ? 0
                 : -1;
    Py_XDECREF(module);
    return rc;
}

int pyb_api_value(const char *fn, PyObject *o, const char *what, bay_value **out)
{
    bay_error e;
    int rc = pyb_from_python(o, what, out, &e);
    if (rc)
        PyErr_Format(rc == BAY_ETYPE ? PyExc_TypeError : PyExc_MemoryError, "%s: %s", fn, e.message);
    return rc;
}

