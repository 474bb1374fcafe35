/* cli/stub.c — plugbay new --types: typed stubs, a provide with its types in plugin.json and a function in the code. */
#include "stub.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "frame.h"
#include "schema.h"
#include <plugbay/plugbay.h>

/* The largest code file a template makes. */
#define CODE_MAX (256 * 1024)
#define PARAMS_MAX 16

/* One stub: the extension point, its kind, the function serving it and its parameters. */
typedef struct stub {
    const char *name;
    int kind;
    char function[130];
    size_t nparams;
    struct param {
        char name[64];
        char type[120]; /* "string", "integer or null", "any" */
        bool single;    /* one scalar type, which C and the wasm SDK read with bay_arg_* */
    } params[PARAMS_MAX];
    char result[120];
} stub;

/* describe writes what schema s allows, in words ("string", "integer or null", "any"); *single says one scalar. */
static void describe(const json_t *s, char *out, size_t len, bool *single)
{
    const json_t *t = json_object_get(s, "type");
    *single = json_is_string(t) && strcmp(json_string_value(t), "array") != 0 &&
              strcmp(json_string_value(t), "object") != 0 && strcmp(json_string_value(t), "null") != 0 &&
              strcmp(json_string_value(t), "binary") != 0;
    if (json_is_string(t)) {
        snprintf(out, len, "%s", json_string_value(t));
        return;
    }
    size_t n = 0, i;
    const json_t *item;
    out[0] = '\0';
    json_array_foreach(t, i, item) n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s%s", i ? " or " : "",
                                                         json_string_value(item));
    if (n == 0)
        snprintf(out, len, "%s", json_object_get(s, "enum") ? "one of its enum" : "any value");
}

/* identifier writes name as a C, Lua and Python identifier: "acme.look-up" becomes "acme_look_up". */
static void identifier(const char *name, char *out, size_t len)
{
    size_t n = 0;
    if (isdigit((unsigned char)name[0]) && n + 1 < len)
        out[n++] = 'x';
    for (const char *p = name; *p && n + 1 < len; p++)
        out[n++] = isalnum((unsigned char)*p) ? *p : '_';
    out[n] = '\0';
}

/* read_stub reads entry name of the types file into st; BAY_EINVAL with err when it is not one. */
static int read_stub(const char *name, const json_t *entry, stub *st, bay_error *err)
{
    st->name = name;
    st->kind = BAY_HANDLE;
    const char *key;
    const json_t *v;
    if (!json_is_object(entry))
        return bay_error_set(err, BAY_EINVAL, NULL, "--types: \"%s\" must be an object {\"kind\": KIND, \"types\": "
                             "{\"args\": SCHEMA, \"result\": SCHEMA}}", name);
    json_object_foreach((json_t *)entry, key, v) {
        if (strcmp(key, "kind") == 0 && (st->kind = bay__kind_parse(json_string_value(v))) == 0)
            return bay_error_set(err, BAY_EINVAL, NULL, "--types: \"%s\".kind must be \"handle\", \"event\" or "
                                 "\"filter\"", name);
        if (strcmp(key, "kind") != 0 && strcmp(key, "types") != 0)
            return bay_error_set(err, BAY_EINVAL, NULL, "--types: \"%s\" holds \"kind\" and \"types\", not \"%s\"",
                                 name, key);
    }
    const json_t *types = json_object_get(entry, "types");
    bay__types parsed;
    bay_error e;
    if (types == NULL)
        return bay_error_set(err, BAY_EINVAL, NULL, "--types: \"%s\" has no \"types\"", name);
    if (bay__types_parse(types, st->kind, &parsed, &e) != 0)
        return bay_error_set(err, BAY_EINVAL, NULL, "--types: \"%s\".types: %s", name, e.message);
    bay__types_free(&parsed);
    identifier(name, st->function, sizeof st->function);
    const json_t *items = json_object_get(json_object_get(types, "args"), "prefixItems");
    if (json_array_size(items) > PARAMS_MAX)
        return bay_error_set(err, BAY_EINVAL, NULL, "--types: \"%s\" has %zu arguments; a stub takes %d at most", name,
                             json_array_size(items), PARAMS_MAX);
    size_t i;
    const json_t *item;
    json_array_foreach(items, i, item) {
        struct param *p = &st->params[st->nparams++];
        const char *title = json_string_value(json_object_get(item, "title"));
        identifier(title ? title : "", p->name, sizeof p->name);
        if (p->name[0] == '\0' || strcmp(p->name, title ? title : "") != 0)
            snprintf(p->name, sizeof p->name, "arg%zu", i + 1);
        describe(item, p->type, sizeof p->type, &p->single);
    }
    bool single;
    const json_t *res = json_object_get(types, "result");
    if (res)
        describe(res, st->result, sizeof st->result, &single);
    else
        snprintf(st->result, sizeof st->result, "any value");
    return 0;
}

