/* bridges/common/sandbox.c — the OS sandbox every worker enters before it runs any plugin code.
 *
 * Layers, each written once for every language: rlimits, PR_SET_NO_NEW_PRIVS,
 * Landlock (files the plugin may read or write, TCP ports it may connect to,
 * and scopes: no signal to and no abstract Unix socket of a process outside
 * the worker) and a seccomp filter built with libseccomp. Landlock is called through
 * syscall(2) by hand: glibc has no wrappers and Debian ships no library for it. */
#include "sandbox.h"

#include "proc.h"
#include "refusals.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <malloc.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <plugbay/error.h>

/* Newer Landlock rights than Debian 12's kernel headers know. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#define BAY_LANDLOCK_RULE_NET_PORT 2
#define BAY_LANDLOCK_NET_BIND_TCP (1ULL << 0)
#define BAY_LANDLOCK_NET_CONNECT_TCP (1ULL << 1)
/* ABI 6 (Linux 6.12): a domain's processes reach no abstract Unix socket and
 * signal no process outside the domain (each worker is a domain of its own). */
#define BAY_LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define BAY_LANDLOCK_SCOPE_SIGNAL (1ULL << 1)

struct bay__landlock_ruleset_attr {
    uint64_t handled_access_fs, handled_access_net, scoped; /* scoped: ABI >= 6 */
};

struct bay__landlock_net_port_attr {
    uint64_t allowed_access, port;
} __attribute__((packed));

#if defined(__SANITIZE_ADDRESS__)
#define BAY_UNDER_ASAN 1 /* LeakSanitizer stops the world with clone and ptrace; ASan maps terabytes of shadow */
#else
#define BAY_UNDER_ASAN 0
#endif

static int64_t env_int(const char *name)
{
    const char *v = getenv(name);
    return v ? strtoll(v, NULL, 10) : 0;
}

int bay__sandbox_from_env(bay__sandbox *s)
{
    const char *on = getenv("PLUGBAY_SANDBOX"), *url = getenv("PLUGBAY_URL");
    *s = (bay__sandbox){
        .plugin_dir = getenv("PLUGBAY_SANDBOX_PLUGIN_DIR"),
        .data_dir = getenv("PLUGBAY_SANDBOX_DATA_DIR"),
        .grants = getenv("PLUGBAY_SANDBOX_GRANTS") ? getenv("PLUGBAY_SANDBOX_GRANTS") : "",
        .memory_mb = env_int("PLUGBAY_SANDBOX_MEMORY_MB"),
        .open_files = env_int("PLUGBAY_SANDBOX_OPEN_FILES"),
        .cpu_seconds = env_int("PLUGBAY_SANDBOX_CPU_SECONDS"),
        .hide = getenv("PLUGBAY_SANDBOX_HIDE"),
        .keep = url && strncmp(url, "ipc://", 6) == 0 ? url + 6 : NULL,
    };
    return on && strcmp(on, "1") == 0;
}

/* granted tells whether one of the grants (lines) starts with prefix. */
static bool granted(const bay__sandbox *s, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *g = s->grants; *g; g += strcspn(g, "\n"), g += *g == '\n')
        if (strncmp(g, prefix, n) == 0)
            return true;
    return false;
}

/* fail fills err with code and "sandbox: WHAT: <errno's words>", and returns code. */
static int fail(bay_error *err, int code, const char *what)
{
    return bay_error_set(err, code, NULL, "sandbox: %s: %s", what, strerror(errno));
}

static int set_limit(int resource, int64_t value, const char *what, bay_error *err)
{
    struct rlimit r = {(rlim_t)value, (rlim_t)value};
    return setrlimit(resource, &r) == 0 ? 0 : fail(err, BAY_EIO, what);
}

static int limits(const bay__sandbox *s, bay_error *err)
{
    int rc = set_limit(RLIMIT_CORE, 0, "RLIMIT_CORE", err);
    if (rc == 0 && s->open_files > 0)
        rc = set_limit(RLIMIT_NOFILE, s->open_files, "RLIMIT_NOFILE", err);
    if (rc == 0 && s->cpu_seconds > 0)
        rc = set_limit(RLIMIT_CPU, s->cpu_seconds, "RLIMIT_CPU", err);
    return rc;
}

