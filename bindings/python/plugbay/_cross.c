/* bindings/python/plugbay/_cross.c — Python objects to bay_value trees and back, and a call's whole way, in C.
 *
 * The binding speaks to libplugbay through cffi (plugbay._native); values cross here instead, with the CPython
 * API, because walking them through cffi one libplugbay function at a time cost a host several microseconds a
 * call, more than the fast path itself. Pointers go to and from Python as ints (the addresses cffi's pointers
 * hold: plugbay/_values.py casts them). What cannot cross raises TypeError or ValueError naming its path
 * ("args[1]['k']"), built only when something fails. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#include <plugbay/plugbay.h>

/* How deep values may nest, the argument array counting as one: a frame holds them one level down, and
 * plugbay's msgpack decoder stops at 32 (include/plugbay/value.h, bay_value_unpack). */
#define MAX_DEPTH 31

/* One level of the value being converted: the container and where in it the walk is. */
typedef struct level {
    PyObject *container; /* borrowed */
    PyObject *key;       /* a dict's key being converted (borrowed), or NULL: a sequence's item */
    Py_ssize_t index;
} level;

typedef struct walk {
    const char *root;    /* the path's start: "args", "result" */
    level levels[MAX_DEPTH];
    int depth;
} walk;

/* path returns the path of the value being converted, the walk's levels deep: "args[0]['k']". */
static PyObject *path(const walk *w)
{
    PyObject *out = PyUnicode_FromString(w->root);
    for (int i = 0; out && i < w->depth; i++) {
        PyObject *part = w->levels[i].key ? PyUnicode_FromFormat("[%R]", w->levels[i].key)
                                          : PyUnicode_FromFormat("[%zd]", w->levels[i].index);
        PyObject *longer = part ? PyUnicode_Concat(out, part) : NULL;
        Py_XDECREF(part);
        Py_SETREF(out, longer);
    }
    return out;
}

/* fail raises type with "PATH: " and the formatted message; returns NULL. */
static bay_value *fail(const walk *w, PyObject *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PyObject *msg = PyUnicode_FromFormatV(fmt, ap);
    va_end(ap);
    PyObject *where = path(w);
    if (msg && where)
        PyErr_Format(type, "%U: %U", where, msg);
    Py_XDECREF(msg);
    Py_XDECREF(where);
    return NULL;
}

/* cannot_cross raises TypeError for obj, named as "a set", "a function", "a callable Foo" or "an object of type
 * Foo"; returns NULL. */
static bay_value *cannot_cross(const walk *w, PyObject *obj)
{
    const char *type = Py_TYPE(obj)->tp_name, *dot = strrchr(type, '.'), *what = "an object of type ";
    size_t n = strlen(type = dot ? dot + 1 : type);
    if (PyAnySet_Check(obj))
        what = "a set", type = "";
    else if (PyCallable_Check(obj) && (PyObject_HasAttrString(obj, "__code__") ||
                                       (n >= 8 && strcmp(type + n - 8, "function") == 0)))
        what = "a function", type = "";
    else if (PyCallable_Check(obj))
        what = "a callable ";
    return fail(w, PyExc_TypeError, "%s%s cannot cross to plugbay (it carries None, bool, int, float, str, bytes, "
                "list, tuple and dict with str keys)", what, type);
}

/* made returns v, or raises MemoryError when libplugbay could not make it. */
static bay_value *made(const walk *w, bay_value *v)
{
    return v ? v : fail(w, PyExc_MemoryError, "libplugbay is out of memory");
}

/* utf8 returns obj's UTF-8 bytes (lone surrogates as the bytes they escape) as a new bytes object. */
static PyObject *utf8(PyObject *obj)
{
    return PyUnicode_AsEncodedString(obj, "utf-8", "surrogateescape");
}

static bay_value *to_bay(walk *w, PyObject *obj);

