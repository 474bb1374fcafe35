/* bridges/common/plugin_api.c — the bay_plugin_* API of plugin.h: identity, config, log, calls via the broker. */
#include "call.h"
#include "io.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "refusals.h"
#include "value_convert.h"
#include "wire.h"

const char *bay_plugin_id(void)
{
    return bay__w.id;
}

int64_t bay__plugin_limit(const bay__plugin_info *p, const char *key, int64_t dflt)
{
    const bay_value *v = bay_map_get(bay_map_get(p->manifest, "limits"), key);
    return bay_value_type(v) == BAY_INT ? bay_value_int(v) : dflt;
}

const bay_value *bay_plugin_config(void)
{
    return bay__w.info.config;
}

const char *bay_plugin_data_dir(void)
{
    return bay__w.info.data_dir;
}

const bay_value *bay_plugin_settings(void)
{
    return bay__w.settings;
}

const bay_value *bay_plugin_setting(const char *key)
{
    return key ? bay_map_get(bay__w.settings, key) : NULL;
}

/* The rate limit of bay_plugin_log (one for the worker: a plugin is one worker). */
static struct {
    pthread_mutex_t mtx;
    int64_t window_ms;
    unsigned lines;
} log_limit = {.mtx = PTHREAD_MUTEX_INITIALIZER};

/* log_allowed tells whether one more line may go to plugbayd now; a line
 * over the limit is counted as a refusal (refusals.h), which plugbayd shows. */
static bool log_allowed(void)
{
    int64_t now = bay__now_ns() / 1000000;
    pthread_mutex_lock(&log_limit.mtx);
    if (now - log_limit.window_ms >= BAY_LOG_LINES_WINDOW_MS) {
        log_limit.window_ms = now;
        log_limit.lines = 0;
    }
    bool ok = log_limit.lines < BAY_LOG_LINES_MAX;
    log_limit.lines += ok;
    pthread_mutex_unlock(&log_limit.mtx);
    if (!ok)
        bay__refused("log lines over the limit");
    return ok;
}

void bay_plugin_log(int level, const char *fmt, ...)
{
    level = level < BAY_LOG_DEBUG ? BAY_LOG_DEBUG : level > BAY_LOG_ERROR ? BAY_LOG_ERROR : level;
    bool allowed = log_allowed();
    if (!allowed && level != BAY_LOG_ERROR) /* the last ERROR line is kept even so: a failed load quotes it */
        return;
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (level == BAY_LOG_ERROR) {
        pthread_mutex_lock(&bay__w.lock);
        snprintf(bay__w.last_error_log, sizeof bay__w.last_error_log, "%.*s", (int)sizeof bay__w.last_error_log - 1, text);
        pthread_mutex_unlock(&bay__w.lock);
    }
    if (!allowed)
        return;
    bay__frame f = {.type = BAY_F_LOG, .level = level, .message = text};
    int rc = bay__wire_send(bay__w.sock, &f, 0);
    if (rc)
        bay__worker_warn("(log not sent: %s) %s", bay_strerror(rc), text);
}

/* A request of the plugin to plugbayd: a CALL (bay_plugin_call) or a COMMAND (plugin.h's timers and plugins):
 * what it is called in messages ("bay_plugin_call(\"greet\")"). */
typedef struct request {
    int type;         /* BAY_F_CALL or BAY_F_COMMAND */
    const char *name; /* the extension point or command */
    const char *api;  /* the plugin.h function asking */
} request;

/* take_reply turns the RESULT or ERROR j answering r into its return value: *result, or err. */
static int take_reply(const bay__job *j, const request *r, bay_value **result, bay_error *err)
{
    if (j->f.type == BAY_F_ERROR) {
        int code = j->f.code ? (int)j->f.code : BAY_EPROTO;
        return bay_error_set(err, code, j->f.plugin, "%s", j->f.message);
    }
    bay_error e;
    int rc = j->f.value ? bay__value_from_object(j->f.value, result, &e) : 0;
    if (rc)
        return bay_error_set(err, rc, NULL, "%s(\"%s\"): the result: %s", r->api, r->name, e.message);
    if (*result == NULL && (*result = bay_nil()) == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "%s(\"%s\"): %s", r->api, r->name, bay_strerror(BAY_ENOMEM));
    return 0;
}

