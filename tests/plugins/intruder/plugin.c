/* tests/plugins/intruder/plugin.c — test/intruder: speaks to plugbayd as a host would, from its worker and from processes it starts.
 *
 * Landlock does not cover connecting to a Unix socket by path, and a plugin's
 * data folder (its working folder, STATE/data/ID) gives away the state
 * folder, so a native plugin can reach STATE/plugbayd.sock. This one does not
 * even need a copy of libplugbay: it speaks NNG's SP protocol over a raw
 * AF_UNIX socket — the 8-byte SP header each way, then messages as a 1-byte
 * type, a 64-bit big-endian length and the bytes (a req0 request starts with
 * its 32-bit id, a pair1 message with its hop count) — which is all a shipped
 * libplugbay would send. Each function answers what plugbayd did:
 * "refused: code N: message", "closed: ..." (the connection was cut), or
 * "ALLOWED ..." (plugbayd let it in: a failure of the tests). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_plugin.h"

#define SP_REQ0 0x30
#define SP_PAIR1 0x11
#define REPLY_MAX 4096

/* An exchange's outcome, made without allocating so a forked child can make it. */
typedef struct knock {
    char what[200];         /* "" when a reply came, else what happened */
    unsigned char reply[REPLY_MAX];
    size_t len;             /* the reply's frame bytes */
    int ppid;               /* the parent of the process that knocked */
} knock;

