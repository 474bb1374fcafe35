/* bridges/common/worker.c — bay__worker_main: start-up, the main thread's dispatch loop, load and unload. */
#include "call.h"
#include "fastpath.h"
#include "hook.h"
#include "io.h"
#include "manage.h"
#include "sandbox.h"
#include "store.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "proc.h"
#include "value_convert.h"
#include "wire.h"

/* How long an unloaded worker waits for the broker to read its last answer. */
#define BAY_UNLOAD_LINGER_MS 250

/* load_field fetches the load map's field key, which must have type want.
 * Returns 0, or answers the command with an ERROR and returns its code. */
static int load_field(uint64_t id, const bay_value *args, const char *key, bay_type want, const bay_value **out)
{
    *out = bay_map_get(args, key);
    if (*out && bay_value_type(*out) == want)
        return 0;
    return bay__worker_error(NULL, id, BAY_EPROTO, "COMMAND load: field \"%s\" must be a %s, got %s", key,
                            bay_type_name(want), *out ? bay_type_name(bay_value_type(*out)) : "nothing");
}

/* unique_functions lists the function names of the functions map without
 * repeats, NULL-terminated, in a new array the caller frees (NULL when out of memory). */
static const char **unique_functions(const bay_value *functions)
{
    size_t n = bay_value_len(functions), count = 0;
    const char **names = calloc(n + 1, sizeof *names);
    for (size_t i = 0; names && i < n; i++) {
        const bay_value *fn;
        bay_map_entry(functions, i, &fn);
        const char *name = bay_value_str(fn, NULL);
        size_t k = 0;
        while (k < count && strcmp(names[k], name) != 0)
            k++;
        if (k == count)
            names[count++] = name;
    }
    return names;
}

/* default_field gives the load map an empty container of type (a map or an
 * array) as field key when it has none. Returns 0, or the code of the ERROR
 * it answered. */
static int default_field(uint64_t id, bay_value *args, const char *key, bay_type type)
{
    if (bay_value_type(bay_map_get(args, key)) != BAY_NIL ||
        bay_map_set(args, key, type == BAY_MAP ? bay_map() : bay_array()) == 0)
        return 0;
    return bay__worker_error(NULL, id, BAY_ENOMEM, "COMMAND load: %s", bay_strerror(BAY_ENOMEM));
}

/* check_load_args validates the COMMAND load map (adding an empty config, manifest or permissions when
 * it has none) and fills bay__w.info and bay__w.functions from it. Returns 0 or
 * the code of the ERROR it answered. */
static int check_load_args(uint64_t id, bay_value *args)
{
    static const char *const keys[] = {"id", "dir", "entry", "data_dir"};
    const bay_value *v[sizeof keys / sizeof *keys], *config, *functions;
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (load_field(id, args, keys[i], BAY_STR, &v[i]))
            return BAY_EPROTO;
    if (default_field(id, args, "config", BAY_MAP) || default_field(id, args, "manifest", BAY_MAP) ||
        default_field(id, args, "permissions", BAY_ARRAY))
        return BAY_ENOMEM;
    const bay_value *permissions, *manifest;
    if (load_field(id, args, "config", BAY_MAP, &config) || load_field(id, args, "manifest", BAY_MAP, &manifest) ||
        load_field(id, args, "functions", BAY_MAP, &functions) ||
        load_field(id, args, "permissions", BAY_ARRAY, &permissions))
        return BAY_EPROTO;
    for (size_t i = 0; i < bay_value_len(functions); i++) {
        const bay_value *fn;
        const char *call_name = bay_map_entry(functions, i, &fn);
        if (bay_value_type(fn) != BAY_STR)
            return bay__worker_error(NULL, id, BAY_EPROTO, "COMMAND load: functions[\"%s\"] must be a str, got %s",
                                    call_name, bay_type_name(bay_value_type(fn)));
    }
    const char *plugin = bay_value_str(v[0], NULL);
    if (strcmp(plugin, bay__w.id) != 0)
        return bay__worker_error(NULL, id, BAY_EINVAL,
                                "COMMAND load names plugin \"%s\" but this worker was started for \"%s\"", plugin,
                                bay__w.id);
    bay__w.info = (bay__plugin_info){plugin,     bay_value_str(v[1], NULL), bay_value_str(v[2], NULL),
                                   bay_value_str(v[3], NULL), config, manifest, permissions};
    bay__w.functions = functions;
    return 0;
}