/* container converts a list, tuple or dict, one level deeper. */
static bay_value *container(walk *w, PyObject *obj)
{
    for (int i = 0; i < w->depth; i++)
        if (w->levels[i].container == obj)
            return fail(w, PyExc_ValueError, "a cycle (this %s contains itself) cannot cross to plugbay",
                        Py_TYPE(obj)->tp_name);
    if (w->depth >= MAX_DEPTH)
        return fail(w, PyExc_ValueError, "nested deeper than %d levels, more than a plugbay frame carries", MAX_DEPTH);
    level *l = &w->levels[w->depth];
    *l = (level){.container = obj};
    bay_value *out;
    if (PyDict_Check(obj)) {
        if ((out = made(w, bay_map())) == NULL)
            return NULL;
        PyObject *k, *v;
        Py_ssize_t pos = 0;
        while (PyDict_Next(obj, &pos, &k, &v)) {
            if (!PyUnicode_Check(k)) {
                bay_value_free(out);
                return fail(w, PyExc_TypeError, "the key %R is a %s; plugbay map keys are str", k, Py_TYPE(k)->tp_name);
            }
            Py_INCREF(k), Py_INCREF(v); /* the dict could change under a key's __repr__ or an error's path */
            l->key = k;
            w->depth++;
            PyObject *key = utf8(k);
            bay_value *item = NULL;
            if (key && memchr(PyBytes_AS_STRING(key), 0, (size_t)PyBytes_GET_SIZE(key)))
                fail(w, PyExc_ValueError, "a map key cannot hold a NUL character");
            else if (key && (item = to_bay(w, v)) != NULL && bay_map_set(out, PyBytes_AS_STRING(key), item) != 0)
                item = made(w, NULL); /* bay_map_set freed item */
            w->depth--;
            Py_XDECREF(key);
            Py_DECREF(k), Py_DECREF(v);
            if (item == NULL) {
                bay_value_free(out);
                return NULL;
            }
        }
        return out;
    }
    PyObject *seq = PySequence_Fast(obj, "a list or tuple"); /* a new reference: the list cannot go meanwhile */
    if (seq == NULL || (out = made(w, bay_array())) == NULL) {
        Py_XDECREF(seq);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        l->index = i;
        w->depth++;
        bay_value *item = to_bay(w, PySequence_Fast_GET_ITEM(seq, i));
        if (item && bay_array_push(out, item) != 0)
            item = made(w, NULL);
        w->depth--;
        if (item == NULL) {
            bay_value_free(out);
            Py_DECREF(seq);
            return NULL;
        }
    }
    Py_DECREF(seq);
    return out;
}

/* to_bay returns a new bay_value for obj, or NULL with a Python exception set. */
static bay_value *to_bay(walk *w, PyObject *obj)
{
    if (obj == Py_None)
        return made(w, bay_nil());
    if (PyBool_Check(obj))
        return made(w, bay_bool(obj == Py_True));
    if (PyLong_Check(obj)) {
        int overflow;
        long long i = PyLong_AsLongLongAndOverflow(obj, &overflow);
        if (overflow)
            return fail(w, PyExc_ValueError, "the int %R is beyond the 64 bits a plugbay int holds "
                        "(-9223372036854775808 to 9223372036854775807); send it as a str or a float", obj);
        return i == -1 && PyErr_Occurred() ? NULL : made(w, bay_int(i));
    }
    if (PyFloat_Check(obj))
        return made(w, bay_float(PyFloat_AS_DOUBLE(obj)));
    if (PyUnicode_Check(obj)) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(obj, &n);
        if (s)
            return made(w, bay_strn(s, (size_t)n));
        PyErr_Clear(); /* lone surrogates, as from os.fsdecode: their bytes */
        PyObject *b = utf8(obj);
        bay_value *v = b ? made(w, bay_strn(PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b))) : NULL;
        Py_XDECREF(b);
        return v;
    }
    if (PyBytes_Check(obj))
        return made(w, bay_bin(PyBytes_AS_STRING(obj), (size_t)PyBytes_GET_SIZE(obj)));
    if (PyByteArray_Check(obj) || PyMemoryView_Check(obj)) {
        Py_buffer view;
        if (PyObject_GetBuffer(obj, &view, PyBUF_C_CONTIGUOUS) != 0) {
            PyErr_Clear();
            PyObject *copy = PyBytes_FromObject(obj); /* a strided view: its bytes in order */
            bay_value *v = copy ? to_bay(w, copy) : NULL;
            Py_XDECREF(copy);
            return v;
        }
        bay_value *v = made(w, bay_bin(view.buf, (size_t)view.len));
        PyBuffer_Release(&view);
        return v;
    }
    if (PyList_Check(obj) || PyTuple_Check(obj) || PyDict_Check(obj))
        return container(w, obj);
    return cannot_cross(w, obj);
}

/* from_bay returns the Python value of v: bin → bytes, array → list, map → dict; NULL with an exception set. */
static PyObject *from_bay(const bay_value *v)
{
    size_t n;
    const char *s;
    switch (bay_value_type(v)) {
    case BAY_NIL:
        Py_RETURN_NONE;
    case BAY_BOOL:
        return PyBool_FromLong(bay_value_bool(v));
    case BAY_INT:
        return PyLong_FromLongLong(bay_value_int(v));
    case BAY_FLOAT:
        return PyFloat_FromDouble(bay_value_float(v));
    case BAY_STR:
        s = bay_value_str(v, &n);
        return PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "surrogateescape");
    case BAY_BIN:
        s = bay_value_str(v, &n);
        return PyBytes_FromStringAndSize(s, (Py_ssize_t)n);
    case BAY_ARRAY: {
        n = bay_value_len(v);
        PyObject *out = PyList_New((Py_ssize_t)n);
        for (size_t i = 0; out && i < n; i++) {
            PyObject *item = from_bay(bay_array_get(v, i));
            if (item == NULL)
                Py_CLEAR(out);
            else
                PyList_SET_ITEM(out, (Py_ssize_t)i, item);
        }
        return out;
    }
    case BAY_MAP: {
        n = bay_value_len(v);
        PyObject *out = PyDict_New();
        for (size_t i = 0; out && i < n; i++) {
            const bay_value *val;
            const char *k = bay_map_entry(v, i, &val);
            PyObject *key = PyUnicode_DecodeUTF8(k, (Py_ssize_t)strlen(k), "surrogateescape");
            PyObject *item = key ? from_bay(val) : NULL;
            if (item == NULL || PyDict_SetItem(out, key, item) != 0)
                Py_CLEAR(out);
            Py_XDECREF(key);
            Py_XDECREF(item);
        }
        return out;
    }
    }
    return PyErr_Format(PyExc_ValueError, "libplugbay gave a value of an unknown type %d", (int)bay_value_type(v));
}

