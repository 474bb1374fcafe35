/* bridges/python/errors.c — a Python exception from plugin code as a plugbay error: its code, and a message with the exception and the plugin's own traceback lines. */
#include "py_bridge.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The innermost frames of the plugin's own code a traceback keeps, and how many distinct ones a message shows. */
#define FRAMES_KEPT 32
#define FRAMES_SHOWN 6

/* One frame of the plugin's own code. */
typedef struct frame {
    char file[128];     /* relative to the plugin's folder, as the policy compiled it */
    char function[96];  /* qualified name: "greet", "Parser.feed", "<module>" */
    int line;
} frame;

/* The last FRAMES_KEPT plugin frames of a traceback, outermost first. */
typedef struct frames {
    frame v[FRAMES_KEPT];
    size_t n;     /* how many are kept */
    size_t total; /* how many there were */
} frames;

/* A message being written; what does not fit is cut, and marked. */
typedef struct text {
    char buf[2048];
    size_t used;
} text;

__attribute__((format(printf, 2, 3))) static void add(text *t, const char *fmt, ...)
{
    if (t->used >= sizeof t->buf)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->used, sizeof t->buf - t->used, fmt, ap);
    va_end(ap);
    t->used = n < 0 ? t->used : t->used + (size_t)n;
}

/* utf8 returns o's text, borrowed from o or from *keep (released by the caller); "?" when it has none. */
static const char *utf8(PyObject *o, PyObject **keep)
{
    *keep = o ? PyUnicode_AsEncodedString(o, "utf-8", "backslashreplace") : NULL;
    PyErr_Clear();
    return *keep ? PyBytes_AS_STRING(*keep) : "?";
}

/* is_plugin_file tells a file of the plugin ("main.py", relative) from the
 * library's ("/usr/lib/...") and the bridge's ("<plugbay policy.py>"). */
static bool is_plugin_file(const char *file)
{
    return file[0] != '/' && file[0] != '<';
}

static void collect(PyObject *tb, frames *out)
{
    out->n = out->total = 0;
    for (PyTracebackObject *t = (PyTracebackObject *)tb; t; t = t->tb_next) {
        PyCodeObject *code = PyFrame_GetCode(t->tb_frame);
        PyObject *keep_file, *keep_name;
        const char *file = utf8(code->co_filename, &keep_file), *name = utf8(code->co_qualname, &keep_name);
        if (is_plugin_file(file)) {
            frame *f = &out->v[out->total++ % FRAMES_KEPT];
            snprintf(f->file, sizeof f->file, "%s", file);
            snprintf(f->function, sizeof f->function, "%s", name);
            f->line = t->tb_lineno;
        }
        Py_XDECREF(keep_file);
        Py_XDECREF(keep_name);
        Py_DECREF(code);
    }
    out->n = out->total < FRAMES_KEPT ? out->total : FRAMES_KEPT;
}

/* nth returns the i-th kept frame counting from the innermost (0). */
static const frame *nth(const frames *fs, size_t i)
{
    return &fs->v[(fs->total - 1 - i) % FRAMES_KEPT];
}

static bool same(const frame *a, const frame *b)
{
    return a->line == b->line && strcmp(a->file, b->file) == 0 && strcmp(a->function, b->function) == 0;
}

/* source_line writes line number line of the plugin's file, trimmed, into out ("" when unreadable). */
static void source_line(const char *file, int line, char *out, size_t len)
{
    char path[PATH_MAX], *text = NULL;
    size_t cap = 0;
    out[0] = '\0';
    snprintf(path, sizeof path, "%s/%s", pyb_plugin->dir, file);
    FILE *f = fopen(path, "re");
    for (int n = 1; f && getline(&text, &cap, f) >= 0; n++)
        if (n == line) {
            char *start = text + strspn(text, " \t");
            start[strcspn(start, "\r\n")] = '\0';
            snprintf(out, len, "%s", start);
            break;
        }
    free(text);
    if (f)
        fclose(f);
}

