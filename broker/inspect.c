/* broker/inspect.c — a plugin's code read before it may load: a native plugin's imported symbols against its grants, a WebAssembly module's imports and memory. */
#include "inspect.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "module.h"
#include "permission.h"

/* The functions a native plugin may import only with a permission: the
 * permission (a whole one, or the start of one: any net.connect grant) and
 * how the message names it. */
static const struct needs {
    const char *symbol, *permission, *named;
} needs[] = {
    {"execve", "process.spawn", "process.spawn"},        {"execv", "process.spawn", "process.spawn"},
    {"execvp", "process.spawn", "process.spawn"},        {"execvpe", "process.spawn", "process.spawn"},
    {"execl", "process.spawn", "process.spawn"},         {"execlp", "process.spawn", "process.spawn"},
    {"execle", "process.spawn", "process.spawn"},        {"fexecve", "process.spawn", "process.spawn"},
    {"fork", "process.spawn", "process.spawn"},          {"vfork", "process.spawn", "process.spawn"},
    {"clone", "process.spawn", "process.spawn"},         {"daemon", "process.spawn", "process.spawn"},
    {"posix_spawn", "process.spawn", "process.spawn"},   {"posix_spawnp", "process.spawn", "process.spawn"},
    {"system", "process.spawn", "process.spawn"},        {"popen", "process.spawn", "process.spawn"},
    {"socket", "net.connect:", "a net.connect grant"},   {"connect", "net.connect:", "a net.connect grant"},
    {"bind", "net.connect:", "a net.connect grant"},     {"listen", "net.connect:", "a net.connect grant"},
    {"accept", "net.connect:", "a net.connect grant"},   {"accept4", "net.connect:", "a net.connect grant"},
    {"getaddrinfo", "net.connect:", "a net.connect grant"},
    {"gethostbyname", "net.connect:", "a net.connect grant"},
};

/* allowed tells whether granted holds permission, or (a permission ending in ':') one that starts with it. */
static bool allowed(char *const *granted, const char *permission)
{
    size_t n = strlen(permission);
    if (permission[n - 1] != ':')
        return permission_covering(granted, permission) != NULL;
    for (char *const *g = granted; g && *g; g++)
        if (strncmp(*g, permission, n) == 0)
            return true;
    return false;
}

/* How a precompiled Lua chunk begins (lua.h's LUA_SIGNATURE; plugbayd does not link Lua). */
#define LUA_CHUNK "\x1bLua"

/* What the inspection over a plugin folder checks against, and the first refusal. */
static struct inspection {
    const bay__manifest *m;
    char *const *granted, *const *requested;
    bay_error *err;
    int rc;
} inspection;

/* imports checks the undefined symbols of the dynamic symbol table of ELF file e (rel in messages). */
static int imports(Elf *e, const char *rel)
{
    for (Elf_Scn *scn = NULL; (scn = elf_nextscn(e, scn)) != NULL;) {
        GElf_Shdr sh;
        Elf_Data *data;
        if (gelf_getshdr(scn, &sh) == NULL || sh.sh_type != SHT_DYNSYM || (data = elf_getdata(scn, NULL)) == NULL ||
            sh.sh_entsize == 0)
            continue;
        for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
            GElf_Sym sym;
            const char *name;
            if (gelf_getsym(data, (int)i, &sym) == NULL || sym.st_shndx != SHN_UNDEF ||
                (name = elf_strptr(e, sh.sh_link, sym.st_name)) == NULL)
                continue;
            for (size_t k = 0; k < sizeof needs / sizeof *needs; k++)
                if (strcmp(name, needs[k].symbol) == 0 && !allowed(inspection.granted, needs[k].permission))
                    return bay_error_set(inspection.err, BAY_EPERM, inspection.m->id,
                                         "%s imports %s, which works only with %s, not granted: the sandbox would "
                                         "refuse it; %s",
                                         rel, name, needs[k].named,
                                         allowed(inspection.requested, needs[k].permission)
                                             ? "grant it, or leave the plugin out"
                                             : "its manifest does not ask for it, so its author must ask for it or "
                                               "leave the call out");
        }
    }
    return 0;
}

