/* broker/signature.c — signs plugin folders with Ed25519 keys (libsodium) and verifies them against trusted keys. */
#include "signature.h"

#include "file.h"
#include "key.h"
#include "text.h"

#include <plugbay/error.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIG_FORMAT 1
#define SIG_TMP BAY_SIG_FILE ".tmp"
#define SIG_HEADER "plugbay-signature 1\n"
#define PUBLIC_TAG BAY_KEY_PUBLIC_TAG
#define MAX_FILES 100000         /* files one signature may cover */
#define MAX_DEPTH 32             /* folder levels below the plugin folder */
#define MAX_SIG_BYTES (64 << 20) /* plugin.sig */
#define HEX_SIZE (2 * crypto_hash_sha256_BYTES + 1)
#define B64 sodium_base64_VARIANT_ORIGINAL
#define REFETCH "get a fresh copy from its author, or sign it again if the change is yours"

/* One file of a plugin folder: its path below the folder ("lib/util.lua") and its SHA-256 in hex. */
typedef struct file_hash {
    char *path;
    char hex[HEX_SIZE];
} file_hash;

/* A plugin folder's files, sorted by path (strcmp) once complete. */
typedef struct file_list {
    file_hash *v;
    size_t n, cap;
} file_list;

/* What a plugin.sig holds, checked. */
typedef struct sig_file {
    char key_id[BAY_KEY_ID_SIZE];
    unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
    unsigned char signature[crypto_sign_BYTES];
    file_list files;
} sig_file;

/* A walk through a plugin folder: where messages go and how a file that
 * cannot be signed is refused (BAY_EINVAL when signing, BAY_EPERM when verifying). */
typedef struct walk {
    const char *dir;
    file_list *files;
    int refuse;
    bay_error *err;
} walk;

/* ---- names ---------------------------------------------------------------- */

/* relative_path_ok tells whether path is a path walk() could have listed:
 * "/"-separated printable names, none empty, "." or "..". */
static bool relative_path_ok(const char *path)
{
    if (strlen(path) >= PATH_MAX || !bay__text_printable(path))
        return false;
    for (const char *p = path;;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        if (p[n] == '\0')
            return true;
        p += n + 1;
    }
}

/* ---- file lists ------------------------------------------------------------ */

static void list_free(file_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].path);
    free(l->v);
    *l = (file_list){0};
}

/* list_add appends a copy of path with its hash. 0 or BAY_ENOMEM. */
static int list_add(file_list *l, const char *path, const char *hex)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        file_hash *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return BAY_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    if ((l->v[l->n].path = strdup(path)) == NULL)
        return BAY_ENOMEM;
    snprintf(l->v[l->n].hex, HEX_SIZE, "%s", hex);
    l->n++;
    return 0;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const file_hash *)a)->path, ((const file_hash *)b)->path);
}

static void list_sort(file_list *l)
{
    if (l->n)
        qsort(l->v, l->n, sizeof *l->v, by_path);
}

/* ---- reading a plugin folder ------------------------------------------------ */

/* hash_file writes the SHA-256 in hex of the regular file name (in the folder
 * fd; path below the plugin folder, for messages) to hex. */
