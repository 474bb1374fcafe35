/* bridges/python/convert.c — call values between bay_value and Python objects (see convert.h). */
#include "convert.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "value_convert.h"

/* ---- bay_value -> Python -------------------------------------------------- */

static PyObject *text_to_python(const char *s, size_t len)
{
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)len, "surrogateescape");
}

/* fill converts the items of the array v into seq, a new list or tuple of
 * their number, and returns it; NULL (seq released) on failure or when seq is NULL. */
static PyObject *fill(PyObject *seq, const bay_value *v)
{
    for (size_t i = 0; seq && i < bay_value_len(v); i++) {
        PyObject *item = pyb_to_python(bay_array_get(v, i));
        if (item == NULL)
            Py_CLEAR(seq);
        else if (PyList_Check(seq))
            PyList_SET_ITEM(seq, (Py_ssize_t)i, item);
        else
            PyTuple_SET_ITEM(seq, (Py_ssize_t)i, item);
    }
    return seq;
}

static PyObject *map_to_python(const bay_value *v)
{
    PyObject *dict = PyDict_New();
    for (size_t i = 0; dict && i < bay_value_len(v); i++) {
        const bay_value *val;
        const char *key = bay_map_entry(v, i, &val);
        PyObject *k = text_to_python(key, strlen(key));
        PyObject *item = k ? pyb_to_python(val) : NULL;
        if (item == NULL || PyDict_SetItem(dict, k, item) != 0)
            Py_CLEAR(dict);
        Py_XDECREF(k);
        Py_XDECREF(item);
    }
    return dict;
}

PyObject *pyb_to_python(const bay_value *v)
{
    size_t len;
    const char *s;
    switch (bay_value_type(v)) {
    case BAY_NIL: Py_RETURN_NONE;
    case BAY_BOOL: return PyBool_FromLong(bay_value_bool(v));
    case BAY_INT: return PyLong_FromLongLong(bay_value_int(v));
    case BAY_FLOAT: return PyFloat_FromDouble(bay_value_float(v));
    case BAY_STR: s = bay_value_str(v, &len); return text_to_python(s, len);
    case BAY_BIN: s = bay_value_str(v, &len); return PyBytes_FromStringAndSize(s, (Py_ssize_t)len);
    case BAY_ARRAY: return fill(PyList_New((Py_ssize_t)bay_value_len(v)), v);
    case BAY_MAP: return map_to_python(v);
    }
    PyErr_Format(PyExc_SystemError, "plugbay value of unknown type %d", (int)bay_value_type(v));
    return NULL;
}

PyObject *pyb_args_to_python(const bay_value *args)
{
    return fill(PyTuple_New((Py_ssize_t)bay_value_len(args)), args);
}

/* ---- Python -> bay_value -------------------------------------------------- */

/* One conversion: where it has got to in the value, and the containers it is in. */
typedef struct conv {
    char path[200];                 /* what, then [i] and ["key"] down to the current object */
    size_t len;
    PyObject *above[BAY_CONVERT_MAX_DEPTH]; /* the lists, tuples and dicts being converted, outermost first */
    int depth;
    bay_error *err;
} conv;

/* fail writes "PATH <what is wrong>" into the conversion's err and returns BAY_ETYPE. */
__attribute__((format(printf, 2, 3))) static int fail(conv *c, const char *fmt, ...)
{
    char text[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return bay_error_set(c->err, BAY_ETYPE, NULL, "%s %s", c->path, text);
}

/* push appends a step ("[2]", "[\"key\"]") to the path and returns the length to pop back to. */
__attribute__((format(printf, 2, 3))) static size_t push(conv *c, const char *fmt, ...)
{
    size_t was = c->len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->path + c->len, sizeof c->path - c->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        c->len = c->len + (size_t)n < sizeof c->path ? c->len + (size_t)n : sizeof c->path - 1;
    return was;
}

static void pop(conv *c, size_t was)
{
    c->len = was;
    c->path[was] = '\0';
}

/* utf8 returns o's text as UTF-8 (surrogate escapes turned back into the bytes
 * they stand for) in *s and *n, borrowed from o or from *keep (which the caller
 * releases). Returns 0, or BAY_ETYPE/BAY_ENOMEM after fail. */
static int utf8(conv *c, PyObject *o, const char **s, Py_ssize_t *n, PyObject **keep)
{
    *keep = NULL;
    if ((*s = PyUnicode_AsUTF8AndSize(o, n)) != NULL)
        return 0;
    if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
        PyErr_Clear();
        *keep = PyUnicode_AsEncodedString(o, "utf-8", "surrogateescape");
        if (*keep) {
            *s = PyBytes_AS_STRING(*keep);
            *n = PyBytes_GET_SIZE(*keep);
            return 0;
        }
        if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
            PyErr_Clear();
            return fail(c, "is a str holding a lone surrogate, which UTF-8 cannot carry");
        }
    }
    PyErr_Clear();
    return bay__value_nomem(c->err);
}

