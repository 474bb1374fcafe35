/* protocol/places.c — the well-known places of a plugbayd, shared by plugbayd and every client. */
#include "places.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* fits writes fmt's two strings to buf, telling whether they fit. */
static bool fits(char *buf, size_t len, const char *fmt, const char *a, const char *b)
{
    int n = snprintf(buf, len, fmt, a, b);
    return n >= 0 && (size_t)n < len;
}

/* absolute_env returns the environment variable name when it is set to an absolute path, else NULL. */
static const char *absolute_env(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] == '/' ? v : NULL;
}

bool bay__place_state_dir(unsigned uid, char *buf, size_t len)
{
    if (uid == 0)
        return fits(buf, len, "%s%s", BAY_SYSTEM_STATE_DIR, "");
    const char *xdg = absolute_env("XDG_STATE_HOME"), *home = absolute_env("HOME");
    if (xdg)
        return fits(buf, len, "%s%s", xdg, "/plugbay");
    return home && fits(buf, len, "%s%s", home, "/.local/state/plugbay");
}

bool bay__place_run_dir(unsigned uid, char *buf, size_t len)
{
    if (uid == 0)
        return fits(buf, len, "%s%s", BAY_SYSTEM_RUN_DIR, "");
    const char *run = absolute_env("XDG_RUNTIME_DIR");
    return run && fits(buf, len, "%s%s", run, "/plugbay");
}

void bay__place_broker_url(unsigned uid, char *buf, size_t len, char *tried, size_t tlen)
{
    const char *env = getenv("PLUGBAY_BROKER");
    if (env && *env) {
        snprintf(buf, len, "%s", env);
        if (tried)
            snprintf(tried, tlen, "$PLUGBAY_BROKER");
        return;
    }
    char dir[512], mine[600] = "";
    if (uid != 0 && bay__place_run_dir(uid, dir, sizeof dir))
        fits(mine, sizeof mine, "%s%s", dir, "/plugbayd.sock");
    bool have = mine[0] && access(mine, F_OK) == 0;
    snprintf(buf, len, "ipc://%s", have ? mine : BAY_SYSTEM_RUN_DIR "/plugbayd.sock");
    if (tried)
        snprintf(tried, tlen, "%s%s%s" BAY_SYSTEM_RUN_DIR "/plugbayd.sock", mine[0] ? "your own plugbayd's " : "",
                 mine, mine[0] ? (have ? ", the system's " : " (not there), the system's ") : "the system's ");
}
