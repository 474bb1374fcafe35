/* bridges/wasm/wasi.c — WASI preview 1 (wasi_snapshot_preview1.*) as a sandboxed subset: clocks, randomness, stdout and stderr into the plugin's log, no arguments or environment, proc_exit ending the call; everything else answers ENOSYS.
 *
 * This layer is hand-written: no Debian library provides a WASI host for
 * wasm2c's output that could be confined to a plugin's rights (wabt's own
 * uvwasi binding would give a module the worker's whole file system and
 * environment). Every pointer a module passes is checked against its memory:
 * one that lies outside gets EFAULT, never a crash. Each function has the
 * type module.c checks the module's import against. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sched.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"

typedef uint32_t u32;
typedef uint64_t u64;

/* The WASI errno values this layer returns. */
enum { WASI_OK = 0, WASI_EBADF = 8, WASI_EFAULT = 21, WASI_EINTR = 27, WASI_EINVAL = 28, WASI_EIO = 29,
       WASI_ENOSYS = 52 };

/* The most iovecs one fd_write takes (as Linux's IOV_MAX). */
#define IOVS_MAX 1024

/* guest returns where len bytes at ptr of the module's memory are, or NULL when they lie outside it. */
static uint8_t *guest(const bay__wasm_host *h, u32 ptr, u64 len)
{
    const wasm_rt_memory_t *m = h->memory;
    return (u64)ptr + len > m->size ? NULL : m->data + ptr;
}

/* put writes the size bytes of value (little-endian, as wasm) to ptr: 0, or EFAULT. */
static u32 put(const bay__wasm_host *h, u32 ptr, const void *value, size_t size)
{
    uint8_t *p = guest(h, ptr, size);
    if (p == NULL)
        return WASI_EFAULT;
    memcpy(p, value, size);
    return WASI_OK;
}

/* put_pair writes two u32 (a count and a size) to a and b: 0, or EFAULT. */
static u32 put_pair(const bay__wasm_host *h, u32 a, u32 first, u32 b, u32 second)
{
    u32 rc = put(h, a, &first, sizeof first);
    return rc ? rc : put(h, b, &second, sizeof second);
}

u32 Z_wasi_snapshot_preview1Z_args_sizes_get(bay__wasm_host *h, u32 argc, u32 buf_size);
u32 Z_wasi_snapshot_preview1Z_args_get(bay__wasm_host *h, u32 argv, u32 buf);
u32 Z_wasi_snapshot_preview1Z_environ_sizes_get(bay__wasm_host *h, u32 count, u32 buf_size);
u32 Z_wasi_snapshot_preview1Z_environ_get(bay__wasm_host *h, u32 environ, u32 buf);
u32 Z_wasi_snapshot_preview1Z_clock_res_get(bay__wasm_host *h, u32 id, u32 out);
u32 Z_wasi_snapshot_preview1Z_clock_time_get(bay__wasm_host *h, u32 id, u64 precision, u32 out);
u32 Z_wasi_snapshot_preview1Z_random_get(bay__wasm_host *h, u32 buf, u32 len);
u32 Z_wasi_snapshot_preview1Z_fd_write(bay__wasm_host *h, u32 fd, u32 iovs, u32 iovs_len, u32 nwritten);
u32 Z_wasi_snapshot_preview1Z_fd_fdstat_get(bay__wasm_host *h, u32 fd, u32 out);
u32 Z_wasi_snapshot_preview1Z_fd_prestat_get(bay__wasm_host *h, u32 fd, u32 out);
u32 Z_wasi_snapshot_preview1Z_sched_yield(bay__wasm_host *h);
void Z_wasi_snapshot_preview1Z_proc_exit(bay__wasm_host *h, u32 code);

/* A module has no arguments: argc 0 in 0 bytes. */
u32 Z_wasi_snapshot_preview1Z_args_sizes_get(bay__wasm_host *h, u32 argc, u32 buf_size)
{
    return put_pair(h, argc, 0, buf_size, 0);
}

/* With no arguments there is nothing to copy. */
u32 Z_wasi_snapshot_preview1Z_args_get(bay__wasm_host *h, u32 argv, u32 buf)
{
    return WASI_OK;
}

/* A module's environment is empty: 0 variables in 0 bytes. */
u32 Z_wasi_snapshot_preview1Z_environ_sizes_get(bay__wasm_host *h, u32 count, u32 buf_size)
{
    return put_pair(h, count, 0, buf_size, 0);
}

