/* broker/supervise.c — worker processes: spawn, output capture, heartbeats, kill, reap, no orphans. */
#include "broker.h"
#include "cgroup.h"
#include "conn.h"
#include "launch.h"
#include "peer.h"
#include "precompile.h"
#include "proc.h"
#include "supervise.h"
#include "uids.h"
#include "value_convert.h"
#include "zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


extern char **environ;

/* write_workers_file lists the live workers' pids in RUN/workers (replaced
 * through workers.tmp) so a broker that was killed can be cleaned up after.
 * A failure is logged: the list then stays as it was. */
static void write_workers_file(broker *b)
{
    char path[600], tmp[610];
    snprintf(path, sizeof path, "%s/workers", b->run_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "we");
    if (f == NULL) {
        bay__log(BAY_LOG_WARN, NULL, "cannot create %s: %s", tmp, strerror(errno));
        return;
    }
    int e = 0;
    for (size_t i = 0; i < b->nplugins; i++) {
        const plugin *p = b->plugins[i];
        if (p->proc.pid && fprintf(f, "%d %s\n", p->proc.pid, p->id) < 0 && e == 0)
            e = errno;
        if (p->other.pid && fprintf(f, "%d %s\n", p->other.pid, p->id) < 0 && e == 0)
            e = errno;
        for (size_t k = 0; k < p->nreplicas; k++)
            if (p->replicas[k]->proc.pid && fprintf(f, "%d %s\n", p->replicas[k]->proc.pid, p->id) < 0 && e == 0)
                e = errno;
    }
    if (fclose(f) != 0 && e == 0)
        e = errno;
    if (e != 0)
        bay__log(BAY_LOG_WARN, NULL, "cannot write %s: %s", tmp, strerror(e));
    else if (rename(tmp, path) != 0)
        bay__log(BAY_LOG_WARN, NULL, "cannot rename %s to %s: %s", tmp, path, strerror(e = errno));
    if (e != 0)
        unlink(tmp);
}

/* remove_leftover deletes a file a previous plugbayd left in the run folder; a failure is logged. */
static void remove_leftover(const char *path)
{
    if (unlink(path) != 0 && errno != ENOENT)
        bay__log(BAY_LOG_WARN, NULL, "cannot delete %s, left by a previous plugbayd: %s", path, strerror(errno));
}

/* is_our_worker checks that pid still runs a plugbay worker (pids are reused). */
static bool is_our_worker(pid_t pid)
{
    char path[64], cmd[256] = "";
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return false;
    size_t n = fread(cmd, 1, sizeof cmd - 1, f);
    fclose(f);
    cmd[n] = '\0';
    return strstr(cmd, "plugbay-worker-") != NULL;
}

/* clean_leftovers kills workers a killed broker left and removes its socket files. */
static void clean_leftovers(broker *b)
{
    char path[800], line[300];
    snprintf(path, sizeof path, "%s/workers", b->run_dir);
    FILE *f = fopen(path, "re");
    if (f == NULL && errno != ENOENT)
        bay__log(BAY_LOG_WARN, NULL, "cannot read %s: %s", path, strerror(errno));
    while (f && fgets(line, sizeof line, f)) {
        int pid = atoi(line);
        if (pid > 1 && is_our_worker(pid)) {
            bay__log(BAY_LOG_WARN, NULL, "killing worker %d left by a previous plugbayd", pid);
            kill(pid, SIGKILL);
        }
    }
    if (f)
        fclose(f);
    remove_leftover(path);
    DIR *d = opendir(b->run_dir);
    if (d == NULL)
        bay__log(BAY_LOG_WARN, NULL, "cannot read folder %s: %s", b->run_dir, strerror(errno));
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".sock") == 0) {
            snprintf(path, sizeof path, "%s/%s", b->run_dir, e->d_name);
            remove_leftover(path);
        }
    }
    if (d)
        closedir(d);
}

/* find_workers writes into dir (size len) where the plugbay-worker-LANG programs are when --worker-dir
 * is not given: BAY_WORKER_RELDIR (../libexec/plugbay, set by CMake from the install folders) from the
 * folder of plugbayd's real path when that folder exists, as installed; else plugbayd's own folder,
 * as in a build tree, where build/bin holds plugbayd and every worker. */