/* address reads a pointer cffi gave as an int; NULL with an exception set when it is none. */
static void *address(PyObject *obj, const char *what)
{
    void *p = PyLong_AsVoidPtr(obj);
    if (p == NULL && !PyErr_Occurred())
        PyErr_Format(PyExc_ValueError, "%s is NULL", what);
    return p;
}

/* c_text returns obj's bytes when it is bytes without NUL (NULL for None when none_ok), with err set otherwise. */
static const char *c_text(PyObject *obj, const char *what, int none_ok, int *err)
{
    if (none_ok && obj == Py_None)
        return NULL;
    if (!PyBytes_Check(obj) || memchr(PyBytes_AS_STRING(obj), 0, (size_t)PyBytes_GET_SIZE(obj))) {
        PyErr_Format(PyExc_TypeError, "%s must be bytes without NUL", what);
        *err = 1;
        return NULL;
    }
    return PyBytes_AS_STRING(obj);
}

PyDoc_STRVAR(py_to_bay_doc, "to_bay(obj, path) -> int\n\nA new bay_value * (the caller frees it) for obj, as an "
             "int; raises TypeError or ValueError naming the path of the first value that cannot cross.");

static PyObject *py_to_bay(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    const char *root;
    if (nargs != 2 || (root = PyUnicode_AsUTF8(args[1])) == NULL)
        return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_TypeError, "to_bay(obj, path: str)");
    walk w = {.root = root};
    bay_value *v = to_bay(&w, args[0]);
    return v ? PyLong_FromVoidPtr(v) : NULL;
}

PyDoc_STRVAR(py_from_bay_doc, "from_bay(address) -> value\n\nThe Python value of the borrowed bay_value * at "
             "address.");

static PyObject *py_from_bay(PyObject *self, PyObject *arg)
{
    (void)self;
    const bay_value *v = address(arg, "from_bay: the value");
    return v ? from_bay(v) : NULL;
}

PyDoc_STRVAR(py_call_doc, "call(conn, name, args, timeout_ms, context, make_error) -> value\n\n"
             "bay_call on the bay_conn * at conn with name (bytes), the tuple args, timeout_ms (0: the default) "
             "and context (bytes or None), the GIL released while it waits; returns the result, or raises "
             "make_error(code, plugin, message, code_name).");

static PyObject *py_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 6)
        return PyErr_Format(PyExc_TypeError, "call takes 6 arguments, got %zd", nargs);
    int bad = 0;
    bay_conn *c = address(args[0], "call: the connection");
    const char *name = c ? c_text(args[1], "call: name", 0, &bad) : NULL;
    const char *context = c && !bad ? c_text(args[4], "call: context", 1, &bad) : NULL;
    int timeout_ms = c && !bad ? PyLong_AsLong(args[3]) : 0;
    if (c == NULL || bad || PyErr_Occurred())
        return NULL;
    walk w = {.root = "args"};
    bay_value *call_args = to_bay(&w, args[2]);
    if (call_args == NULL)
        return NULL;
    bay_call_opts opts = {.timeout_ms = timeout_ms, .context = context};
    bay_value *result = NULL;
    bay_error err;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = bay_call(c, name, call_args, &opts, &result, &err);
    Py_END_ALLOW_THREADS
    bay_value_free(call_args);
    if (rc == 0) {
        PyObject *out = from_bay(result);
        bay_value_free(result);
        return out;
    }
    int filled = err.code == rc;
    const char *plugin = filled ? err.plugin : "", *message = filled && err.message[0] ? err.message : bay_strerror(rc);
    PyObject *e = PyObject_CallFunction(args[5], "iNNs", rc,
                                        PyUnicode_DecodeUTF8(plugin, (Py_ssize_t)strlen(plugin), "replace"),
                                        PyUnicode_DecodeUTF8(message, (Py_ssize_t)strlen(message), "replace"),
                                        bay_errname(rc));
    if (e != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(e), e);
        Py_DECREF(e);
    }
    return NULL;
}

static PyMethodDef methods[] = {
    {"to_bay", (PyCFunction)(void (*)(void))py_to_bay, METH_FASTCALL, py_to_bay_doc},
    {"from_bay", py_from_bay, METH_O, py_from_bay_doc},
    {"call", (PyCFunction)(void (*)(void))py_call, METH_FASTCALL, py_call_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "plugbay._cross",
    "Python values to libplugbay's bay_value trees and back, and bay_call, in C (plugbay/_cross.c).", 0, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__cross(void)
{
    return PyModule_Create(&module);
}
