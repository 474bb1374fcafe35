/* bridges/wasm/cache.c — translating a module with wasm2c, compiling it with cc, and keeping the result by SHA-256 under STATE/cache/wasm. */
#include "cache.h"

#include "file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <plugbay/error.h>

extern char **environ;

#define TEXT_(x) #x
#define TEXT(x) TEXT_(x)

/* How cc compiles a translated module. The runtime defines must match those
 * plugbay-worker-wasm itself is built with (bridges/wasm/CMakeLists.txt), and
 * the -D renames route the allocations of memories and tables through the
 * worker (runtime.c). */
static const char *const cc_flags[] = {
    "-shared", "-fPIC", "-O2", "-w",
    "-DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0",
    "-DWASM_RT_MAX_CALL_STACK_DEPTH=" TEXT(BAY_WASM_STACK_DEPTH),
    "-Dwasm_rt_allocate_memory=bay_wasm_allocate_memory",
    "-Dwasm_rt_grow_memory=bay_wasm_grow_memory",
    "-Dwasm_rt_grow_funcref_table=bay_wasm_grow_funcref_table",
    "-Dwasm_rt_grow_externref_table=bay_wasm_grow_externref_table",
    "-I" BAY_WASM_RT_INCLUDE,
};
#define NFLAGS (sizeof cc_flags / sizeof cc_flags[0])

/* Bump when the glue below or the way the worker uses the object changes. */
#define GLUE_VERSION "2"

/* A temporary folder left by a worker killed while compiling is removed after this long. */
#define STALE_SECONDS 600

int bay__wasm_cache_dir(const char *data_dir, const char *id, char *out, size_t size, bay_error *err)
{
    char tail[PATH_MAX];
    snprintf(tail, sizeof tail, "/data/%s", id);
    size_t n = strlen(data_dir), t = strlen(tail);
    int w = n > t && strcmp(data_dir + n - t, tail) == 0
                ? snprintf(out, size, "%.*s/cache/wasm", (int)(n - t), data_dir)
                : snprintf(out, size, "%s/.wasm-cache", data_dir);
    if (w < 0 || (size_t)w >= size)
        return bay_error_set(err, BAY_EIO, NULL, "the cache folder for %s is too long a path", data_dir);
    char folders[PATH_MAX];
    snprintf(folders, sizeof folders, "%s", out);
    int rc = bay__file_mkdirs(folders, 0, true, 0700);
    return rc ? bay_error_set(err, BAY_EIO, NULL, "cannot create the compile cache %s: %s", out, strerror(rc)) : 0;
}

static void hex(const unsigned char *bytes, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", bytes[i]);
}

/* object_name writes the cache file name of the module: SHA256-RECIPE.so. */
static void object_name(const uint8_t *wasm, size_t len, char out[64 + 1 + 8 + 4])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, wasm, len);
    hex(digest, sizeof digest, out);
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    static const char recipe[] = "wabt " BAY_WABT_VERSION "; glue " GLUE_VERSION;
    crypto_hash_sha256_update(&st, (const unsigned char *)recipe, sizeof recipe);
    for (size_t i = 0; i < NFLAGS; i++)
        crypto_hash_sha256_update(&st, (const unsigned char *)cc_flags[i], strlen(cc_flags[i]) + 1);
    crypto_hash_sha256_final(&st, digest);
    out[64] = '-';
    hex(digest, 4, out + 65);
    strcpy(out + 73, ".so");
}

/* Room left in a path after the build folder's name, for "/" and a file name. */
#define FILE_ROOM 32

/* A temporary folder where one module is translated and compiled. */
typedef struct build {
    char dir[PATH_MAX - FILE_ROOM];
    const char *name; /* the module as messages call it */
    bay_error *err;
} build;

/* path writes DIR/file into out (PATH_MAX bytes); file names are short
 * constants and DIR leaves FILE_ROOM for them. */
static char *path(const build *b, const char *file, char *out)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", b->dir, file);
    return n > 0 && n < PATH_MAX ? out : "";
}

static int write_file(const build *b, const char *file, const void *data, size_t len)
{
    char p[PATH_MAX];
    FILE *f = fopen(path(b, file, p), "wb");
    if (f == NULL)
        return bay_error_set(b->err, BAY_EIO, NULL, "cannot create %s: %s", p, strerror(errno));
    int e = fwrite(data, 1, len, f) == len ? 0 : errno;
    if (fclose(f) != 0 && e == 0)
        e = errno;
    return e ? bay_error_set(b->err, BAY_EIO, NULL, "cannot write %s: %s", p, strerror(e)) : 0;
}