/* ---- Landlock -------------------------------------------------------------- */

#define FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_EXEC (FS_READ | LANDLOCK_ACCESS_FS_EXECUTE)
#define FS_WRITE                                                                                                \
    (FS_READ | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |  \
     LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SYM |                   \
     LANDLOCK_ACCESS_FS_TRUNCATE)

/* allow_path lets the process reach path with access (limited to what the ruleset handles). */
static void allow_path(int ruleset, uint64_t handled, const char *path, uint64_t access)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return; /* a path this machine lacks needs no rule */
    struct stat st;
    if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) /* files take only file rights */
        access &= LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
                  LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV;
    struct landlock_path_beneath_attr rule = {.allowed_access = access & handled, .parent_fd = fd};
    syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
    close(fd);
}

/* allow_grants adds the fs.read:PATH and net.connect:HOST:PORT grants. */
static void allow_grants(const bay__sandbox *s, int ruleset, uint64_t handled, bool net)
{
    for (const char *g = s->grants; *g; g += strcspn(g, "\n"), g += *g == '\n') {
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)strcspn(g, "\n"), g);
        if (strncmp(line, "fs.read:", 8) == 0)
            allow_path(ruleset, handled, line + 8, FS_READ);
        const char *port = strncmp(line, "net.connect:", 12) == 0 ? strrchr(line, ':') : NULL;
        if (port && net) {
            struct bay__landlock_net_port_attr rule = {BAY_LANDLOCK_NET_CONNECT_TCP, strtoull(port + 1, NULL, 10)};
            syscall(SYS_landlock_add_rule, ruleset, BAY_LANDLOCK_RULE_NET_PORT, &rule, 0);
        }
    }
}

static int landlock(const bay__sandbox *s, void (*warn)(const char *), bay_error *err)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 6 && warn)
        warn("Landlock scoping (ABI 6) is not available in this kernel: abstract Unix sockets outside the worker "
             "(other workers' fast-channel sockets, which still want a one-time token from plugbayd) can be "
             "reached; signals to other processes are still refused by the seccomp filter, but when process.spawn "
             "is granted only those addressed to plugbayd's pid are: a signal to one of plugbayd's threads by its "
             "thread id, or to another process of this user, is not stopped");
    if (abi < 1) {
        if (warn)
            warn("Landlock is not available in this kernel: file access is not restricted beyond Unix permissions");
        return 0;
    }
    uint64_t handled = FS_WRITE | LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
                       LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK;
    if (abi < 3)
        handled &= ~LANDLOCK_ACCESS_FS_TRUNCATE;
    if (abi >= 2)
        handled |= LANDLOCK_ACCESS_FS_REFER;
    /* With net.* granted but no port, TCP stays open to any port; with ports, only those. */
    bool net = abi >= 4 && !granted(s, "net.connect:*");
    if (abi < 4 && granted(s, "net.") && warn)
        warn("Landlock network rules (ABI 4) are not available in this kernel: the net.* grants open every TCP port, "
             "not only the granted ones");
    uint64_t scoped = abi >= 6 ? BAY_LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | BAY_LANDLOCK_SCOPE_SIGNAL : 0;
    struct bay__landlock_ruleset_attr attr = {handled, net ? BAY_LANDLOCK_NET_BIND_TCP | BAY_LANDLOCK_NET_CONNECT_TCP : 0,
                                             scoped};
    /* The kernel takes the struct as long as the ABI knows it. */
    size_t size = scoped ? sizeof attr
                  : net  ? offsetof(struct bay__landlock_ruleset_attr, scoped)
                         : sizeof attr.handled_access_fs;
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    if (ruleset < 0)
        return fail(err, BAY_EIO, "landlock_create_ruleset");
    static const char *const system_ro[] = {"/usr", "/lib", "/lib64", "/etc/ld.so.cache", "/etc/localtime",
                                            "/proc/self", "/sys/devices/system/cpu", "/dev/urandom"};
    for (size_t i = 0; i < sizeof system_ro / sizeof *system_ro; i++)
        allow_path(ruleset, handled, system_ro[i], FS_EXEC);
    allow_path(ruleset, handled, "/dev/null", FS_READ | LANDLOCK_ACCESS_FS_WRITE_FILE);
    if (s->plugin_dir)
        allow_path(ruleset, handled, s->plugin_dir, FS_EXEC);
    if (s->data_dir)
        allow_path(ruleset, handled, s->data_dir, FS_WRITE);
    allow_grants(s, ruleset, handled, net);
    int rc = syscall(SYS_landlock_restrict_self, ruleset, 0) == 0 ? 0 : fail(err, BAY_EIO, "landlock_restrict_self");
    close(ruleset);
    return rc;
}