/* With an empty environment there is nothing to copy. */
u32 Z_wasi_snapshot_preview1Z_environ_get(bay__wasm_host *h, u32 environ, u32 buf)
{
    return WASI_OK;
}

/* clock_of maps a WASI clock id (realtime, monotonic, process and thread CPU time) to the system's, or returns false. */
static bool clock_of(u32 id, clockid_t *out)
{
    static const clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
                                       CLOCK_THREAD_CPUTIME_ID};
    if (id >= sizeof clocks / sizeof clocks[0])
        return false;
    *out = clocks[id];
    return true;
}

/* clock_res_get writes clock id's resolution in nanoseconds to out. */
u32 Z_wasi_snapshot_preview1Z_clock_res_get(bay__wasm_host *h, u32 id, u32 out)
{
    clockid_t c;
    struct timespec ts;
    if (!clock_of(id, &c) || clock_getres(c, &ts) != 0)
        return WASI_EINVAL;
    u64 ns = (u64)ts.tv_sec * 1000000000u + (u64)ts.tv_nsec;
    return put(h, out, &ns, sizeof ns);
}

/* clock_time_get writes clock id's time in nanoseconds to out (precision is a hint it ignores). */
u32 Z_wasi_snapshot_preview1Z_clock_time_get(bay__wasm_host *h, u32 id, u64 precision, u32 out)
{
    clockid_t c;
    struct timespec ts;
    if (!clock_of(id, &c) || clock_gettime(c, &ts) != 0)
        return WASI_EINVAL;
    u64 ns = (u64)ts.tv_sec * 1000000000u + (u64)ts.tv_nsec;
    return put(h, out, &ns, sizeof ns);
}

/* random_get fills len bytes at buf from the system's random source. */
u32 Z_wasi_snapshot_preview1Z_random_get(bay__wasm_host *h, u32 buf, u32 len)
{
    uint8_t *p = guest(h, buf, len);
    if (p == NULL)
        return WASI_EFAULT;
    bay__wasm_host_enter();
    u32 rc = WASI_OK;
    for (u32 done = 0; done < len && rc == WASI_OK;) {
        ssize_t n = getrandom(p + done, len - done, 0);
        if (n > 0)
            done += (u32)n;
        else if (n < 0 && errno != EINTR)
            rc = WASI_EIO;
    }
    bay__wasm_host_leave();
    return rc;
}

/* write_all writes len bytes to the worker's fd; false when it cannot. */
static bool write_all(int fd, const uint8_t *p, u32 len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (u32)n;
    }
    return true;
}

/* fd_write writes the iovs_len buffers listed at iovs to stdout (1) or
 * stderr (2), which are the worker's own: plugbayd logs each line as the
 * plugin's output, under the rate limit all its output shares. Every iovec
 * is checked before anything is written. */
u32 Z_wasi_snapshot_preview1Z_fd_write(bay__wasm_host *h, u32 fd, u32 iovs, u32 iovs_len, u32 nwritten)
{
    if (fd != 1 && fd != 2)
        return WASI_EBADF;
    if (iovs_len > IOVS_MAX)
        return WASI_EINVAL;
    const uint8_t *list = guest(h, iovs, (u64)iovs_len * 8);
    if (list == NULL || guest(h, nwritten, 4) == NULL)
        return WASI_EFAULT;
    u64 total = 0;
    for (u32 i = 0; i < iovs_len; i++) {
        u32 iov[2];
        memcpy(iov, list + 8 * i, sizeof iov);
        if (guest(h, iov[0], iov[1]) == NULL)
            return WASI_EFAULT;
        total += iov[1];
    }
    if (total > UINT32_MAX)
        return WASI_EINVAL;
    bay__wasm_host_enter();
    bool ok = true;
    for (u32 i = 0; i < iovs_len && ok; i++) {
        u32 iov[2];
        memcpy(iov, list + 8 * i, sizeof iov);
        ok = write_all((int)fd, guest(h, iov[0], iov[1]), iov[1]);
    }
    bay__wasm_host_leave();
    u32 n = (u32)total;
    return ok ? put(h, nwritten, &n, sizeof n) : WASI_EIO;
}

/* fd_fdstat_get describes stdout and stderr as write-only character devices
 * (so wasi-libc buffers them by line, as a terminal); there is no other fd. */