/* where adds " (at FILE:LINE in FUNCTION, `SOURCE`; called from ...)" for the plugin's frames. */
static void where(text *t, const frames *fs)
{
    if (fs->n == 0)
        return;
    const frame *f = nth(fs, 0);
    char source[100];
    source_line(f->file, f->line, source, sizeof source);
    add(t, " (at %s:%d in %s%s%s%s", f->file, f->line, f->function, source[0] ? ", `" : "", source,
        source[0] ? "`" : "");
    size_t i = 1, shown = 1;
    while (i < fs->n && shown < FRAMES_SHOWN) {
        size_t repeat = 1;
        while (i + repeat < fs->n && same(nth(fs, i), nth(fs, i + repeat)))
            repeat++;
        f = nth(fs, i);
        add(t, "; called from %s:%d in %s", f->file, f->line, f->function);
        if (repeat > 1)
            add(t, " (%zu times)", repeat);
        i += repeat;
        shown++;
    }
    if (fs->total > i)
        add(t, "; and %zu frames more", fs->total - i);
    add(t, ")");
}

/* The exception types classify knows (pyb_error_know), borrowed. */
static struct {
    PyObject *stop, *refused;
} known;

void pyb_error_know(PyObject *stop, PyObject *refused)
{
    known.stop = stop;
    known.refused = refused;
}

/* classify returns the bay_errno an exception of type (value) stands for. */
static int classify(const bay_invocation *call, PyObject *type, PyObject *value, PyObject *tb)
{
    int stop = call ? bay_call_cancelled(call) : 0;
    if (stop || (call && known.stop && PyErr_GivenExceptionMatches(type, known.stop)))
        return stop ? stop : BAY_ECANCELED;
    int chosen = pyb_failure_code(type, value);
    if (chosen)
        return chosen;
    if (PyErr_GivenExceptionMatches(type, PyExc_MemoryError) && pyb_memcap_hit())
        return BAY_ENOMEM;
    if (known.refused && PyErr_GivenExceptionMatches(type, known.refused))
        return BAY_EPERM;
    if (call && tb == NULL && PyErr_GivenExceptionMatches(type, PyExc_TypeError))
        return BAY_ETYPE; /* raised before the function's first line: the arguments do not fit it */
    return BAY_EPLUGIN;
}

/* headline adds "Type: message", or what stopped the code. */
static void headline(text *t, int code, PyObject *type, PyObject *value)
{
    if (code == BAY_ETIMEDOUT || code == BAY_ECANCELED) {
        add(t, "stopped: %s", code == BAY_ETIMEDOUT ? "the call's deadline passed" : "the call was cancelled");
        return;
    }
    if (code == BAY_ENOMEM) {
        add(t, "MemoryError: the plugin's Python memory reached its cap of %zu MiB (raise it with limits.%s in "
               "plugin.json)",
            pyb_memcap_cap_mb(), PYB_LIMIT_MEMORY);
        return;
    }
    PyObject *name = PyType_GetName((PyTypeObject *)type), *str = value ? PyObject_Str(value) : NULL;
    PyObject *keep_name, *keep_str = NULL;
    const char *words = str ? utf8(str, &keep_str) : "(str() of the exception failed)";
    add(t, "%s%s%.300s", utf8(name, &keep_name), words[0] ? ": " : "", words);
    Py_XDECREF(keep_name);
    Py_XDECREF(keep_str);
    Py_XDECREF(name);
    Py_XDECREF(str);
    PyErr_Clear();
}

/* failure_text adds str(value), the message of plugbay.fail. */
static void failure_text(text *t, PyObject *value)
{
    PyObject *str = PyObject_Str(value), *keep = NULL;
    add(t, "%s", str ? utf8(str, &keep) : "(str() of the exception failed)");
    Py_XDECREF(keep);
    Py_XDECREF(str);
    PyErr_Clear();
}

int pyb_error_take(const bay_invocation *call, bay_error *err)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (type == NULL)
        return bay_error_set(err, BAY_EPLUGIN, NULL, "the plugin's code failed without raising an exception");
    PyErr_NormalizeException(&type, &value, &tb);
    frames fs;
    text t = {.used = 0};
    int code = classify(call, type, value, tb);
    collect(tb, &fs);
    if (pyb_failure_code(type, value)) {
        failure_text(&t, value); /* plugbay.fail: the plugin's message as it is */
    } else {
        headline(&t, code, type, value);
        where(&t, &fs);
    }
    bay_error_set(err, code, NULL, "%s", t.buf);
    if (err && t.used >= sizeof err->message)
        memcpy(err->message + sizeof err->message - 4, "...", 4);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    PyErr_Clear();
    return code;
}