static void run_load(bay__job *j)
{
    uint64_t id = j->f.id;
    if (bay__w.loaded) {
        bay__worker_error(NULL, id, BAY_ESTATE, "plugin is already loaded in this worker");
        return;
    }
    bay_value_free(bay__w.load_args); /* left by an earlier load that failed */
    bay__w.load_args = NULL;
    bay__w.info = (bay__plugin_info){0};
    bay__w.functions = NULL;
    bay_error e;
    int rc = j->f.value ? bay__value_from_object(j->f.value, &bay__w.load_args, &e)
                        : bay_error_set(&e, BAY_EPROTO, NULL, "a map of arguments is required");
    if (rc) {
        bay__worker_error(NULL, id, rc, "COMMAND load: %s", e.message);
        return;
    }
    if (check_load_args(id, bay__w.load_args))
        return;
    const char **functions = unique_functions(bay__w.functions);
    if (functions == NULL) {
        bay__worker_error(NULL, id, BAY_ENOMEM, "COMMAND load: %s", bay_strerror(BAY_ENOMEM));
        return;
    }
    pthread_mutex_lock(&bay__w.lock);
    bay__w.last_error_log[0] = '\0';
    pthread_mutex_unlock(&bay__w.lock);
    const bay_value *settings = bay_map_get(bay__w.load_args, "settings");
    bay_value_free(bay__w.settings);
    bay__w.settings = bay_value_type(settings) == BAY_MAP ? bay_value_copy(settings) : bay_map();
    bay_error err = {0};
    rc = bay__w.settings ? bay__w.bridge->load(&bay__w.info, functions, &err)
                         : bay_error_set(&err, BAY_ENOMEM, bay__w.id, "COMMAND load: %s", bay_strerror(BAY_ENOMEM));
    free(functions);
    if (rc == 0 && (rc = bay__hook_after_load(bay_map_get(bay__w.load_args, "hook"), &err)) != 0) {
        bay__w.bridge->unload(); /* its on_install or on_update failed: the load fails */
        bay__store_close();
    }
    if (rc == 0) {
        bay__w.loaded = true;
        bay__worker_result(NULL, id, NULL);
        bay__timers_after_load();
        return;
    }
    if (err.message[0] == '\0')
        snprintf(err.message, sizeof err.message, "the %s bridge could not load %s/%s", bay__w.bridge->language,
                 bay__w.info.dir, bay__w.info.entry);
    pthread_mutex_lock(&bay__w.lock);
    char logged[sizeof bay__w.last_error_log];
    memcpy(logged, bay__w.last_error_log, sizeof logged);
    pthread_mutex_unlock(&bay__w.lock);
    bay__worker_error(NULL, id, err.code ? err.code : rc, "%s%s%s%s", err.message, logged[0] ? " (the plugin logged: " : "",
                     logged, logged[0] ? ")" : "");
}

/* run_command runs COMMAND j; returns true when the worker should exit. */
static bool run_command(bay__job *j)
{
    if (strcmp(j->f.name, "load") == 0) {
        run_load(j);
        return false;
    }
    if (strcmp(j->f.name, "unload") == 0) {
        bay_value *args = NULL;
        bay_error e;
        if (j->f.value && bay__value_from_object(j->f.value, &args, &e) != 0)
            bay__worker_warn("COMMAND unload: %s; unloading without its arguments", e.message);
        if (bay__w.loaded) {
            bay__hook_before_unload(args);
            bay__w.bridge->unload();
            bay__store_close();
        }
        bay_value_free(args);
        bay__w.loaded = false;
        bay__fast_stop();
        bay__io_report_fast_calls(); /* the last ones, which no heartbeat will carry */
        bay__io_expect_close();
        bay__worker_result(NULL, j->f.id, NULL);
        return true;
    }
    bay__worker_error(NULL, j->f.id, BAY_ENOENT, "unknown worker command \"%s\" (a worker knows load and unload)", j->f.name);
    return false;
}