/* out_of_space says so when the build folder's file system is full: a tool
 * then fails with its complaint lost, as its log cannot be written either. */
static int out_of_space(const build *b, const char *tool, const char *file)
{
    struct statvfs st;
    if (statvfs(b->dir, &st) != 0 || (geteuid() == 0 ? st.f_bfree : st.f_bavail) != 0)
        return 0;
    return bay_error_set(b->err, BAY_EIO, NULL, "%s cannot write %s/%s: %s", tool, b->dir, file,
                         strerror(ENOSPC));
}

/* read_log reads the start of DIR/log as one line, naming the module's copy
 * as the user knows the module and other files without the temporary folder. */
static void read_log(const build *b, const char *log, char *out, size_t size)
{
    char p[PATH_MAX], raw[1024], copy[PATH_MAX];
    FILE *f = fopen(path(b, log, p), "r");
    size_t n = f ? fread(raw, 1, sizeof raw - 1, f) : 0;
    if (f)
        fclose(f);
    raw[n] = '\0';
    size_t dir = strlen(b->dir), wasm = strlen(path(b, "module.wasm", copy)), o = 0;
    for (size_t i = 0; i < n && o + 1 < size; i++) {
        if (strncmp(raw + i, copy, wasm) == 0) {
            o += (size_t)snprintf(out + o, size - o, "%s", b->name);
            i += wasm - 1;
        } else if (strncmp(raw + i, b->dir, dir) == 0 && raw[i + dir] == '/')
            i += dir;
        else
            out[o++] = raw[i] == '\n' ? ' ' : raw[i];
    }
    if (o >= size)
        o = size - 1;
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

/* run runs argv (argv[0] searched in PATH) with stdin from /dev/null and
 * stdout and stderr into DIR/log, waits for it and stores its wait status.
 * Returns 0, or BAY_EIO with err saying why it could not run, followed by
 * advice (what to install). */
static int run(const build *b, char *const argv[], const char *log, int *status, const char *advice)
{
    char p[PATH_MAX];
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, path(b, log, p), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc)
        return bay_error_set(b->err, BAY_EIO, NULL, "cannot run %s: %s%s", argv[0], strerror(rc), advice);
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR)
            return bay_error_set(b->err, BAY_EIO, NULL, "waiting for %s: %s%s", argv[0], strerror(errno), advice);
    return 0;
}

/* What to do when wasm2c cannot be run, added to the reason. */
#define INSTALL_WABT "; install wabt (scripts/install-deps)"