/* stopped fills err for request r that gives up because the call cur it runs in stopped with code stop; what
 * says what became of it. */
static int stopped(bay_error *err, int stop, const request *r, const bay_invocation *cur, const char *what)
{
    return bay_error_set(err, stop, bay__w.id, "%s(\"%s\") %s: the call \"%s\" it runs in %s", r->api, r->name, what,
                         cur->name, stop == BAY_ECANCELED ? "was cancelled" : "reached its deadline");
}

/* await waits for the reply to wait->id, serving the calls that arrive
 * meanwhile; cur is the call the plugin is running (NULL outside a call). */
static int await(const bay__wait *wait, const request *r, int timeout_ms, const bay_invocation *cur, bay_value **result,
                 bay_error *err)
{
    int64_t until = bay__now_ns() + ((int64_t)timeout_ms + BAY_CALL_GRACE_MS) * 1000000;
    for (;;) {
        bay__job *j = bay__queue_take(wait, cur, until);
        if (j == NULL)
            break;
        if (j->f.type == BAY_F_CALL) {
            bay__run_call(j);
            bay__job_done(j);
            continue;
        }
        int rc = take_reply(j, r, result, err);
        bay__job_done(j);
        return rc;
    }
    int stop = cur ? bay__call_stop_code(cur) : 0;
    bay__frame cancel = {.type = BAY_F_CANCEL, .id = wait->id, .code = stop ? stop : BAY_ETIMEDOUT};
    bay__wire_send(bay__w.sock, &cancel, NNG_FLAG_NONBLOCK);
    if (stop)
        return stopped(err, stop, r, cur, "abandoned");
    return bay_error_set(err, BAY_ETIMEDOUT, NULL, "%s(\"%s\"): no answer from plugbayd within %lld ms", r->api,
                         r->name, (long long)timeout_ms + BAY_CALL_GRACE_MS);
}

/* ask sends request r with args (borrowed; NULL: none) to plugbayd and waits for its answer (*result, which
 * the plugin frees) within timeout_ms (0: the remaining time of the call it runs in, or 5 s). */
static int ask(const request *r, const bay_value *args, int timeout_ms, bay_value **result, bay_error *err)
{
    const bay_invocation *cur = bay__w.calls;
    int stop = cur ? bay__call_stop_code(cur) : 0;
    if (stop)
        return stopped(err, stop, r, cur, "not sent");
    if (timeout_ms == 0)
        timeout_ms = cur && cur->deadline_ns ? bay_call_remaining_ms(cur) : BAY_CALL_DEFAULT_TIMEOUT_MS;

    bay__wait wait;
    bay__queue_expect(&wait, ++bay__w.next_call_id);
    bay__frame f = {.type = r->type, .id = wait.id, .name = r->name, .timeout_ms = timeout_ms};
    int rc = bay__worker_send(NULL, &f, args);
    if (rc)
        rc = bay_error_set(err, rc, bay__w.id, "%s(\"%s\"): %s", r->api, r->name,
                           rc == BAY_EINVAL ? "the arguments do not fit in one frame" : bay_strerror(rc));
    else
        rc = await(&wait, r, timeout_ms, cur, result, err);
    bay__queue_forget(&wait);
    return rc;
}

int bay_plugin_call(const char *name, const bay_value *args, int timeout_ms, bay_value **result, bay_error *err)
{
    if (result)
        *result = NULL;
    if (name == NULL || *name == '\0' || result == NULL || timeout_ms < 0 ||
        (args && bay_value_type(args) != BAY_ARRAY))
        return bay_error_set(err, BAY_EINVAL, bay__w.id,
                             "bay_plugin_call(\"%s\"): needs an extension point name, an args array (or NULL), "
                             "timeout_ms >= 0 and a place for the result",
                             name ? name : "(null)");
    return ask(&(request){BAY_F_CALL, name, "bay_plugin_call"}, args, timeout_ms, result, err);
}

int bay__plugin_command(const char *api, const char *name, const bay_value *args, bay_value **result, bay_error *err)
{
    bay_value *ignored = NULL;
    int rc = ask(&(request){BAY_F_COMMAND, name, api}, args, 0, result ? result : &ignored, err);
    bay_value_free(ignored);
    return rc;
}