static void find_workers(char *dir, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", dir, len - 1);
    dir[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    char installed[PATH_MAX], real[PATH_MAX];
    struct stat st;
    snprintf(installed, sizeof installed, "%s/%s", dir, BAY_WORKER_RELDIR);
    if (realpath(installed, real) && stat(real, &st) == 0 && S_ISDIR(st.st_mode) && strlen(real) < len)
        memcpy(dir, real, strlen(real) + 1);
}

int supervise_init(broker *b, bay_error *err)
{
    /* bay__state_open holds the state folder's lock, so no other broker runs here. */
    snprintf(b->run_dir, sizeof b->run_dir, "%s/run", bay__state_dir(b->state));
    clean_leftovers(b);
    /* A worker's descendant whose parent exits is adopted here, not by init,
     * so it is still known for one (peer.h); supervise_reap reaps it. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        return bay_error_set(err, BAY_EIO, NULL, "cannot make plugbayd a child subreaper: %s", strerror(errno));
    if ((b->guard = peer_guard_new()) == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    cgroup_init(b);
    bay_error why;
    b->pidns = b->opt.sandbox && b->opt.namespaces && launch_probe(&why);
    if (b->opt.sandbox && b->opt.namespaces && !b->pidns)
        bay__log(BAY_LOG_WARN, NULL,
                "workers share plugbayd's PID and IPC namespaces (%s): a plugin can name processes outside its worker by pid; "
                "seccomp and Landlock still refuse its signals",
                why.message);
    int rc = uids_init(b, err);
    if (rc)
        return rc;
    if (b->opt.worker_dir)
        snprintf(b->worker_dir, sizeof b->worker_dir, "%s", b->opt.worker_dir);
    else
        find_workers(b->worker_dir, sizeof b->worker_dir);
    return 0;
}

/* env_add appends "NAME=value" to env (count *n, room for max). */
static void env_add(char **env, size_t *n, size_t max, const char *name, const char *value)
{
    if (*n + 1 < max && value && asprintf(&env[*n], "%s=%s", name, value) >= 0)
        (*n)++;
}

/* memory_limit_mb is the memory limit of a worker running manifest m: its own, or plugbayd's --memory-mb. */
static int64_t memory_limit_mb(const broker *b, const bay__manifest *m)
{
    return m->limits.memory_mb ? m->limits.memory_mb : b->opt.memory_mb;
}

/* worker_env builds the worker's environment (the caller frees it with
 * bay__strv_free): how to reach the broker and the sandbox to enter — and
 * nothing else of the broker's environment but PATH, LANG and sanitizer options. */
static char **worker_env(broker *b, plugin *p, const bay__manifest *m, const conn *c, const char *url,
                         const char *data, const char *cache)
{
    enum { MAX = 24 };
    char **env = calloc(MAX, sizeof *env), num[32];
    size_t n = 0;
    if (env == NULL)
        return NULL;
    env_add(env, &n, MAX, "PLUGBAY_URL", url);
    env_add(env, &n, MAX, "PLUGBAY_TOKEN", c->token);
    env_add(env, &n, MAX, "PLUGBAY_PLUGIN", p->id);
    env_add(env, &n, MAX, "PLUGBAY_ENTRY", m->entry ? m->entry : m->library); /* for a bridge that maps it early */
    snprintf(num, sizeof num, "%d", getpid());
    env_add(env, &n, MAX, "PLUGBAY_BROKER_PID", num);
    if (*cache)
        env_add(env, &n, MAX, "PLUGBAY_WASM_CACHE", cache);
    for (const char *const *name = launch_passed_env; *name; name++)
        env_add(env, &n, MAX, *name, getenv(*name));
    if (!b->opt.sandbox)
        return env;
    env_add(env, &n, MAX, "PLUGBAY_SANDBOX", "1");
    env_add(env, &n, MAX, "PLUGBAY_SANDBOX_PLUGIN_DIR", m->dir);
    env_add(env, &n, MAX, "PLUGBAY_SANDBOX_DATA_DIR", data);
    bay__state_plugin *sp = bay__state_find(b->state, p->id);
    size_t len = 1;
    for (char **g = sp ? sp->granted : NULL; g && *g; g++)
        len += strlen(*g) + 1;
    char *grants = calloc(1, len);
    for (char **g = sp ? sp->granted : NULL; grants && g && *g; g++)
        strcat(strcat(grants, *g), "\n");
    env_add(env, &n, MAX, "PLUGBAY_SANDBOX_GRANTS", grants);
    free(grants);
    const bay__limits *l = &m->limits;
    snprintf(num, sizeof num, "%lld", (long long)memory_limit_mb(b, m));
    env_add(env, &n, MAX, "PLUGBAY_SANDBOX_MEMORY_MB", num);
    snprintf(num, sizeof num, "%lld", (long long)(l->open_files ? l->open_files : 256));
    env_add(env, &n, MAX, "PLUGBAY_SANDBOX_OPEN_FILES", num);
    snprintf(num, sizeof num, "%lld", (long long)l->cpu_seconds);
    env_add(env, &n, MAX, "PLUGBAY_SANDBOX_CPU_SECONDS", num);
    /* What the worker covers in a mount namespace of its own: the public
     * socket and the folder of hosts' connection sockets (over ipc), and the
     * folder of the workers' sockets. */
    if (b->opt.namespaces) {
        char hide[PATH_MAX * 3 + 3];
        if (strncmp(b->url, "ipc://", 6) == 0)
            snprintf(hide, sizeof hide, "%s\n%s\n%s", b->url + 6, b->conn_dir, b->run_dir);
        else
            snprintf(hide, sizeof hide, "%s", b->run_dir);
        env_add(env, &n, MAX, "PLUGBAY_SANDBOX_HIDE", hide);
    }
    return env;
}

void supervise_proc_init(plugin *p)
{
    p->proc.out_fd = p->other.out_fd = -1;
}

/* proc_of returns the process of p's worker on connection c, or NULL. */
static worker_proc *proc_of(plugin *p, const conn *c)
{
    replica *r = plugin_replica(p, c);
    return c == NULL ? NULL : c == p->worker ? &p->proc : c == p->other_worker ? &p->other : r ? &r->proc : NULL;
}

void supervise_beat(plugin *p, const conn *c, uint64_t seq)
{
    worker_proc *w = proc_of(p, c);
    if (w && seq == w->beat_seq)
        w->last_beat_ms = bay__now_ms();
}

void supervise_swap(plugin *p)
{
    worker_proc serving = p->proc;
    p->proc = p->other;
    p->other = serving;
    /* What its sandbox refused is the plugin's, over all its workers: it stays. */
    p->proc.refused = serving.refused;
    p->proc.refused_total = serving.refused_total;
    p->proc.refused_log = serving.refused_log;
    p->other.refused = NULL;
    p->other.refused_total = 0;
    conn *c = p->worker;
    p->worker = p->other_worker;
    p->other_worker = c;
}

void supervise_loaded(broker *b, plugin *p)
{
    zygote_want(b, p->m->language);
    p->proc.last_beat_ms = bay__now_ms();
}

static void kill_proc(plugin *p, worker_proc *w, const char *why);
static void end_proc(worker_proc *w);

/* spawn starts a worker of p running manifest m, its process in w and its connection in *slot. */
static int spawn(broker *b, plugin *p, const bay__manifest *m, worker_proc *w, conn **slot, bay_error *err)
{
    char exe[700], url[600], data[1024];
    snprintf(exe, sizeof exe, "%s/plugbay-worker-%s", b->worker_dir, m->language);
    if (access(exe, X_OK) != 0)
        return bay_error_set(err, BAY_ENOENT, p->id, "no worker for language \"%s\": %s: %s", m->language, exe,
                             strerror(errno));
    int rc = bay__state_data_dir(b->state, p->id, data, sizeof data, err);
    if (rc)
        return rc;
    conn *c = conn_open(b, ROLE_WORKER, 0, 0, url, sizeof url);
    if (c == NULL)
        return bay_error_set(err, BAY_EIO, p->id, "cannot open a socket for its worker (see the log)");
    c->plugin = p;
    snprintf(c->name, sizeof c->name, "%s", p->id);
    *slot = c;

    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) {
        conn_close(b, c);
        return bay_error_set(err, BAY_EIO, p->id, "pipe: %s", strerror(errno));
    }
    char cache[PATH_MAX];
    uid_t uid;
    if ((rc = uids_give(b, p, m, data, c->path[0] ? c->path : NULL, cache, sizeof cache, &uid, err)) != 0) {
        close(out[0]);
        close(out[1]);
        conn_close(b, c);
        return rc;
    }
    char **env = worker_env(b, p, m, c, url, data, cache);
    char *argv[] = {exe, p->id, NULL};
    launch_spec spec = {
        .exe = exe, .argv = argv, .envp = env, .dir = data, .out_fd = out[1], .in_fd = -1, .namespaces = b->pidns,
        .uid = uid};
    pid_t pid = 0;
    const char *what = "building its environment";
    /* The worker may dial before launch_worker returns: its dial waits on the guard until it is recorded. */
    peer_guard_hold(b->guard);
    rc = env ? zygote_launch(b, m->language, &spec, &pid, &what) : ENOMEM;
    if (rc == 0 && peer_worker_started(b->guard, pid, c->session, p->id) != 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        rc = ENOMEM;
        what = "recording it";
    }
    peer_guard_release(b->guard);
    bay__strv_free(env);
    close(out[1]);
    if (rc != 0) {
        close(out[0]);
        conn_close(b, c);
        return bay_error_set(err, BAY_EIO, p->id, "cannot start %s: %s: %s", exe, what, strerror(rc));
    }
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    w->pid = pid;
    w->uid = uid;
    w->kill_sent = false;
    w->out_fd = out[0];
    w->outlen = 0;
    cgroup_place(b, p, memory_limit_mb(b, m) * (m->replicas > 1 ? m->replicas : 1), w); /* its replicas share it */
    w->start_deadline_ms = bay__now_ms() + b->opt.start_timeout_ms;
    w->next_beat_ms = bay__now_ms() + b->opt.heartbeat_ms;
    bay__log(BAY_LOG_DEBUG, p->id, "started %s as pid %d", exe, pid);
    write_workers_file(b);
    return 0;
}

int supervise_spawn(broker *b, plugin *p, bay_error *err)
{
    return spawn(b, p, p->m, &p->proc, &p->worker, err);
}

int supervise_spawn_other(broker *b, plugin *p, const bay__manifest *m, bay_error *err)
{
    return spawn(b, p, m, &p->other, &p->other_worker, err);
}

int supervise_spawn_replica(broker *b, plugin *p, replica *r, bay_error *err)
{
    return spawn(b, p, p->m, &r->proc, &r->worker, err);
}

void supervise_end_replica(broker *b, plugin *p, replica *r, const char *why)
{
    if (why)
        kill_proc(p, &r->proc, why);
    else
        end_proc(&r->proc);
}

/* A worker's output goes to the log line by line, OUTPUT_BURST lines per
 * OUTPUT_WINDOW_MS at most; each loop round reads OUTPUT_READ_MAX bytes of it
 * at most, and past the limit one round every OUTPUT_PAUSE_MS, so a plugin
 * writing without end neither fills the log (and the disk) nor keeps
 * plugbayd's thread from everyone else: its pipe fills and its own writes
 * wait. */
#define OUTPUT_BURST BAY_LOG_LINES_MAX
#define OUTPUT_WINDOW_MS BAY_LOG_LINES_WINDOW_MS
#define OUTPUT_READ_MAX (64 * 1024)
#define OUTPUT_PAUSE_MS 100

static void add_refused(plugin *p, const char *kind, int64_t n);

/* output_dropped says in the log how many lines of p's output were dropped,
 * if any, and counts them with what its sandbox refused. */
static void output_dropped(plugin *p, worker_proc *w)
{
    if (w->out_dropped) {
        bay__log(BAY_LOG_WARN, p->id, "%llu lines of its output were dropped: it wrote more than %d lines in %d s",
                (unsigned long long)w->out_dropped, OUTPUT_BURST, OUTPUT_WINDOW_MS / 1000);
        add_refused(p, "output lines over the limit", (int64_t)w->out_dropped);
    }
    w->out_dropped = 0;
}

/* limited_line logs one line of p's (output, or a LOG frame) at level,
 * prefix first, within the rate limit they share (bay__log makes its control
 * characters '?'). */
static void limited_line(plugin *p, worker_proc *w, int level, const char *prefix, const char *line, size_t len)
{
    int64_t now = bay__now_ms();
    if (now - w->out_window_ms >= OUTPUT_WINDOW_MS) {
        output_dropped(p, w);
        w->out_window_ms = now;
        w->out_lines = 0;
    }
    if (w->out_lines >= OUTPUT_BURST) {
        w->out_dropped++;
        return;
    }
    bay__log(level, p->id, "%s%.*s%s", prefix, (int)len, line,
            ++w->out_lines == OUTPUT_BURST ? " (its further output is dropped for a while)" : "");
}

/* flush_line logs one line of the output of p's worker w. */
static void flush_line(plugin *p, worker_proc *w, const char *line, size_t len)
{
    limited_line(p, w, BAY_LOG_INFO, "output: ", line, len);
}

void supervise_log(broker *b, plugin *p, const conn *c, int level, const char *message)
{
    worker_proc *w = proc_of(p, c);
    limited_line(p, w ? w : &p->proc, level, "", message, strlen(message));
}

/* close_output logs the last, unfinished line of p's output and how much was
 * dropped, and closes it: its worker has ended. */
static void close_output(plugin *p, worker_proc *w)
{
    if (w->outlen)
        flush_line(p, w, w->outbuf, w->outlen);
    w->outlen = 0;
    output_dropped(p, w);
    close(w->out_fd);
    w->out_fd = -1;
    w->out_resume_ms = 0;
}

void supervise_read_output(broker *b, plugin *p, worker_proc *w)
{
    for (size_t taken = 0; taken < OUTPUT_READ_MAX;) {
        ssize_t n = read(w->out_fd, w->outbuf + w->outlen, sizeof w->outbuf - w->outlen);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0 || errno != EAGAIN) /* the worker closed its output: it is exiting */
                close_output(p, w);
            return;
        }
        taken += (size_t)n;
        w->outlen += (size_t)n;
        if (w->out_lines >= OUTPUT_BURST) /* over the limit: this round is its last for a while */
            w->out_resume_ms = bay__now_ms() + OUTPUT_PAUSE_MS;
        char *start = w->outbuf, *nl;
        while ((nl = memchr(start, '\n', w->outlen - (size_t)(start - w->outbuf))) != NULL) {
            flush_line(p, w, start, (size_t)(nl - start));
            start = nl + 1;
        }
        w->outlen -= (size_t)(start - w->outbuf);
        memmove(w->outbuf, start, w->outlen);
        if (w->outlen == sizeof w->outbuf) { /* a line longer than the buffer: log it in pieces */
            flush_line(p, w, w->outbuf, w->outlen);
            w->outlen = 0;
        }
    }
}

