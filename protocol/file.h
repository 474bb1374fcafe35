/* protocol/file.h — small files read whole, new files written safely (key files, plugin.sig), files hashed, folders removed whole. */
#ifndef BAY_FILE_H
#define BAY_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* bay__file_read_small reads the regular file name (relative to the folder
 * at, or AT_FDCWD; a symbolic link only when flags has no O_NOFOLLOW) of at
 * most max bytes into a new NUL-terminated *text the caller frees. Returns 0
 * or an errno value (EFBIG when larger, EINVAL when not a regular file); st
 * receives its status. */
int bay__file_read_small(int at, const char *name, int flags, size_t max, char **text, size_t *len, struct stat *st);

/* bay__file_read_fd reads the regular file open at f (left open) as
 * bay__file_read_small does. */
int bay__file_read_fd(int f, size_t max, char **text, size_t *len, struct stat *st);

/* bay__file_write_new creates the file path (relative to at) with mode,
 * writes len bytes and flushes them to disk. Fails with EEXIST when it
 * exists. Returns 0 or an errno value (the file then removed) and *step says
 * what failed: "create", "write" or "flush to disk". */
int bay__file_write_new(int at, const char *path, mode_t mode, const char *data, size_t len, const char **step);

/* bay__file_remove_tree deletes name (relative to the folder dirfd, or
 * AT_FDCWD) and all below it, never following symbolic links. Returns 0
 * (also when name is absent) or an errno value. */
int bay__file_remove_tree(int dirfd, const char *name);

/* bay__file_mkdirs makes each missing folder of path (a writable string)
 * whose name ends after byte from (0: all of them), with mode, and path
 * itself too when last is true. Returns 0, or an errno value with path cut at
 * the folder that could not be made (so a message can name it). */
int bay__file_mkdirs(char *path, size_t from, bool last, mode_t mode);

/* bay__file_remove_up deletes path and all below it (as bay__file_remove_tree),
 * then each folder above it whose '/' comes at or after byte from, up to the
 * first that is not empty. path (a writable string) is cut in the process. */
void bay__file_remove_up(char *path, size_t from);

/* bay__file_temp_folder makes a new folder $TMPDIR/plugbay-WHAT-XXXXXX
 * (/tmp without $TMPDIR) and writes its path to tmp (PATH_MAX bytes).
 * Returns 0 or mkdtemp's errno value. */
int bay__file_temp_folder(const char *what, char *tmp);

/* bay__file_sha256 reads the file at path (opened with flags besides
 * O_RDONLY: O_NOFOLLOW to refuse a symbolic link, or 0) and writes its
 * SHA-256 to hex, 64 lowercase hex digits and a NUL, and its size to *size
 * (NULL allowed); with copy_to not -1 it writes the bytes there too. Returns
 * 0 or an errno value (of the read, or of the copy's write). */
int bay__file_sha256(const char *path, int flags, int copy_to, char hex[65], uint64_t *size);

#endif