static int hash_file(const walk *w, int fd, const char *name, const char *path, char hex[HEX_SIZE])
{
    int f = openat(fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (f < 0 || fstat(f, &st) != 0) {
        int e = errno;
        if (f >= 0)
            close(f);
        return bay_error_set(w->err, BAY_EIO, NULL, "%s/%s: cannot read: %s", w->dir, path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(f);
        return bay_error_set(w->err, w->refuse, NULL, "%s/%s: was replaced while being read; try again", w->dir, path);
    }
    crypto_hash_sha256_state h;
    unsigned char buf[65536], digest[crypto_hash_sha256_BYTES];
    ssize_t n;
    crypto_hash_sha256_init(&h);
    while ((n = read(f, buf, sizeof buf)) > 0)
        crypto_hash_sha256_update(&h, buf, (unsigned long long)n);
    int e = errno;
    close(f);
    if (n < 0)
        return bay_error_set(w->err, BAY_EIO, NULL, "%s/%s: cannot read: %s", w->dir, path, strerror(e));
    crypto_hash_sha256_final(&h, digest);
    sodium_bin2hex(hex, HEX_SIZE, digest, sizeof digest);
    return 0;
}

/* walk_folder adds every file below the folder fd (rel: its path below the
 * plugin folder, "" or ending in '/'; depth: its level) to w->files. At the
 * top, plugin.sig is passed over. Takes fd and closes it. */
static int walk_folder(const walk *w, int fd, const char *rel, int depth)
{
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        int e = errno;
        close(fd);
        return bay_error_set(w->err, BAY_EIO, NULL, "%s/%s: cannot read the folder: %s", w->dir, rel, strerror(e));
    }
    int rc = 0;
    struct dirent *ent;
    errno = 0;
    while (rc == 0 && (ent = readdir(d)) != NULL) {
        const char *name = ent->d_name;
        char path[PATH_MAX], safe[256];
        struct stat st;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || (depth == 0 && strcmp(name, BAY_SIG_FILE) == 0))
            continue;
        if ((size_t)snprintf(path, sizeof path, "%s%s", rel, name) >= sizeof path - 1)
            rc = bay_error_set(w->err, w->refuse, NULL, "%s/%s: the path is too long to sign", w->dir, rel);
        else if (!bay__text_printable(name))
            rc = bay_error_set(w->err, w->refuse, NULL,
                               "%s: the name of \"%s\" is not printable UTF-8 or holds a backslash, so it cannot be "
                               "signed; rename it", w->dir, bay__text_shown(path, safe, sizeof safe));
        else if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            rc = bay_error_set(w->err, BAY_EIO, NULL, "%s/%s: %s", w->dir, path, strerror(errno));
        else if (S_ISLNK(st.st_mode))
            rc = bay_error_set(w->err, w->refuse, NULL,
                               "%s: \"%s\" is a symbolic link; a signed plugin holds only files and folders "
                               "(replace the link by what it points to)", w->dir, path);
        else if (S_ISDIR(st.st_mode) && depth + 1 > MAX_DEPTH)
            rc = bay_error_set(w->err, w->refuse, NULL, "%s: \"%s\" is nested more than %d folders deep", w->dir, path,
                               MAX_DEPTH);
        else if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            strcat(path, "/");
            rc = sub < 0 ? bay_error_set(w->err, BAY_EIO, NULL, "%s/%s: %s", w->dir, path, strerror(errno))
                         : walk_folder(w, sub, path, depth + 1);
        } else if (!S_ISREG(st.st_mode))
            rc = bay_error_set(w->err, w->refuse, NULL,
                               "%s: \"%s\" is neither a file nor a folder (a device, socket or pipe), which a signed "
                               "plugin may not hold", w->dir, path);
        else if (w->files->n == MAX_FILES)
            rc = bay_error_set(w->err, w->refuse, NULL, "%s: more than %d files; a signature covers at most that many",
                               w->dir, MAX_FILES);
        else {
            char hex[HEX_SIZE];
            rc = hash_file(w, dirfd(d), name, path, hex);
            if (rc == 0 && list_add(w->files, path, hex) != 0)
                rc = bay_error_set(w->err, BAY_ENOMEM, NULL, "out of memory");
        }
        errno = 0;
    }
    if (rc == 0 && errno != 0)
        rc = bay_error_set(w->err, BAY_EIO, NULL, "%s/%s: cannot read the folder: %s", w->dir, rel, strerror(errno));
    closedir(d);
    return rc;
}

/* list_folder fills files with every file of the plugin folder dir (open as
 * fd, which stays open), sorted by path. */
static int list_folder(const char *dir, int fd, int refuse, file_list *files, bay_error *err)
{
    walk w = {dir, files, refuse, err};
    int top = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (top < 0)
        return bay_error_set(err, BAY_EIO, NULL, "%s: cannot read the folder: %s", dir, strerror(errno));
    int rc = walk_folder(&w, top, "", 0);
    if (rc)
        list_free(files);
    else
        list_sort(files);
    return rc;
}