/* kill_proc kills p's worker w, saying why in the log. */
static void kill_proc(plugin *p, worker_proc *w, const char *why)
{
    snprintf(w->kill_why, sizeof w->kill_why, "%s", why);
    if (w->pid == 0 || w->kill_sent)
        return;
    bay__log(BAY_LOG_WARN, p->id, "killing worker %d: %s", w->pid, why);
    kill(w->pid, SIGKILL);
    w->kill_sent = true;
}

void supervise_kill(broker *b, plugin *p, const char *why)
{
    kill_proc(p, &p->proc, why);
}

void supervise_kill_other(broker *b, plugin *p, const char *why)
{
    kill_proc(p, &p->other, why);
}

void supervise_kill_worker(broker *b, conn *c, const char *why)
{
    worker_proc *w = c->plugin ? proc_of(c->plugin, c) : NULL;
    if (w && !w->kill_sent)
        kill_proc(c->plugin, w, why);
}

/* end_proc stops worker w, which answered its unload: no warning, and its end is no crash. */
static void end_proc(worker_proc *w)
{
    if (w->pid == 0 || w->kill_sent)
        return;
    snprintf(w->kill_why, sizeof w->kill_why, "unloaded");
    kill(w->pid, SIGKILL);
    w->kill_sent = true;
}