static int convert(conv *c, PyObject *o, bay_value **out);

static int text(conv *c, PyObject *o, bay_value **out)
{
    const char *s;
    Py_ssize_t n;
    PyObject *keep;
    int rc = utf8(c, o, &s, &n, &keep);
    if (rc == 0 && (*out = bay_strn(s, (size_t)n)) == NULL)
        rc = bay__value_nomem(c->err);
    Py_XDECREF(keep);
    return rc;
}

static int sequence(conv *c, PyObject *o, bay_value **out)
{
    bay_value *a = bay_array();
    int rc = a ? 0 : bay__value_nomem(c->err);
    PyObject **items = PySequence_Fast_ITEMS(o);
    for (Py_ssize_t i = 0; rc == 0 && i < PySequence_Fast_GET_SIZE(o); i++) {
        bay_value *item;
        size_t was = push(c, "[%zd]", i);
        rc = convert(c, items[i], &item);
        pop(c, was);
        if (rc == 0 && bay_array_push(a, item) != 0)
            rc = bay__value_nomem(c->err);
    }
    return bay__value_settle(a, rc, out);
}

/* entry adds one dict entry to m. */
static int entry(conv *c, bay_value *m, PyObject *k, PyObject *v)
{
    if (!PyUnicode_Check(k))
        return fail(c, "has a key of type %s; dict keys crossing a call must be str", Py_TYPE(k)->tp_name);
    const char *key;
    Py_ssize_t n;
    PyObject *keep;
    int rc = utf8(c, k, &key, &n, &keep);
    if (rc == 0 && memchr(key, '\0', (size_t)n))
        rc = fail(c, "has a key holding a NUL byte (\"%.40s...\"), which a plugbay map cannot carry", key);
    bay_value *item = NULL;
    if (rc == 0) {
        size_t was = push(c, "[\"%.40s\"]", key);
        rc = convert(c, v, &item);
        pop(c, was);
    }
    if (rc == 0 && bay__map_add(m, key, (size_t)n, item, NULL) != 0)
        rc = bay_map_get(m, key) ? fail(c, "has two keys with the same UTF-8 bytes (\"%.40s\"), one of them written "
                                           "with surrogate escapes", key)
                                 : bay__value_nomem(c->err);
    Py_XDECREF(keep);
    return rc;
}

static int dict(conv *c, PyObject *o, bay_value **out)
{
    bay_value *m = bay_map();
    int rc = m ? 0 : bay__value_nomem(c->err);
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (rc == 0 && PyDict_Next(o, &pos, &k, &v))
        rc = entry(c, m, k, v);
    return bay__value_settle(m, rc, out);
}

/* container converts a list, tuple or dict, refusing cycles and deep nesting. */
static int container(conv *c, PyObject *o, bay_value **out)
{
    for (int i = 0; i < c->depth; i++)
        if (c->above[i] == o)
            return fail(c, "contains itself (a %s in a cycle cannot cross a call)", Py_TYPE(o)->tp_name);
    if (c->depth == BAY_CONVERT_MAX_DEPTH)
        return fail(c, "nests lists, tuples and dicts deeper than %d levels", BAY_CONVERT_MAX_DEPTH);
    c->above[c->depth++] = o;
    int rc = PyDict_Check(o) ? dict(c, o, out) : sequence(c, o, out);
    c->depth--;
    return rc;
}

static int convert(conv *c, PyObject *o, bay_value **out)
{
    *out = NULL;
    if (o == Py_None) {
        *out = bay_nil();
    } else if (PyBool_Check(o)) {
        *out = bay_bool(o == Py_True);
    } else if (PyLong_Check(o)) {
        int overflow;
        long long i = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (overflow)
            return fail(c, "is an int beyond 64 bits; plugbay ints run from -2**63 to 2**63-1, so send a bigger "
                           "number as a str or a float");
        *out = bay_int(i);
    } else if (PyFloat_Check(o)) {
        *out = bay_float(PyFloat_AS_DOUBLE(o));
    } else if (PyUnicode_Check(o)) {
        return text(c, o, out);
    } else if (PyBytes_Check(o)) {
        *out = bay_bin(PyBytes_AS_STRING(o), (size_t)PyBytes_GET_SIZE(o));
    } else if (PyByteArray_Check(o)) {
        *out = bay_bin(PyByteArray_AS_STRING(o), (size_t)PyByteArray_GET_SIZE(o));
    } else if (PyList_Check(o) || PyTuple_Check(o) || PyDict_Check(o)) {
        return container(c, o, out);
    } else {
        return fail(c, "has type %s; a value crossing a call is None, bool, int, float, str, bytes, bytearray, "
                       "list, tuple or dict with str keys",
                    Py_TYPE(o)->tp_name);
    }
    return *out ? 0 : bay__value_nomem(c->err);
}

int pyb_from_python(PyObject *o, const char *what, bay_value **out, bay_error *err)
{
    conv c = {.err = err};
    push(&c, "%s", what);
    return convert(&c, o, out);
}
