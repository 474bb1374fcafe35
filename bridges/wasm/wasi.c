/* bridges/wasm/wasi.c — WASI preview 1 (wasi_snapshot_preview1.*) as a sandboxed subset: clocks, randomness, stdout and stderr into the plugin's log, files under the data folder and the folders fs.read grants only, no arguments or environment, proc_exit ending the call; everything else answers ENOSYS.
 *
 * This layer is hand-written: no Debian library provides a WASI host for
 * wasm2c's output that could be confined to a plugin's rights (wabt's own
 * uvwasi binding would give a module the worker's whole file system and
 * environment). The data folder is preopened as "/data", and each folder an
 * fs.read grant names under its own path (read only, as Landlock has it);
 * every path is resolved by the kernel beneath one of them (openat2
 * RESOLVE_BENEATH), so ".." and other absolute paths cannot leave them, and the worker's Landlock
 * rules stand behind that. Every pointer a module passes is checked against
 * its memory: one that lies outside gets EFAULT, never a crash. Each function
 * has the type module.c checks the module's import against. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"

typedef uint32_t u32;
typedef uint16_t u16;
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
u32 Z_wasi_snapshot_preview1Z_fd_read(bay__wasm_host *h, u32 fd, u32 iovs, u32 iovs_len, u32 nread);
u32 Z_wasi_snapshot_preview1Z_fd_fdstat_get(bay__wasm_host *h, u32 fd, u32 out);
u32 Z_wasi_snapshot_preview1Z_fd_fdstat_set_flags(bay__wasm_host *h, u32 fd, u32 flags);
u32 Z_wasi_snapshot_preview1Z_fd_prestat_get(bay__wasm_host *h, u32 fd, u32 out);
u32 Z_wasi_snapshot_preview1Z_fd_prestat_dir_name(bay__wasm_host *h, u32 fd, u32 buf, u32 len);
u32 Z_wasi_snapshot_preview1Z_path_open(bay__wasm_host *h, u32 dirfd, u32 dirflags, u32 path, u32 path_len,
                                         u32 oflags, u64 rights, u64 inheriting, u32 fdflags, u32 fd_out);
u32 Z_wasi_snapshot_preview1Z_fd_close(bay__wasm_host *h, u32 fd);
u32 Z_wasi_snapshot_preview1Z_fd_seek(bay__wasm_host *h, u32 fd, u64 offset, u32 whence, u32 out);
u32 Z_wasi_snapshot_preview1Z_fd_tell(bay__wasm_host *h, u32 fd, u32 out);
u32 Z_wasi_snapshot_preview1Z_fd_sync(bay__wasm_host *h, u32 fd);
u32 Z_wasi_snapshot_preview1Z_fd_filestat_get(bay__wasm_host *h, u32 fd, u32 out);
u32 Z_wasi_snapshot_preview1Z_path_filestat_get(bay__wasm_host *h, u32 dirfd, u32 flags, u32 path, u32 path_len,
                                                 u32 out);
u32 Z_wasi_snapshot_preview1Z_path_unlink_file(bay__wasm_host *h, u32 dirfd, u32 path, u32 path_len);
u32 Z_wasi_snapshot_preview1Z_path_create_directory(bay__wasm_host *h, u32 dirfd, u32 path, u32 path_len);
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

/* nanoseconds turns a timespec into WASI's timestamp. */
static u64 nanoseconds(struct timespec ts)
{
    return (u64)ts.tv_sec * 1000000000u + (u64)ts.tv_nsec;
}

/* read_clock writes what get (clock_getres or clock_gettime) says of clock id, in nanoseconds, to out. */
static u32 read_clock(const bay__wasm_host *h, u32 id, u32 out, int (*get)(clockid_t, struct timespec *))
{
    clockid_t c;
    struct timespec ts;
    if (!clock_of(id, &c) || get(c, &ts) != 0)
        return WASI_EINVAL;
    u64 ns = nanoseconds(ts);
    return put(h, out, &ns, sizeof ns);
}