void supervise_end(broker *b, plugin *p)
{
    end_proc(&p->proc);
}

void supervise_end_other(broker *b, plugin *p)
{
    end_proc(&p->other);
}

/* by_pid returns the plugin whose worker pid is, *other telling whether it is its other one and *rep (else
 * NULL) which of its replicas; or NULL. */
static plugin *by_pid(broker *b, pid_t pid, bool *other, replica **rep)
{
    *rep = NULL;
    for (size_t i = 0; i < b->nplugins; i++) {
        plugin *p = b->plugins[i];
        if (p->proc.pid == pid || p->other.pid == pid) {
            *other = p->other.pid == pid;
            return p;
        }
        for (size_t k = 0; k < p->nreplicas; k++)
            if (p->replicas[k]->proc.pid == pid) {
                *rep = p->replicas[k];
                return p;
            }
    }
    return NULL;
}

/* describe says how a worker ended, in words. */
static void describe(int status, char *out, size_t len)
{
    char text[96];
    launch_exit_text(status, text, sizeof text);
    snprintf(out, len, "its worker %s", text);
}

void supervise_reap(broker *b)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        bool other = false;
        replica *rep;
        plugin *p = by_pid(b, pid, &other, &rep);
        if (p == NULL) { /* a zygote, a compile (precompile.h), or an orphan of a worker, adopted (supervise_init) */
            if (!zygote_reaped(b, pid, status))
                precompile_reaped(b, pid, status);
            continue;
        }
        worker_proc *w = rep ? &rep->proc : other ? &p->other : &p->proc;
        peer_worker_ended(b->guard, pid);
        char why[600];
        if (w->kill_sent && w->kill_why[0])
            snprintf(why, sizeof why, "%s", w->kill_why);
        else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && cgroup_oom_kills(b, p) > w->oom_kills)
            snprintf(why, sizeof why,
                     "its worker exceeded its memory limit of %lld MB: the kernel killed it in its memory cgroup",
                     (long long)memory_limit_mb(b, p->m));
        else
            describe(status, why, sizeof why);
        if (w->out_fd >= 0)
            supervise_read_output(b, p, w); /* what it wrote last, a round's worth at most */
        if (w->out_fd >= 0)
            close_output(p, w);
        w->pid = 0;
        w->kill_sent = false;
        w->kill_why[0] = '\0';
        write_workers_file(b);
        bay__log(BAY_LOG_DEBUG, p->id, "worker %d ended: %s", pid, why);
        if (rep)
            b->replica_gone(b, p, rep, why);
        else
            b->worker_gone(b, p, other, why);
    }
}

