/* broker/precompile.c — a WebAssembly plugin's module compiled by plugbay-worker-wasm --compile before its worker starts, the child watched from the loop. */
#include "precompile.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "launch.h"
#include "log.h"
#include "state.h"

/* The most compiles at once: cc is heavy, and the machine serves meanwhile. */
#define COMPILES_MAX 2

/* The most of a compile's output kept: its one line of reason. */
#define OUTPUT_MAX 1024

typedef enum { QUEUED, RUNNING, COMPILED, FAILED, FORGOTTEN } compile_state;

/* One plugin's module: being compiled, or what came of it. */
typedef struct compile {
    struct compile *next;
    char id[BAY_PLUGIN_ID_MAX + 1];
    char dir[PATH_MAX], entry[PATH_MAX]; /* the module: DIR/ENTRY */
    struct stat file;                    /* its identity when the compile began */
    compile_state state;
    pid_t pid;                           /* RUNNING */
    int out_fd;                          /* RUNNING: a memfd holding its output */
    int64_t started_ms;
    bool killed;                         /* RUNNING: killed past --compile-timeout-ms */
    int64_t took_ms;                     /* the last compile that ended, -1 before */
    bay_error err;                       /* FAILED: why */
} compile;

struct precompile {
    compile *list;
    int running;
};

/* same tells whether c was compiled from the file st describes. */
static bool same(const compile *c, const struct stat *st)
{
    return c->file.st_dev == st->st_dev && c->file.st_ino == st->st_ino && c->file.st_size == st->st_size &&
           c->file.st_mtim.tv_sec == st->st_mtim.tv_sec && c->file.st_mtim.tv_nsec == st->st_mtim.tv_nsec;
}

/* start runs c's compile: RUNNING, or FAILED with why. */
static void start(broker *b, compile *c)
{
    char exe[PATH_MAX], data[PATH_MAX];
    snprintf(exe, sizeof exe, "%s/plugbay-worker-wasm", b->worker_dir);
    /* The worker finds the cache from the plugin's data folder (STATE/data/ID: STATE/cache/wasm), as when it loads. */
    snprintf(data, sizeof data, "%s/data/%s", bay__state_dir(b->state), c->id);
    char *argv[] = {exe, "--compile", c->id, c->dir, c->entry, data, NULL};
    char **env = launch_env((const char *const[]){"CC", NULL}); /* the compiler, bridges/wasm/cache.h */
    c->out_fd = memfd_create("plugbay-compile", MFD_CLOEXEC);
    launch_spec s = {
        .exe = exe, .argv = argv, .envp = env, .dir = bay__state_dir(b->state), .out_fd = c->out_fd, .in_fd = -1};
    const char *what = c->out_fd < 0 ? "memfd_create" : "building its environment";
    int rc = c->out_fd < 0 ? errno : env == NULL ? ENOMEM : launch_worker(&s, &c->pid, &what);
    bay__strv_free(env);
    if (rc) {
        if (c->out_fd >= 0)
            close(c->out_fd);
        c->state = FAILED;
        bay_error_set(&c->err, BAY_EIO, c->id, "%s cannot compile its WebAssembly module: cannot start %s: %s: %s",
                      c->id, exe, what, strerror(rc));
        return;
    }
    c->state = RUNNING;
    c->killed = false;
    c->started_ms = bay__now_ms();
    b->precompile->running++;
    bay__log(BAY_LOG_INFO, c->id, "compiling its WebAssembly module %s/%s (wasm2c, cc) before its worker starts: "
             "pid %d", c->dir, c->entry, (int)c->pid);
}

/* wake goes on with what waited for c's compile (b->compiled: lifecycle_compiled), if its plugin is still there. */
static void wake(broker *b, const compile *c)
{
    plugin *p = broker_plugin(b, c->id);
    if (p && b->compiled)
        b->compiled(b, p);
}

/* pump starts queued compiles while fewer than COMPILES_MAX run, waking the plugins of those that cannot start
 * but mine's (precompile_ready tells it). */
static void pump(broker *b, const compile *mine)
{
    for (compile *c = b->precompile->list; c && b->precompile->running < COMPILES_MAX; c = c->next)
        if (c->state == QUEUED) {
            start(b, c);
            if (c->state == FAILED && c != mine)
                wake(b, c);
        }
}

/* record returns the record of id, made at the first (NULL when out of memory). */
static compile *record(broker *b, const char *id)
{
    if (b->precompile == NULL && (b->precompile = calloc(1, sizeof *b->precompile)) == NULL)
        return NULL;
    for (compile *c = b->precompile->list; c; c = c->next)
        if (strcmp(c->id, id) == 0)
            return c;
    compile *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    snprintf(c->id, sizeof c->id, "%s", id);
    c->state = FORGOTTEN;
    c->took_ms = -1;
    c->next = b->precompile->list;
    return b->precompile->list = c;
}

