/* broker/launch.c — starting a worker process, in user, PID and IPC namespaces of its own where the kernel gives them. */
#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5; Debian 12's headers stop before it */
#endif

/* The child's stack: it makes system calls only. */
#define CHILD_STACK (64 * 1024)

/* The kernel's struct sigaction, as rt_sigaction takes it. */
struct kernel_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    unsigned long mask;
};

/* What the child reads, and where it says why it failed: it shares
 * plugbayd's memory, and plugbayd's thread waits until it executes or exits. */
struct child {
    const launch_spec *s; /* exe NULL: a probe, which exits once its ids are mapped */
    char uid_map[32], gid_map[32];
    int err;
    const char *what;
};

/* put writes text to the file at path with system calls only: 0, or -1 with errno. */
__attribute__((no_sanitize_address)) static int put(const char *path, const char *text)
{
    long fd = syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    while (text[len])
        len++;
    long n = syscall(SYS_write, fd, text, len);
    int e = errno;
    syscall(SYS_close, fd);
    errno = e;
    return n == (long)len ? 0 : -1;
}

/* child_main runs in the clone until it executes the worker; it touches
 * nothing of plugbayd's but struct child, and calls no function of the C
 * library but syscall(2), whose errno is that of plugbayd's waiting thread. */
__attribute__((no_sanitize_address)) static int child_main(void *arg)
{
    struct child *c = arg;
    const launch_spec *s = c->s;
#define STEP(ok, name)                                                                                               \
    do {                                                                                                             \
        if (!(ok)) {                                                                                                 \
            c->err = errno;                                                                                          \
            c->what = name;                                                                                          \
            return 127;                                                                                              \
        }                                                                                                            \
    } while (0)
    if (s->namespaces && s->uid) {
        /* Root in the first user namespace until here: the ids first, so
         * that the user namespace is the new uid's, whose caps it then holds. */
        STEP(syscall(SYS_setgroups, 0, NULL) == 0, "dropping supplementary groups");
        STEP(syscall(SYS_setresgid, s->uid, s->uid, s->uid) == 0, "setresgid");
        STEP(syscall(SYS_setresuid, s->uid, s->uid, s->uid) == 0, "setresuid");
        /* A changed uid makes the process undumpable, which gives /proc/self to root: writing the maps needs it back. */
        STEP(syscall(SYS_prctl, PR_SET_DUMPABLE, 1, 0, 0, 0) == 0, "PR_SET_DUMPABLE");
        STEP(syscall(SYS_unshare, CLONE_NEWUSER) == 0, "unshare(CLONE_NEWUSER)");
    }
    if (s->namespaces) {
        /* The creator maps its own ids; setgroups must be denied before gid_map. */
        STEP(put("/proc/self/setgroups", "deny") == 0, "writing /proc/self/setgroups");
        STEP(put("/proc/self/uid_map", c->uid_map) == 0, "writing /proc/self/uid_map");
        STEP(put("/proc/self/gid_map", c->gid_map) == 0, "writing /proc/self/gid_map");
    }
    if (s->exe == NULL)
        return 0;
    /* Both above 2 first, so that neither is one of the descriptors replaced. */
    long out = syscall(SYS_fcntl, s->out_fd, F_DUPFD, 3);
    STEP(out >= 0, "duplicating its output pipe");
    long in = s->in_fd >= 0 ? syscall(SYS_fcntl, s->in_fd, F_DUPFD, 3)
                            : syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY);
    STEP(in >= 0, "opening its standard input");
    in = in < 3 ? syscall(SYS_fcntl, in, F_DUPFD, 3) : in;
    STEP(in >= 0 && syscall(SYS_dup3, in, 0, 0) == 0 && syscall(SYS_dup3, out, 1, 0) == 1 &&
             syscall(SYS_dup3, out, 2, 0) == 2,
         "setting up its standard descriptors");
    STEP(syscall(SYS_close_range, 3, ~0U, 0) == 0, "closing descriptors");
    STEP(syscall(SYS_chdir, s->dir) == 0, "entering its data folder");
    STEP(syscall(SYS_setsid) >= 0, "setsid");
    struct kernel_sigaction dfl = {.handler = SIG_DFL};
    for (int sig = 1; sig < 65; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
    unsigned long none = 0;
    STEP(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none) == 0, "unblocking signals");
    syscall(SYS_execve, s->exe, s->argv, s->envp);
    STEP(false, "execve");