/* How often plugbayd reads each worker's shared memory (see over_memory). */
#define MEMORY_CHECK_MS 100


/* over_memory kills a worker whose shared memory (MAP_SHARED, memfd and tmpfs
 * pages it has mapped and touched: RssShmem), or the memfds it holds open
 * (filled with write(2) they need no mapping), pass its memory limit. Its
 * private memory is RLIMIT_DATA's and all of its mappings RLIMIT_AS's, set in
 * the worker (bridges/common/sandbox.c); this watch also holds in sanitizer
 * builds, which cannot use those. Returns true when it killed. */
static bool over_memory(broker *b, plugin *p, worker_proc *w)
{
    int64_t mb = memory_limit_mb(b, p->m);
    if (mb <= 0 || !b->opt.sandbox)
        return false;
    int64_t mapped = bay__proc_kb(w->pid, "status", "RssShmem"), held = bay__proc_memfd_kb(w->pid);
    if (mapped <= mb << 10 && held <= mb << 10)
        return false;
    char why[200];
    if (mapped > mb << 10)
        snprintf(why, sizeof why, "its worker exceeded its memory limit of %lld MB: %lld MB of shared memory mapped",
                 (long long)mb, (long long)(mapped >> 10));
    else
        snprintf(why, sizeof why, "its worker exceeded its memory limit of %lld MB: %lld MB in memfds it holds open",
                 (long long)mb, (long long)(held >> 10));
    kill_proc(p, w, why);
    return true;
}

