/* bridges/python/audit.c — the policy's third layer: a PEP 578 audit hook, added from C so that Python code cannot remove it.
 *
 * Once armed (just before the plugin's code first runs) it judges the events
 * CPython raises where code touches the world: files (open, os.*), programs
 * (subprocess, os.system), sockets, native code (ctypes) and the imports that
 * lead to them. A plugin may read its own folder, its data folder, the Python
 * library and the paths of its fs.read grants, and write its data folder;
 * programs need process.spawn, sockets a net.* grant, native modules
 * python.import:NAME. A refusal raises plugbay.PolicyError where the plugin's
 * code asked. Events not listed pass: the first two layers (policy.py) keep
 * plugins from reaching them, and the OS sandbox is the wall behind all three. */
#include "py_bridge.h"
#include "refusals.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A list of strings the hook owns. */
typedef struct strv {
    char **v;
    size_t n;
} strv;

typedef struct audit_state {
    bool armed;
    strv read;           /* canonical folders the plugin may read: its own, the library's, its fs.read grants */
    char data[PATH_MAX]; /* its data folder, canonical: read and write */
    strv modules;        /* the NAMEs of its python.import:NAME grants */
    bool net;            /* it has a net.* grant */
    bool spawn;          /* it has process.spawn */
    bool native;         /* it has python.import:ctypes */
    PyObject *refused;   /* the exception a refusal raises: plugbay.PolicyError (else PermissionError) */
} audit_state;

static audit_state audit;

#define WHY_SPAWN "starting programs needs the permission \"process.spawn\""
#define WHY_NET "network access needs a permission like \"net.connect:HOST:PORT\""
#define WHY_NATIVE "it reaches native code and the worker's memory"
#define WHY_FORK                                                                                                \
    "the worker's messaging library is not fork-safe; start programs with subprocess and the permission "     \
    "\"process.spawn\""

static int strv_add(strv *s, const char *text)
{
    char **grown = realloc(s->v, (s->n + 1) * sizeof *grown);
    if (grown == NULL)
        return BAY_ENOMEM;
    s->v = grown;
    if ((s->v[s->n] = strdup(text)) == NULL)
        return BAY_ENOMEM;
    s->n++;
    return 0;
}

static void strv_clear(strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    *s = (strv){0};
}

/* within tells whether the canonical path is root or inside it. */
static bool within(const char *path, const char *root)
{
    size_t n = strlen(root);
    if (n == 0)
        return false;
    if (n == 1 && root[0] == '/')
        return true;
    return strncmp(path, root, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

static bool readable(const char *path)
{
    if (within(path, audit.data))
        return true;
    for (size_t i = 0; i < audit.read.n; i++)
        if (within(path, audit.read.v[i]))
            return true;
    return false;
}

/* describe writes the event as a call, "open('/etc/passwd', 'r')", for messages:
 * its first two str, bytes or tuple arguments (paths, modes, commands, addresses). */
static void describe(const char *event, PyObject *args, char *out, size_t len)
{
    size_t used = (size_t)snprintf(out, len, "%s(", event);
    int shown = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args) && shown < 2 && used < len; i++) {
        PyObject *a = PyTuple_GET_ITEM(args, i);
        if (!PyUnicode_Check(a) && !PyBytes_Check(a) && !PyTuple_Check(a))
            continue;
        PyObject *repr = PyObject_Repr(a);
        const char *text = repr ? PyUnicode_AsUTF8(repr) : NULL;
        used += (size_t)snprintf(out + used, len - used, "%s%.80s", shown++ ? ", " : "", text ? text : "?");
        Py_XDECREF(repr);
        PyErr_Clear();
    }
    if (used < len)
        snprintf(out + used, len - used, ")");
}

