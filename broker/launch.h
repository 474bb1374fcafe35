/* broker/launch.h — starting a worker process, in user, PID and IPC namespaces
 * of its own where the kernel gives them.
 *
 * plugbayd runs NNG's threads, so a worker is never forked: like posix_spawn,
 * launch_worker clones a child that shares plugbayd's memory while plugbayd's
 * thread waits (CLONE_VM | CLONE_VFORK), makes only raw system calls, and
 * executes the worker. With namespaces the child is created in a new user
 * namespace (plugbayd's uid and gid mapped to 0, written by the child itself)
 * and a new PID namespace, in which the worker is pid 1: no pid outside its
 * worker names a process it can see, and every process it starts (with
 * process.spawn) dies with it; and a new IPC namespace, in which no System V
 * key or POSIX message queue of the user's is found.
 *
 * With a uid of its own (plugbayd as root, --plugin-uids), the child is
 * cloned into the new PID and IPC namespaces only; it drops to that uid and
 * gid (no supplementary groups, no capability left), and only then makes its
 * user namespace, mapping the new ids to 0 as an unprivileged process would.
 * The PID and IPC namespaces are then owned by the first user namespace,
 * not the worker's: it can make no mount of /proc or of IPC there. */
#ifndef BAY_LAUNCH_H
#define BAY_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <plugbay/error.h>

/* What to start, and how. */
typedef struct launch_spec {
    const char *exe;
    char *const *argv;
    char *const *envp;
    const char *dir; /* its working folder */
    int out_fd;      /* its stdout and stderr */
    int in_fd;       /* its stdin; -1: /dev/null */
    bool namespaces; /* in a user, a PID and an IPC namespace of its own */
    bool zygote;     /* with namespaces: in a user namespace only, so that the workers it
                      * forks (zygote.h) get plugbayd as parent and PID and IPC namespaces of their own */
    uid_t uid;       /* with namespaces: the uid and gid it runs as, 0 for plugbayd's own */
} launch_spec;

/* The variables of plugbayd's environment every process it starts gets,
 * NULL-terminated: PATH, LANG and the sanitizers' options. */
extern const char *const launch_passed_env[];

/* launch_env returns the environment of a process plugbayd starts with
 * nothing of its own: launch_passed_env's variables and extra's (NULL or
 * NULL-terminated), those plugbayd has. The caller frees it with
 * bay__strv_free; NULL when out of memory. */
char **launch_env(const char *const *extra);

/* launch_exit_text describes a child's end, status as waitpid gives it: "was
 * killed by signal 9 (SIGKILL)" (", core dumped") or "exited with status 1". */
void launch_exit_text(int status, char *out, size_t len);

/* launch_probe tells whether workers can have user, PID and IPC namespaces of
 * their own here: the kernel lets plugbayd make them and map its ids, and it
 * has SO_PEERPIDFD, which a worker's fast path needs to check a host whose
 * pid it cannot see. false with the reason in err (NULL allowed; BAY_EIO). */
bool launch_probe(bay_error *err);

/* launch_worker starts s->exe as the leader of a new session, with every
 * signal's default action, an empty signal mask and descriptors 0-2 only;
 * *pid is its pid as plugbayd sees it. Returns 0, or an errno with the step
 * that failed in what (a static string). */
int launch_worker(const launch_spec *s, pid_t *pid, const char **what);

#endif
