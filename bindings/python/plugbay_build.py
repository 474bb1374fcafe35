"""bindings/python/plugbay_build.py — the cffi builder: compiles plugbay._native against libplugbay (API mode).

Where libplugbay is, first match wins:
  1. PLUGBAY_INCLUDE_DIR and PLUGBAY_LIB_DIR (the folder holding plugbay/plugbay.h, and the one holding
     libplugbay.so);
  2. PLUGBAY_PREFIX: an install prefix (PREFIX/include, PREFIX/lib, lib/MULTIARCH or lib64) or a built source tree
     (PREFIX/include, PREFIX/build/lib; PLUGBAY_BUILD_DIR names another build folder than PREFIX/build);
  3. pkg-config plugbay.
The module gets an rpath to the library's folder, so it finds libplugbay.so.0 without LD_LIBRARY_PATH.
"""
import os
import shlex
import subprocess
import sysconfig

from cffi import FFI

CDEF = r"""
typedef struct bay_value bay_value;
typedef enum bay_type { BAY_NIL, BAY_BOOL, BAY_INT, BAY_FLOAT, BAY_STR, BAY_BIN, BAY_ARRAY, BAY_MAP } bay_type;
bay_value *bay_nil(void);
bay_value *bay_bool(bool b);
bay_value *bay_int(int64_t i);
bay_value *bay_float(double d);
bay_value *bay_strn(const char *s, size_t len);
bay_value *bay_bin(const void *data, size_t len);
bay_value *bay_array(void);
bay_value *bay_map(void);
int bay_array_push(bay_value *array, bay_value *item);
int bay_map_set(bay_value *map, const char *key, bay_value *val);
void bay_value_free(bay_value *v);
bay_type bay_value_type(const bay_value *v);
bool bay_value_bool(const bay_value *v);
int64_t bay_value_int(const bay_value *v);
double bay_value_float(const bay_value *v);
const char *bay_value_str(const bay_value *v, size_t *len);
size_t bay_value_len(const bay_value *v);
const bay_value *bay_array_get(const bay_value *array, size_t i);
const char *bay_map_entry(const bay_value *map, size_t i, const bay_value **val);

enum bay_errno { BAY_OK, BAY_EINVAL, BAY_ENOMEM, BAY_EPROTO, BAY_EVERSION, BAY_ENOENT, BAY_ENOPROVIDER, BAY_ETIMEDOUT,
                 BAY_ECANCELED, BAY_ECRASHED, BAY_EUNAVAIL, BAY_EPLUGIN, BAY_ECONN, BAY_EMANIFEST, BAY_ESTATE,
                 BAY_EEXIST, BAY_EPERM, BAY_EBUSY, BAY_ETYPE, BAY_EIO, BAY_EKIND, BAY_EPENDING, BAY_ENOSPC, ... };
typedef struct bay_error { int code; char plugin[128]; char message[512]; } bay_error;
int bay_error_set(bay_error *err, int code, const char *plugin, const char *fmt, ...);
const char *bay_strerror(int code);
const char *bay_errname(int code);

#define BAY_DEFAULT_TIMEOUT_MS ...
typedef struct bay_conn bay_conn;
typedef struct bay_pending bay_pending;
typedef struct bay_reply bay_reply;
typedef enum bay_kind { BAY_HANDLE = 1, BAY_EVENT = 2, BAY_FILTER = 3 } bay_kind;
typedef struct bay_call_opts { int timeout_ms; const char *context; } bay_call_opts;
int bay_connect(const char *url, const char *name, bay_conn **out, bay_error *err);
void bay_close(bay_conn *c);
int bay_declare(bay_conn *c, const char *name, bay_kind kind, bay_error *err);
int bay_declare_typed(bay_conn *c, const char *name, bay_kind kind, const char *types, bay_error *err);
typedef int (*bay_handler)(const bay_value *args, bay_value **result, bay_error *err, void *user);
int bay_provide(bay_conn *c, const char *name, bay_kind kind, const char *const *contexts,
                bay_handler fn, void *user, bay_error *err);
typedef void (*bay_async_handler)(const bay_value *args, bay_reply *reply, void *user);
int bay_provide_async(bay_conn *c, const char *name, bay_kind kind, const char *const *contexts,
                      bay_async_handler fn, void *user, bay_error *err);
int bay_reply_value(bay_reply *reply, bay_value *value);
int bay_reply_error(bay_reply *reply, int code, const char *fmt, ...);
int bay_reply_cancelled(const bay_reply *reply);
int bay_call(bay_conn *c, const char *name, const bay_value *args, const bay_call_opts *opts,
             bay_value **result, bay_error *err);
int bay_call_async(bay_conn *c, const char *name, const bay_value *args,
                   const bay_call_opts *opts, bay_pending **out, bay_error *err);
int bay_pending_wait(bay_pending *p, int wait_ms, bay_value **result, bay_error *err);
int bay_pending_cancel(bay_pending *p);
void bay_pending_free(bay_pending *p);
typedef struct bay_stream bay_stream;
#define BAY_STREAM_WINDOW ...
int bay_call_stream(bay_conn *c, const char *name, const bay_value *args, const bay_call_opts *opts, bay_stream **out,
                    bay_error *err);
int bay_call_upload(bay_conn *c, const char *name, const bay_value *args, const bay_call_opts *opts, bay_stream **out,
                    bay_error *err);
int bay_stream_send(bay_stream *s, const bay_value *chunk, int wait_ms, bay_error *err);
int bay_stream_send_end(bay_stream *s, bay_error *err);
int bay_stream_next(bay_stream *s, int wait_ms, bay_value **chunk, bay_error *err);
int bay_stream_cancel(bay_stream *s);
void bay_stream_free(bay_stream *s);
typedef struct bay_notice { const char *what; const char *name; const char *plugin; const char *state;
                            const char *reason; } bay_notice;
typedef void (*bay_notice_fn)(const bay_notice *n, void *user);
int bay_subscribe(bay_conn *c, bay_notice_fn fn, void *user, bay_error *err);
int bay_command(bay_conn *c, const char *command, const bay_value *args, int timeout_ms,
                bay_value **result, bay_error *err);

extern "Python" int _bay_py_handler(const bay_value *, bay_value **, bay_error *, void *);
extern "Python" void _bay_py_async_handler(const bay_value *, bay_reply *, void *);
extern "Python" void _bay_py_notice(const bay_notice *, void *);
"""