/* refuse_with raises the policy's exception with a printf-style message and returns -1 for the hook. */
__attribute__((format(printf, 1, 2))) static int refuse_with(const char *fmt, ...)
{
    char text[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    PyErr_SetString(audit.refused ? audit.refused : PyExc_PermissionError, text);
    return -1;
}

/* refuse raises "CALL is refused: WHY" for the event and returns -1 for the hook. */
__attribute__((format(printf, 3, 4))) static int refuse(const char *event, PyObject *args, const char *fmt, ...)
{
    char call[200], why[600];
    describe(event, args, call, sizeof call);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return refuse_with("%s is refused: %s", call, why);
}

/* One kind of event and how it is judged. */
typedef struct rule {
    const char *event; /* its name, or a prefix ending in ".*" */
    int (*check)(const struct rule *r, const char *event, PyObject *args);
    const char *why;   /* what a refusal says */
    const bool *grant; /* for gated: the grant that allows it */
    int path, path2;   /* the positions of the paths it acts on (-1 = none) */
    int dir_fd, dir_fd2; /* the positions of dir_fd arguments (-1 = none) */
} rule;

static PyObject *arg(PyObject *args, int i)
{
    return i >= 0 && i < PyTuple_GET_SIZE(args) ? PyTuple_GET_ITEM(args, i) : NULL;
}

/* in_folder writes into out the real folder of path plus path's last part,
 * for a file still to be made. Returns false (errno set) when the folder has no real path. */
static bool in_folder(const char *path, char out[PATH_MAX])
{
    char folder[PATH_MAX];
    const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
    if (slash == NULL)
        strcpy(folder, ".");
    else if (slash == path)
        strcpy(folder, "/");
    else
        snprintf(folder, sizeof folder, "%.*s", (int)(slash - path), path);
    if (realpath(folder, out) == NULL)
        return false;
    size_t n = strlen(out);
    if (snprintf(out + n, PATH_MAX - n, "%s%s", n > 1 ? "/" : "", name) >= (int)(PATH_MAX - n)) {
        errno = ENAMETOOLONG;
        return false;
    }
    return true;
}

/* canonical resolves a path argument (str or bytes; None means ".") into out:
 * the real path, or for a file still to be made its real folder and its name.
 * Returns 1 when resolved, 0 when the operation cannot act on a file anyway (a
 * NUL byte in the path), or -1 after refusing. */
static int canonical(const char *event, PyObject *args, PyObject *path, char out[PATH_MAX])
{
    PyObject *bytes = path == Py_None ? PyBytes_FromString(".")
                      : PyUnicode_Check(path) ? PyUnicode_EncodeFSDefault(path)
                      : PyBytes_Check(path)   ? Py_NewRef(path)
                                              : NULL;
    if (bytes == NULL) {
        PyErr_Clear();
        return refuse(event, args, "the python policy checks paths given as str or bytes; pass str(path)");
    }
    const char *s = PyBytes_AS_STRING(bytes);
    int rc = 1;
    struct stat st;
    if (strlen(s) != (size_t)PyBytes_GET_SIZE(bytes)) {
        rc = 0;
    } else if (realpath(s, out) == NULL) {
        int e = errno;
        if (e == ENOENT && lstat(s, &st) == 0)
            rc = refuse(event, args, "its path is a symbolic link to nothing");
        else if (e != ENOENT || !in_folder(s, out))
            rc = refuse(event, args, "its path cannot be resolved (%s)", strerror(e != ENOENT ? e : errno));
    }
    Py_DECREF(bytes);
    return rc;
}

/* judge_path allows reading (or, when write, writing) the path argument. */
static int judge_path(const char *event, PyObject *args, PyObject *path, bool write)
{
    char real[PATH_MAX];
    int rc = canonical(event, args, path, real);
    if (rc <= 0)
        return rc < 0 ? -1 : 0;
    if (within(real, audit.data) || (!write && readable(real)))
        return 0;
    if (write)
        return refuse(event, args, "a plugin writes only inside its data folder (plugbay.data_dir: %s)", audit.data);
    char *slash = strrchr(real, '/');
    struct stat st;
    if (slash && slash != real && stat(real, &st) == 0 && !S_ISDIR(st.st_mode))
        *slash = '\0';
    return refuse(event, args,
                  "a plugin reads only its own folder, its data folder (plugbay.data_dir) and the Python library; to "
                  "read more, ask for the permission \"fs.read:%s\" in plugin.json",
                  real);
}

/* judge_paths checks the rule's paths (and refuses dir_fd arguments, which
 * would make a path relative to a folder the policy does not see). */
static int judge_paths(const rule *r, const char *event, PyObject *args, bool write)
{
    int fds[] = {r->dir_fd, r->dir_fd2}, paths[] = {r->path, r->path2};
    for (int i = 0; i < 2; i++) { /* os passes a missing dir_fd as None or a negative number */
        PyObject *fd = arg(args, fds[i]);
        if (fd && fd != Py_None && !(PyLong_Check(fd) && PyLong_AsLong(fd) < 0))
            return refuse(event, args, "the python policy does not follow dir_fd arguments; pass a whole path");
    }
    for (int i = 0; i < 2; i++) {
        PyObject *path = arg(args, paths[i]);
        if (path && !PyLong_Check(path) && judge_path(event, args, path, write) < 0)
            return -1; /* a file descriptor came from an open() the hook allowed */
    }
    return 0;
}

static int read_rule(const rule *r, const char *event, PyObject *args)
{
    return judge_paths(r, event, args, false);
}

static int write_rule(const rule *r, const char *event, PyObject *args)
{
    return judge_paths(r, event, args, true);
}

/* open_rule judges open() and os.open(): (path or fd, mode or None, flags). */
static int open_rule(const rule *r, const char *event, PyObject *args)
{
    PyObject *file = arg(args, 0), *mode = arg(args, 1), *flags = arg(args, 2);
    if (file && PyLong_Check(file))
        return audit.spawn ? 0
                           : refuse(event, args, "a plugin opens files by path; descriptors by number are the "
                                                 "worker's own (its connection to plugbayd among them)");
    long f = flags && PyLong_Check(flags) ? PyLong_AsLong(flags) : 0;
    const char *m = mode && PyUnicode_Check(mode) ? PyUnicode_AsUTF8(mode) : NULL;
    PyErr_Clear();
    bool write = (f & O_ACCMODE) != O_RDONLY || (f & (O_CREAT | O_TRUNC | O_APPEND)) || (m && strpbrk(m, "wax+"));
    return file ? judge_path(event, args, file, write) : 0;
}

static int allow(const rule *r, const char *event, PyObject *args)
{
    return 0;
}

static int deny(const rule *r, const char *event, PyObject *args)
{
    return refuse(event, args, "%s", r->why);
}

static int gated(const rule *r, const char *event, PyObject *args)
{
    return *r->grant ? 0 : deny(r, event, args);
}

/* sqlite_rule judges sqlite3.connect(database): SQLite opens files itself, past open()'s event. */
static int sqlite_rule(const rule *r, const char *event, PyObject *args)
{
    PyObject *db = arg(args, 0);
    const char *name = db && PyUnicode_Check(db) ? PyUnicode_AsUTF8(db) : NULL;
    PyErr_Clear();
    if (name && strcmp(name, ":memory:") == 0)
        return 0;
    if (name && strncmp(name, "file:", 5) == 0)
        return refuse(event, args, "the python policy does not read SQLite URIs; pass a path");
    return db ? judge_path(event, args, db, true) : 0;
}

/* import_rule judges the loading of a module (the first import of it, by anyone). */
static int import_rule(const rule *r, const char *event, PyObject *args);

#define PATHS(p, q, f, g) .path = (p), .path2 = (q), .dir_fd = (f), .dir_fd2 = (g)
#define NO_PATHS PATHS(-1, -1, -1, -1)
static const rule rules[] = {
    {"open", open_rule, NULL, NULL, NO_PATHS},
    {"import", import_rule, NULL, NULL, NO_PATHS},
    {"os.listdir", read_rule, NULL, NULL, PATHS(0, -1, -1, -1)},
    {"os.scandir", read_rule, NULL, NULL, PATHS(0, -1, -1, -1)},
    {"os.walk", read_rule, NULL, NULL, PATHS(0, -1, -1, -1)},
    {"os.fwalk", read_rule, NULL, NULL, PATHS(0, -1, 4, -1)},
    {"os.listxattr", read_rule, NULL, NULL, PATHS(0, -1, -1, -1)},
    {"os.getxattr", read_rule, NULL, NULL, PATHS(0, -1, -1, -1)},
    {"os.mkdir", write_rule, NULL, NULL, PATHS(0, -1, 2, -1)},
    {"os.remove", write_rule, NULL, NULL, PATHS(0, -1, 1, -1)},
    {"os.rmdir", write_rule, NULL, NULL, PATHS(0, -1, 1, -1)},
    {"os.rename", write_rule, NULL, NULL, PATHS(0, 1, 2, 3)},
    {"os.truncate", write_rule, NULL, NULL, PATHS(0, -1, -1, -1)},
    {"os.utime", write_rule, NULL, NULL, PATHS(0, -1, 3, -1)},
    {"os.chmod", write_rule, NULL, NULL, PATHS(0, -1, 2, -1)},
    {"os.setxattr", write_rule, NULL, NULL, PATHS(0, -1, -1, -1)},
    {"os.removexattr", write_rule, NULL, NULL, PATHS(0, -1, -1, -1)},
    {"os.putenv", allow, NULL, NULL, NO_PATHS},
    {"os.unsetenv", allow, NULL, NULL, NO_PATHS},
    {"os.lockf", allow, NULL, NULL, NO_PATHS},
    {"os.fork", deny, WHY_FORK, NULL, NO_PATHS},
    {"os.forkpty", deny, WHY_FORK, NULL, NO_PATHS},
    {"os.system", gated, WHY_SPAWN, &audit.spawn, NO_PATHS},
    {"os.exec", gated, WHY_SPAWN, &audit.spawn, NO_PATHS},
    {"os.posix_spawn", gated, WHY_SPAWN, &audit.spawn, NO_PATHS},
    {"os.spawn", gated, WHY_SPAWN, &audit.spawn, NO_PATHS},
    {"os.kill", gated, WHY_SPAWN, &audit.spawn, NO_PATHS},
    {"os.killpg", gated, WHY_SPAWN, &audit.spawn, NO_PATHS},
    {"subprocess.Popen", gated, WHY_SPAWN, &audit.spawn, NO_PATHS},
    {"os.*", deny, "a plugin's os calls may only read its folders and change its data folder", NULL, NO_PATHS},
    {"socket.*", gated, WHY_NET, &audit.net, NO_PATHS},
    {"ctypes.*", gated, "native code needs the permission \"python.import:ctypes\"", &audit.native, NO_PATHS},
    {"sqlite3.connect", sqlite_rule, NULL, NULL, NO_PATHS},
    {"sqlite3.enable_load_extension", deny, "SQLite extensions are native code", NULL, NO_PATHS},
    {"sqlite3.load_extension", deny, "SQLite extensions are native code", NULL, NO_PATHS},
    {"code.__new__", deny, "hand-made code objects run bytecode no check has seen", NULL, NO_PATHS},
    {"sys.addaudithook", deny, "the audit hooks are the worker's", NULL, NO_PATHS},
    {"sys.settrace", deny, "tracing is the worker's", NULL, NO_PATHS},
    {"sys.setprofile", deny, "profiling is the worker's", NULL, NO_PATHS},
    {"cpython.PyInterpreterState_New", deny, "a plugin runs in one interpreter", NULL, NO_PATHS},
    {"builtins.breakpoint", deny, "a plugin has no debugger", NULL, NO_PATHS},
    {"gc.*", deny, "the collector's object lists hand out every object of the interpreter", NULL, NO_PATHS},
};

/* Modules whose loading the hook refuses, whoever imports them, unless the
 * plugin has python.import:MODULE or the capability grant named here. */
static const struct denied {
    const char *module; /* a module name, or a prefix ending in "*" */
    const bool *grant;
    const char *why;
} denied[] = {
    {"ctypes", NULL, WHY_NATIVE},
    {"_ctypes", NULL, WHY_NATIVE},
    {"cffi", NULL, WHY_NATIVE},
    {"_cffi_backend", NULL, WHY_NATIVE},
    {"_test*", NULL, WHY_NATIVE},
    {"_xxsubinterpreters", NULL, "a plugin runs in one interpreter"},
    {"_xxinterpchannels", NULL, "a plugin runs in one interpreter"},
    {"gc", NULL, "gc.get_objects() hands out every object of the interpreter"},
    {"faulthandler", NULL, "it writes to any file descriptor and crashes the worker on request"},
    {"mmap", NULL, "it maps memory and files past the checks of open()"},
    {"fcntl", NULL, "it acts on any file descriptor, the worker's connection among them"},
    {"termios", NULL, "it acts on any file descriptor, the worker's connection among them"},
    {"resource", NULL, "the worker's limits are set by plugbay"},
    {"_posixshmem", NULL, "it maps shared memory past the checks of open()"},
    {"signal", &audit.spawn, "it can ignore the signal that stops a cancelled call (subprocess needs it: ask for "
                             "\"process.spawn\")"},
    {"subprocess", &audit.spawn, WHY_SPAWN},
    {"_posixsubprocess", &audit.spawn, WHY_SPAWN},
    {"pty", &audit.spawn, WHY_SPAWN},
    {"multiprocessing", &audit.spawn, WHY_SPAWN},
    {"_multiprocessing", &audit.spawn, WHY_SPAWN},
    {"socket", &audit.net, WHY_NET},
    {"_socket", &audit.net, WHY_NET},
    {"ssl", &audit.net, WHY_NET},
    {"_ssl", &audit.net, WHY_NET},
};

/* names tells whether pattern (a name, or a prefix ending in '*') names module or one of its submodules. */
static bool names(const char *pattern, const char *module)
{
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*')
        return strncmp(pattern, module, n - 1) == 0;
    return strncmp(pattern, module, n) == 0 && (module[n] == '\0' || module[n] == '.');
}

static int import_rule(const rule *r, const char *event, PyObject *args)
{
    PyObject *name = arg(args, 0);
    const char *module = name && PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
    if (module == NULL) {
        PyErr_Clear();
        return 0;
    }
    for (size_t i = 0; i < audit.modules.n; i++) /* a grant covers the module and its C part (_ctypes) */
        if (names(audit.modules.v[i], module) || (module[0] == '_' && names(audit.modules.v[i], module + 1)))
            return 0;
    for (size_t i = 0; i < sizeof denied / sizeof *denied; i++) {
        const struct denied *d = &denied[i];
        if (names(d->module, module) && !(d->grant && *d->grant))
            return refuse_with("import of module '%s' is refused: %s%s%s%s", module, d->why,
                               d->grant ? "" : "; a plugin may ask for it with the permission \"python.import:",
                               d->grant ? "" : module, d->grant ? "" : "\"");
    }
    return 0;
}

int pyb_audit_hook(const char *event, PyObject *args, void *unused)
{
    if (!audit.armed)
        return 0;
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
        const char *pattern = rules[i].event;
        size_t n = strlen(pattern);
        bool prefix = n > 2 && strcmp(pattern + n - 2, ".*") == 0;
        if (prefix ? strncmp(pattern, event, n - 1) == 0 : strcmp(pattern, event) == 0) {
            int rc = rules[i].check(&rules[i], event, args);
            if (rc) {
                char kind[64];
                snprintf(kind, sizeof kind, "python %s", event);
                bay__refused(kind);
            }
            return rc;
        }
    }
    return 0;
}