/* watch checks p's worker w on connection c: a starting one against its start
 * deadline, a running one against its heartbeats (sending the next when
 * due). Returns when it is due next, 0 when it was killed. */
static int64_t watch(broker *b, plugin *p, worker_proc *w, conn *c, bool starting, int64_t now)
{
    int64_t silent_limit = (int64_t)b->opt.heartbeat_ms * b->opt.heartbeat_misses;
    char why[200];
    if (starting && now >= w->start_deadline_ms) {
        snprintf(why, sizeof why, "its worker did not load the plugin within %d ms (--start-timeout-ms)",
                 b->opt.start_timeout_ms);
        kill_proc(p, w, why);
        return 0;
    }
    if (starting)
        return w->start_deadline_ms;
    if (now - w->last_beat_ms > silent_limit) {
        snprintf(why, sizeof why, "its worker stopped answering heartbeats for %lld ms",
                 (long long)(now - w->last_beat_ms));
        kill_proc(p, w, why);
        return 0;
    }
    if (now >= w->next_beat_ms && c && c->hello_done) {
        bay__frame f = {.type = BAY_F_HEARTBEAT, .id = ++w->beat_seq};
        conn_send(b, c, &f);
        w->next_beat_ms = now + b->opt.heartbeat_ms;
    }
    return w->next_beat_ms;
}

