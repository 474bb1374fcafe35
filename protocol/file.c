/* protocol/file.c — small files read whole, new files written safely (key files, plugin.sig), folders removed whole. */
#include "file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

int bay__file_read_small(int at, const char *name, int flags, size_t max, char **text, size_t *len, struct stat *st)
{
    int f = openat(at, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | flags);
    if (f < 0)
        return errno;
    int e = bay__file_read_fd(f, max, text, len, st);
    close(f);
    return e;
}

int bay__file_read_fd(int f, size_t max, char **text, size_t *len, struct stat *st)
{
    int e = 0;
    *text = NULL;
    if (fstat(f, st) != 0)
        e = errno;
    else if (!S_ISREG(st->st_mode))
        e = EINVAL;
    else if ((size_t)st->st_size > max)
        e = EFBIG;
    else if ((*text = malloc((size_t)st->st_size + 1)) == NULL)
        e = ENOMEM;
    size_t n = 0;
    while (e == 0 && n < (size_t)st->st_size) {
        ssize_t got = read(f, *text + n, (size_t)st->st_size - n);
        if (got <= 0) {
            e = got < 0 ? errno : 0;
            break;
        }
        n += (size_t)got;
    }
    if (e) {
        free(*text);
        *text = NULL;
        return e;
    }
    (*text)[n] = '\0';
    *len = n;
    return 0;
}

int bay__file_write_new(int at, const char *path, mode_t mode, const char *data, size_t len, const char **step)
{
    int f = openat(at, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode), e = 0;
    *step = "create";
    if (f < 0)
        return errno;
    *step = "write";
    for (size_t n = 0; e == 0 && n < len;) {
        ssize_t w = write(f, data + n, len - n);
        if (w < 0 && errno != EINTR)
            e = errno;
        else if (w > 0)
            n += (size_t)w;
    }
    if (e == 0 && fsync(f) != 0)
        e = errno, *step = "flush to disk";
    if (close(f) != 0 && e == 0)
        e = errno, *step = "write";
    if (e)
        unlinkat(at, path, 0);
    return e;
}

int bay__file_remove_tree(int dirfd, const char *name)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW))
        return errno == ENOENT ? 0 : errno;
    if (S_ISDIR(st.st_mode)) {
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), rc = 0;
        DIR *d = fd < 0 ? NULL : fdopendir(fd);
        struct dirent *e;
        if (!d) {
            rc = errno;
            if (fd >= 0)
                close(fd);
            return rc;
        }
        while (!rc && (e = readdir(d)))
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                rc = bay__file_remove_tree(fd, e->d_name);
        closedir(d);
        if (rc)
            return rc;
    }
    return unlinkat(dirfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) ? errno : 0;
}

int bay__file_mkdirs(char *path, size_t from, bool last, mode_t mode)
{
    for (char *p = path + (from ? from : 1);; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        if (c == '\0' && !last)
            return 0;
        *p = '\0';
        if (mkdir(path, mode) != 0 && errno != EEXIST)
            return errno; /* path stays cut at the folder that failed */
        if (c == '\0')
            return 0;
        *p = c;
    }
}

void bay__file_remove_up(char *path, size_t from)
{
    bay__file_remove_tree(AT_FDCWD, path);
    for (char *slash; (slash = strrchr(path + from, '/')) != NULL && (*slash = '\0', rmdir(path) == 0);)
        ;
}

int bay__file_temp_folder(const char *what, char *tmp)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmp, PATH_MAX, "%s/plugbay-%s-XXXXXX", base && *base ? base : "/tmp", what);
    return mkdtemp(tmp) ? 0 : errno;
}

int bay__file_sha256(const char *path, int flags, int copy_to, char hex[65], uint64_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
    if (fd < 0)
        return errno;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char buf[64 * 1024], digest[crypto_hash_sha256_BYTES];
    ssize_t n;
    uint64_t total = 0;
    int rc = 0;
    while (rc == 0 && (n = read(fd, buf, sizeof buf)) > 0) {
        crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
        total += (uint64_t)n;
        for (ssize_t done = 0, w; copy_to >= 0 && rc == 0 && done < n; done += w)
            rc = (w = write(copy_to, buf + done, (size_t)(n - done))) < 0 ? errno : 0;
    }
    if (rc == 0 && n < 0)
        rc = errno;
    close(fd);
    crypto_hash_sha256_final(&st, digest);
    sodium_bin2hex(hex, 65, digest, sizeof digest);
    if (size)
        *size = total;
    return rc;
}