/* module_name tells whether s is a dotted module name ("xml.etree"). */
static bool module_name(const char *s)
{
    for (bool start = true;; s++, start = false) {
        if (*s == '\0' || *s == '.') {
            if (start)
                return false;
            if (*s == '\0')
                return true;
            start = true;
            continue;
        }
        bool letter = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_';
        if (!letter && (start || !(*s >= '0' && *s <= '9')))
            return false;
    }
}

/* grant reads one granted permission. */
static int grant(const bay__plugin_info *p, const char *g, bay_error *err)
{
    char real[PATH_MAX];
    if (strncmp(g, "fs.read:", 8) == 0) {
        if (g[8] != '/')
            return bay_error_set(err, BAY_EINVAL, p->id,
                                 "permission \"%s\" must name an absolute path, like \"fs.read:/srv/maps\"", g);
        return strv_add(&audit.read, realpath(g + 8, real) ? real : g + 8);
    }
    if (strncmp(g, "python.import:", 14) == 0) {
        if (!module_name(g + 14))
            return bay_error_set(err, BAY_EINVAL, p->id,
                                 "permission \"%s\" must name a module, like \"python.import:sqlite3\"", g);
        audit.native |= names("ctypes", g + 14);
        return strv_add(&audit.modules, g + 14);
    }
    audit.net |= strncmp(g, "net.", 4) == 0;
    audit.spawn |= strcmp(g, "process.spawn") == 0;
    return 0; /* the vocabulary of other layers (provide:, call:, lua.io, ...) */
}