/* signature writes "name (string), count (integer)" for st's parameters. */
static void signature(const stub *st, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < st->nparams; i++)
        n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s%s (%s)", i ? ", " : "", st->params[i].name,
                              st->params[i].type);
    if (n == 0)
        snprintf(out, len, "its arguments as the types say");
}

/* what says what a stub does until written, in a comment. */
static const char *what(const stub *st)
{
    return st->kind == BAY_FILTER ? "passes the arguments on unchanged until written"
                                  : "refuses every call with BAY_EPLUGIN until written";
}

/* answers says what a stub's function answers, in a comment. */
static const char *answers(const stub *st)
{
    return st->kind == BAY_FILTER ? "the arguments to pass on" : st->result;
}

/* c_arg writes the lines reading parameter i in C (sdk: the wasm SDK's bay_arg_*). */
static void c_arg(FILE *f, const struct param *p, size_t i, bool wasm)
{
    const char *t = p->type;
    bool str = strcmp(t, "string") == 0, integer = strcmp(t, "integer") == 0, number = strcmp(t, "number") == 0;
    if (!p->single || !(str || integer || number || strcmp(t, "boolean") == 0)) {
        if (wasm)
            fprintf(f, "    bay_in %s; /* %s */\n    if ((rc = bay_arg_value(args, &%s)))\n        return rc;\n", p->name, t,
                    p->name);
        else
            fprintf(f, "    const bay_value *%s = bay_array_get(args, %zu); /* %s */\n", p->name, i, t);
        return;
    }
    const char *ctype = str ? "const char *" : integer ? "int64_t " : number ? "double " : "bool ";
    const char *fn = str ? "str" : integer ? "int" : number ? "float" : "bool";
    if (wasm && str)
        fprintf(f, "    const char *%s;\n    uint32_t %s_len;\n    if ((rc = bay_arg_str(args, &%s, &%s_len)))\n"
                   "        return rc;\n", p->name, p->name, p->name, p->name);
    else if (wasm)
        fprintf(f, "    %s%s;\n    if ((rc = bay_arg_%s(args, &%s)))\n        return rc;\n", ctype, p->name, fn,
                p->name);
    else
        fprintf(f, "    %s%s;\n    if ((rc = bay_arg_%s(call, args, %zu, &%s)))\n        return rc;\n", ctype, p->name,
                fn, i, p->name);
}

/* c_stub writes st as a C function (sdk: for the wasm SDK). */
static void c_stub(FILE *f, const stub *st, bool wasm)
{
    char sig[600];
    signature(st, sig, sizeof sig);
    fprintf(f, "\n/* %s(%s) -> %s.\n * It %s; plugbayd checks the values\n"
               " * against the types in plugin.json (docs/types.md). */\n", st->name, sig, answers(st), what(st));
    if (wasm)
        fprintf(f, "static int %s(bay_args *args, bay_out *result)\n{\n", st->function);
    else
        fprintf(f, "static int %s(bay_invocation *call, const bay_value *args, bay_value **result)\n{\n", st->function);
    if (st->nparams)
        fprintf(f, "    int rc;\n");
    for (size_t i = 0; i < st->nparams; i++)
        c_arg(f, &st->params[i], i, wasm);
    for (size_t i = 0; i < st->nparams; i++)
        fprintf(f, "%s(void)%s%s", i ? ", " : "    ", st->params[i].name, i + 1 == st->nparams ? "; /* not used yet */\n" : "");
    if (st->kind == BAY_FILTER)
        fprintf(f, "    return 0; /* nothing answered: the arguments pass on as they came */\n}\n");
    else if (wasm)
        fprintf(f, "    return bay_fail(BAY_EPLUGIN, \"%s is not written yet\");\n}\n", st->name);
    else
        fprintf(f, "    return bay_call_error(call, BAY_EPLUGIN, \"%s is not written yet\");\n}\n", st->name);
    if (wasm)
        fprintf(f, "BAY_WASM_EXPORT(%s)\n", st->function);
}

