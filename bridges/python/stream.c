/* bridges/python/stream.c — a generator function's streamed answer: each value its generator yields goes out as a chunk, the value it returns last. */
#include "py_bridge.h"

/* close_generator closes gen (fn's), so that its finally blocks run, and
 * keeps the exception that ends the call; what closing raises is logged. */
static void close_generator(const char *fn, PyObject *gen)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyObject *done = PyObject_CallMethod(gen, "close", NULL);
    if (done == NULL) {
        bay_error e;
        pyb_error_take(NULL, &e);
        bay_plugin_log(BAY_LOG_WARN, "%s: closing its generator raised %s", fn, e.message);
    }
    Py_XDECREF(done);
    PyErr_Restore(type, value, tb);
}

PyObject *pyb_stream(const char *fn, PyObject *gen)
{
    PyObject *out = NULL;
    PySendResult sent;
    while ((sent = PyIter_Send(gen, Py_None, &out)) == PYGEN_NEXT) {
        int rc = pyb_api_emit(fn, out, "the value it yielded");
        Py_CLEAR(out);
        if (rc) {
            close_generator(fn, gen);
            break;
        }
    }
    Py_DECREF(gen);
    return sent == PYGEN_RETURN ? out : NULL;
}