def _pkg_config():
    try:
        out = subprocess.run(["pkg-config", "--cflags-only-I", "--libs-only-L", "plugbay"], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    words = shlex.split(out)
    incs = [w[2:] for w in words if w.startswith("-I")]
    libs = [w[2:] for w in words if w.startswith("-L")]
    return incs, libs


def locate():
    """Returns (include dirs, library dirs) of libplugbay, or raises with what to set."""
    inc, lib = os.environ.get("PLUGBAY_INCLUDE_DIR"), os.environ.get("PLUGBAY_LIB_DIR")
    if inc and lib:
        return [inc], [lib]
    prefix = os.environ.get("PLUGBAY_PREFIX")
    if prefix:
        prefix = os.path.abspath(prefix)
        build = os.environ.get("PLUGBAY_BUILD_DIR")
        multiarch = sysconfig.get_config_var("MULTIARCH")  # Debian installs to lib/x86_64-linux-gnu
        candidates = [build and os.path.join(os.path.abspath(build), "lib"), os.path.join(prefix, "lib"),
                      multiarch and os.path.join(prefix, "lib", multiarch), os.path.join(prefix, "lib64"),
                      os.path.join(prefix, "build", "lib")]
        for d in filter(None, candidates):
            if os.path.exists(os.path.join(d, "libplugbay.so")):
                return [os.path.join(prefix, "include")], [d]
        raise RuntimeError(f"PLUGBAY_PREFIX={prefix}: no libplugbay.so in {', '.join(filter(None, candidates))}; "
                           "build plugbay first (scripts/build) or set PLUGBAY_LIB_DIR")
    found = _pkg_config()
    if found:
        return found
    raise RuntimeError("libplugbay not found: set PLUGBAY_PREFIX to an install prefix or a built plugbay tree, "
                       "or PLUGBAY_INCLUDE_DIR and PLUGBAY_LIB_DIR, or install plugbay's plugbay.pc for pkg-config")


include_dirs, library_dirs = locate()
ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "plugbay._native",
    "#include <plugbay/plugbay.h>\n",
    include_dirs=include_dirs,
    library_dirs=library_dirs,
    libraries=["plugbay"],
    extra_link_args=[f"-Wl,-rpath,{d}" for d in library_dirs],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
