/* broker/zygote.c — workers forked from a process per language that is already past exec and its language's start. */
#include "zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "zygote_protocol.h"

/* The languages plugbayd may have a zygote for at once. */
#define ZYGOTES_MAX 8
/* Longest the loop waits for a zygote's answer to a fork: it forks at once
 * when it is ready, so this only bounds one that hangs. */
#define ZYGOTE_REPLY_MS 2000

struct zygote {
    char language[16];
    pid_t pid; /* 0: none */
    int fd;    /* plugbayd's end of its socketpair */
    bool ready;
    bool broken; /* it ended before it was ready: its language's workers start by exec */
};

struct zygotes {
    struct zygote z[ZYGOTES_MAX];
};

/* find returns language's slot, a free one when it has none, or NULL. */
static struct zygote *find(broker *b, const char *language)
{
    if (b->zygotes == NULL && (b->zygotes = calloc(1, sizeof *b->zygotes)) == NULL)
        return NULL;
    struct zygote *free_slot = NULL;
    for (size_t i = 0; i < ZYGOTES_MAX; i++) {
        struct zygote *z = &b->zygotes->z[i];
        if (strcmp(z->language, language) == 0)
            return z;
        if (z->language[0] == '\0' && free_slot == NULL)
            free_slot = z;
    }
    if (free_slot && strlen(language) < sizeof free_slot->language) {
        snprintf(free_slot->language, sizeof free_slot->language, "%s", language);
        free_slot->fd = -1;
        return free_slot;
    }
    return NULL;
}

/* forget closes z's socket and kills it unless it already ended (reaped:
 * supervise_reap then takes its end, as for any child of plugbayd's). */
static void forget(struct zygote *z, bool reaped)
{
    if (z->pid > 0 && !reaped)
        kill(z->pid, SIGKILL);
    if (z->fd >= 0)
        close(z->fd);
    z->pid = 0;
    z->fd = -1;
    z->ready = false;
}

/* start launches z from worker exe: the fork server's end of the socketpair as its stdin. */
static void start(broker *b, struct zygote *z, const char *exe)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        bay__log(BAY_LOG_WARN, NULL, "cannot start the %s zygote: socketpair: %s", z->language, strerror(errno));
        return;
    }
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    char **env = launch_env(NULL);
    char *argv[] = {(char *)exe, "--zygote", NULL};
    launch_spec s = {.exe = exe, .argv = argv, .envp = env, .dir = "/", .out_fd = null, .in_fd = sv[1],
                     .namespaces = b->pidns, .zygote = true};
    const char *what = null < 0 ? "opening /dev/null" : "building its environment";
    int rc = null < 0 ? errno : env == NULL ? ENOMEM : launch_worker(&s, &z->pid, &what);
    bay__strv_free(env);
    if (null >= 0)
        close(null);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        z->pid = 0;
        bay__log(BAY_LOG_WARN, NULL, "cannot start the %s zygote: %s: %s; its workers start by exec", z->language,
                 what, strerror(rc));
        return;
    }
    z->fd = sv[0];
    bay__log(BAY_LOG_DEBUG, NULL, "started the %s zygote as pid %d", z->language, z->pid);
}

/* The languages a zygote can serve. */
static const char *const languages[] = {"c", "lua", "python", "wasm"};

/* listed tells whether language is one of list's (a --zygotes value). */
static bool listed(const char *list, const char *language)
{
    if (strcmp(list, "all") == 0)
        return true;
    for (const char *s = list;;) {
        size_t len = strcspn(s, ",");
        if (len == strlen(language) && strncmp(s, language, len) == 0)
            return true;
        if (s[len] == '\0')
            return false;
        s += len + 1;
    }
}

bool zygote_languages_valid(const char *list)
{
    if (strcmp(list, "all") == 0 || strcmp(list, "none") == 0)
        return true;
    for (const char *s = list;; s++) {
        size_t n = strcspn(s, ",");
        bool known = false;
        for (size_t i = 0; i < sizeof languages / sizeof *languages; i++)
            known |= n == strlen(languages[i]) && strncmp(s, languages[i], n) == 0;
        if (!known)
            return false;
        s += n;
        if (*s == '\0')
            return true;
    }
}

/* ready tells whether z said it is ready (its first message), without
 * waiting; one that ended or said anything else first is broken. */
static bool ready(struct zygote *z)
{
    if (z->ready)
        return true;
    char c;
    ssize_t n = recv(z->fd, &c, 1, MSG_DONTWAIT);
    if (n == 1 && c == BAY_ZYGOTE_READY) {
        z->ready = true;
    } else if (n >= 0 || errno != EAGAIN) {
        bay__log(BAY_LOG_WARN, NULL, "the %s zygote ended before it was ready; %s workers start by exec",
                 z->language, z->language);
        z->broken = true;
        forget(z, false);
    }
    return z->ready;
}