/* forgive_stall keeps plugbayd's own stall from counting against its workers:
 * when the loop last watched them more than two heartbeats ago (plugbayd was
 * not scheduled, or the machine stalled), the heartbeat answers it could
 * not read meanwhile are not held against them. */
static void forgive_stall(broker *b, int64_t now)
{
    int64_t away = b->last_watch_ms ? now - b->last_watch_ms : 0, beat = b->opt.heartbeat_ms;
    b->last_watch_ms = now;
    if (away <= 2 * beat)
        return;
    bay__log(BAY_LOG_WARN, NULL, "plugbayd itself did not run for %lld ms (the machine is overloaded?): the heartbeats "
             "its workers answered meanwhile are not held against them", (long long)away);
    for (size_t i = 0; i < b->nplugins; i++) {
        plugin *p = b->plugins[i];
        p->proc.last_beat_ms += away - beat;
        p->other.last_beat_ms += away - beat;
        for (size_t k = 0; k < p->nreplicas; k++)
            p->replicas[k]->proc.last_beat_ms += away - beat;
    }
}

int64_t supervise_tick(broker *b, int64_t now)
{
    forgive_stall(b, now);
    bool check_memory = now >= b->next_memory_check_ms;
    if (check_memory)
        b->next_memory_check_ms = now + MEMORY_CHECK_MS;
    int64_t next = 0;
    for (size_t i = 0; i < b->nplugins; i++) {
        plugin *p = b->plugins[i];
        for (int other = 0; other < 2; other++) {
            worker_proc *w = other ? &p->other : &p->proc;
            if (w->pid == 0 || w->kill_sent || (check_memory && over_memory(b, p, w)))
                continue;
            bool starting = other ? p->life.reload == RELOAD_STARTING
                                  : p->life.state == PS_STARTING || (p->life.state == PS_UNLOADING && p->life.load_id);
            int64_t due = watch(b, p, w, other ? p->other_worker : p->worker, starting, now);
            if (due == 0)
                continue;
            if (b->next_memory_check_ms < due)
                due = b->next_memory_check_ms;
            if (next == 0 || due < next)
                next = due;
        }
        for (size_t k = 0; k < p->nreplicas; k++) {
            replica *r = p->replicas[k];
            if (r->proc.pid == 0 || r->proc.kill_sent || (check_memory && over_memory(b, p, &r->proc)))
                continue;
            int64_t due = watch(b, p, &r->proc, r->worker, !r->serving && r->unload_id == 0, now);
            if (due && b->next_memory_check_ms < due)
                due = b->next_memory_check_ms;
            if (due && (next == 0 || due < next))
                next = due;
        }
    }
    return next;
}

void supervise_kill_all(broker *b)
{
    for (size_t i = 0; i < b->nplugins; i++)
        for (size_t n = 0; n < 2 + b->plugins[i]->nreplicas; n++) {
            plugin *p = b->plugins[i];
            worker_proc *w = n == 0 ? &p->proc : n == 1 ? &p->other : &p->replicas[n - 2]->proc;
            if (w->pid == 0)
                continue;
            kill(w->pid, SIGKILL);
            waitpid(w->pid, NULL, 0);
            peer_worker_ended(b->guard, w->pid);
            w->pid = 0;
        }
    write_workers_file(b);
    cgroup_end(b);
}

