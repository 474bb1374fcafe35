/* tests/plugins/hostile/plugin.c — test/hostile: each function tries one thing a plugin is not allowed to do.
 *
 * Every attempt answers what the operating system said ("refused: Permission
 * denied") or, if the attempt worked, "ALLOWED ..." — which the end-to-end
 * tests treat as a sandbox failure. The doors out of the worker (signals,
 * abstract sockets, io_uring, shared memory) are tried with raw system calls
 * (syscall(2)), as a plugin that bypasses libc's wrappers would. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/ipc.h>
#include <sys/socket.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ring.h" /* the layout of a fast channel's memory, which forge_stream writes into */
#include "test_plugin.h"

/* outcome answers "refused: <errno text>" when rc < 0, else "ALLOWED <what>". */
static int outcome(bay_value **result, int rc, const char *what)
{
    char text[300];
    if (rc < 0)
        snprintf(text, sizeof text, "refused: %s", strerror(errno));
    else
        snprintf(text, sizeof text, "ALLOWED %s", what);
    return reply_str(result, text);
}

/* open_path tries to open argument 0 with flags. */
static int open_path(bay_invocation *call, const bay_value *args, bay_value **result, int flags)
{
    const char *path;
    if (bay_arg_str(call, args, 0, &path))
        return BAY_ETYPE;
    int fd = open(path, flags, 0600);
    if (fd >= 0)
        close(fd);
    return outcome(result, fd, path);
}

static int read_file(bay_invocation *call, const bay_value *args, bay_value **result)
{
    return open_path(call, args, result, O_RDONLY);
}

static int write_file(bay_invocation *call, const bay_value *args, bay_value **result)
{
    return open_path(call, args, result, O_WRONLY | O_CREAT | O_TRUNC);
}

static int open_socket(bay_invocation *call, const bay_value *args, bay_value **result)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        connect(fd, (struct sockaddr *)&a, sizeof a);
        close(fd);
    }
    return outcome(result, fd, "a TCP socket");
}

static int run_shell(bay_invocation *call, const bay_value *args, bay_value **result)
{
    char *argv[] = {"/bin/sh", "-c", "id", NULL};
    int rc = execve(argv[0], argv, NULL); /* returns only when refused */
    return outcome(result, rc, "execve of /bin/sh");
}

static int fork_bomb(bay_invocation *call, const bay_value *args, bay_value **result)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return outcome(result, pid, "fork");
}

/* allocate touches 1 MiB blocks until malloc fails, then frees them and says how far it got. */
static int allocate(bay_invocation *call, const bay_value *args, bay_value **result)
{
    void **blocks = NULL;
    size_t n = 0;
    for (;;) {
        void **grown = realloc(blocks, (n + 1) * sizeof *grown);
        void *b = grown ? malloc(1 << 20) : NULL;
        if (grown)
            blocks = grown;
        if (b == NULL)
            break;
        memset(b, 1, 1 << 20);
        blocks[n++] = b;
    }
    for (size_t i = 0; i < n; i++)
        free(blocks[i]);
    free(blocks);
    return bay_call_error(call, BAY_ENOMEM, "allocation refused after %zu MiB", n);
}

/* signal_by sends SIGKILL to pid through system call number i of send_signals'
 * list (a pidfd for the last); returns what the kernel answered. */
static long signal_by(int i, long pid)
{
    siginfo_t info = {.si_signo = SIGKILL, .si_code = SI_QUEUE};
    switch (i) {
    case 0: return syscall(SYS_kill, pid, SIGKILL);
    case 1: return syscall(SYS_tgkill, pid, pid, SIGKILL);
    case 2: return syscall(SYS_tkill, pid, SIGKILL);
    case 3: return syscall(SYS_rt_sigqueueinfo, pid, SIGKILL, &info);
    case 4: return syscall(SYS_rt_tgsigqueueinfo, pid, pid, SIGKILL, &info);
    case 5: return syscall(SYS_kill, pid | 1L << 32, SIGKILL); /* the kernel reads an int */
    case 6: return syscall(SYS_tkill, pid | 1L << 32, SIGKILL);
    default: {
        long fd = syscall(SYS_pidfd_open, pid, 0);
        long rc = fd < 0 ? fd : syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
        int e = errno;
        if (fd >= 0)
            close((int)fd);
        errno = e;
        return rc;
    }
    }
}

/* send_signals sends SIGKILL to argument 0 (a pid as plugbayd numbers it)
 * by every system call that signals a process; "ALLOWED" names the first that
 * worked, "refused" gives the last refusal. */