/* clock_res_get writes clock id's resolution in nanoseconds to out. */
u32 Z_wasi_snapshot_preview1Z_clock_res_get(bay__wasm_host *h, u32 id, u32 out)
{
    return read_clock(h, id, out, clock_getres);
}

/* clock_time_get writes clock id's time in nanoseconds to out (precision is a hint it ignores). */
u32 Z_wasi_snapshot_preview1Z_clock_time_get(bay__wasm_host *h, u32 id, u64 precision, u32 out)
{
    return read_clock(h, id, out, clock_gettime);
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

/* The most files and folders a module has open at once, its data folder included. */
#define FILES_MAX 64

/* The data folder: its fd in the module and the name wasi-libc resolves paths under. */
#define DATA_FD 3
#define DATA_NAME "/data"

/* WASI's file types and the flags of fd_fdstat_get and path_open. */
enum { TYPE_UNKNOWN = 0, TYPE_BLOCK = 1, TYPE_CHAR = 2, TYPE_DIR = 3, TYPE_FILE = 4, TYPE_SOCKET = 6, TYPE_LINK = 7 };
enum { FD_APPEND = 1, FD_NONBLOCK = 4 };
enum { O_WASI_CREAT = 1, O_WASI_DIRECTORY = 2, O_WASI_EXCL = 4, O_WASI_TRUNC = 8 };
enum { LOOKUP_FOLLOW = 1 };
#define RIGHT_FD_READ (1u << 1)
#define RIGHT_FD_WRITE (1u << 6)

/* The module's open files: WASI fd DATA_FD + i is the worker's fd files[i],
 * or -1; none until bay__wasm_wasi_open. The first npreopens are the
 * folders preopened for it, named names[i]: the data folder (DATA_NAME),
 * then each folder an fs.read grant names, under its own path (Landlock
 * keeps those read-only, as for every language). */
static int files[FILES_MAX];
static char *names[FILES_MAX / 2];
static int npreopens;
static bool files_ready;

/* preopen adds folder path, named name (taken), to the preopened ones: false when it is no folder one can open. */
static bool preopen(const char *path, char *name)
{
    int fd = npreopens < FILES_MAX / 2 && name ? open(path, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
    if (fd < 0) {
        free(name);
        return false;
    }
    files[npreopens] = fd;
    names[npreopens++] = name;
    return true;
}

int bay__wasm_wasi_open(const char *data_dir, const bay_value *permissions, bay_error *err)
{
    for (int i = 0; i < FILES_MAX; i++)
        files[i] = -1;
    files_ready = true;
    npreopens = 0;
    if (!preopen(data_dir, strdup(DATA_NAME)))
        return bay_error_set(err, BAY_EIO, NULL, "cannot open the data folder %s for WASI: %s", data_dir,
                             strerror(errno));
    for (size_t i = 0; i < bay_value_len(permissions); i++) { /* a grant of one file is reached by no WASI path */
        const char *grant = bay_value_str(bay_array_get(permissions, i), NULL);
        if (grant && strncmp(grant, "fs.read:/", 9) == 0)
            preopen(grant + 8, strdup(grant + 8));
    }
    return 0;
}

void bay__wasm_wasi_reset(void)
{
    for (int i = npreopens; i < FILES_MAX && files_ready; i++)
        if (files[i] >= 0) {
            close(files[i]);
            files[i] = -1;
        }
}

void bay__wasm_wasi_close(void)
{
    bay__wasm_wasi_reset();
    for (int i = 0; i < npreopens && files_ready; i++) {
        if (files[i] >= 0)
            close(files[i]);
        free(names[i]);
        names[i] = NULL;
    }
    npreopens = 0;
    files_ready = false;
}

/* file returns the worker's fd behind the module's file fd, or -1. */
static int file(u32 fd)
{
    return files_ready && fd >= DATA_FD && fd - DATA_FD < FILES_MAX ? files[fd - DATA_FD] : -1;
}

/* wasi_errno turns the system's errno into WASI's; an escape from the data folder (EXDEV) is ENOTCAPABLE. */
static u32 wasi_errno(int e)
{
    static const struct {
        int host;
        u32 wasi;
    } map[] = {{EACCES, 2},  {EAGAIN, 6},  {EBADF, 8},         {EEXIST, 20}, {EFBIG, 22},  {EINTR, 27},
               {EINVAL, 28}, {EIO, 29},    {EISDIR, 31},       {ELOOP, 32},  {EMFILE, 33}, {ENAMETOOLONG, 37},
               {ENOENT, 44}, {ENOSPC, 51}, {ENOTDIR, 54},      {ENOTEMPTY, 55}, {EPERM, 63}, {EROFS, 69},
               {ESPIPE, 70}, {EXDEV, 76},  {EOPNOTSUPP, 58}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].host == e)
            return map[i].wasi;
    return WASI_EIO;
}

/* path_of copies the module's path (len bytes at ptr) into out as a C string: 0, or a WASI errno. */
static u32 path_of(const bay__wasm_host *h, u32 ptr, u32 len, char out[PATH_MAX])
{
    const uint8_t *p = guest(h, ptr, len);
    if (p == NULL)
        return WASI_EFAULT;
    if (len >= PATH_MAX)
        return wasi_errno(ENAMETOOLONG);
    if (memchr(p, '\0', len))
        return WASI_EINVAL;
    memcpy(out, p, len);
    out[len] = '\0';
    return WASI_OK;
}

/* beneath opens path under folder dir as openat(2) with flags does, but the
 * kernel refuses (EXDEV) any path that leaves dir: absolute ones, "..", or a
 * symbolic link pointing out. Returns the fd, or -1 with errno. */
static int beneath(int dir, const char *path, int flags)
{
    struct open_how how = {.flags = (u64)flags | O_CLOEXEC, .mode = (flags & O_CREAT) ? 0600 : 0,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    return (int)syscall(SYS_openat2, dir, path, &how, sizeof how);
}

/* add_file gives the worker's fd a module fd, written to out: 0, or EMFILE (closing it) when FILES_MAX are open. */
static u32 add_file(const bay__wasm_host *h, int fd, u32 out)
{
    for (u32 i = 0; i < FILES_MAX; i++)
        if (files[i] < 0) {
            u32 wasi_fd = DATA_FD + i, rc = put(h, out, &wasi_fd, sizeof wasi_fd);
            if (rc == WASI_OK)
                files[i] = fd;
            else
                close(fd);
            return rc;
        }
    close(fd);
    return wasi_errno(EMFILE);
}

/* transfer writes the iovs_len buffers listed at iovs to the worker's fd, or
 * reads into them, and writes how many bytes moved to done. Every iovec is
 * checked before anything moves. */
static u32 transfer(bay__wasm_host *h, int fd, bool writing, u32 iovs, u32 iovs_len, u32 done)
{
    if (iovs_len > IOVS_MAX)
        return WASI_EINVAL;
    const uint8_t *list = guest(h, iovs, (u64)iovs_len * 8);
    if (list == NULL || guest(h, done, 4) == NULL)
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
    u32 moved = 0;
    int e = 0;
    bool more = true;
    for (u32 i = 0; i < iovs_len && more; i++) {
        u32 iov[2], off = 0;
        memcpy(iov, list + 8 * i, sizeof iov);
        uint8_t *p = guest(h, iov[0], iov[1]);
        while (off < iov[1]) {
            ssize_t n = writing ? write(fd, p + off, iov[1] - off) : read(fd, p + off, iov[1] - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                e = n < 0 ? errno : 0;
                break;
            }
            off += (u32)n;
            if (!writing) /* a short read ends a read */
                break;
        }
        moved += off;
        more = off == iov[1];
    }
    bay__wasm_host_leave();
    if (e && moved == 0)
        return wasi_errno(e);
    return put(h, done, &moved, sizeof moved);
}

/* fd_write writes to a file, or to stdout (1) or stderr (2), which are the
 * worker's own: plugbayd logs each line as the plugin's output, under the
 * rate limit all its output shares. */
u32 Z_wasi_snapshot_preview1Z_fd_write(bay__wasm_host *h, u32 fd, u32 iovs, u32 iovs_len, u32 nwritten)
{
    int host = fd == 1 || fd == 2 ? (int)fd : file(fd);
    return host < 0 ? WASI_EBADF : transfer(h, host, true, iovs, iovs_len, nwritten);
}

/* fd_read reads from a file (there is no stdin). */
u32 Z_wasi_snapshot_preview1Z_fd_read(bay__wasm_host *h, u32 fd, u32 iovs, u32 iovs_len, u32 nread)
{
    int host = file(fd);
    return host < 0 ? WASI_EBADF : transfer(h, host, false, iovs, iovs_len, nread);
}

/* type_of gives a file mode's WASI file type. */
static uint8_t type_of(mode_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFDIR: return TYPE_DIR;
    case S_IFREG: return TYPE_FILE;
    case S_IFCHR: return TYPE_CHAR;
    case S_IFBLK: return TYPE_BLOCK;
    case S_IFLNK: return TYPE_LINK;
    case S_IFSOCK: return TYPE_SOCKET;
    default: return TYPE_UNKNOWN;
    }
}

/* fd_fdstat_get describes stdout and stderr as write-only character devices
 * (so wasi-libc buffers them by line, as a terminal), and a file or folder
 * as it is, with every right (the worker's fd decides what works). */
u32 Z_wasi_snapshot_preview1Z_fd_fdstat_get(bay__wasm_host *h, u32 fd, u32 out)
{
    uint8_t fdstat[24] = {TYPE_CHAR};
    u64 rights[2] = {RIGHT_FD_WRITE, 0};
    int host = file(fd);
    struct stat st;
    if (fd != 1 && fd != 2 && host < 0)
        return WASI_EBADF;
    if (host >= 0) {
        int fl = fcntl(host, F_GETFL);
        if (fstat(host, &st) != 0 || fl < 0)
            return wasi_errno(errno);
        u16 flags = (fl & O_APPEND ? FD_APPEND : 0) | (fl & O_NONBLOCK ? FD_NONBLOCK : 0);
        fdstat[0] = type_of(st.st_mode);
        memcpy(fdstat + 2, &flags, sizeof flags);
        rights[0] = rights[1] = UINT64_MAX;
    }
    memcpy(fdstat + 8, rights, sizeof rights);
    return put(h, out, fdstat, sizeof fdstat);
}

/* fd_fdstat_set_flags sets a file's append and non-blocking flags. */
u32 Z_wasi_snapshot_preview1Z_fd_fdstat_set_flags(bay__wasm_host *h, u32 fd, u32 flags)
{
    int host = file(fd);
    if (host < 0)
        return WASI_EBADF;
    int fl = fcntl(host, F_GETFL);
    if (fl < 0)
        return wasi_errno(errno);
    fl = (fl & ~(O_APPEND | O_NONBLOCK)) | (flags & FD_APPEND ? O_APPEND : 0) | (flags & FD_NONBLOCK ? O_NONBLOCK : 0);
    return fcntl(host, F_SETFL, fl) == 0 ? WASI_OK : wasi_errno(errno);
}

/* preopened returns the name of preopened folder fd, or NULL when fd is none. */
static const char *preopened(u32 fd)
{
    return file(fd) >= 0 && fd - DATA_FD < (u32)npreopens ? names[fd - DATA_FD] : NULL;
}

/* fd_prestat_get describes a preopened folder: the data folder as DATA_NAME, a granted one under its path. */
u32 Z_wasi_snapshot_preview1Z_fd_prestat_get(bay__wasm_host *h, u32 fd, u32 out)
{
    const char *name = preopened(fd);
    if (name == NULL)
        return WASI_EBADF;
    u32 prestat[2] = {0, (u32)strlen(name)}; /* tag 0: a folder; the length of its name */
    return put(h, out, prestat, sizeof prestat);
}

/* fd_prestat_dir_name writes a preopened folder's name (without NUL). */
u32 Z_wasi_snapshot_preview1Z_fd_prestat_dir_name(bay__wasm_host *h, u32 fd, u32 buf, u32 len)
{
    const char *name = preopened(fd);
    if (name == NULL)
        return WASI_EBADF;
    return len < strlen(name) ? WASI_EINVAL : put(h, buf, name, (u32)strlen(name));
}

/* path_open opens path under folder fd dirfd (never outside it) and writes the new fd to fd_out. */
u32 Z_wasi_snapshot_preview1Z_path_open(bay__wasm_host *h, u32 dirfd, u32 dirflags, u32 path, u32 path_len,
                                         u32 oflags, u64 rights, u64 inheriting, u32 fdflags, u32 fd_out)
{
    char name[PATH_MAX];
    int dir = file(dirfd);
    u32 rc = dir < 0 ? WASI_EBADF : path_of(h, path, path_len, name);
    if (rc)
        return rc;
    bool reads = rights & RIGHT_FD_READ, writes = rights & RIGHT_FD_WRITE;
    int flags = (oflags & O_WASI_DIRECTORY) ? O_RDONLY | O_DIRECTORY
                : writes                    ? (reads ? O_RDWR : O_WRONLY)
                                            : O_RDONLY;
    flags |= (oflags & O_WASI_CREAT ? O_CREAT : 0) | (oflags & O_WASI_EXCL ? O_EXCL : 0) |
             (oflags & O_WASI_TRUNC ? O_TRUNC : 0) | (dirflags & LOOKUP_FOLLOW ? 0 : O_NOFOLLOW) |
             (fdflags & FD_APPEND ? O_APPEND : 0) | (fdflags & FD_NONBLOCK ? O_NONBLOCK : 0);
    bay__wasm_host_enter();
    int fd = beneath(dir, name, flags);
    int e = errno;
    bay__wasm_host_leave();
    return fd < 0 ? wasi_errno(e) : add_file(h, fd, fd_out);
}

/* fd_close closes a file or folder the module opened. */
u32 Z_wasi_snapshot_preview1Z_fd_close(bay__wasm_host *h, u32 fd)
{
    int host = file(fd);
    if (host < 0)
        return WASI_EBADF;
    files[fd - DATA_FD] = -1;
    return close(host) == 0 ? WASI_OK : wasi_errno(errno);
}

/* fd_seek moves a file's offset (whence 0, 1, 2: from its start, where it is, its end) and writes the new one. */
u32 Z_wasi_snapshot_preview1Z_fd_seek(bay__wasm_host *h, u32 fd, u64 offset, u32 whence, u32 out)
{
    static const int whences[] = {SEEK_SET, SEEK_CUR, SEEK_END};
    int host = file(fd);
    if (host < 0)
        return fd <= 2 ? wasi_errno(ESPIPE) : WASI_EBADF;
    if (whence > 2)
        return WASI_EINVAL;
    off_t at = lseek(host, (off_t)offset, whences[whence]);
    u64 now = (u64)at;
    return at < 0 ? wasi_errno(errno) : put(h, out, &now, sizeof now);
}

/* fd_tell writes a file's offset. */
u32 Z_wasi_snapshot_preview1Z_fd_tell(bay__wasm_host *h, u32 fd, u32 out)
{
    return Z_wasi_snapshot_preview1Z_fd_seek(h, fd, 0, 1, out);
}

/* fd_sync flushes a file to its disk. */
u32 Z_wasi_snapshot_preview1Z_fd_sync(bay__wasm_host *h, u32 fd)
{
    int host = file(fd);
    if (host < 0)
        return WASI_EBADF;
    bay__wasm_host_enter();
    int rc = fsync(host);
    int e = errno;
    bay__wasm_host_leave();
    return rc == 0 ? WASI_OK : wasi_errno(e);
}

/* put_filestat writes what st says as WASI's filestat (64 bytes) to out. */
static u32 put_filestat(const bay__wasm_host *h, u32 out, const struct stat *st)
{
    u64 v[8] = {(u64)st->st_dev,
                (u64)st->st_ino,
                type_of(st->st_mode), /* a u8, the rest of its 8 bytes padding */
                (u64)st->st_nlink,
                (u64)st->st_size,
                nanoseconds(st->st_atim),
                nanoseconds(st->st_mtim),
                nanoseconds(st->st_ctim)};
    return put(h, out, v, sizeof v);
}

/* fd_filestat_get describes an open file or folder. */
u32 Z_wasi_snapshot_preview1Z_fd_filestat_get(bay__wasm_host *h, u32 fd, u32 out)
{
    struct stat st;
    int host = file(fd);
    if (host < 0)
        return WASI_EBADF;
    return fstat(host, &st) == 0 ? put_filestat(h, out, &st) : wasi_errno(errno);
}

/* path_filestat_get describes path under folder fd dirfd. */
u32 Z_wasi_snapshot_preview1Z_path_filestat_get(bay__wasm_host *h, u32 dirfd, u32 flags, u32 path, u32 path_len,
                                                 u32 out)
{
    char name[PATH_MAX];
    struct stat st;
    int dir = file(dirfd);
    u32 rc = dir < 0 ? WASI_EBADF : path_of(h, path, path_len, name);
    if (rc)
        return rc;
    int fd = beneath(dir, name, O_PATH | (flags & LOOKUP_FOLLOW ? 0 : O_NOFOLLOW));
    if (fd < 0)
        return wasi_errno(errno);
    rc = fstat(fd, &st) == 0 ? put_filestat(h, out, &st) : wasi_errno(errno);
    close(fd);
    return rc;
}

/* in_parent runs act (unlinkat or mkdirat's work) on the last name of path
 * in its folder, opened under folder fd dirfd: 0, or a WASI errno. */
static u32 in_parent(bay__wasm_host *h, u32 dirfd, u32 path, u32 path_len, int (*act)(int dir, const char *name))
{
    char name[PATH_MAX];
    int dir = file(dirfd);
    u32 rc = dir < 0 ? WASI_EBADF : path_of(h, path, path_len, name);
    if (rc)
        return rc;
    char *slash = strrchr(name, '/');
    const char *last = slash ? slash + 1 : name;
    if (strcmp(last, "..") == 0)
        return wasi_errno(EXDEV);
    if (*last == '\0' || strcmp(last, ".") == 0)
        return WASI_EINVAL;
    if (slash)
        *slash = '\0';
    int parent = beneath(dir, !slash ? "." : slash == name ? "/" : name, O_PATH | O_DIRECTORY);
    if (parent < 0)
        return wasi_errno(errno);
    rc = act(parent, last) == 0 ? WASI_OK : wasi_errno(errno);
    close(parent);
    return rc;
}

/* unlink_file removes file name from folder dir. */
static int unlink_file(int dir, const char *name)
{
    return unlinkat(dir, name, 0);
}

/* make_folder makes folder name in folder dir, for the plugin only. */
static int make_folder(int dir, const char *name)
{
    return mkdirat(dir, name, 0700);
}

/* path_unlink_file removes a file under folder fd dirfd. */
u32 Z_wasi_snapshot_preview1Z_path_unlink_file(bay__wasm_host *h, u32 dirfd, u32 path, u32 path_len)
{
    return in_parent(h, dirfd, path, path_len, unlink_file);
}

/* path_create_directory makes a folder under folder fd dirfd. */
u32 Z_wasi_snapshot_preview1Z_path_create_directory(bay__wasm_host *h, u32 dirfd, u32 path, u32 path_len)
{
    return in_parent(h, dirfd, path, path_len, make_folder);
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

/* fd_readdir writes the entries of folder fd from the cookie-th on (cookie: how many come before, as each
 * entry's d_next says) into buf: each a 24-byte dirent (d_next, d_ino, d_namlen, d_type) and its name, the
 * last one cut where buf ends (wasi-libc then asks again with more room); bufused gets how much was written. */
u32 Z_wasi_snapshot_preview1Z_fd_readdir(bay__wasm_host *h, u32 fd, u32 buf, u32 buf_len, u64 cookie, u32 bufused)
{
    int host = file(fd);
    uint8_t *out = guest(h, buf, buf_len);
    if (host < 0)
        return WASI_EBADF;
    if (out == NULL || guest(h, bufused, 4) == NULL)
        return WASI_EFAULT;
    int copy = openat(host, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* a stream of its own, from the start */
    DIR *d = copy >= 0 ? fdopendir(copy) : NULL;
    if (d == NULL) {
        int e = errno;
        if (copy >= 0)
            close(copy);
        return wasi_errno(e);
    }
    u32 used = 0;
    u64 index = 0;
    for (struct dirent *e; used < buf_len && (e = readdir(d)) != NULL; index++) {
        if (index < cookie)
            continue;
        uint8_t head[24] = {0};
        u64 next = index + 1, ino = e->d_ino;
        u32 len = (u32)strlen(e->d_name);
        memcpy(head, &next, 8);
        memcpy(head + 8, &ino, 8);
        memcpy(head + 16, &len, 4);
        head[20] = type_of(DTTOIF(e->d_type));
        u32 n = buf_len - used < sizeof head ? buf_len - used : (u32)sizeof head;
        memcpy(out + used, head, n);
        used += n;
        n = buf_len - used < len ? buf_len - used : len;
        memcpy(out + used, e->d_name, n);
        used += n;
    }
    closedir(d);
    return put(h, bufused, &used, sizeof used);
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
NOSYS(fd_datasync, (bay__wasm_host *h, u32 p1))
NOSYS(fd_fdstat_set_rights, (bay__wasm_host *h, u32 p1, u64 p2, u64 p3))
NOSYS(fd_filestat_set_size, (bay__wasm_host *h, u32 p1, u64 p2))
NOSYS(fd_filestat_set_times, (bay__wasm_host *h, u32 p1, u64 p2, u64 p3, u32 p4))
NOSYS(fd_pread, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u64 p4, u32 p5))
NOSYS(fd_pwrite, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u64 p4, u32 p5))
NOSYS(fd_renumber, (bay__wasm_host *h, u32 p1, u32 p2))
NOSYS(path_filestat_set_times, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u32 p4, u64 p5, u64 p6, u32 p7))
NOSYS(path_link, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u32 p4, u32 p5, u32 p6, u32 p7))
NOSYS(path_readlink, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u32 p4, u32 p5, u32 p6))
NOSYS(path_remove_directory, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3))
NOSYS(path_rename, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u32 p4, u32 p5, u32 p6))
NOSYS(path_symlink, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u32 p4, u32 p5))
NOSYS(poll_oneoff, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u32 p4))
NOSYS(sock_accept, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3))
NOSYS(sock_recv, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u32 p4, u32 p5, u32 p6))
NOSYS(sock_send, (bay__wasm_host *h, u32 p1, u32 p2, u32 p3, u32 p4, u32 p5))
NOSYS(sock_shutdown, (bay__wasm_host *h, u32 p1, u32 p2))