/* The environment plugbayd starts a worker with, in the order read_env fills it. */
enum { ENV_URL, ENV_TOKEN, ENV_PLUGIN, ENV_BROKER_PID, ENV_COUNT };
static const char *const env_names[ENV_COUNT] = {"PLUGBAY_URL", "PLUGBAY_TOKEN", "PLUGBAY_PLUGIN",
                                                  "PLUGBAY_BROKER_PID"};

/* read_env fills env from the environment; returns false after naming what is missing. */
static bool read_env(const char *env[ENV_COUNT])
{
    char missing[128] = "";
    for (int i = 0; i < ENV_COUNT; i++) {
        env[i] = getenv(env_names[i]);
        if (env[i] == NULL || *env[i] == '\0')
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), " %s", env_names[i]);
    }
    if (missing[0])
        bay__worker_warn("missing environment:%s; plugbayd sets it when it starts a worker, so start plugins "
                        "through plugbayd rather than running the worker by hand",
                        missing);
    return missing[0] == '\0';
}

static void sandbox_note(const char *line)
{
    bay__worker_warn("%s", line);
}

int bay__worker_main(const bay__bridge *bridge)
{
    bay__w.bridge = bridge;
    setvbuf(stdout, NULL, _IOLBF, 0); /* plugin output reaches the broker's log line by line */
    prctl(PR_SET_PDEATHSIG, SIGKILL);

    const char *env[ENV_COUNT];
    if (!read_env(env))
        return 2;
    bay__w.id = env[ENV_PLUGIN];
    /* plugbayd's pid as /proc numbers it: getppid() is 0 in the worker's own PID namespace. */
    pid_t parent = 0, session = 0;
    bay__w.pid = bay__proc_self();
    if (bay__proc_parent(0, &parent, &session) != 0 || parent != (pid_t)atol(env[ENV_BROKER_PID])) {
        bay__worker_warn("plugbayd (pid %s) is already gone; exiting", env[ENV_BROKER_PID]);
        return 1;
    }

    /* The sandbox goes on while this is the only thread: every thread NNG and
     * the plugin start later inherit it. */
    bay__sandbox box;
    bay_error err;
    bool boxed = bay__sandbox_from_env(&box);
    if (boxed && bay__sandbox_apply(&box, sandbox_note, &err) != 0) {
        bay__worker_warn("%s; refusing to run the plugin without its sandbox", err.message);
        return 1;
    }

    if (bay__wire_connect(env[ENV_URL], "worker", bay__w.id, env[ENV_TOKEN], 5000, &bay__w.sock, NULL, &err) != 0) {
        bay__worker_warn("%s", err.message);
        return 1;
    }
    int rv = bay__io_start();
    if (rv) {
        bay__worker_warn("cannot start the I/O thread: %s", strerror(rv));
        nng_close(bay__w.sock);
        return 1;
    }
    if (boxed && bay__sandbox_limit_memory(&box, &err) != 0) {
        bay__worker_warn("%s; refusing to run the plugin without its memory limit", err.message);
        return 1;
    }

    bool done = false;
    while (!done) {
        bay__job *j = bay__queue_take(NULL, NULL, 0);
        atomic_store(&bay__w.busy_since_ns, bay__now_ns());
        if (j->f.type == BAY_F_CALL)
            bay__run_call(j);
        else
            done = run_command(j);
        atomic_store(&bay__w.busy_since_ns, 0);
        bay__job_done(j);
    }
    bay__io_stop(BAY_UNLOAD_LINGER_MS);
    bay_value_free(bay__w.load_args);
    bay_value_free(bay__w.settings);
    bay_value_free(bay__w.timers);
    return 0;
}