/* lua_file refuses a Lua plugin's file rel that begins (magic) as a precompiled chunk. */
static int lua_file(const char *magic, const char *rel)
{
    if (memcmp(magic, LUA_CHUNK, 4) != 0)
        return 0;
    return bay_error_set(inspection.err, BAY_EPLUGIN, inspection.m->id,
                         "%s is a precompiled Lua chunk: the Lua worker loads source only (bytecode can break the "
                         "sandbox); ship the source",
                         rel);
}

/* elf_file checks the imports of a C plugin's ELF file rel, open as fd. */
static int elf_file(int fd, const char *rel)
{
    Elf *e = elf_begin(fd, ELF_C_READ, NULL);
    int rc = e ? imports(e, rel)
               : bay_error_set(inspection.err, BAY_EPLUGIN, inspection.m->id, "%s: not an ELF file libelf can read: %s",
                               rel, elf_errmsg(-1));
    if (e)
        elf_end(e);
    return rc;
}

/* one_file checks one file of the plugin folder: in a Lua plugin, that it is no precompiled chunk; in a C plugin,
 * an ELF file's imports (other files are not code). */
static int one_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type != FTW_F || !S_ISREG(st->st_mode))
        return 0;
    const char *rel = path + strlen(inspection.m->dir) + 1;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    char magic[4];
    if (fd >= 0 && pread(fd, magic, sizeof magic, 0) == (ssize_t)sizeof magic)
        inspection.rc = strcmp(inspection.m->language, "lua") == 0 ? lua_file(magic, rel)
                        : memcmp(magic, ELFMAG, SELFMAG) == 0      ? elf_file(fd, rel)
                                                                   : 0;
    if (fd >= 0)
        close(fd);
    return inspection.rc != 0;
}

/* each_file checks every file of a C or Lua plugin's folder (one_file). */
static int each_file(const bay__manifest *m, char *const *granted, bay_error *err)
{
    if (elf_version(EV_CURRENT) == EV_NONE)
        return bay_error_set(err, BAY_EIO, m->id, "libelf: %s", elf_errmsg(-1));
    char **requested = permission_requested(m);
    inspection = (struct inspection){m, granted, requested, err, 0};
    int rc = nftw(m->dir, one_file, 16, FTW_PHYS);
    bay__strv_free(requested);
    if (rc < 0)
        return bay_error_set(err, BAY_EIO, m->id, "cannot read %s: %s", m->dir, strerror(errno));
    return inspection.rc;
}

/* module checks a WebAssembly plugin's module: the plugin ABI, and its initial memory within its limit. */
static int module(const bay__manifest *m, bay_error *err)
{
    char *wasm = NULL;
    size_t len;
    struct stat st;
    int dir = open(m->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int e = dir < 0 ? errno : bay__file_read_small(dir, m->entry, O_NOFOLLOW, (size_t)1 << 30, &wasm, &len, &st);
    if (dir >= 0)
        close(dir);
    if (e)
        return bay_error_set(err, BAY_EIO, m->id, "%s: %s", m->entry, strerror(e));
    static const char *const none[] = {NULL};
    bay__wasm_shape shape;
    bay_error why;
    int rc = bay__wasm_check((const uint8_t *)wasm, len, none, &shape, &why);
    free(wasm);
    if (rc)
        return bay_error_set(err, rc, m->id, "%s: %s", m->entry, why.message);
    if (m->limits.wasm_memory_pages && shape.min_pages > m->limits.wasm_memory_pages)
        return bay_error_set(err, BAY_EPLUGIN, m->id,
                             "%s declares %u pages of initial memory, more than its limit of %lld "
                             "(limits.wasm_memory_pages)",
                             m->entry, shape.min_pages, (long long)m->limits.wasm_memory_pages);
    return 0;
}

int bay__inspect(const bay__manifest *m, char *const *granted, bay_error *err)
{
    if ((strcmp(m->language, "c") == 0 && m->entry) || strcmp(m->language, "lua") == 0)
        return each_file(m, granted, err);
    if (strcmp(m->language, "wasm") == 0)
        return module(m, err);
    return 0;
}