/* append adds text and its NUL to buf (len used of cap): false when it has no room. */
static bool append(char *buf, size_t cap, size_t *len, const char *text)
{
    size_t n = strlen(text) + 1;
    if (n > cap - *len)
        return false;
    memcpy(buf + *len, text, n);
    *len += n;
    return true;
}

/* request packs s for the zygote (protocol/zygote_protocol.h): its length, 0 when it does not fit. */
static size_t request(const launch_spec *s, char *buf, size_t cap)
{
    size_t len = 1;
    buf[0] = s->namespaces ? 1 : 0;
    if (!append(buf, cap, &len, s->dir))
        return 0;
    for (char *const *e = s->envp; *e; e++)
        if (!append(buf, cap, &len, *e))
            return 0;
    return len;
}

/* fork_from asks z to fork s: 0 with *pid, or an errno with what (z is
 * forgotten when it did not answer as it should). */
static int fork_from(struct zygote *z, const launch_spec *s, pid_t *pid, const char **what)
{
    static char buf[BAY_ZYGOTE_REQUEST_MAX]; /* the loop's alone */
    size_t len = request(s, buf, sizeof buf);
    if (len == 0) {
        *what = "packing its environment for the zygote";
        return E2BIG;
    }
    union {
        struct cmsghdr h;
        char room[CMSG_SPACE(sizeof(int))];
    } ctl = {0};
    struct iovec iov = {buf, len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.room, .msg_controllen = sizeof ctl.room};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &s->out_fd, sizeof(int));
    bay__zygote_reply r;
    struct pollfd pfd = {z->fd, POLLIN, 0};
    ssize_t sent = sendmsg(z->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    int polled = sent == (ssize_t)len ? poll(&pfd, 1, ZYGOTE_REPLY_MS) : -1;
    ssize_t got = polled == 1 ? recv(z->fd, &r, sizeof r, MSG_DONTWAIT) : -1;
    if (got != (ssize_t)sizeof r || (r.pid <= 0 && r.err == 0)) {
        *what = sent != (ssize_t)len ? "sending to the zygote"
                : polled == 0        ? "waiting for the zygote"
                                     : "reading the zygote's answer";
        forget(z, false);
        return EPROTO;
    }
    if (r.pid <= 0) {
        static char step[sizeof r.what];
        snprintf(step, sizeof step, "%.*s", (int)sizeof r.what - 1, r.what);
        *what = step;
        return r.err;
    }
    *pid = r.pid;
    return 0;
}

void zygote_want(broker *b, const char *language)
{
    struct zygote *z = b->opt.uid_count == 0 && listed(b->opt.zygotes, language) ? find(b, language) : NULL;
    if (z == NULL || z->pid > 0 || z->broken)
        return;
    char exe[700];
    snprintf(exe, sizeof exe, "%s/plugbay-worker-%s", b->worker_dir, language);
    start(b, z, exe);
}

int zygote_launch(broker *b, const char *language, const launch_spec *s, pid_t *pid, const char **what)
{
    struct zygote *z = s->uid == 0 && listed(b->opt.zygotes, language) ? find(b, language) : NULL;
    if (z && z->pid > 0 && ready(z)) {
        int rc = fork_from(z, s, pid, what);
        if (rc == 0)
            return 0;
        bay__log(BAY_LOG_WARN, NULL, "the %s zygote did not fork a worker: %s: %s; starting it by exec", language,
                 *what, strerror(rc));
    }
    return launch_worker(s, pid, what);
}

bool zygote_reaped(broker *b, pid_t pid, int status)
{
    for (size_t i = 0; b->zygotes && i < ZYGOTES_MAX; i++) {
        struct zygote *z = &b->zygotes->z[i];
        if (z->pid == pid) {
            char why[96];
            launch_exit_text(status, why, sizeof why);
            if (z->ready)
                bay__log(BAY_LOG_DEBUG, NULL, "the %s zygote (pid %d) %s; the next load starts another", z->language,
                         pid, why);
            else
                bay__log(BAY_LOG_WARN, NULL, "the %s zygote (pid %d) %s before it was ready; %s workers start by exec",
                         z->language, pid, why, z->language);
            z->broken = !z->ready;
            forget(z, true);
            return true;
        }
    }
    return false;
}

void zygote_stop(broker *b)
{
    for (size_t i = 0; b->zygotes && i < ZYGOTES_MAX; i++) {
        struct zygote *z = &b->zygotes->z[i];
        pid_t pid = z->pid;
        forget(z, false);
        if (pid > 0)
            waitpid(pid, NULL, 0);
    }
    free(b->zygotes);
    b->zygotes = NULL;
}