/* script_stub writes st as a Lua or Python function. */
static void script_stub(FILE *f, const stub *st, bool lua)
{
    char sig[600], params[PARAMS_MAX * 64 + 16] = "";
    signature(st, sig, sizeof sig);
    for (size_t i = 0; i < st->nparams; i++)
        snprintf(params + strlen(params), sizeof params - strlen(params), "%s%s", i ? ", " : "", st->params[i].name);
    if (st->nparams == 0)
        snprintf(params, sizeof params, "%s", lua ? "..." : "*args");
    if (lua) {
        fprintf(f, "\n-- %s(%s) -> %s.\n-- It %s; plugbayd checks the values\n"
                   "-- against the types in plugin.json (docs/types.md).\nlocal function %s(%s)\n", st->name, sig,
                answers(st), what(st), st->function, params);
        fprintf(f, st->kind == BAY_FILTER ? "  return nil -- the arguments pass on as they came\nend\n"
                                          : "  plugbay.fail(\"BAY_EPLUGIN\", \"%s is not written yet\")\nend\n",
                st->name);
        return;
    }
    fprintf(f, "\n\ndef %s(%s):\n    \"\"\"%s(%s) -> %s.\n    It %s; plugbayd checks the values\n"
               "    against the types in plugin.json (docs/types.md).\"\"\"\n", st->function, params, st->name, sig,
            answers(st), what(st));
    fprintf(f, st->kind == BAY_FILTER ? "    return None  # the arguments pass on as they came\n"
                                      : "    plugbay.fail(\"BAY_EPLUGIN\", \"%s is not written yet\")\n",
            st->name);
}

/* splice_at returns text with insert put before the last occurrence of mark, and after (the first occurrence of
 * close after it) with addition put before close; NULL when text lacks them (a template that changed). */
static char *splice_at(const char *text, const char *mark, const char *insert, const char *close, const char *addition)
{
    const char *at = NULL;
    for (const char *p = strstr(text, mark); p; p = strstr(p + 1, mark))
        at = p;
    const char *end = at ? strstr(at, close) : NULL;
    if (end == NULL)
        return NULL;
    char *out = NULL;
    if (asprintf(&out, "%.*s%s%.*s%s%s", (int)(at - text), text, insert, (int)(end - at), at, addition, end) < 0)
        return NULL;
    return out;
}

/* rewrite replaces the file at path, which plugbay new has just made, with data: 0 or an errno. */
static int rewrite(const char *path, const char *data, size_t len, mode_t mode)
{
    const char *step;
    return unlink(path) != 0 ? errno : bay__file_write_new(AT_FDCWD, path, mode, data, len, &step);
}

/* write_code adds the stubs to the template's code file in dir. */
static int write_code(const char *dir, const char *lang, const stub *stubs, size_t n, bay_error *err)
{
    bool lua = strcmp(lang, "lua") == 0, python = strcmp(lang, "python") == 0, wasm = strcmp(lang, "wasm") == 0;
    char path[4200], *text = NULL, *code = NULL, *entries = NULL;
    size_t code_len = 0, entries_len = 0, len;
    snprintf(path, sizeof path, "%s/%s", dir, lua ? "main.lua" : python ? "main.py" : "plugin.c");
    struct stat st;
    int e = bay__file_read_small(AT_FDCWD, path, O_NOFOLLOW, CODE_MAX, &text, &len, &st);
    if (e)
        return bay_error_set(err, BAY_EIO, NULL, "%s: %s", path, strerror(e));
    FILE *f = open_memstream(&code, &code_len), *g = open_memstream(&entries, &entries_len);
    for (size_t i = 0; f && g && i < n; i++) {
        if (lua || python)
            script_stub(f, &stubs[i], lua);
        else
            c_stub(f, &stubs[i], wasm);
        if (lua)
            fprintf(g, ", %s = %s", stubs[i].function, stubs[i].function);
        else if (!python && !wasm)
            fprintf(g, ",\n           {\"%s\", %s}", stubs[i].function, stubs[i].function);
    }
    if (f)
        fclose(f);
    if (g)
        fclose(g);
    char *out = NULL;
    if (code && entries) {
        if (lua) /* local functions before the module's table, and named in it */
            out = splice_at(text, "\nreturn {", code, "}", entries);
        else if (!python && !wasm) /* functions before BAY_PLUGIN, and listed in it */
            out = splice_at(text, "\nBAY_PLUGIN(", code, ");", entries);
        else
            (void)asprintf(&out, "%s%s", text, code);
    }
    free(text);
    free(code);
    free(entries);
    if (out == NULL)
        return bay_error_set(err, BAY_EIO, NULL, "cannot add the stubs to %s: not the template's code", path);
    e = rewrite(path, out, strlen(out), st.st_mode & 0777);
    free(out);
    return e ? bay_error_set(err, BAY_EIO, NULL, "cannot write %s: %s", path, strerror(e)) : 0;
}