/* ---- namespaces ------------------------------------------------------------ */

/* write_text writes text to path (uid_map and the like); 0, or -1 with errno. */
static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* map_id maps id outside to 0 inside the new user namespace (file: uid_map or gid_map). */
static int map_id(const char *file, unsigned id)
{
    char map[64];
    snprintf(map, sizeof map, "0 %u 1", id);
    return write_text(file, map);
}

/* cover hides path in this mount namespace: an empty read-only tmpfs over a
 * folder, in which keep (when it lies there) is bound back from keep_fd;
 * /dev/null over anything else. 0, or -1 with errno. */
static int cover(const char *path, const char *keep, int keep_fd)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1; /* nothing to hide */
    if (!S_ISDIR(st.st_mode))
        return mount("/dev/null", path, NULL, MS_BIND, NULL);
    if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0500") != 0)
        return -1;
    size_t n = strlen(path);
    if (keep && keep_fd >= 0 && strncmp(keep, path, n) == 0 && keep[n] == '/' && !strchr(keep + n + 1, '/')) {
        char from[64];
        snprintf(from, sizeof from, "/proc/self/fd/%d", keep_fd);
        int fd = open(keep, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0 || close(fd) != 0 || mount(from, keep, NULL, MS_BIND, NULL) != 0)
            return -1;
    }
    return mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

/* drop_capabilities empties the worker's capability sets (all of them, in
 * its user namespace; all of root's, when plugbayd runs as root without one). */
static void drop_capabilities(void)
{
    struct __user_cap_header_struct head = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {{0}};
    syscall(SYS_capset, &head, none);
}

/* own_pid_namespace tells whether this worker is pid 1 of a PID namespace of
 * its own, which it is in a user namespace of its own too (plugbayd started
 * it so, broker/launch.c, or its zygote forked it so, zygote.c): no pid
 * outside the worker names a process it can see. */
static bool own_pid_namespace(void)
{
    return getpid() == 1;
}

const char *bay__sandbox_user_namespace(void)
{
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER) != 0)
        return "unshare(CLONE_NEWUSER)";
    if (map_id("/proc/self/uid_map", uid) != 0)
        return "uid_map";
    if (write_text("/proc/self/setgroups", "deny") != 0 || map_id("/proc/self/gid_map", gid) != 0)
        return "gid_map";
    return NULL;
}

/* own_user_namespace puts the worker in a user namespace of its own, unless
 * it is in one already (own_pid_namespace): NULL, or what failed. */
static const char *own_user_namespace(void)
{
    return own_pid_namespace() ? NULL : bay__sandbox_user_namespace();
}

/* hide_sockets puts the worker in a mount namespace of its own (owned by its
 * user namespace) in which plugbayd's sockets (s->hide) are covered, so that
 * no path leads a plugin to them, then drops every capability. Where the
 * kernel gives no user namespace it says so through warn: plugbayd's peer
 * check still refuses a worker that connects (broker/peer.c). */
