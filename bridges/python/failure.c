/* bridges/python/failure.c — plugbay.fail(code, message): an exception that ends the call with the code the plugin chose; and the one a failed plugbay.emit or plugbay.receive raises. */
#include "py_bridge.h"

#include <limits.h>

/* plugbay.Failure, and the subclass of it a failed plugbay.emit or .receive raises (which
 * no module hands to plugins), kept from pyb_failure_add until pyb_failure_stop. */
static PyObject *failure, *stream_failure;

/* code_of returns the code o names: a positive int, or a code's name;
 * -1 with a Python exception set when it is neither. */
static long code_of(PyObject *o)
{
    if (PyLong_Check(o) && !PyBool_Check(o)) {
        long code = PyLong_AsLong(o);
        if (code > 0 && code <= INT_MAX)
            return code;
        PyErr_Clear();
        PyErr_SetString(PyExc_ValueError, "fail: a code is a positive number");
        return -1;
    }
    int code = bay_errcode(PyUnicode_Check(o) ? PyUnicode_AsUTF8(o) : NULL);
    if (code)
        return code;
    PyErr_Clear();
    PyErr_Format(PyExc_ValueError, "fail: %R names no plugbay error code (\"BAY_EINVAL\", ...)", o);
    return -1;
}

/* raise_failure raises an exception of type (plugbay.Failure or stream_failure)
 * with str() message and code set. Returns NULL. */
static PyObject *raise_failure(PyObject *type, long code, PyObject *message)
{
    PyObject *e = PyObject_CallOneArg(type, message);
    PyObject *value = e ? PyLong_FromLong(code) : NULL;
    if (value && PyObject_SetAttrString(e, "code", value) == 0)
        PyErr_SetObject(type, e);
    Py_XDECREF(value);
    Py_XDECREF(e);
    return NULL;
}

/* api_fail is plugbay.fail(code, message): raises plugbay.Failure(message) with code set. */
static PyObject *api_fail(PyObject *self, PyObject *args)
{
    PyObject *code_arg, *message;
    if (!PyArg_ParseTuple(args, "OU:fail", &code_arg, &message))
        return NULL;
    long code = code_of(code_arg);
    return code > 0 ? raise_failure(failure, code, message) : NULL;
}

static PyMethodDef fail_def = {
    "fail", api_fail, METH_VARARGS,
    "fail(code, message): ends the running call with code (a name such as \"BAY_EINVAL\", or a positive number) "
    "and exactly message, by raising plugbay.Failure; caught, it is an exception like any other."};

int pyb_failure_add(PyObject *module)
{
    failure = PyErr_NewExceptionWithDoc("plugbay.Failure",
                                        "What plugbay.fail(code, message) raises: str(e) is the message, e.code the "
                                        "code the call ends with when the exception leaves the plugin.",
                                        NULL, NULL);
    stream_failure = failure ? PyErr_NewExceptionWithDoc("plugbay.StreamFailure",
                                                         "What plugbay.emit raises when the chunk could not be sent, "
                                                         "and plugbay.receive when no chunk can come: a "
                                                         "plugbay.Failure whose e.code the call ends with.",
                                                         failure, NULL)
                             : NULL;
    PyObject *fn = stream_failure ? PyCFunction_NewEx(&fail_def, NULL, NULL) : NULL;
    int rc = fn && PyModule_AddObjectRef(module, "Failure", failure) == 0 &&
                     PyModule_AddObjectRef(module, "fail", fn) == 0
                 ? 0
                 : -1;
    Py_XDECREF(fn);
    return rc;
}

PyObject *pyb_failure_stream(const char *fn, int code)
{
    PyObject *message = PyUnicode_FromFormat("%s: %s (%s)", fn, bay_strerror(code), bay_errname(code));
    if (message)
        raise_failure(stream_failure, code, message);
    Py_XDECREF(message);
    return NULL;
}

int pyb_failure_recorded(void)
{
    if (stream_failure == NULL || !PyErr_ExceptionMatches(stream_failure))
        return 0;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    int code = pyb_failure_code(type, value);
    PyErr_Restore(type, value, tb);
    return code;
}

int pyb_failure_code(PyObject *type, PyObject *value)
{
    if (failure == NULL || value == NULL || !PyErr_GivenExceptionMatches(type, failure))
        return 0;
    PyObject *code = PyObject_GetAttrString(value, "code");
    long n = code && PyLong_Check(code) ? PyLong_AsLong(code) : 0;
    Py_XDECREF(code);
    PyErr_Clear();
    return n > 0 && n <= INT_MAX ? (int)n : 0;
}

void pyb_failure_stop(void)
{
    Py_CLEAR(stream_failure);
    Py_CLEAR(failure);
}