/* write_manifest adds a provide with its types for each stub to dir/plugin.json. */
static int write_manifest(const char *dir, const json_t *file, const stub *stubs, size_t n, bay_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/plugin.json", dir);
    json_error_t je;
    json_t *m = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    json_t *provides = json_object_get(m, "provides");
    if (!json_is_array(provides)) {
        json_decref(m);
        return bay_error_set(err, BAY_EIO, NULL, "%s: not the template's manifest", path);
    }
    for (size_t i = 0; i < n; i++) {
        size_t j;
        const json_t *p;
        json_array_foreach(provides, j, p) {
            const char *name = json_string_value(json_object_get(p, "name"));
            const char *fn = json_string_value(json_object_get(p, "function"));
            if ((name && strcmp(name, stubs[i].name) == 0) || (fn && strcmp(fn, stubs[i].function) == 0)) {
                json_decref(m);
                return bay_error_set(err, BAY_EINVAL, NULL, "--types: \"%s\" (function %s) is provided by the "
                                     "template already; choose another name", stubs[i].name, stubs[i].function);
            }
        }
        json_array_append_new(provides, json_pack("{s:s, s:s, s:s, s:O}", "name", stubs[i].name, "kind",
                                                  bay__kind_name(stubs[i].kind), "function", stubs[i].function,
                                                  "types", json_object_get(json_object_get(file, stubs[i].name),
                                                                           "types")));
    }
    char *text = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(m);
    if (text == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    size_t len = strlen(text);
    char *nl = realloc(text, len + 2);
    if (nl == NULL) {
        free(text);
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    }
    memcpy(nl + len, "\n", 2);
    int e = rewrite(path, nl, len + 1, 0644);
    free(nl);
    return e ? bay_error_set(err, BAY_EIO, NULL, "cannot write %s: %s", path, strerror(e)) : 0;
}

int stub_write(const char *dir, const char *lang, const char *types_path, bay_error *err)
{
    if (strcmp(lang, "ffi") == 0)
        return bay_error_set(err, BAY_EINVAL, NULL, "--types: a library binding (ffi) is typed by its C signatures");
    json_error_t je;
    json_t *file = json_load_file(types_path, JSON_REJECT_DUPLICATES, &je);
    if (file == NULL && je.line < 1)
        return bay_error_set(err, BAY_EINVAL, NULL, "--types: %s", je.text);
    if (file == NULL)
        return bay_error_set(err, BAY_EINVAL, NULL, "--types: %s:%d:%d: %s", types_path, je.line, je.column, je.text);
    size_t n = json_object_size(file);
    stub *stubs = calloc(n ? n : 1, sizeof *stubs);
    int rc = !json_is_object(file) || n == 0
                 ? bay_error_set(err, BAY_EINVAL, NULL, "--types: %s must be an object naming at least one extension "
                                 "point: {\"NAME\": {\"kind\": KIND, \"types\": {\"args\": SCHEMA, \"result\": "
                                 "SCHEMA}}}", types_path)
             : stubs == NULL ? bay_error_set(err, BAY_ENOMEM, NULL, "out of memory")
                             : 0;
    const char *name;
    const json_t *entry;
    size_t i = 0;
    json_object_foreach(rc ? NULL : file, name, entry) {
        if ((rc = read_stub(name, entry, &stubs[i++], err)) != 0)
            break;
    }
    if (rc == 0)
        rc = write_manifest(dir, file, stubs, n, err);
    if (rc == 0)
        rc = write_code(dir, lang, stubs, n, err);
    free(stubs);
    json_decref(file);
    return rc;
}
