/* bridges/python/convert.h — converting call values between bay_value (msgpack) and Python objects, for the Python bridge.
 *
 * bay_value -> Python: nil None, bool bool, int int, float float, str str
 * (bytes that are not UTF-8 survive as surrogate escapes), bin bytes, array
 * list, map dict. Python -> bay_value: None, bool, int (within 64 bits), float,
 * str, bytes and bytearray, list and tuple, dict with str keys; subclasses
 * count as their base type. Every function here needs the GIL. */
#ifndef BAY_PY_CONVERT_H
#define BAY_PY_CONVERT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stddef.h>

#include <plugbay/error.h>
#include <plugbay/value.h>

#include "value_convert.h" /* BAY_CONVERT_MAX_DEPTH */


/* pyb_to_python returns a new reference to v as a Python object, or NULL
 * with a Python exception set (MemoryError). */
PyObject *pyb_to_python(const bay_value *v);

/* pyb_args_to_python returns the items of args (an array) as a new tuple, or
 * NULL with a Python exception set. */
PyObject *pyb_args_to_python(const bay_value *args);

/* pyb_from_python converts o into a new bay_value the caller owns (*out).
 * what names o in messages ("result", "argument 2"). It never runs Python code
 * (no __index__, __iter__ or other method of a subclass is called) and leaves
 * no Python exception set. Returns 0, BAY_ETYPE with why in err (where in the
 * value, what is wrong, what to do), or BAY_ENOMEM. */
int pyb_from_python(PyObject *o, const char *what, bay_value **out, bay_error *err);

#endif