static int send_signals(bay_invocation *call, const bay_value *args, bay_value **result)
{
    static const char *const calls[] = {"kill", "tgkill", "tkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
                                        "kill with high bits set", "tkill with high bits set",
                                        "pidfd_open and pidfd_send_signal"};
    const char *arg;
    if (bay_arg_str(call, args, 0, &arg))
        return BAY_ETYPE;
    long pid = strtol(arg, NULL, 10);
    char text[120];
    for (int i = 0; i < 8; i++)
        if (signal_by(i, pid) >= 0) {
            snprintf(text, sizeof text, "%s of SIGKILL to pid %ld", calls[i], pid);
            return outcome(result, 0, text);
        }
    return outcome(result, -1, "");
}

/* set_others sets the limits, priority and CPUs of process argument 0 (plugbayd's
 * pid) by every call that takes a pid; "ALLOWED" names the first that worked. */
static int set_others(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const char *arg;
    if (bay_arg_str(call, args, 0, &arg))
        return BAY_ETYPE;
    long pid = strtol(arg, NULL, 10);
    struct rlimit one = {1, 1};
    unsigned long cpus = 1;
    struct sched_param prio = {0};
    if (syscall(SYS_prlimit64, pid, RLIMIT_CPU, &one, NULL) >= 0)
        return outcome(result, 0, "prlimit64 RLIMIT_CPU");
    if (syscall(SYS_setpriority, PRIO_PROCESS, pid, 19) >= 0)
        return outcome(result, 0, "setpriority");
    if (syscall(SYS_sched_setaffinity, pid, sizeof cpus, &cpus) >= 0)
        return outcome(result, 0, "sched_setaffinity");
    if (syscall(SYS_sched_setscheduler, pid, SCHED_IDLE, &prio) >= 0)
        return outcome(result, 0, "sched_setscheduler");
    return outcome(result, -1, "");
}

/* sees asks the kernel for the session of process argument 0 (a pid as
 * plugbayd numbers it), which it gives for any process the worker can see;
 * "ALLOWED" also says the worker's own pid and its parent's. */
static int sees(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const char *arg;
    if (bay_arg_str(call, args, 0, &arg))
        return BAY_ETYPE;
    long sid = syscall(SYS_getsid, strtol(arg, NULL, 10));
    char text[120];
    snprintf(text, sizeof text, "session %ld of pid %s, seen from pid %ld (parent %ld)", sid, arg, syscall(SYS_getpid),
             syscall(SYS_getppid));
    return outcome(result, sid < 0 ? -1 : 0, text);
}

/* sysv reaches for System V IPC and POSIX message queues: the segment,
 * queue and semaphore set of key argument 0 (a host's, of the same user),
 * then new ones of its own (kernel memory that outlives a worker and is in
 * none of its mappings); "ALLOWED" names the first call that worked. */
static int sysv(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const char *arg;
    if (bay_arg_str(call, args, 0, &arg))
        return BAY_ETYPE;
    long key = strtol(arg, NULL, 0);
    struct mq_attr attr = {.mq_maxmsg = 1, .mq_msgsize = 1};
    const char *what[] = {"shmget of the host's segment", "msgget of the host's queue", "semget of the host's set",
                          "shmget of a new 64 MiB segment", "mq_open of a new queue"};
    long rc[5];
    rc[0] = syscall(SYS_shmget, key, 0, 0);
    rc[1] = rc[0] < 0 ? syscall(SYS_msgget, key, 0) : 0;
    rc[2] = rc[1] < 0 ? syscall(SYS_semget, key, 0, 0) : 0;
    rc[3] = rc[2] < 0 ? syscall(SYS_shmget, IPC_PRIVATE, 64L << 20, IPC_CREAT | 0600) : 0;
    rc[4] = rc[3] < 0 ? syscall(SYS_mq_open, "plugbay-hostile", O_CREAT | O_RDWR, 0600, &attr) : 0;
    for (int i = 0; i < 5; i++)
        if (rc[i] >= 0)
            return outcome(result, 0, what[i]);
    return outcome(result, -1, "");
}

/* connect_abstract connects a Unix stream socket to the abstract name argument 0. */
static int connect_abstract(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const char *name;
    if (bay_arg_str(call, args, 0, &name))
        return BAY_ETYPE;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t n = strlen(name) < sizeof a.sun_path - 1 ? strlen(name) : sizeof a.sun_path - 1;
    memcpy(a.sun_path + 1, name, n);
    long fd = syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    long rc = fd < 0 ? fd : syscall(SYS_connect, fd, &a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n));
    int e = errno;
    if (fd >= 0)
        close((int)fd);
    errno = e;
    return outcome(result, (int)rc, "a connection to an abstract Unix socket outside its worker");
}