static void hide_sockets(const bay__sandbox *s, void (*warn)(const char *))
{
    char line[600];
    if (s->hide && *s->hide) {
        int keep_fd = -1;
        const char *failed = own_user_namespace();
        if (failed == NULL && unshare(CLONE_NEWNS) != 0)
            failed = "unshare(CLONE_NEWNS)";
        else if (failed == NULL && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
            failed = "making its mounts private";
        else if (failed == NULL && s->keep) /* opened in the new namespace: a bind mount takes its source from there */
            keep_fd = open(s->keep, O_PATH | O_CLOEXEC);
        for (const char *p = s->hide; !failed && *p; p += strcspn(p, "\n"), p += *p == '\n') {
            char path[512];
            snprintf(path, sizeof path, "%.*s", (int)strcspn(p, "\n"), p);
            if (cover(path, s->keep, keep_fd) != 0) {
                snprintf(line, sizeof line, "covering %s", path);
                failed = line;
            }
        }
        if (failed && warn) {
            char note[900];
            snprintf(note, sizeof note,
                     "plugbayd's sockets stay reachable by path from this worker (%s: %s); plugbayd's peer check still "
                     "refuses a worker that connects",
                     failed, strerror(errno));
            warn(note);
        }
        if (keep_fd >= 0)
            close(keep_fd);
    }
    drop_capabilities();
}

/* ---- seccomp --------------------------------------------------------------- */

/* What a refused call gets: a trap the worker counts (refusals.c) that then
 * fails the call with EPERM, or EPERM straight from the filter where the trap
 * cannot be handled. */
static uint32_t refused = SCMP_ACT_ERRNO(EPERM);

static int deny(scmp_filter_ctx ctx, int nr)
{
    return seccomp_rule_add(ctx, refused, nr, 0);
}

/* The calls that send a signal to a process or thread named by its first argument. */
static const int signalling[] = {SCMP_SYS(kill), SCMP_SYS(tkill), SCMP_SYS(tgkill), SCMP_SYS(rt_sigqueueinfo),
                                 SCMP_SYS(rt_tgsigqueueinfo)};

/* refuse_signals_beyond_self lets kill, tkill, tgkill and rt_(tg)sigqueueinfo
 * reach this process only: its pid as it is now, compared on all 64 bits, so
 * a pid with junk in the upper half is refused too. abort() and pthread_kill
 * (the Python and wasm workers interrupt their main thread so) signal itself. */
static int refuse_signals_beyond_self(scmp_filter_ctx ctx)
{
    const scmp_datum_t self = (scmp_datum_t)getpid();
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof signalling / sizeof *signalling; i++)
        rc = seccomp_rule_add(ctx, refused, signalling[i], 1, SCMP_A0(SCMP_CMP_NE, self));
    return rc;
}

/* refuse_signals_to_broker is the rule instead of refuse_signals_beyond_self
 * when process.spawn lets the worker signal its children: no signal to
 * plugbayd's pid (the parent), none to a process group or to -1 (any pid of
 * 2^31 or more, as the kernel reads an int). plugbayd's other threads and
 * other processes are Landlock's (ABI 6): seccomp cannot know their ids. */
static int refuse_signals_to_broker(scmp_filter_ctx ctx)
{
    const scmp_datum_t broker = (scmp_datum_t)getppid();
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof signalling / sizeof *signalling; i++)
        rc = (!own_pid_namespace() && seccomp_rule_add(ctx, refused, signalling[i], 1, SCMP_A0(SCMP_CMP_EQ, broker))) ||
             seccomp_rule_add(ctx, refused, signalling[i], 1, SCMP_A0(SCMP_CMP_GT, INT32_MAX));
    return rc;
}

/* refuse_signal_owners refuses F_SETOWN (but to itself), F_SETOWN_EX and the
 * socket ioctls that set an owner: the kernel would send that owner SIGIO, or
 * whatever signal F_SETSIG names. The
 * command is an unsigned int to the kernel: only its low 32 bits are compared. */