u32 Z_wasi_snapshot_preview1Z_fd_fdstat_get(bay__wasm_host *h, u32 fd, u32 out)
{
    enum { FILETYPE_CHARACTER_DEVICE = 2, RIGHT_FD_WRITE = 1 << 6 };
    if (fd != 1 && fd != 2)
        return WASI_EBADF;
    uint8_t stat[24] = {FILETYPE_CHARACTER_DEVICE};
    u64 rights = RIGHT_FD_WRITE;
    memcpy(stat + 8, &rights, sizeof rights);
    return put(h, out, stat, sizeof stat);
}

/* fd_prestat_get: a module has no preopened folders, so no path resolves. */
u32 Z_wasi_snapshot_preview1Z_fd_prestat_get(bay__wasm_host *h, u32 fd, u32 out)
{
    return WASI_EBADF;
}

/* sched_yield lets other threads run. */
u32 Z_wasi_snapshot_preview1Z_sched_yield(bay__wasm_host *h)
{
    sched_yield();
    return WASI_OK;
}

/* proc_exit ends the call running in the module with an error; the plugin goes on in a fresh instance. */
void Z_wasi_snapshot_preview1Z_proc_exit(bay__wasm_host *h, u32 code)
{
    bay__wasm_exit(code);
}

/* NOSYS defines WASI function name, with parameters params, as one that answers ENOSYS. */
#define NOSYS(name, params)                                                                                        \
    u32 Z_wasi_snapshot_preview1Z_##name params;                                                                   \
    u32 Z_wasi_snapshot_preview1Z_##name params                                                                    \
    {                                                                                                              \
        return WASI_ENOSYS;                                                                                        \
    }

NOSYS(fd_advise, (bay__wasm_host *h, u32 p1, u64 p2, u64 p3, u32 p4))
NOSYS(fd_allocate, (bay__wasm_host *h, u32 p1, u64 p2, u64 p3))
NOSYS(fd_close, (bay__wasm_host *h, u32 p1))
NOSYS(fd_datasync, (bay__wasm_host *h, u32 p1))
NOSYS(fd_fdstat_set_flags, (bay__wasm_host *h, u32 p1, u32 p2))
NOSYS(fd_fdstat_set_rights, (bay__wasm_host *h, u32 p1, u64 p2, u64 p3))
NOSYS(fd_filestat_get, (bay__wasm_host *h, u32 p1, u32 p2))
NOSYS(fd_filestat_set_size, (bay__wasm_host *h, u32 p1, u64 p2))
NOSYS(fd_filestat_set_times, (bay__wasm_host *h, u32 p1, u64 p2, u64 p3, u32 p4))
NOSYS(fd_pread, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u64 p4, u32 p5))
NOSYS(fd_prestat_dir_name, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3))
NOSYS(fd_pwrite, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u64 p4, u32 p5))
NOSYS(fd_read, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u32 p4))
NOSYS(fd_readdir, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u64 p4, u32 p5))
NOSYS(fd_renumber, (bay__wasm_host *h, u32 p1, u32 p2))
NOSYS(fd_seek, (bay__wasm_host *h, u32 p1, u64 p2, u32 p3, u32 p4))
NOSYS(fd_sync, (bay__wasm_host *h, u32 p1))
NOSYS(fd_tell, (bay__wasm_host *h, u32 p1, u32 p2))
NOSYS(path_create_directory, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3))
NOSYS(path_filestat_get, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u32 p4, u32 p5))
NOSYS(path_filestat_set_times, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u32 p4, u64 p5, u64 p6, u32 p7))
NOSYS(path_link, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u32 p4, u32 p5, u32 p6, u32 p7))
NOSYS(path_open, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u32 p4, u32 p5, u64 p6, u64 p7, u32 p8, u32 p9))
NOSYS(path_readlink, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u32 p4, u32 p5, u32 p6))
NOSYS(path_remove_directory, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3))
NOSYS(path_rename, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u32 p4, u32 p5, u32 p6))
NOSYS(path_symlink, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u32 p4, u32 p5))
NOSYS(path_unlink_file, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3))
NOSYS(poll_oneoff, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u32 p4))
NOSYS(sock_accept, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3))
NOSYS(sock_recv, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u32 p4, u32 p5, u32 p6))
NOSYS(sock_send, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u32 p4, u32 p5))
NOSYS(sock_shutdown, (bay__wasm_host *h, u32 p1, u32 p2))
