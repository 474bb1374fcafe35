/* cli/new.c — plugbay new: a plugin folder made from the kit's template of a language. */
#include "new.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "kit.h"
#include "manifest.h"
#include "stub.h"

/* The languages there is a template of, as --lang takes them. */
static const char *const languages[] = {"c", "lua", "python", "wasm", "ffi"};
#define NLANGUAGES (sizeof languages / sizeof *languages)

/* The largest template file. */
#define TEMPLATE_MAX (64 * 1024)

int new_usage(const char *lang, const char *id, char *why, size_t len)
{
    bool known = false;
    for (size_t i = 0; lang && i < NLANGUAGES; i++)
        known = known || strcmp(lang, languages[i]) == 0;
    if (!known) {
        snprintf(why, len, "%s%s%s--lang must be one of c, lua, python, wasm, ffi", lang ? "unknown language \"" : "",
                 lang ? lang : "new needs --lang", lang ? "\": " : "; ");
        return -1;
    }
    if (!bay__plugin_id_valid(id)) {
        snprintf(why, len, "\"%s\" is not a plugin id: folder names of letters, digits, \"_\", \".\" and \"-\" (not "
                 "starting with \".\") joined by \"/\", like \"example/hello\"", id);
        return -1;
    }
    return 0;
}

/* usable tells whether dir may become the plugin folder: absent, or an empty folder; *made says it is to be made. */
static int usable(const char *dir, bool *made, bay_error *err)
{
    DIR *d = opendir(dir);
    *made = d == NULL && errno == ENOENT;
    if (*made)
        return 0;
    if (d == NULL)
        return bay_error_set(err, errno == ENOTDIR ? BAY_EEXIST : BAY_EIO, NULL, "%s: %s%s", dir, strerror(errno),
                             errno == ENOTDIR ? ": plugbay new never overwrites; choose another DIR" : "");
    struct dirent *e;
    while ((e = readdir(d)) && (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0))
        ;
    closedir(d);
    return e ? bay_error_set(err, BAY_EEXIST, NULL, "%s exists and is not empty: plugbay new never overwrites; choose "
                             "another DIR or empty that one", dir)
             : 0;
}

/* fill returns text with each @ID@ replaced by id and each @NAME@ by name (a new string, NULL when out of memory). */
static char *fill(const char *text, const char *id, const char *name)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (f == NULL)
        return NULL;
    for (const char *p = text; *p;) {
        bool is_id = strncmp(p, "@ID@", 4) == 0, is_name = strncmp(p, "@NAME@", 6) == 0;
        if (is_id || is_name) {
            fputs(is_id ? id : name, f);
            p += is_id ? 4 : 6;
        } else {
            fputc(*p++, f);
        }
    }
    fclose(f);
    return out;
}

/* copy_template writes the template file from/name, filled in, to the folder dir. */
static int copy_template(const char *from, const char *name, const char *dir, const char *id, bay_error *err)
{
    char src[PATH_MAX * 2], dst[PATH_MAX * 2], *text = NULL;
    snprintf(src, sizeof src, "%s/%s", from, name);
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    size_t len;
    struct stat st;
    int e = bay__file_read_small(AT_FDCWD, src, O_NOFOLLOW, TEMPLATE_MAX, &text, &len, &st);
    if (e)
        return bay_error_set(err, BAY_EIO, NULL, "template %s: %s", src, strerror(e));
    const char *last = strrchr(id, '/');
    char *filled = fill(text, id, last ? last + 1 : id);
    free(text);
    if (filled == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    const char *step;
    e = bay__file_write_new(AT_FDCWD, dst, st.st_mode & 0777, filled, strlen(filled), &step);
    free(filled);
    return e ? bay_error_set(err, BAY_EIO, NULL, "cannot %s %s: %s", step, dst, strerror(e)) : 0;
}

/* copy_templates fills in every file of the template folder from into dir, and lists their names in names. */
static int copy_templates(const char *from, const char *dir, const char *id, char *names, size_t len, bay_error *err)
{
    struct dirent **list;
    int n = scandir(from, &list, NULL, alphasort), rc = 0;
    if (n < 0)
        return bay_error_set(err, BAY_EIO, NULL, "no template folder %s: %s", from, strerror(errno));
    names[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (rc == 0 && list[i]->d_name[0] != '.' && (rc = copy_template(from, list[i]->d_name, dir, id, err)) == 0)
            snprintf(names + strlen(names), len - strlen(names), "%s%s", names[0] ? ", " : "", list[i]->d_name);
        free(list[i]);
    }
    free(list);
    return rc;
}

int cli_new(const signing_args *a, bay_error *err)
{
    const char *id = a->dir, *last = strrchr(id, '/');
    char dir[PATH_MAX], from[PATH_MAX + 16], names[1024];
    snprintf(dir, sizeof dir, "%s", a->operand2 ? a->operand2 : last ? last + 1 : id);
    kit_paths k;
    bool made;
    int rc = kit_locate(&k, err);
    if (rc == 0)
        rc = usable(dir, &made, err);
    if (rc)
        return rc;
    snprintf(from, sizeof from, "%s/%s", k.templates, a->lang);
    if (made && mkdir(dir, 0755) != 0)
        return bay_error_set(err, BAY_EIO, NULL, "cannot make the folder %s: %s", dir, strerror(errno));
    rc = copy_templates(from, dir, id, names, sizeof names, err);
    if (rc == 0 && a->types)
        rc = stub_write(dir, a->lang, a->types, err);
    if (rc && made)
        bay__file_remove_tree(AT_FDCWD, dir);
    if (rc == 0)
        printf("%s: a %s plugin %s (%s)%s%s; try it with `plugbay test %s`\n", dir, a->lang, id, names,
               a->types ? ", with typed stubs for the extension points of " : "", a->types ? a->types : "", dir);
    return rc;
}
