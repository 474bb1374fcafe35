/* plugbay/error.h — error codes shared by hosts, plugins and the broker. */
#ifndef PLUGBAY_ERROR_H
#define PLUGBAY_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* Every plugbay call that can fail returns 0 or one of these codes.
 * The values travel on the wire, so they never change meaning. */
enum bay_errno {
    BAY_OK = 0,
    BAY_EINVAL = 1,      /* an argument is invalid (NULL, empty, out of range) */
    BAY_ENOMEM = 2,      /* out of memory */
    BAY_EPROTO = 3,      /* a malformed or unexpected protocol frame */
    BAY_EVERSION = 4,    /* the peer speaks another protocol version */
    BAY_ENOENT = 5,      /* no such extension point, plugin or command */
    BAY_ENOPROVIDER = 6, /* the extension point has no loaded provider for this call */
    BAY_ETIMEDOUT = 7,   /* the call's deadline passed */
    BAY_ECANCELED = 8,   /* the call was cancelled */
    BAY_ECRASHED = 9,    /* the plugin's worker died during the call */
    BAY_EUNAVAIL = 10,   /* the plugin is not loaded, is unloading or has failed */
    BAY_EPLUGIN = 11,    /* the plugin's code reported an error */
    BAY_ECONN = 12,      /* the connection to the broker failed or was closed */
    BAY_EMANIFEST = 13,  /* a plugin manifest is invalid */
    BAY_ESTATE = 14,     /* the operation does not fit the plugin's lifecycle state */
    BAY_EEXIST = 15,     /* already declared, installed or provided */
    BAY_EPERM = 16,      /* not permitted */
    BAY_EBUSY = 17,      /* a queue is full or a resource is in use; retry later */
    BAY_ETYPE = 18,      /* a value has the wrong type (e.g. a call argument) */
    BAY_EIO = 19,        /* an operating-system or file error */
    BAY_EKIND = 20,      /* extension point kind conflict (handle, event or filter) */
    BAY_EPENDING = 21,   /* the call has not ended yet (bay_pending_wait) */
    BAY_ENOSPC = 22,     /* a plugin's storage is full (limits.storage_mb) */
};

/* Log levels, as plugins log them (bay_plugin_log) and the broker writes them. */
enum bay_log_level { BAY_LOG_DEBUG = 0, BAY_LOG_INFO = 1, BAY_LOG_WARN = 2, BAY_LOG_ERROR = 3 };

/* What went wrong, filled in by calls that take a bay_error * (NULL is allowed).
 * plugin is the plugin id the error is about, or "" when none; message says what
 * happened and what to do. The caller owns the struct (usually on its stack). */
typedef struct bay_error {
    int code;
    char plugin[128];
    char message[512];
} bay_error;

/* bay_error_set fills err (when not NULL) with code, plugin (NULL = "") and a
 * printf-style message, truncating to fit. Returns code. */
int bay_error_set(bay_error *err, int code, const char *plugin, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* bay_strerror returns a static, human-readable description of code.
 * Unknown codes return "unknown plugbay error". Never NULL; never free it. */
const char *bay_strerror(int code);

/* bay_errname returns the code's symbolic name ("BAY_ETIMEDOUT"), or "BAY_E?"
 * for an unknown code. Static; never free it. */
const char *bay_errname(int code);

/* bay_errcode returns the code whose name is name ("BAY_ETIMEDOUT" gives
 * BAY_ETIMEDOUT), or 0 when no code has that name (or name is NULL). */
int bay_errcode(const char *name);

#ifdef __cplusplus
}
#endif
#endif