/* setup_io_uring asks for an io_uring, whose IORING_OP_SOCKET would make sockets socket(2) refuses. */
static int setup_io_uring(bay_invocation *call, const bay_value *args, bay_value **result)
{
    char params[120] = {0}; /* struct io_uring_params */
    long fd = syscall(SYS_io_uring_setup, 8, params);
    if (fd >= 0)
        close((int)fd);
    return outcome(result, (int)fd, "io_uring_setup");
}

#define SHARED_STEP (8u << 20)
#define SHARED_MAX (2048u << 20)

/* map_shared maps argument 0's kind of shared memory ("anonymous" or "memfd")
 * 8 MiB at a time, touching every page, up to argument 1 MiB (2 GiB when
 * absent). Refused, it says after how much; mapped, it holds the memory 10 s
 * (plugbayd's watch kills it meanwhile) and says "ALLOWED". It unmaps all
 * before it answers. */
static int map_shared(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const char *kind;
    int64_t mib = SHARED_MAX >> 20;
    if (bay_arg_str(call, args, 0, &kind) || (bay_value_len(args) > 1 && bay_arg_int(call, args, 1, &mib)))
        return BAY_ETYPE;
    bool memfd = strcmp(kind, "memfd") == 0;
    static long maps[SHARED_MAX / SHARED_STEP];
    size_t n = 0, want = (size_t)(mib < (SHARED_MAX >> 20) ? mib : (SHARED_MAX >> 20)) / (SHARED_STEP >> 20);
    int e = 0;
    while (n < want) {
        long fd = memfd ? syscall(SYS_memfd_create, "hostile", 0) : -1;
        if (memfd && (fd < 0 || syscall(SYS_ftruncate, fd, SHARED_STEP) < 0)) {
            e = errno;
            break;
        }
        long addr = syscall(SYS_mmap, NULL, SHARED_STEP, PROT_READ | PROT_WRITE,
                            MAP_SHARED | (memfd ? 0 : MAP_ANONYMOUS), fd, 0);
        e = errno;
        if (fd >= 0)
            close((int)fd);
        if (addr == -1)
            break;
        for (size_t o = 0; o < SHARED_STEP; o += 4096)
            ((volatile char *)addr)[o] = 1;
        maps[n++] = addr;
    }
    int rc = n < want ? 0 : nap(call, 10000);
    for (size_t i = 0; i < n; i++)
        munmap((void *)maps[i], SHARED_STEP);
    char text[160];
    if (n < want)
        snprintf(text, sizeof text, "refused: %s after %zu MiB", strerror(e), n * (SHARED_STEP >> 20));
    else
        snprintf(text, sizeof text, "ALLOWED %zu MiB of %s shared memory", n * (SHARED_STEP >> 20), kind);
    return rc ? rc : reply_str(result, text);
}

/* fill_memfd writes argument 0 MiB into a memfd it never maps, 1 MiB at a
 * time, and holds it 10 s (plugbayd's watch kills it meanwhile); "ALLOWED"
 * when it could, "refused: ..." when a write failed. */
static int fill_memfd(bay_invocation *call, const bay_value *args, bay_value **result)
{
    int64_t mib;
    if (bay_arg_int(call, args, 0, &mib))
        return BAY_ETYPE;
    static char chunk[1 << 20];
    memset(chunk, 1, sizeof chunk);
    long fd = syscall(SYS_memfd_create, "hostile-write", 0);
    int64_t done = 0;
    while (fd >= 0 && done < mib && syscall(SYS_write, fd, chunk, sizeof chunk) == (long)sizeof chunk)
        done++;
    int e = errno;
    int rc = done == mib ? nap(call, 10000) : 0;
    if (fd >= 0)
        close((int)fd);
    char text[160];
    if (done < mib)
        snprintf(text, sizeof text, "refused: %s after %lld MiB", strerror(e), (long long)done);
    else
        snprintf(text, sizeof text, "ALLOWED %lld MiB written to a memfd", (long long)done);
    return rc ? rc : reply_str(result, text);
}