void supervise_usage(pid_t pid, int64_t *cpu_ms, int64_t *pss_kb)
{
    char path[64], buf[1024];
    *cpu_ms = -1;
    if (pss_kb)
        *pss_kb = -1;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = pid > 0 ? fopen(path, "re") : NULL;
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    /* Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15. */
    const char *rest = strrchr(buf, ')');
    unsigned long long utime, stime;
    if (rest && sscanf(rest + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &utime, &stime) == 2)
        *cpu_ms = (int64_t)((utime + stime) * 1000 / (unsigned long long)sysconf(_SC_CLK_TCK));
    if (pid > 0 && pss_kb)
        *pss_kb = bay__proc_kb(pid, "smaps_rollup", "Pss");
}

/* Kinds of refusal kept per plugin; further ones count as "other". */
#define REFUSED_KINDS_MAX 64

/* refused_count reads one entry of a refusal report: kind and count, or
 * BAY_EPROTO with err saying what is wrong with it. */
static int refused_count(const char *kind, const bay_value *v, int64_t *n, bay_error *err)
{
    size_t klen = strlen(kind);
    bool printable = klen > 0 && klen <= 63;
    for (size_t i = 0; printable && i < klen; i++)
        printable = (unsigned char)kind[i] >= 0x20 && kind[i] != 0x7f;
    *n = bay_value_type(v) == BAY_INT ? bay_value_int(v) : 0;
    if (!printable)
        return bay_error_set(err, BAY_EPROTO, NULL, "a kind must be 1 to 63 printable bytes");
    if (*n <= 0 || *n > INT32_MAX)
        return bay_error_set(err, BAY_EPROTO, NULL, "the count of \"%s\" is not a whole number from 1 to %d", kind,
                             INT32_MAX);
    return 0;
}

/* add_refused counts n refusals of kind for p (past REFUSED_KINDS_MAX kinds, as "other"). */
static void add_refused(plugin *p, const char *kind, int64_t n)
{
    if (p->proc.refused == NULL && (p->proc.refused = bay_map()) == NULL)
        return;
    const bay_value *had = bay_map_get(p->proc.refused, kind);
    if (had == NULL && bay_value_len(p->proc.refused) >= REFUSED_KINDS_MAX) {
        kind = "other";
        had = bay_map_get(p->proc.refused, kind);
    }
    bay_map_set(p->proc.refused, kind, bay_int(bay_value_int(had) + n));
    p->proc.refused_total += n;
}

void supervise_refused(broker *b, plugin *p, const bay__frame *f)
{
    bay_value *report = NULL;
    bay_error e;
    int rc = f->value ? bay__value_from_object(f->value, &report, &e) : 0;
    if (rc == 0 && bay_value_type(report) != BAY_MAP)
        rc = bay_error_set(&e, BAY_EPROTO, NULL, "it is not a map of kind to count");
    else if (rc == 0 && bay_value_len(report) > REFUSED_KINDS_MAX)
        rc = bay_error_set(&e, BAY_EPROTO, NULL, "it holds %zu kinds, more than %d", bay_value_len(report),
                           REFUSED_KINDS_MAX);
    int64_t n;
    const bay_value *v;
    const char *kind;
    for (size_t i = 0; rc == 0 && (kind = bay_map_entry(report, i, &v)) != NULL; i++)
        rc = refused_count(kind, v, &n, &e);
    if (rc) {
        bay__log_limited(&p->proc.refused_log, bay__now_ms(), BAY_LOG_WARN, p->id,
                        "ignored a malformed report of what the sandbox refused: %s", e.message);
        bay_value_free(report);
        return;
    }
    char line[600];
    size_t used = 0;
    int64_t added = 0;
    for (size_t i = 0; (kind = bay_map_entry(report, i, &v)) != NULL; i++) {
        refused_count(kind, v, &n, NULL);
        add_refused(p, kind, n);
        added += n;
        if (used < sizeof line)
            used += (size_t)snprintf(line + used, sizeof line - used, "%s%s ×%lld", used ? ", " : "", kind,
                                     (long long)n);
    }
    bay_value_free(report);
    if (added)
        bay__log_limited(&p->proc.refused_log, bay__now_ms(), BAY_LOG_WARN, p->id,
                        "its sandbox refused %lld operations (%s); %lld since plugbayd started", (long long)added,
                        line, (long long)p->proc.refused_total);
}