/* full_write writes len bytes to a socket or pipe (no SIGPIPE from a socket plugbayd closed): 0 or -1 (errno). */
static int full_write(int fd, const void *buf, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = send(fd, (const char *)buf + done, len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK)
            n = write(fd, (const char *)buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

/* full_read reads len bytes: 0, -1 (errno) or 1 on an early end. */
static int full_read(int fd, void *buf, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = read(fd, (char *)buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 1;
        done += (size_t)n;
    }
    return 0;
}

/* exchange connects to the socket file path as SP protocol proto, sends one
 * message (head, then body) and reads one answer into k (its first skip bytes dropped). */
static void exchange(const char *path, int proto, const void *head, size_t hlen, const void *body, size_t blen,
                     size_t skip, knock *k)
{
    k->ppid = (int)getppid();
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    struct timeval tv = {.tv_sec = 10};
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        snprintf(k->what, sizeof k->what, "cannot connect to %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return;
    }
    unsigned char sp[8] = {0, 'S', 'P', 0, (unsigned char)(proto >> 8), (unsigned char)proto, 0, 0}, peer[8];
    unsigned char frame[9] = {1};
    uint64_t n = hlen + blen;
    for (int i = 0; i < 8; i++)
        frame[1 + i] = (unsigned char)(n >> (56 - 8 * i));
    int rc = full_write(fd, sp, sizeof sp) || full_read(fd, peer, sizeof peer) ||
             full_write(fd, frame, sizeof frame) || full_write(fd, head, hlen) || full_write(fd, body, blen) ||
             full_read(fd, frame, sizeof frame);
    n = 0;
    for (int i = 0; rc == 0 && i < 8; i++)
        n = n << 8 | frame[1 + i];
    if (rc == 0 && (n < skip || n - skip > sizeof k->reply)) {
        snprintf(k->what, sizeof k->what, "closed: an answer of %llu bytes", (unsigned long long)n);
    } else if (rc == 0 && (full_read(fd, k->reply, skip) || full_read(fd, k->reply, (size_t)n - skip))) {
        snprintf(k->what, sizeof k->what, "closed: the answer was cut");
    } else if (rc != 0) {
        snprintf(k->what, sizeof k->what, "closed: plugbayd closed the connection (%s)",
                 rc < 0 ? strerror(errno) : "end of stream");
    } else {
        k->len = (size_t)n - skip;
    }
    close(fd);
}

/* hello packs HELLO as a host named "intruder" would send it, with token (or nil). */
static int hello(const char *token, void **out, size_t *len)
{
    bay_value *f = bay_array();
    int rc = f ? 0 : BAY_ENOMEM;
    bay_value *items[] = {bay_int(1), bay_int(1), bay_int(1), bay_str("host"), bay_str("intruder"),
                          bay_int(getpid()), token ? bay_str(token) : bay_nil()};
    for (size_t i = 0; i < sizeof items / sizeof *items; i++)
        if (rc == 0)
            rc = items[i] ? bay_array_push(f, items[i]) : BAY_ENOMEM;
        else
            bay_value_free(items[i]);
    if (rc == 0)
        rc = bay_value_pack(f, out, len);
    bay_value_free(f);
    return rc;
}

/* rendezvous asks plugbayd's public socket at path for a connection, as bay_connect does. */
static void rendezvous(const char *path, const void *frame, size_t len, knock *k)
{
    unsigned char id[4] = {0x80, 0, 0, 1}; /* req0: the request id, high bit set */
    exchange(path, SP_REQ0, id, sizeof id, frame, len, sizeof id, k);
}

/* answer turns k into the call's result: what happened, or the frame plugbayd sent. */
static int answer(bay_value **result, const char *who, const knock *k)
{
    char text[900];
    bay_value *f = NULL;
    if (k->what[0]) {
        snprintf(text, sizeof text, "%s", k->what);
    } else if (bay_value_unpack(k->reply, k->len, &f, text, sizeof text) == 0) {
        int64_t type = bay_value_int(bay_array_get(f, 1));
        if (type == 3) /* ERROR: code, plugin, message */
            snprintf(text, sizeof text, "refused: code %lld: %s", (long long)bay_value_int(bay_array_get(f, 3)),
                     bay_value_str(bay_array_get(f, 5), NULL));
        else
            snprintf(text, sizeof text, "ALLOWED: plugbayd answered frame type %lld", (long long)type);
        bay_value_free(f);
    }
    char out[1000];
    snprintf(out, sizeof out, "%s (%s, parent %d)", text, who, k->ppid);
    return reply_str(result, out);
}

/* socket_path writes argument 0, or else STATE/plugbayd.sock found from the
 * working folder STATE/data/test/ID. */
static int socket_path(bay_invocation *call, const bay_value *args, char *path, size_t len)
{
    const char *given;
    if (bay_value_len(args) > 0) {
        if (bay_arg_str(call, args, 0, &given))
            return BAY_ETYPE;
        snprintf(path, len, "%s", given);
        return 0;
    }
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == NULL)
        return bay_call_error(call, BAY_EIO, "getcwd: %s", strerror(errno));
    for (int i = 0; i < 3; i++) {
        char *slash = strrchr(cwd, '/');
        if (slash)
            *slash = '\0';
    }
    if ((size_t)snprintf(path, len, "%s/plugbayd.sock", cwd) >= len)
        return bay_call_error(call, BAY_EINVAL, "the state folder's path is too long");
    return 0;
}

/* Who knocks: the worker itself, a child it forks, or a grandchild orphaned
 * once its parent has exited. */
enum knocker { WORKER, CHILD, ORPHAN };

/* knock_by has knocker rendezvous at plugbayd's socket; a forked knocker
 * passes what it got back through a pipe. */
static int knock_by(bay_invocation *call, const bay_value *args, bay_value **result, enum knocker who)
{
    static const char *const names[] = {"the worker", "a child", "an orphaned grandchild"};
    char path[PATH_MAX];
    void *frame;
    size_t len;
    int rc = socket_path(call, args, path, sizeof path);
    if (rc || (rc = hello(NULL, &frame, &len)))
        return rc;
    static knock k;
    memset(&k, 0, sizeof k);
    int fds[2];
    pid_t pid = who == WORKER ? 0 : pipe(fds) == 0 ? fork() : -1;
    if (who == WORKER) {
        rendezvous(path, frame, len, &k);
    } else if (pid < 0) {
        snprintf(k.what, sizeof k.what, "refused: fork: %s", strerror(errno));
    } else if (pid == 0) {
        close(fds[0]);
        pid_t parent = getpid();
        if (who == ORPHAN && fork() != 0)
            _exit(0);
        for (int i = 0; who == ORPHAN && getppid() == parent && i < 10000; i++)
            usleep(1000); /* until its parent's exit had it adopted */
        rendezvous(path, frame, len, &k);
        _exit(full_write(fds[1], &k, sizeof k) ? 1 : 0);
    } else {
        close(fds[1]);
        if (full_read(fds[0], &k, sizeof k) != 0)
            snprintf(k.what, sizeof k.what, "the %s said nothing", who == ORPHAN ? "grandchild" : "child");
        close(fds[0]);
        waitpid(pid, NULL, 0);
    }
    free(frame);
    return answer(result, names[who], &k);
}

static int knock_self(bay_invocation *call, const bay_value *args, bay_value **result)
{
    return knock_by(call, args, result, WORKER);
}

static int knock_child(bay_invocation *call, const bay_value *args, bay_value **result)
{
    return knock_by(call, args, result, CHILD);
}

static int knock_orphan(bay_invocation *call, const bay_value *args, bay_value **result)
{
    return knock_by(call, args, result, ORPHAN);
}

/* dial takes a connection plugbayd made for a host (arguments: its socket
 * file and token) before that host does, and sends HELLO with the token. */
static int dial(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const char *path, *token;
    void *frame;
    size_t len;
    if (bay_arg_str(call, args, 0, &path) || bay_arg_str(call, args, 1, &token))
        return BAY_ETYPE;
    int rc = hello(token, &frame, &len);
    if (rc)
        return rc;
    static knock k;
    memset(&k, 0, sizeof k);
    unsigned char hops[4] = {0, 0, 0, 1}; /* pair1: the hop count */
    exchange(path, SP_PAIR1, hops, sizeof hops, frame, len, sizeof hops, &k);
    free(frame);
    return answer(result, "the worker", &k);
}

BAY_PLUGIN(NULL, NULL, {"knock", knock_self}, {"knock_child", knock_child}, {"knock_orphan", knock_orphan},
           {"dial", dial});
