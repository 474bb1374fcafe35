/* bridges/lua/sandbox.c — what a Lua plugin's state holds: the allowed libraries, sandboxed base functions, a require that only sees the plugin's folder, and what permissions add. */
#include "lua_bridge.h"
#include "refusals.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lauxlib.h>
#include <lualib.h>

bool lbay_granted(const char *perm)
{
    const bay_value *granted = lbay.info->permissions;
    for (size_t i = 0; i < bay_value_len(granted); i++) {
        const char *p = bay_value_str(bay_array_get(granted, i), NULL);
        if (p && strcmp(p, perm) == 0)
            return true;
    }
    return false;
}

/* safe_load is load() that only takes source text: a binary chunk could
 * break the interpreter's memory safety. Upvalue 1: Lua's load. */
static int safe_load(lua_State *L)
{
    int n = lua_gettop(L) < 3 ? 3 : lua_gettop(L) > 4 ? 4 : lua_gettop(L); /* an env given as nil stays given */
    lua_settop(L, n);
    lua_pushliteral(L, "t");
    lua_replace(L, 3);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

/* safe_collectgarbage is collectgarbage() that only answers "count": the
 * other options would let a plugin change how its memory is managed. */
static int safe_collectgarbage(lua_State *L)
{
    const char *opt = luaL_optstring(L, 1, "collect");
    if (strcmp(opt, "count") != 0) {
        bay__refused("lua collectgarbage");
        return luaL_error(L, "collectgarbage(\"%s\") is not available to a plugbay plugin; only "
                             "collectgarbage(\"count\") is",
                          opt);
    }
    lua_pushnumber(L, (lua_Number)lua_gc(L, LUA_GCCOUNT, 0) + (lua_Number)lua_gc(L, LUA_GCCOUNTB, 0) / 1024);
    return 1;
}

/* safe_setmetatable is setmetatable() refusing __gc: finalizers run inside
 * the garbage collector, where no instruction limit can stop them.
 * Upvalue 1: Lua's setmetatable. */
static int safe_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE && lua_getfield(L, 2, "__gc") != LUA_TNIL) {
        bay__refused("lua __gc");
        return luaL_error(L, "setmetatable: a metatable with a __gc field is not allowed in a plugbay plugin "
                             "(finalizers run where the instruction limit cannot stop them)");
    }
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 2, 1);
    return 1;
}

/* log_print is print(): the arguments, tab-separated, as one info line in the broker's log. */
static int log_print(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    bay_plugin_log(BAY_LOG_INFO, "%s", lua_tostring(L, -1));
    return 0;
}

/* wrap replaces global name by fn with the original as its upvalue. */
static void wrap(lua_State *L, const char *name, lua_CFunction fn)
{
    lua_getglobal(L, name);
    lua_pushcclosure(L, fn, 1);
    lua_setglobal(L, name);
}

/* open_base opens the base library without what reaches files or bytecode. */
static void open_base(lua_State *L)
{
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    lua_pop(L, 1);
    static const char *const removed[] = {"dofile", "loadfile", "warn"};
    for (size_t i = 0; i < sizeof removed / sizeof *removed; i++) {
        lua_pushnil(L);
        lua_setglobal(L, removed[i]);
    }
    wrap(L, "load", safe_load);
    wrap(L, "setmetatable", safe_setmetatable);
    lua_register(L, "collectgarbage", safe_collectgarbage);
    lua_register(L, "print", log_print);
}

/* open_os sets global os to the whole library (permission lua.os) or to its time, clock and date. */
static void open_os(lua_State *L)
{
    if (lbay_granted(LBAY_PERM_OS)) {
        luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 1);
        lua_pop(L, 1);
        return;
    }
    /* The whole library is registered in package.loaded here; the restricted table replaces it below. */
    luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
    lua_createtable(L, 0, 3);
    static const char *const kept[] = {"time", "clock", "date"};
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) {
        lua_getfield(L, -2, kept[i]);
        lua_setfield(L, -2, kept[i]);
    }
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, LUA_OSLIBNAME);
    lua_pop(L, 1);
    lua_setglobal(L, LUA_OSLIBNAME);
    lua_pop(L, 1);
}

/* module_name_ok returns true for dotted names of letters, digits, '_' and '-' ("util", "lib.json"). */
static bool module_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 200 || name[0] == '.' || name[len - 1] == '.' || strstr(name, ".."))
        return false;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == len;
}

/* plugin_path writes ROOT/rel into path (PATH_MAX bytes); false (errno ENAMETOOLONG) when it does not fit. */
static bool plugin_path(const char *rel, char *path)
{
    int n = snprintf(path, PATH_MAX, "%s/%s", lbay.root, rel);
    if (n > 0 && n < PATH_MAX)
        return true;
    errno = ENAMETOOLONG;
    return false;
}