/* status_text describes a wait status that is not a clean exit 0. */
static const char *status_text(int status, char *buf, size_t size)
{
    if (WIFSIGNALED(status))
        snprintf(buf, size, "was killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
    return buf;
}

/* check_wasm2c makes sure the wasm2c on this machine is the wabt release
 * whose runtime the worker was built with: their code must agree. */
static int check_wasm2c(const build *b)
{
    char *argv[] = {BAY_WASM2C, "--version", NULL}, version[128], st[64];
    int status, rc = run(b, argv, "version.log", &status, INSTALL_WABT);
    if (rc)
        return rc;
    read_log(b, "version.log", version, sizeof version);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return bay_error_set(b->err, BAY_EIO, NULL, "%s --version %s: %s", BAY_WASM2C,
                             status_text(status, st, sizeof st), version);
    if (strcmp(version, BAY_WABT_VERSION) != 0)
        return bay_error_set(b->err, BAY_EIO, NULL,
                             "%s is wabt %s but plugbay-worker-wasm was built with the runtime of wabt %s; rebuild "
                             "plugbay",
                             BAY_WASM2C, version, BAY_WABT_VERSION);
    return 0;
}

static int translate(const build *b)
{
    char in[PATH_MAX], out[PATH_MAX], log[600], st[64];
    char *argv[] = {BAY_WASM2C, "-n", "module", path(b, "module.wasm", in), "-o", path(b, "module.c", out), NULL};
    int status, rc = run(b, argv, "wasm2c.log", &status, INSTALL_WABT);
    if (rc)
        return rc;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if ((rc = out_of_space(b, BAY_WASM2C, "module.c")))
        return rc;
    read_log(b, "wasm2c.log", log, sizeof log);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
        return bay_error_set(b->err, BAY_EPLUGIN, NULL, "%s fails validation: wasm2c says: %s", b->name, log);
    return bay_error_set(b->err, BAY_EIO, NULL, "wasm2c %s translating %s: %s", status_text(status, st, sizeof st),
                         b->name, log);
}

static int compile(const build *b, const bay__wasm_shape *shape)
{
    /* The glue gives the worker the instance's size and one instantiate
     * signature, whatever the module imports: the worker's one host
     * structure serves the plugbay.* and the WASI imports (wasm2c passes
     * one per module of imports, in the order of their names). */
    char glue[768];
    int n = snprintf(glue, sizeof glue,
                     "/* Written by plugbay-worker-wasm: the translated module and what the worker needs of it. */\n"
                     "#include \"module.c\"\n"
                     "const unsigned long bay_wasm_instance_size = sizeof(Z_module_instance_t);\n"
                     "struct Z_plugbay_instance_t;\n"
                     "struct Z_wasi_snapshot_preview1_instance_t;\n"
                     "void bay_wasm_instantiate(Z_module_instance_t *m, struct Z_plugbay_instance_t *host)\n"
                     "{\n    Z_module_instantiate(m%s%s);\n}\n",
                     shape->imports_plugbay ? ", host" : "",
                     shape->imports_wasi ? ", (struct Z_wasi_snapshot_preview1_instance_t *)host" : "");
    int rc = write_file(b, "glue.c", glue, (size_t)n);
    if (rc)
        return rc;
    const char *cc = getenv("CC") && *getenv("CC") ? getenv("CC") : "/usr/bin/cc";
    char out[PATH_MAX], src[PATH_MAX], log[600], st[64];
    char *argv[NFLAGS + 7];
    size_t a = 0;
    argv[a++] = (char *)cc;
    for (size_t i = 0; i < NFLAGS; i++)
        argv[a++] = (char *)cc_flags[i];
    argv[a++] = "-o";
    argv[a++] = path(b, "module.so", out);
    argv[a++] = path(b, "glue.c", src);
    argv[a++] = "-lm"; /* the translated code uses libm's floor, sqrt, ... */
    argv[a] = NULL;
    int status;
    if ((rc = run(b, argv, "cc.log", &status, " (set CC to a C compiler, or install gcc)")))
        return rc;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if ((rc = out_of_space(b, cc, "module.so")))
        return rc;
    read_log(b, "cc.log", log, sizeof log);
    return bay_error_set(b->err, BAY_EIO, NULL, "%s %s compiling what wasm2c made of %s: %s", cc,
                         status_text(status, st, sizeof st), b->name, log);
}

/* sweep removes temporary folders that workers killed while compiling left in cache_dir. */
static void sweep(const char *cache_dir)
{
    DIR *d = opendir(cache_dir);
    time_t now = time(NULL);
    for (struct dirent *e; d && (e = readdir(d));) {
        char p[PATH_MAX];
        struct stat st;
        if (strncmp(e->d_name, "tmp-", 4) == 0 &&
            snprintf(p, sizeof p, "%s/%s", cache_dir, e->d_name) < (int)sizeof p && stat(p, &st) == 0 &&
            S_ISDIR(st.st_mode) && now - st.st_mtime > STALE_SECONDS)
            bay__file_remove_tree(AT_FDCWD, p);
    }
    if (d)
        closedir(d);
}

int bay__wasm_compiled(const char *cache_dir, const uint8_t *wasm, size_t len, const bay__wasm_shape *shape,
                      const char *name, char *so, size_t so_size, bool *built, bay_error *err)
{
    char file[64 + 1 + 8 + 4];
    object_name(wasm, len, file);
    *built = false;
    if (snprintf(so, so_size, "%s/%s", cache_dir, file) >= (int)so_size)
        return bay_error_set(err, BAY_EIO, NULL, "the cache path %s/%s is too long", cache_dir, file);
    if (access(so, R_OK) == 0)
        return 0;

    sweep(cache_dir);
    build b = {.name = name, .err = err};
    if (snprintf(b.dir, sizeof b.dir, "%s/tmp-XXXXXX", cache_dir) >= (int)sizeof b.dir || mkdtemp(b.dir) == NULL)
        return bay_error_set(err, BAY_EIO, NULL, "cannot create a folder in the compile cache %s: %s", cache_dir,
                             strerror(errno));
    char tmp[PATH_MAX];
    int rc = check_wasm2c(&b);
    if (rc == 0)
        rc = write_file(&b, "module.wasm", wasm, len);
    if (rc == 0)
        rc = translate(&b);
    if (rc == 0)
        rc = compile(&b, shape);
    if (rc == 0 && rename(path(&b, "module.so", tmp), so) != 0)
        rc = bay_error_set(err, BAY_EIO, NULL, "cannot move the compiled module to %s: %s", so, strerror(errno));
    bay__file_remove_tree(AT_FDCWD, b.dir);
    *built = rc == 0;
    return rc;
}