/* open_folder opens the plugin folder dir. */
static int open_folder(const char *dir, int *fd, bay_error *err)
{
    if (dir == NULL || *dir == '\0')
        return bay_error_set(err, BAY_EINVAL, NULL, "no plugin folder given");
    *fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return *fd < 0 ? bay_error_set(err, BAY_EIO, NULL, "%s: cannot open the plugin folder: %s", dir, strerror(errno))
                   : 0;
}

int bay__signature_trusted_key(const char *trusted, const unsigned char pk[BAY_KEY_PUBLIC_BYTES], char *comment,
                               size_t clen, bool *found, bay_error *err)
{
    DIR *d = opendir(trusted);
    if (d == NULL)
        return bay_error_set(err, BAY_EIO, NULL, "%s: cannot open the trusted-keys folder: %s", trusted,
                             strerror(errno));
    int rc = 0;
    *found = false;
    struct dirent *ent;
    while (rc == 0 && (ent = readdir(d)) != NULL) {
        size_t n = strlen(ent->d_name);
        if (n <= 4 || strcmp(ent->d_name + n - 4, ".pub") != 0)
            continue;
        char *text = NULL, line_comment[BAY_KEY_COMMENT_MAX + 1];
        size_t len;
        struct stat st;
        unsigned char key[crypto_sign_PUBLICKEYBYTES];
        int e = bay__file_read_small(dirfd(d), ent->d_name, 0, BAY_KEY_FILE_MAX, &text, &len, &st);
        if (e == 0 && !bay__key_parse_public(text, key, line_comment, sizeof line_comment))
            rc = bay_error_set(err, BAY_EIO, NULL,
                               "%s/%s: not a plugbay public key (expected one line \"" PUBLIC_TAG " BASE64 [COMMENT]\" "
                               "as plugbay keygen writes); fix or remove it", trusted, ent->d_name);
        else if (e != 0 && e != EINVAL) /* a folder or device named *.pub is passed over */
            rc = bay_error_set(err, e == ENOMEM ? BAY_ENOMEM : BAY_EIO, NULL, "%s/%s: cannot read the key: %s", trusted,
                               ent->d_name, e == EFBIG ? "too large for a key file" : strerror(e));
        else if (e == 0 && !*found && memcmp(key, pk, sizeof key) == 0) {
            if (comment)
                snprintf(comment, clen, "%s", line_comment);
            *found = true;
        }
        free(text);
    }
    closedir(d);
    return rc;
}

/* trusted_signer finds the key that signed sig among the trusted keys (its
 * comment to signer); BAY_EPERM naming dir when it is not there. */
static int trusted_signer(const char *dir, const char *trusted, const sig_file *sig, char *signer, size_t slen,
                          bay_error *err)
{
    bool found;
    int rc = bay__signature_trusted_key(trusted, sig->public_key, signer, slen, &found, err);
    if (rc == 0 && !found)
        rc = bay_error_set(err, BAY_EPERM, NULL,
                           "%s: signed by key %s, which is not among the trusted keys in %s; if you trust its author, "
                           "copy their .pub file there", dir, sig->key_id, trusted);
    return rc;
}

/* ---- plugin.sig ---------------------------------------------------------------- */

/* canonical returns the bytes a signature covers, in a new string of *len
 * bytes (NULL when out of memory): SIG_HEADER, "key ID\n", then one line
 * "HEX  PATH\n" per file in path order (sha256sum's format). */
static char *canonical(const char *key_id, const file_list *files, size_t *len)
{
    size_t size = strlen(SIG_HEADER) + strlen("key \n") + strlen(key_id) + 1;
    for (size_t i = 0; i < files->n; i++)
        size += HEX_SIZE - 1 + 3 + strlen(files->v[i].path);
    char *text = malloc(size);
    if (text == NULL)
        return NULL;
    size_t n = (size_t)snprintf(text, size, SIG_HEADER "key %s\n", key_id);
    for (size_t i = 0; i < files->n; i++)
        n += (size_t)snprintf(text + n, size - n, "%s  %s\n", files->v[i].hex, files->v[i].path);
    *len = n;
    return text;
}