/* fill_windows writes argument 0 MiB into memfds 8 MiB at a time, keeps each
 * alive by a 4 KiB mapping and closes its descriptor: no descriptor, and no
 * more than 4 KiB of each in RssShmem, is ever there for plugbayd's watch to
 * see (only a memory cgroup counts them). It holds them 10 s; "ALLOWED" when it
 * could, "refused: ..." when a write or a mapping failed. */
static int fill_windows(bay_invocation *call, const bay_value *args, bay_value **result)
{
    int64_t mib, done = 0;
    if (bay_arg_int(call, args, 0, &mib))
        return BAY_ETYPE;
    static char chunk[1 << 20];
    memset(chunk, 1, sizeof chunk);
    static long windows[256];
    size_t n = 0;
    int e = 0;
    while (done < mib && n < sizeof windows / sizeof *windows) {
        long fd = syscall(SYS_memfd_create, "hostile-window", 0);
        if (fd < 0) {
            e = errno;
            break;
        }
        int filled = 0;
        while (filled < 8 && done < mib && syscall(SYS_write, fd, chunk, sizeof chunk) == (long)sizeof chunk)
            filled++, done++;
        e = filled < 8 && done < mib ? errno : 0;
        long addr = syscall(SYS_mmap, NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
        e = e ? e : addr == -1 ? errno : 0;
        close((int)fd);
        if (addr != -1)
            windows[n++] = addr;
        if (e)
            break;
    }
    int rc = e == 0 ? nap(call, 10000) : 0;
    for (size_t i = 0; i < n; i++)
        munmap((void *)windows[i], 4096);
    char text[160];
    if (e)
        snprintf(text, sizeof text, "refused: %s after %lld MiB", strerror(e), (long long)done);
    else
        snprintf(text, sizeof text, "ALLOWED %lld MiB in %zu memfds behind 4 KiB windows", (long long)done, n);
    return rc ? rc : reply_str(result, text);
}

/* shout writes lines to its output as fast as it can, for argument 0
 * milliseconds, by raw write(2) to descriptor 1: what plugbayd logs. */
static int shout(bay_invocation *call, const bay_value *args, bay_value **result)
{
    int64_t ms;
    if (bay_arg_int(call, args, 0, &ms))
        return BAY_ETYPE;
    static char lines[64 * 1024];
    for (size_t i = 0; i < sizeof lines; i++)
        lines[i] = i % 64 == 63 ? '\n' : 'x';
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long long bytes = 0;
    do {
        long n = syscall(SYS_write, 1, lines, sizeof lines);
        bytes += n > 0 ? n : 0;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms && !bay_call_cancelled(call));
    char text[80];
    snprintf(text, sizeof text, "wrote %lld MiB", bytes >> 20);
    return reply_str(result, text);
}

/* chatter sends LOG frames (bay_plugin_log) as fast as it can for argument 0 milliseconds. */
static int chatter(bay_invocation *call, const bay_value *args, bay_value **result)
{
    int64_t ms;
    if (bay_arg_int(call, args, 0, &ms))
        return BAY_ETYPE;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long long lines = 0;
    do {
        bay_plugin_log(BAY_LOG_WARN, "chatter %lld", lines++);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms && !bay_call_cancelled(call));
    char text[80];
    snprintf(text, sizeof text, "logged %lld lines", lines);
    return reply_str(result, text);
}

/* forge_log logs argument 0 through bay_plugin_log and writes it to stdout, as it is. */
static int forge_log(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const char *text;
    if (bay_arg_str(call, args, 0, &text))
        return BAY_ETYPE;
    bay_plugin_log(BAY_LOG_INFO, "%s", text);
    printf("%s\n", text);
    fflush(stdout);
    return reply_str(result, "logged");
}

static int spin(bay_invocation *call, const bay_value *args, bay_value **result)
{
    for (volatile unsigned long i = 0;; i++)
        ;
    return 0;
}

/* forge_tell sends plugbayd a worker's report of its own making, as a plugin
 * that reaches its worker's socket (NNG's socket 1, through the libnng the
 * worker has loaded) could: [1, COMMAND, 0, NAME, VALUE], NAME what follows
 * "hostile.forge_" in the call's name ("refused", "fastcalls"), VALUE the
 * msgpack bytes given in hex as argument 0. */
static int forge_tell(bay_invocation *call, const bay_value *args, bay_value **result)
{
    const char *hex = bay_value_str(bay_array_get(args, 0), NULL), *name = bay_call_name(call) + strlen("hostile.forge_");
    int (*send)(uint32_t, void *, size_t, int) = (int (*)(uint32_t, void *, size_t, int))dlsym(RTLD_DEFAULT, "nng_send");
    unsigned char frame[4096] = {0x95, 0x01, 0x0b, 0x00, (unsigned char)(0xa0 | strlen(name))}; /* names under 32 bytes */
    size_t len = 5;
    memcpy(frame + len, name, strlen(name));
    len += strlen(name);
    for (; hex && hex[0] && hex[1] && len < sizeof frame; hex += 2)
        sscanf(hex, "%2hhx", &frame[len++]);
    if (send == NULL)
        return reply_str(result, "no nng_send in the worker");
    int rv = send(1, frame, len, 0);
    return reply_str(result, rv == 0 ? "sent" : "not sent");
}

/* channel_memory finds a fast channel's shared memory in this process, as any plugin can in /proc/self/maps. */
static bay__chan_hdr *channel_memory(void)
{
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    unsigned long start = 0;
    while (maps && start == 0 && fgets(line, sizeof line, maps))
        if (strstr(line, "memfd:plugbay-channel") && sscanf(line, "%lx-", &start) != 1)
            start = 0;
    if (maps)
        fclose(maps);
    bay__chan_hdr *h = (bay__chan_hdr *)start;
    return h && h->magic == BAY_CHAN_MAGIC ? h : NULL;
}

/* forge_frame writes body (len bytes, at most BAY_RING_ALIGN - 4) as a whole frame at index at of ring. */
static void forge_frame(uint8_t *ring, uint64_t at, const uint8_t *body, uint32_t len)
{
    uint8_t *word = ring + (at & (BAY_RING_CAP - 1));
    memcpy(word + 4, body, len);
    atomic_store((_Atomic uint32_t *)(void *)word, len | BAY_RING_WHOLE);
}

/* forge_stream writes frames of its own making into the ring its worker answers a fast channel's host on, as a
 * plugin that found the channel's memory could, behind its worker's back: a CHUNK of id 0 (no call of the host's),
 * then 8 bytes that are no msgpack. It then waits until its call is cancelled or its deadline passes. Answers "no
 * channel" when its host has none. */
static int forge_stream(bay_invocation *call, const bay_value *args, bay_value **result)
{
    bay__chan_hdr *h = channel_memory();
    if (h == NULL)
        return reply_str(result, "no channel");
    static const uint8_t chunk[] = {0x94, 0x01, 0x10, 0x00, 0xa6, 'f', 'o', 'r', 'g', 'e', 'd'}; /* [1, CHUNK, 0, ..] */
    static const uint8_t junk[8] = {0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1};
    uint8_t *ring = (uint8_t *)h + 4096 + BAY_RING_CAP; /* the ring to the host follows the one to the worker */
    uint64_t head = atomic_load(&h->to_host.head);
    memset(ring + ((head + 2 * BAY_RING_ALIGN) & (BAY_RING_CAP - 1)), 0, 4); /* the word after both: none yet */
    forge_frame(ring, head + BAY_RING_ALIGN, junk, sizeof junk);
    forge_frame(ring, head, chunk, sizeof chunk); /* the host may read from here on */
    atomic_store(&h->to_host.head, head + 2 * BAY_RING_ALIGN);
    atomic_fetch_add(&h->to_host.data.seq, 1);
    syscall(SYS_futex, &h->to_host.data.seq, FUTEX_WAKE, 1 << 30, NULL, NULL, 0);
    while (!bay_call_cancelled(call) && bay_call_remaining_ms(call) > 0)
        usleep(10000);
    return bay_call_error(call, BAY_ECANCELED, "forge_stream: stopped");
}

static int ping(bay_invocation *call, const bay_value *args, bay_value **result)
{
    return reply_str(result, "pong");
}

BAY_PLUGIN(NULL, NULL, {"set_others", set_others}, {"sees", sees}, {"sysv", sysv}, {"read_file", read_file}, {"write_file", write_file}, {"open_socket", open_socket},
           {"run_shell", run_shell}, {"fork_bomb", fork_bomb}, {"allocate", allocate}, {"spin", spin},
           {"ping", ping}, {"send_signals", send_signals}, {"connect_abstract", connect_abstract},
           {"setup_io_uring", setup_io_uring}, {"map_shared", map_shared}, {"forge_tell", forge_tell},
           {"fill_memfd", fill_memfd}, {"fill_windows", fill_windows}, {"shout", shout}, {"chatter", chatter},
           {"forge_log", forge_log}, {"forge_stream", forge_stream});
