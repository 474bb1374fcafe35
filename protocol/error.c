/* protocol/error.c — names and descriptions of the bay_errno codes, a code by its name, and bay_error_set. */
#include <plugbay/error.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct errinfo {
    const char *name;
    const char *text;
};

#define E(code, text) [code] = {#code, text}
static const struct errinfo errinfo[] = {
    E(BAY_OK, "success"),
    E(BAY_EINVAL, "invalid argument"),
    E(BAY_ENOMEM, "out of memory"),
    E(BAY_EPROTO, "malformed or unexpected protocol frame"),
    E(BAY_EVERSION, "peer speaks another protocol version"),
    E(BAY_ENOENT, "no such extension point, plugin or command"),
    E(BAY_ENOPROVIDER, "extension point has no loaded provider for this call"),
    E(BAY_ETIMEDOUT, "call deadline passed"),
    E(BAY_ECANCELED, "call was cancelled"),
    E(BAY_ECRASHED, "plugin worker died during the call"),
    E(BAY_EUNAVAIL, "plugin is not loaded, is unloading or has failed"),
    E(BAY_EPLUGIN, "plugin code reported an error"),
    E(BAY_ECONN, "connection to the broker failed or was closed"),
    E(BAY_EMANIFEST, "plugin manifest is invalid"),
    E(BAY_ESTATE, "operation does not fit the plugin's lifecycle state"),
    E(BAY_EEXIST, "already declared, installed or provided"),
    E(BAY_EPERM, "not permitted"),
    E(BAY_EBUSY, "queue full or resource busy; retry later"),
    E(BAY_ETYPE, "value has the wrong type"),
    E(BAY_EIO, "operating-system or file error"),
    E(BAY_EKIND, "extension point kind conflict (handle, event or filter)"),
    E(BAY_EPENDING, "the call has not ended yet"),
    E(BAY_ENOSPC, "the plugin's storage is full"),
};
#undef E

/* lookup returns the table entry of code, or NULL for an unknown code. */
static const struct errinfo *lookup(int code)
{
    if (code < 0 || (size_t)code >= sizeof errinfo / sizeof errinfo[0])
        return NULL;
    return errinfo[code].name ? &errinfo[code] : NULL;
}

const char *bay_strerror(int code)
{
    const struct errinfo *e = lookup(code);
    return e ? e->text : "unknown plugbay error";
}

const char *bay_errname(int code)
{
    const struct errinfo *e = lookup(code);
    return e ? e->name : "BAY_E?";
}

int bay_errcode(const char *name)
{
    for (size_t code = 1; name && code < sizeof errinfo / sizeof errinfo[0]; code++)
        if (errinfo[code].name && strcmp(errinfo[code].name, name) == 0)
            return (int)code;
    return 0;
}

int bay_error_set(bay_error *err, int code, const char *plugin, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    snprintf(err->plugin, sizeof err->plugin, "%s", plugin ? plugin : "");
    err->message[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}