#undef STEP
}

/* run clones child c and waits until it executes or exits: its pid, or -1
 * with c->err and c->what set. */
static pid_t run(struct child *c)
{
    uid_t uid = c->s->uid ? c->s->uid : getuid();
    gid_t gid = c->s->uid ? (gid_t)c->s->uid : getgid();
    snprintf(c->uid_map, sizeof c->uid_map, "0 %u 1", (unsigned)uid);
    snprintf(c->gid_map, sizeof c->gid_map, "0 %u 1", (unsigned)gid);
    void *stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        c->err = errno;
        c->what = "mapping its stack";
        return -1;
    }
    /* No handler of plugbayd's may run in the child, which shares its memory:
     * every signal stays blocked until the child has made them default. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    bool own_pid_ipc = c->s->namespaces && !c->s->zygote;
    int flags = CLONE_VM | CLONE_VFORK | SIGCHLD | (own_pid_ipc ? CLONE_NEWPID | CLONE_NEWIPC : 0) |
                (c->s->namespaces && !c->s->uid ? CLONE_NEWUSER : 0);
    pid_t pid = clone(child_main, (char *)stack + CHILD_STACK, flags, c);
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    munmap(stack, CHILD_STACK);
    if (pid < 0) {
        c->err = e;
        c->what = c->s->namespaces ? "clone(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWIPC)" : "clone";
        return -1;
    }
    if (c->err || c->s->exe == NULL) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        return c->err ? -1 : pid;
    }
    return pid;
}

const char *const launch_passed_env[] = {"PATH", "LANG", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", NULL};

/* add_env appends NAME=value of each of names plugbayd has to env (n used). */
static void add_env(char **env, size_t *n, const char *const *names)
{
    for (; names && *names; names++)
        if (getenv(*names) && asprintf(&env[*n], "%s=%s", *names, getenv(*names)) >= 0)
            (*n)++;
}

char **launch_env(const char *const *extra)
{
    size_t max = 1, n = 0;
    for (const char *const *e = launch_passed_env; *e; e++)
        max++;
    for (const char *const *e = extra; e && *e; e++)
        max++;
    char **env = calloc(max, sizeof *env);
    if (env) {
        add_env(env, &n, launch_passed_env);
        add_env(env, &n, extra);
    }
    return env;
}

void launch_exit_text(int status, char *out, size_t len)
{
    if (WIFSIGNALED(status)) {
        const char *abbrev = sigabbrev_np(WTERMSIG(status));
        snprintf(out, len, "was killed by signal %d (SIG%s)%s", WTERMSIG(status), abbrev ? abbrev : "?",
                 WCOREDUMP(status) ? ", core dumped" : "");
    } else {
        snprintf(out, len, "exited with status %d", WEXITSTATUS(status));
    }
}

bool launch_probe(bay_error *err)
{
    launch_spec s = {.namespaces = true, .in_fd = -1};
    struct child c = {.s = &s};
    if (run(&c) < 0) {
        bay_error_set(err, BAY_EIO, NULL, "%s: %s", c.what, strerror(c.err));
        return false;
    }
    int sv[2], fd = -1;
    socklen_t fdlen = sizeof fd;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        bay_error_set(err, BAY_EIO, NULL, "socketpair: %s", strerror(errno));
        return false;
    }
    int rc = getsockopt(sv[0], SOL_SOCKET, SO_PEERPIDFD, &fd, &fdlen), e = errno;
    if (rc == 0 && fd >= 0)
        close(fd);
    close(sv[0]);
    close(sv[1]);
    if (rc != 0 && e == ENOPROTOOPT) {
        bay_error_set(err, BAY_EIO, NULL,
                      "this kernel lacks SO_PEERPIDFD (Linux 6.5), with which a worker checks its fast-path hosts");
        return false;
    }
    return true;
}

int launch_worker(const launch_spec *s, pid_t *pid, const char **what)
{
    struct child c = {.s = s};
    *pid = run(&c);
    *what = c.what;
    return *pid < 0 ? c.err : 0;
}