static int refuse_signal_owners(scmp_filter_ctx ctx)
{
    const scmp_datum_t self = (scmp_datum_t)getpid();
    return seccomp_rule_add(ctx, refused, SCMP_SYS(fcntl), 2,
                            SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, F_SETOWN), SCMP_A2(SCMP_CMP_NE, self)) ||
           seccomp_rule_add(ctx, refused, SCMP_SYS(fcntl), 1,
                            SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, F_SETOWN_EX)) ||
           seccomp_rule_add(ctx, refused, SCMP_SYS(ioctl), 1,
                            SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, FIOSETOWN)) ||
           seccomp_rule_add(ctx, refused, SCMP_SYS(ioctl), 1,
                            SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, SIOCSPGRP));
}

/* refuse_other_processes_settings refuses the calls that set another
 * process's limits, priority or CPUs (plugbayd's RLIMIT_CPU or RLIMIT_NOFILE
 * would stop it; Landlock has no hook for them): only pid 0, the caller, is
 * allowed, which is what glibc's setrlimit and friends pass. */
static int refuse_other_processes_settings(scmp_filter_ctx ctx)
{
    static const int by_pid[] = {SCMP_SYS(prlimit64), SCMP_SYS(sched_setaffinity), SCMP_SYS(sched_setscheduler),
                                 SCMP_SYS(sched_setparam), SCMP_SYS(sched_setattr), SCMP_SYS(migrate_pages),
                                 SCMP_SYS(move_pages)};
    static const int by_who[] = {SCMP_SYS(setpriority), SCMP_SYS(ioprio_set)}; /* (which, who, …) */
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof by_pid / sizeof *by_pid; i++)
        rc = seccomp_rule_add(ctx, refused, by_pid[i], 1, SCMP_A0(SCMP_CMP_NE, 0));
    for (size_t i = 0; rc == 0 && i < sizeof by_who / sizeof *by_who; i++)
        rc = seccomp_rule_add(ctx, refused, by_who[i], 1, SCMP_A1(SCMP_CMP_NE, 0));
    return rc;
}