int precompile_ready(broker *b, const plugin *p, const bay__manifest *m, bay_error *err)
{
    char path[PATH_MAX];
    struct stat st;
    if (m == NULL || strcmp(m->language, "wasm") != 0 || m->entry == NULL || b->opt.uid_count ||
        snprintf(path, sizeof path, "%s/%s", m->dir, m->entry) >= (int)sizeof path || stat(path, &st) != 0)
        return 0; /* not compiled here; a module that cannot be read, its worker says why */
    compile *c = record(b, p->id);
    if (c == NULL)
        return bay_error_set(err, BAY_ENOMEM, p->id, "out of memory");
    if (c->state == QUEUED || c->state == RUNNING)
        return BAY_EPENDING;
    if (c->state == COMPILED && same(c, &st))
        return 0;
    if (c->state == FAILED && same(c, &st)) { /* told once: a later load compiles again */
        c->state = FORGOTTEN;
        *err = c->err;
        return err->code;
    }
    snprintf(c->dir, sizeof c->dir, "%s", m->dir);
    snprintf(c->entry, sizeof c->entry, "%s", m->entry);
    c->file = st;
    c->state = QUEUED;
    pump(b, c);
    if (c->state != FAILED)
        return BAY_EPENDING;
    c->state = FORGOTTEN;
    *err = c->err;
    return err->code;
}

/* output reads what c's compile wrote, as one line without its last newline, and closes it. */
static void output(compile *c, char *out, size_t size)
{
    ssize_t n = pread(c->out_fd, out, size - 1, 0);
    close(c->out_fd);
    c->out_fd = -1;
    n = n < 0 ? 0 : n;
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
        n--;
    out[n] = '\0';
    for (char *nl; (nl = strchr(out, '\n'));)
        *nl = ' ';
}

bool precompile_reaped(broker *b, pid_t pid, int status)
{
    compile *c = b->precompile ? b->precompile->list : NULL;
    while (c && !(c->state == RUNNING && c->pid == pid))
        c = c->next;
    if (c == NULL)
        return false;
    char out[OUTPUT_MAX];
    output(c, out, sizeof out);
    b->precompile->running--;
    c->pid = 0;
    c->took_ms = bay__now_ms() - c->started_ms;
    long long ms = (long long)c->took_ms;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        c->state = COMPILED;
        bay__log(BAY_LOG_INFO, c->id, "its WebAssembly module is compiled (%lld ms): %s", ms,
                 out[0] ? out : "it was in the cache already");
    } else {
        c->state = FAILED;
        if (c->killed)
            bay_error_set(&c->err, BAY_ETIMEDOUT, c->id,
                          "%s's WebAssembly module was still compiling after %d ms (--compile-timeout-ms): the "
                          "compiler was killed", c->id, b->opt.compile_timeout_ms);
        else if (WIFEXITED(status) && WEXITSTATUS(status) <= BAY_ENOSPC && out[0]) /* the worker's code and reason */
            bay_error_set(&c->err, WEXITSTATUS(status), c->id, "%s", out);
        else
            bay_error_set(&c->err, BAY_EIO, c->id, "plugbay-worker-wasm --compile %s %s %d: %s", c->id,
                          WIFSIGNALED(status) ? "was killed by signal" : "exited with status",
                          WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), out);
        bay__log(BAY_LOG_WARN, c->id, "its WebAssembly module was not compiled (%lld ms): %s", ms, c->err.message);
    }
    pump(b, NULL);
    wake(b, c);
    return true;
}

int64_t precompile_tick(broker *b, int64_t now)
{
    int64_t next = 0;
    for (compile *c = b->precompile ? b->precompile->list : NULL; c; c = c->next) {
        if (c->state != RUNNING || c->killed)
            continue;
        int64_t due = c->started_ms + b->opt.compile_timeout_ms;
        if (now >= due) {
            c->killed = true;
            kill(-c->pid, SIGKILL); /* a session leader: its group holds wasm2c or cc; the reaper says why */
        } else if (next == 0 || due < next) {
            next = due;
        }
    }
    return next;
}

int64_t precompile_ms(const broker *b, const char *id)
{
    for (const compile *c = b->precompile ? b->precompile->list : NULL; c; c = c->next)
        if (strcmp(c->id, id) == 0)
            return c->took_ms;
    return -1;
}

void precompile_stop(broker *b)
{
    if (b->precompile == NULL)
        return;
    for (compile *c = b->precompile->list, *next; c; c = next) {
        next = c->next;
        if (c->state == RUNNING) { /* a session leader: its group holds wasm2c or cc */
            kill(-c->pid, SIGKILL);
            waitpid(c->pid, NULL, 0);
            close(c->out_fd);
        }
        free(c);
    }
    free(b->precompile);
    b->precompile = NULL;
}