/* plugin_file_exists returns true when rel is a regular file in the plugin's folder. */
static bool plugin_file_exists(const char *rel)
{
    char path[PATH_MAX];
    struct stat st;
    return plugin_path(rel, path) && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Reading a chunk from a file for lua_load. */
typedef struct chunk_reader {
    FILE *f;
    char buf[8192];
} chunk_reader;

static const char *read_chunk(lua_State *L, void *ud, size_t *size)
{
    chunk_reader *r = ud;
    *size = fread(r->buf, 1, sizeof r->buf, r->f);
    return *size ? r->buf : NULL;
}

void lbay_require_file(lua_State *L, const char *rel, const char *name)
{
    char path[PATH_MAX], real[PATH_MAX];
    if (!plugin_path(rel, path) || realpath(path, real) == NULL)
        luaL_error(L, "cannot load %s/%s: %s", lbay.info->id, rel, strerror(errno));
    size_t n = strlen(lbay.root);
    if (strncmp(real, lbay.root, n) != 0 || real[n] != '/') {
        bay__refused("lua require outside its folder");
        luaL_error(L, "%s/%s leads to %s, outside the plugin's folder; a plugin loads only its own files",
                   lbay.info->id, rel, real);
    }
    lua_pushfstring(L, "@%s/%s", lbay.info->id, rel); /* messages then say "example/hello/main.lua:3:" */
    chunk_reader *r = lua_newuserdatauv(L, sizeof *r, 0); /* Lua's memory, so it counts against the limit */
    r->f = fopen(real, "r");
    if (r->f == NULL)
        luaL_error(L, "cannot open %s/%s: %s", lbay.info->id, rel, strerror(errno));
    int status = lua_load(L, read_chunk, r, lua_tostring(L, -2), "t");
    int failed = ferror(r->f);
    fclose(r->f);
    if (status != LUA_OK)
        lua_error(L); /* the message names file and line: "lua/x/main.lua:3: '=' expected near 'y'" */
    if (failed)
        luaL_error(L, "cannot read %s/%s", lbay.info->id, rel);
    lua_pushstring(L, name);
    lua_pushfstring(L, "%s/%s", lbay.info->id, rel);
    lua_call(L, 2, 1);
    lua_replace(L, -3); /* the result, in place of the chunk name */
    lua_pop(L, 1);
}

/* sandbox_require is require(name) for modules in the plugin's own folder:
 * NAME.lua or NAME/init.lua, with dots as folder separators. Results are kept
 * in package.loaded as Lua's own require does. */
static int sandbox_require(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_settop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE); /* 2 */
    if (lua_getfield(L, 2, name) != LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    if (!module_name_ok(name))
        return luaL_error(L, "require(\"%s\"): a module name is made of letters, digits, '_' and '-', with dots "
                             "between folders (\"util\", \"lib.json\"); a plugin's require only sees its own folder",
                          name);
    luaL_gsub(L, name, ".", "/"); /* 3 */
    const char *base = lua_tostring(L, 3);
    char rel[PATH_MAX];
    snprintf(rel, sizeof rel, "%s.lua", base);
    if (!plugin_file_exists(rel))
        snprintf(rel, sizeof rel, "%s/init.lua", base);
    if (!plugin_file_exists(rel))
        return luaL_error(L, "module '%s' not found: neither %s/%s.lua nor %s/%s/init.lua exists, and a plugin's "
                             "require only loads Lua files from its own folder (other modules and C libraries need "
                             "the permission \"" LBAY_PERM_PACKAGE "\")",
                          name, lbay.info->id, base, lbay.info->id, base);
    lbay_require_file(L, rel, name);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, 2, name);
    return 1;
}

/* open_package sets up package and require: Lua's own (permission
 * lua.package, searching the plugin's folder first), or the sandboxed require
 * with a package table that holds only loaded. */