static int seccomp(const bay__sandbox *s, bay_error *err)
{
    static const int admin[] = {
        SCMP_SYS(mount), SCMP_SYS(umount2), SCMP_SYS(open_tree), SCMP_SYS(move_mount), SCMP_SYS(fsopen),
        SCMP_SYS(fsconfig), SCMP_SYS(fsmount), SCMP_SYS(fspick), SCMP_SYS(mount_setattr), SCMP_SYS(pivot_root), SCMP_SYS(chroot), SCMP_SYS(swapon),
        SCMP_SYS(swapoff), SCMP_SYS(reboot), SCMP_SYS(kexec_load), SCMP_SYS(kexec_file_load),
        SCMP_SYS(init_module), SCMP_SYS(finit_module), SCMP_SYS(delete_module), SCMP_SYS(bpf),
        SCMP_SYS(perf_event_open), SCMP_SYS(userfaultfd), SCMP_SYS(keyctl), SCMP_SYS(add_key),
        SCMP_SYS(request_key), SCMP_SYS(unshare), SCMP_SYS(setns), SCMP_SYS(acct), SCMP_SYS(settimeofday),
        SCMP_SYS(clock_settime), SCMP_SYS(adjtimex), SCMP_SYS(iopl), SCMP_SYS(ioperm), SCMP_SYS(quotactl),
        SCMP_SYS(open_by_handle_at), SCMP_SYS(personality), SCMP_SYS(process_vm_writev), SCMP_SYS(sethostname),
        SCMP_SYS(setdomainname), SCMP_SYS(syslog),
        /* io_uring makes sockets (IORING_OP_SOCKET) and more behind the filter's back. */
        SCMP_SYS(io_uring_setup), SCMP_SYS(io_uring_enter), SCMP_SYS(io_uring_register),
        SCMP_SYS(pidfd_open), SCMP_SYS(pidfd_send_signal), SCMP_SYS(pidfd_getfd),
        /* System V IPC keys are the user's (a host's segment would be the plugin's for the asking), and
         * segments and queues hold kernel memory that outlives the worker, in none of its mappings. */
        SCMP_SYS(shmget), SCMP_SYS(shmat), SCMP_SYS(shmctl), SCMP_SYS(msgget), SCMP_SYS(msgsnd), SCMP_SYS(msgrcv),
        SCMP_SYS(msgctl), SCMP_SYS(semget), SCMP_SYS(semop), SCMP_SYS(semtimedop), SCMP_SYS(semctl),
        SCMP_SYS(mq_open), SCMP_SYS(mq_unlink), SCMP_SYS(mq_timedsend), SCMP_SYS(mq_timedreceive),
        SCMP_SYS(mq_notify), SCMP_SYS(mq_getsetattr),
    };
    /* LeakSanitizer stops the world with ptrace from a cloned process: sanitizer builds keep both. */
    static const int debug[] = {SCMP_SYS(ptrace), SCMP_SYS(process_vm_readv)};
    refused = bay__refusals_trap() ? SCMP_ACT_TRAP : SCMP_ACT_ERRNO(EPERM);
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (ctx == NULL)
        return fail(err, BAY_EIO, "seccomp_init");
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof admin / sizeof *admin; i++)
        rc = deny(ctx, admin[i]);
    for (size_t i = 0; rc == 0 && !BAY_UNDER_ASAN && i < sizeof debug / sizeof *debug; i++)
        rc = deny(ctx, debug[i]);
    if (rc == 0)
        rc = granted(s, "process.spawn") ? refuse_signals_to_broker(ctx) : refuse_signals_beyond_self(ctx);
    if (rc == 0)
        rc = refuse_signal_owners(ctx);
    if (rc == 0)
        rc = refuse_other_processes_settings(ctx);
    if (rc == 0 && !granted(s, "process.spawn")) {
        rc = deny(ctx, SCMP_SYS(execve)) || deny(ctx, SCMP_SYS(execveat)) || deny(ctx, SCMP_SYS(fork)) ||
             deny(ctx, SCMP_SYS(vfork));
        /* clone3 passes its flags in memory seccomp cannot read: make glibc fall back to clone. */
        if (rc == 0)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
        /* clone without CLONE_THREAD makes a process; threads stay allowed. */
        if (rc == 0 && !BAY_UNDER_ASAN)
            rc = seccomp_rule_add(ctx, refused, SCMP_SYS(clone), 1,
                                  SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
    }
    if (rc == 0 && !granted(s, "net.")) {
        /* Only Unix sockets (the broker's connection) without a net.* grant. */
        rc = seccomp_rule_add(ctx, refused, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX)) ||
             seccomp_rule_add(ctx, refused, SCMP_SYS(socketpair), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX));
    }
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc) {
        errno = -rc > 0 ? -rc : EINVAL;
        return fail(err, BAY_EIO, "seccomp filter");
    }
    return 0;
}

/* status_kb reads one field of /proc/self/status, in kB (0 when missing). */
static int64_t status_kb(const char *field)
{
    int64_t kb = bay__proc_kb(0, "status", field);
    return kb < 0 ? 0 : kb;
}

int bay__sandbox_limit_memory(const bay__sandbox *s, bay_error *err)
{
    if (s->memory_mb <= 0 || BAY_UNDER_ASAN)
        return 0;
    int rc = set_limit(RLIMIT_DATA, (status_kb("VmData") << 10) + (s->memory_mb << 20), "RLIMIT_DATA", err);
    int64_t as = (status_kb("VmSize") << 10) + ((s->memory_mb + BAY_SANDBOX_AS_SLACK_MB) << 20);
    return rc ? rc : set_limit(RLIMIT_AS, as, "RLIMIT_AS", err);
}

int bay__sandbox_apply(const bay__sandbox *s, void (*warn)(const char *line), bay_error *err)
{
    /* One malloc arena for every thread: each further one reserves 64 MiB of
     * address space as a thread first allocates, which RLIMIT_AS would count. */
    if (s->memory_mb > 0 && !BAY_UNDER_ASAN)
        mallopt(M_ARENA_MAX, 1);
    hide_sockets(s, warn);
    int rc = limits(s, err);
    if (rc == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        rc = fail(err, BAY_EIO, "PR_SET_NO_NEW_PRIVS");
    if (rc == 0)
        rc = landlock(s, warn, err);
    if (rc == 0)
        rc = seccomp(s, err);
    return rc;
}