int pyb_audit_setup(const bay__plugin_info *p, bay_error *err)
{
    char real[PATH_MAX];
    pyb_audit_clear();
    if (realpath(p->data_dir, audit.data) == NULL)
        return bay_error_set(err, BAY_EIO, p->id, "data folder %s: %s", p->data_dir, strerror(errno));
    if (realpath(p->dir, real) == NULL)
        return bay_error_set(err, BAY_EIO, p->id, "plugin folder %s: %s", p->dir, strerror(errno));
    int rc = strv_add(&audit.read, real);
    for (size_t i = 0; rc == 0 && i < bay_value_len(p->permissions); i++) {
        const char *g = bay_value_str(bay_array_get(p->permissions, i), NULL);
        rc = g ? grant(p, g, err) : 0;
    }
    if (rc == BAY_ENOMEM)
        bay_error_set(err, rc, p->id, "reading the permissions: %s", bay_strerror(rc));
    return rc;
}

int pyb_audit_arm(PyObject *policy_error, bay_error *err)
{
    PyObject *path = PySys_GetObject("path");
    for (Py_ssize_t i = 0; path && PyList_Check(path) && i < PyList_GET_SIZE(path); i++) {
        PyObject *item = PyList_GET_ITEM(path, i);
        const char *folder = PyUnicode_Check(item) ? PyUnicode_AsUTF8(item) : NULL;
        char real[PATH_MAX];
        if (folder && realpath(folder, real) && strv_add(&audit.read, real) != 0)
            return bay_error_set(err, BAY_ENOMEM, pyb_plugin->id, "arming the audit hook: %s",
                                 bay_strerror(BAY_ENOMEM));
    }
    PyErr_Clear();
    Py_XSETREF(audit.refused, Py_NewRef(policy_error));
    audit.armed = true;
    return 0;
}

PyObject *pyb_audit_modules(void)
{
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list && i < audit.modules.n; i++) {
        PyObject *name = PyUnicode_FromString(audit.modules.v[i]);
        if (name == NULL || PyList_Append(list, name) != 0)
            Py_CLEAR(list);
        Py_XDECREF(name);
    }
    return list;
}

void pyb_audit_release(void)
{
    Py_CLEAR(audit.refused);
}

void pyb_audit_clear(void)
{
    strv_clear(&audit.read);
    strv_clear(&audit.modules);
    audit = (audit_state){0};
}