static void open_package(lua_State *L)
{
    if (lbay_granted(LBAY_PERM_PACKAGE)) {
        luaL_requiref(L, LUA_LOADLIBNAME, luaopen_package, 1);
        const char *fields[] = {"path", "cpath"}, *patterns[] = {"%s/?.lua;%s/?/init.lua;%s", "%s/?.so;%s"};
        for (int i = 0; i < 2; i++) {
            lua_getfield(L, -1, fields[i]);
            const char *rest = lua_tostring(L, -1);
            if (i == 0)
                lua_pushfstring(L, patterns[i], lbay.root, lbay.root, rest);
            else
                lua_pushfstring(L, patterns[i], lbay.root, rest);
            lua_setfield(L, -3, fields[i]);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        return;
    }
    lua_createtable(L, 0, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_setfield(L, -2, "loaded");
    lua_setglobal(L, LUA_LOADLIBNAME);
    lua_register(L, "require", sandbox_require);
}

/* What the sandbox leaves out: reading one of these names raises an error
 * that says why and which permission, if any, opens it. table NULL: a global. */
static const struct absent {
    const char *table, *names, *perm, *why;
} absent[] = {
    {NULL, "io", LBAY_PERM_IO, "the io library"},
    {NULL, "debug", LBAY_PERM_DEBUG, "the debug library"},
    {NULL, "dofile loadfile", NULL, "a plugin runs the files of its own folder with require"},
    {"os", "execute exit getenv remove rename tmpname setlocale difftime", LBAY_PERM_OS,
     "the os library beyond os.time, os.clock and os.date"},
    {"string", "dump", NULL, "binary chunks are never loaded (load takes source text only)"},
    {"package", "loadlib searchpath path cpath searchers preload", LBAY_PERM_PACKAGE,
     "Lua's package library (this require loads the Lua files of the plugin's folder only)"},
};

/* refuse_index is the __index of a guarded table: it raises the reason kept
 * for a missing name (upvalue 1: name -> message; upvalue 2: the table's
 * name, "" for the globals) and gives nil otherwise. */
static int refuse_index(lua_State *L)
{
    if (lua_type(L, 2) != LUA_TSTRING || lua_getfield(L, lua_upvalueindex(1), lua_tostring(L, 2)) != LUA_TSTRING)
        return 0;
    const char *table = lua_tostring(L, lua_upvalueindex(2));
    char kind[64];
    snprintf(kind, sizeof kind, "lua %s%s%s", table, table[0] ? "." : "", lua_tostring(L, 2));
    bay__refused(kind);
    return luaL_error(L, "%s", lua_tostring(L, -1));
}

/* guard gives the table on top of the stack (global table when name is NULL)
 * a metatable whose __index explains the absent names that belong to it. */
static void guard(lua_State *L, const char *name)
{
    const char *id = lbay.info->id;
    int reasons = 0;
    lua_newtable(L);
    for (size_t i = 0; i < sizeof absent / sizeof *absent; i++) {
        const struct absent *a = &absent[i];
        if ((a->table == NULL) != (name == NULL) || (name && strcmp(a->table, name) != 0) ||
            (a->perm && lbay_granted(a->perm)))
            continue;
        char names[128], *save = NULL;
        snprintf(names, sizeof names, "%s", a->names);
        for (char *n = strtok_r(names, " ", &save); n; n = strtok_r(NULL, " ", &save), reasons++) {
            if (a->perm)
                lua_pushfstring(L, "%s%s%s is not available to plugin %s: %s needs the permission \"%s\", which its "
                                   "manifest must ask for (`plugbay grant %s --grant %s`, then `plugbay reload %s`)",
                                name ? name : "", name ? "." : "", n, id, a->why, a->perm, id, a->perm, id);
            else
                lua_pushfstring(L, "%s%s%s is not available to a plugbay plugin: %s", name ? name : "",
                                name ? "." : "", n, a->why);
            lua_setfield(L, -2, n);
        }
    }
    if (reasons == 0) {
        lua_pop(L, 1);
        return;
    }
    lua_createtable(L, 0, 1);
    lua_insert(L, -2);
    lua_pushstring(L, name ? name : "");
    lua_pushcclosure(L, refuse_index, 2);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
}

void lbay_sandbox_open(lua_State *L)
{
    open_base(L);
    static const luaL_Reg always[] = {
        {LUA_STRLIBNAME, luaopen_string}, {LUA_TABLIBNAME, luaopen_table},     {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8},  {LUA_COLIBNAME, luaopen_coroutine},
    };
    for (size_t i = 0; i < sizeof always / sizeof *always; i++) {
        luaL_requiref(L, always[i].name, always[i].func, 1);
        lua_pop(L, 1);
    }
    lua_getglobal(L, LUA_STRLIBNAME); /* also the strings' metatable's __index */
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    open_os(L);
    static const struct {
        const char *perm, *name;
        lua_CFunction open;
    } granted[] = {{LBAY_PERM_IO, LUA_IOLIBNAME, luaopen_io}, {LBAY_PERM_DEBUG, LUA_DBLIBNAME, luaopen_debug}};
    for (size_t i = 0; i < sizeof granted / sizeof *granted; i++)
        if (lbay_granted(granted[i].perm)) {
            luaL_requiref(L, granted[i].name, granted[i].open, 1);
            lua_pop(L, 1);
        }
    open_package(L);
    luaL_requiref(L, "plugbay", lbay_api_open, 1);
    lua_pop(L, 1);
    static const char *const guarded[] = {LUA_OSLIBNAME, LUA_STRLIBNAME, LUA_LOADLIBNAME};
    for (size_t i = 0; i < sizeof guarded / sizeof *guarded; i++) {
        lua_getglobal(L, guarded[i]);
        guard(L, guarded[i]);
        lua_pop(L, 1);
    }
    lua_pushglobaltable(L);
    guard(L, NULL);
    lua_pop(L, 1);
}
