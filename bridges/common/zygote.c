/* bridges/common/zygote.c — a worker's language made ready once and forked for each plugin (--zygote). */
#include "zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "sandbox.h"
#include "zygote_protocol.h"

/* Longest a forked worker waits for plugbayd to adopt it once the middle
 * process exits (it does at once): past it plugbayd is gone. */
#define ADOPT_WAIT_MS 5000

/* answer sends plugbayd the outcome of a request: the worker's pid, or the step that failed. */
static void answer(pid_t pid, int err, const char *what)
{
    bay__zygote_reply r = {.pid = pid, .err = err};
    snprintf(r.what, sizeof r.what, "%s", what);
    send(0, &r, sizeof r, MSG_NOSIGNAL);
}

/* fail says on the worker's output which step failed and ends the worker. */
static void fail(int out, const char *step)
{
    dprintf(out, "plugbay zygote: cannot start the worker: %s: %s\n", step, strerror(errno));
    _exit(127);
}

/* adopted waits until plugbayd (pid broker, as /proc numbers it) is this process's parent. */
static bool adopted(pid_t broker)
{
    struct timespec nap = {0, 20000};
    for (int i = 0; i < ADOPT_WAIT_MS * 1000 / 20; i++) {
        pid_t parent = 0, session = 0;
        if (bay__proc_parent(0, &parent, &session) == 0 && parent == broker)
            return true;
        nanosleep(&nap, NULL);
    }
    return false;
}

/* become turns the forked process into the worker plugbayd asked for: its
 * environment env, folder dir, output out and, with ns, a user namespace of its own. */
static void become(char **env, const char *dir, int out, bool ns)
{
    environ = env;
    const char *broker = getenv("PLUGBAY_BROKER_PID");
    errno = ESRCH;
    if (broker == NULL || !adopted((pid_t)atol(broker)))
        fail(out, "waiting for plugbayd to adopt it");
    /* Its capabilities in the zygote's user namespace go: it is root in its own only. */
    const char *failed = ns ? bay__sandbox_user_namespace() : NULL;
    if (failed)
        fail(out, failed);
    int in = open("/dev/null", O_RDONLY);
    if (in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
        fail(out, "setting up its standard descriptors");
    if (close_range(3, ~0U, 0) != 0)
        fail(1, "closing descriptors");
    if (chdir(dir) != 0)
        fail(1, "entering its data folder");
    if (setsid() < 0)
        fail(1, "setsid");
}

/* serve forks a worker for the request in buf (len bytes, NUL after them)
 * with output out: returns in the worker, false in the zygote. */
static bool serve(const bay__bridge *bridge, char *buf, size_t len, int out)
{
    bool ns = buf[0] == 1;
    const char *dir = buf + 1;
    size_t count = 0;
    for (size_t i = 1; i < len; i++)
        count += buf[i] == '\0';
    char **env = count >= 1 ? calloc(count, sizeof *env) : NULL;
    if (env == NULL || buf[len - 1] != '\0') {
        answer(0, env ? EINVAL : ENOMEM, env ? "reading the request" : "allocating its environment");
        free(env);
        return false;
    }
    size_t n = 0;
    for (char *s = buf + 1 + strlen(dir) + 1; s < buf + len; s += strlen(s) + 1)
        env[n++] = s;
    pid_t middle = fork();
    if (middle < 0) {
        answer(0, errno, "fork");
        free(env);
        return false;
    }
    if (middle > 0) {
        free(env);
        while (waitpid(middle, NULL, 0) < 0 && errno == EINTR)
            ;
        return false;
    }
    /* The middle process: the namespaces its child is pid 1 of, then that child. */
    if (ns && unshare(CLONE_NEWPID | CLONE_NEWIPC) != 0) {
        answer(0, errno, "unshare(CLONE_NEWPID | CLONE_NEWIPC)");
        _exit(0);
    }
    pid_t worker = fork();
    if (worker != 0) {
        if (worker < 0)
            answer(0, errno, "fork");
        else
            answer(worker, 0, "");
        _exit(0);
    }
    become(env, dir, out, ns);
    if (bridge->forked)
        bridge->forked();
    return true;
}

void bay__zygote(int argc, char **argv, const bay__bridge *bridge)
{
    if (argc < 2 || strcmp(argv[1], "--zygote") != 0)
        return;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (bridge->prepare)
        bridge->prepare();
    char ready = BAY_ZYGOTE_READY;
    if (send(0, &ready, 1, MSG_NOSIGNAL) != 1)
        exit(1);
    static char buf[BAY_ZYGOTE_REQUEST_MAX + 1];
    for (;;) {
        union {
            struct cmsghdr h;
            char room[CMSG_SPACE(sizeof(int))];
        } ctl;
        struct iovec iov = {buf, BAY_ZYGOTE_REQUEST_MAX};
        struct msghdr msg = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.room, .msg_controllen = sizeof ctl.room};
        ssize_t n = recvmsg(0, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            exit(0); /* plugbayd closed its end, or is gone */
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        int out = -1;
        if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(&out, CMSG_DATA(c), sizeof out);
        if (out < 0 || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || n < 3) {
            answer(0, EINVAL, out < 0 ? "no output descriptor in the request" : "reading the request");
        } else if (serve(bridge, buf, (size_t)n, out)) {
            return; /* the worker */
        }
        if (out >= 0)
            close(out);
    }
}