/* sig_json builds plugin.sig's text. NULL when out of memory. */
static char *sig_json(const char *key_id, const unsigned char *pk, const unsigned char *sig, const file_list *files)
{
    char pk64[BAY_KEY_BASE64_SIZE];
    char sig64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES, B64)];
    bay__key_to_base64(pk, pk64);
    sodium_bin2base64(sig64, sizeof sig64, sig, crypto_sign_BYTES, B64);
    json_t *list = json_object();
    bool ok = list != NULL;
    for (size_t i = 0; ok && i < files->n; i++)
        ok = json_object_set_new(list, files->v[i].path, json_string(files->v[i].hex)) == 0;
    json_t *root = ok ? json_pack("{s:i, s:s, s:s, s:s, s:O}", "format", SIG_FORMAT, "key_id", key_id,
                                  "public_key", pk64, "signature", sig64, "files", list)
                      : NULL;
    char *text = root ? json_dumps(root, JSON_INDENT(2)) : NULL;
    json_decref(root);
    json_decref(list);
    return text;
}

/* replace_sig writes text as DIR/plugin.sig atomically (via plugin.sig.tmp, flushed, renamed, folder flushed). */
static int replace_sig(int fd, const char *dir, const char *text, bay_error *err)
{
    size_t len = strlen(text);
    char *line = malloc(len + 2);
    if (line == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    memcpy(line, text, len);
    memcpy(line + len, "\n", 2);
    const char *step;
    int e = bay__file_write_new(fd, SIG_TMP, 0644, line, len + 1, &step);
    free(line);
    if (e)
        return bay_error_set(err, BAY_EIO, NULL, "cannot %s %s/%s: %s", step, dir, SIG_TMP, strerror(e));
    if (renameat(fd, SIG_TMP, fd, BAY_SIG_FILE) != 0) {
        e = errno;
        unlinkat(fd, SIG_TMP, 0);
        return bay_error_set(err, BAY_EIO, NULL, "cannot rename %s/%s to %s: %s", dir, SIG_TMP, BAY_SIG_FILE,
                             strerror(e));
    }
    if (fsync(fd) != 0)
        return bay_error_set(err, BAY_EIO, NULL, "cannot flush folder %s after writing %s: %s", dir, BAY_SIG_FILE,
                             strerror(errno));
    return 0;
}

/* sign_open opens the plugin folder dir for signing (it must hold a plugin.json) as *fd. */
static int sign_open(const char *dir, int *fd, bay_error *err)
{
    struct stat st;
    int rc = open_folder(dir, fd, err);
    if (rc == 0 && (fstatat(*fd, "plugin.json", &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)))
        rc = bay_error_set(err, BAY_EINVAL, NULL, "%s holds no plugin.json: only plugin folders are signed", dir);
    return rc;
}

/* sign_folder builds the text of a plugin.sig for the folder dir (open as
 * fd) signed with the secret key in key_path into *text (the caller frees it)
 * and fills info. */
static int sign_folder(const char *dir, int fd, const char *key_path, char **text, bay__sig_info *info,
                       bay_error *err)
{
    unsigned char sk[crypto_sign_SECRETKEYBYTES], pk[crypto_sign_PUBLICKEYBYTES], sig[crypto_sign_BYTES];
    file_list files = {0};
    char *message = NULL;
    size_t len;
    int rc = bay__key_init(err);
    *text = NULL;
    if (rc == 0 && (key_path == NULL || *key_path == '\0'))
        rc = bay_error_set(err, BAY_EINVAL, NULL, "no secret key file given");
    if (rc == 0)
        rc = bay__key_read_secret(key_path, sk, err);
    if (rc == 0)
        rc = list_folder(dir, fd, BAY_EINVAL, &files, err);
    if (rc == 0) {
        crypto_sign_ed25519_sk_to_pk(pk, sk);
        bay__key_id(pk, info->key_id);
        if ((message = canonical(info->key_id, &files, &len)) == NULL)
            rc = bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    }
    if (rc == 0) {
        crypto_sign_detached(sig, NULL, (const unsigned char *)message, len, sk);
        if ((*text = sig_json(info->key_id, pk, sig, &files)) == NULL)
            rc = bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    }
    if (rc == 0) {
        info->signer[0] = '\0';
        info->nfiles = files.n;
    }
    sodium_memzero(sk, sizeof sk);
    free(message);
    list_free(&files);
    return rc;
}

int bay__signature_make(const char *dir, const char *key_path, char **text, bay__sig_info *info, bay_error *err)
{
    int fd = -1, rc = sign_open(dir, &fd, err);
    if (rc == 0)
        rc = sign_folder(dir, fd, key_path, text, info, err);
    if (fd >= 0)
        close(fd);
    return rc;
}

int bay__signature_sign(const char *dir, const char *key_path, bay__sig_info *info, bay_error *err)
{
    char *text = NULL;
    int fd = -1, rc = sign_open(dir, &fd, err);
    if (rc == 0 && unlinkat(fd, SIG_TMP, 0) != 0 && errno != ENOENT) /* left by an interrupted sign */
        rc = bay_error_set(err, BAY_EIO, NULL, "cannot delete %s/%s: %s", dir, SIG_TMP, strerror(errno));
    if (rc == 0)
        rc = sign_folder(dir, fd, key_path, &text, info, err);
    if (rc == 0)
        rc = replace_sig(fd, dir, text, err);
    free(text);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* sig_field reports a field of plugin.sig that is not what format 1 says. */
static int sig_field(const char *dir, const char *field, const char *expected, bay_error *err)
{
    return bay_error_set(err, BAY_EPERM, NULL,
                         "%s/" BAY_SIG_FILE ": field \"%s\": expected %s (the file is damaged or altered; " REFETCH ")",
                         dir, field, expected);
}

/* sig_base64 decodes the string field of root into exactly size bytes. */
static int sig_base64(const char *dir, json_t *root, const char *field, unsigned char *bin, size_t size,
                      const char *expected, bay_error *err)
{
    json_t *v = json_object_get(root, field);
    if (!json_is_string(v) || !bay__key_base64_exact(json_string_value(v), json_string_length(v), bin, size))
        return sig_field(dir, field, expected, err);
    return 0;
}

/* sig_files reads the "files" object into files, sorted. */
static int sig_files(const char *dir, json_t *root, file_list *files, bay_error *err)
{
    json_t *obj = json_object_get(root, "files"), *v;
    const char *path;
    if (!json_is_object(obj) || json_object_size(obj) > MAX_FILES)
        return sig_field(dir, "files", "an object from each file's path to its SHA-256 in hex", err);
    json_object_foreach(obj, path, v) {
        const char *hex = json_string_value(v);
        char field[PATH_MAX + 8], safe[PATH_MAX];
        if (!relative_path_ok(path)) {
            snprintf(field, sizeof field, "files.%s", bay__text_shown(path, safe, sizeof safe));
            return sig_field(dir, field, "a key that is a file's path inside the folder", err);
        }
        if (hex == NULL || strlen(hex) != HEX_SIZE - 1 || strspn(hex, "0123456789abcdef") != HEX_SIZE - 1) {
            snprintf(field, sizeof field, "files.%s", path);
            return sig_field(dir, field, "a SHA-256 as 64 lowercase hex digits", err);
        }
        if (list_add(files, path, hex) != 0)
            return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    }
    list_sort(files);
    return 0;
}

/* sig_unknown_field tells which field of root is not part of the format, or NULL when none. */
static const char *sig_unknown_field(json_t *root)
{
    static const char *const fields[] = {"format", "key_id", "public_key", "signature", "files"};
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        size_t i = 0;
        while (i < sizeof fields / sizeof *fields && strcmp(key, fields[i]) != 0)
            i++;
        if (i == sizeof fields / sizeof *fields)
            return key;
    }
    return NULL;
}

/* sig_parse checks the JSON object root read from DIR/plugin.sig and fills sig. */
static int sig_parse(const char *dir, json_t *root, sig_file *sig, bay_error *err)
{
    json_t *format = json_object_get(root, "format"), *id = json_object_get(root, "key_id");
    const char *unknown = sig_unknown_field(root);
    char computed[BAY_KEY_ID_SIZE], safe[64];
    int rc;
    if (json_is_integer(format) && json_integer_value(format) != SIG_FORMAT)
        return bay_error_set(err, BAY_EPERM, NULL,
                             "%s/" BAY_SIG_FILE ": format %" JSON_INTEGER_FORMAT " is not one this plugbay reads "
                             "(only %d); upgrade plugbay", dir, json_integer_value(format), SIG_FORMAT);
    if (!json_is_integer(format))
        return sig_field(dir, "format", "the integer 1", err);
    if (unknown)
        return bay_error_set(err, BAY_EPERM, NULL,
                             "%s/" BAY_SIG_FILE ": field \"%s\" is not part of format %d (" REFETCH ")", dir,
                             bay__text_shown(unknown, safe, sizeof safe), SIG_FORMAT);
    if ((rc = sig_base64(dir, root, "public_key", sig->public_key, sizeof sig->public_key,
                         "the base64 of a 32-byte Ed25519 public key", err)) != 0 ||
        (rc = sig_base64(dir, root, "signature", sig->signature, sizeof sig->signature,
                         "the base64 of a 64-byte Ed25519 signature", err)) != 0)
        return rc;
    if (!json_is_string(id) || json_string_length(id) != BAY_KEY_ID_SIZE - 1 ||
        strspn(json_string_value(id), "0123456789abcdef") != BAY_KEY_ID_SIZE - 1)
        return sig_field(dir, "key_id", "a key id of 16 lowercase hex digits", err);
    snprintf(sig->key_id, sizeof sig->key_id, "%s", json_string_value(id));
    bay__key_id(sig->public_key, computed);
    if (strcmp(computed, sig->key_id) != 0)
        return bay_error_set(err, BAY_EPERM, NULL,
                             "%s/" BAY_SIG_FILE ": key_id %s is not the id of its public_key (%s): the file was "
                             "altered (" REFETCH ")", dir, sig->key_id, computed);
    return sig_files(dir, root, &sig->files, err);
}

/* sig_read reads and checks DIR/plugin.sig (dir open as fd). */
static int sig_read(const char *dir, int fd, sig_file *sig, bay_error *err)
{
    char *text = NULL;
    size_t len = 0;
    struct stat st;
    int e = bay__file_read_small(fd, BAY_SIG_FILE, O_NOFOLLOW, MAX_SIG_BYTES, &text, &len, &st);
    if (e == ENOENT)
        return bay_error_set(err, BAY_EPERM, NULL,
                             "%s is not signed (it has no " BAY_SIG_FILE "); ask its author for a signed copy, or sign "
                             "it yourself with `plugbay sign %s --key FILE`", dir, dir);
    if (e == ELOOP || e == EINVAL)
        return bay_error_set(err, BAY_EPERM, NULL, "%s/" BAY_SIG_FILE " is not a regular file (" REFETCH ")", dir);
    if (e)
        return bay_error_set(err, e == ENOMEM ? BAY_ENOMEM : BAY_EIO, NULL, "%s/" BAY_SIG_FILE ": cannot read: %s", dir,
                             e == EFBIG ? "larger than any signature" : strerror(e));
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    int rc;
    if (root == NULL)
        rc = bay_error_set(err, BAY_EPERM, NULL, "%s/" BAY_SIG_FILE ": line %d column %d: %s (" REFETCH ")", dir,
                           jerr.line, jerr.column, jerr.text);
    else if (!json_is_object(root))
        rc = bay_error_set(err, BAY_EPERM, NULL, "%s/" BAY_SIG_FILE ": expected a JSON object (" REFETCH ")", dir);
    else
        rc = sig_parse(dir, root, sig, err);
    json_decref(root);
    return rc;
}

/* ---- verification ----------------------------------------------------------- */

/* The differences between what was signed and what a folder holds, listed for a message. */
typedef struct changes {
    char text[320];
    size_t used, shown, total;
} changes;

static void note(changes *c, const char *path, const char *what)
{
    size_t room = sizeof c->text - c->used;
    int n = snprintf(c->text + c->used, room, "%s\"%s\" %s", c->shown ? ", " : "", path, what);
    c->total++;
    if (n > 0 && (size_t)n < room) {
        c->used += (size_t)n;
        c->shown++;
    } else {
        c->text[c->used] = '\0';
    }
}

/* compare tells which files were altered, added or removed since signing:
 * 0 when none, else BAY_EPERM with them listed. */
static int compare(const char *dir, const sig_file *sig, const file_list *disk, bay_error *err)
{
    const file_list *was = &sig->files;
    changes c = {.used = 0};
    size_t i = 0, j = 0;
    while (i < was->n || j < disk->n) {
        int order = i == was->n ? 1 : j == disk->n ? -1 : strcmp(was->v[i].path, disk->v[j].path);
        if (order < 0)
            note(&c, was->v[i++].path, "removed");
        else if (order > 0)
            note(&c, disk->v[j++].path, "added");
        else if (strcmp(was->v[i++].hex, disk->v[j++].hex) != 0)
            note(&c, was->v[i - 1].path, "altered");
    }
    if (c.total == 0)
        return 0;
    char more[48] = "";
    if (c.total > c.shown)
        snprintf(more, sizeof more, "%s%zu more", c.shown ? " and " : "", c.total - c.shown);
    return bay_error_set(err, BAY_EPERM, NULL, "%s: changed since key %s signed it: %s%s (" REFETCH ")", dir,
                         sig->key_id, c.text, more);
}

int bay__signature_verify(const char *dir, const char *trusted_dir, bay__sig_info *info, bay_error *err)
{
    sig_file sig = {.files = {0}};
    file_list disk = {0};
    char *message = NULL;
    size_t len;
    int fd = -1, rc = bay__key_init(err);
    info->signer[0] = '\0';
    if (rc == 0)
        rc = open_folder(dir, &fd, err);
    if (rc == 0)
        rc = sig_read(dir, fd, &sig, err);
    if (rc == 0 && trusted_dir)
        rc = trusted_signer(dir, trusted_dir, &sig, info->signer, sizeof info->signer, err);
    if (rc == 0 && (message = canonical(sig.key_id, &sig.files, &len)) == NULL)
        rc = bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    if (rc == 0 && crypto_sign_verify_detached(sig.signature, (const unsigned char *)message, len, sig.public_key))
        rc = bay_error_set(err, BAY_EPERM, NULL,
                           "%s/" BAY_SIG_FILE ": the signature does not match the file list: plugin.sig was altered "
                           "(" REFETCH ")", dir);
    if (rc == 0)
        rc = list_folder(dir, fd, BAY_EPERM, &disk, err);
    if (rc == 0)
        rc = compare(dir, &sig, &disk, err);
    if (rc == 0) {
        snprintf(info->key_id, sizeof info->key_id, "%s", sig.key_id);
        memcpy(info->public_key, sig.public_key, sizeof info->public_key);
        info->nfiles = disk.n;
    }
    free(message);
    list_free(&sig.files);
    list_free(&disk);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* ---- policy -------------------------------------------------------------------- */

static const char *const policy_names[] = {
    [BAY_SIG_OFF] = "off",
    [BAY_SIG_WARN] = "warn",
    [BAY_SIG_REQUIRE] = "require-signed",
};

int bay__signature_policy_parse(const char *text, bay__sig_policy *policy)
{
    for (size_t i = 0; text && i < sizeof policy_names / sizeof *policy_names; i++)
        if (strcmp(text, policy_names[i]) == 0) {
            *policy = (bay__sig_policy)i;
            return 0;
        }
    return BAY_EINVAL;
}

const char *bay__signature_policy_name(bay__sig_policy policy)
{
    return (size_t)policy < sizeof policy_names / sizeof *policy_names ? policy_names[policy] : "?";
}
