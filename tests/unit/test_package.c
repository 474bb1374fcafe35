/* tests/unit/test_package.c — plugin packages (broker/package.c): reproducible packing, round trips, and each refused archive, crafted with libarchive. */
#include <criterion/criterion.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <plugbay/error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "file.h"
#include "key.h"
#include "package.h"

#define MANIFEST \
    "{\"id\": \"example/hello\", \"name\": \"t\", \"version\": \"1.2.0\", \"language\": \"c\", \"entry\": \"plugin.so\", \"provides\": []}\n"

static char tmp[32];     /* the test's folder */
static char plugin[64];  /* TMP/plugin: a small plugin folder */
static char out[64];     /* TMP/out: where packages are unpacked, empty at first */
static char dest[80];    /* TMP/out/plugin */
static char pkg[80];     /* TMP/p.bayplug: the package under test */
static bay_error err;

/* at writes TMP/rel to buf and returns buf. */
static char *at(char *buf, const char *rel)
{
    snprintf(buf, PATH_MAX, "%s/%s", tmp, rel);
    return buf;
}

static void put(const char *rel, const char *text, mode_t mode)
{
    char path[PATH_MAX];
    int fd = open(at(path, rel), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    cr_assert(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text), "cannot write %s", path);
    close(fd);
}

/* slurp reads the file path into a new buffer; *len receives its size. */
static char *slurp(const char *path, size_t *len)
{
    char *text = NULL;
    struct stat st;
    cr_assert_eq(bay__file_read_small(AT_FDCWD, path, 0, 1 << 24, &text, len, &st), 0, "cannot read %s", path);
    return text;
}

/* entries counts what the folder path holds. */
static int entries(const char *path)
{
    DIR *d = opendir(path);
    cr_assert_not_null(d, "%s", path);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void setup(void)
{
    char path[PATH_MAX];
    snprintf(tmp, sizeof tmp, "/tmp/bay-pkg-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    snprintf(plugin, sizeof plugin, "%s/plugin", tmp);
    snprintf(out, sizeof out, "%s/out", tmp);
    snprintf(dest, sizeof dest, "%s/plugin", out);
    snprintf(pkg, sizeof pkg, "%s/p.bayplug", tmp);
    cr_assert_eq(mkdir(plugin, 0700), 0);
    cr_assert_eq(mkdir(out, 0700), 0);
    cr_assert_eq(mkdir(at(path, "plugin/lib"), 0700), 0);
    put("plugin/plugin.json", MANIFEST, 0600);
    put("plugin/plugin.so", "\177ELF pretend", 0700);
    put("plugin/lib/data.txt", "forty-two\n", 0640);
}

static void teardown(void)
{
    bay__file_remove_tree(AT_FDCWD, tmp);
}

TestSuite(package, .init = setup, .fini = teardown);

static void pack(const char *to, const char *key)
{
    bay__pkg_packed res;
    cr_assert_eq(bay__pkg_pack(plugin, key, to, &res, &err), 0, "%s", err.message);
    cr_assert_str_eq(res.path, to);
    cr_assert_eq(strlen(res.sha256), 64);
    cr_assert_eq(res.nfiles, key ? 4 : 3);
}

/* ---- packing ---------------------------------------------------------------------- */

Test(package, the_same_folder_gives_the_same_bytes_whatever_its_times_and_modes)
{
    char a[PATH_MAX], b[PATH_MAX], c[PATH_MAX], path[PATH_MAX];
    size_t alen, blen, clen;
    pack(at(a, "a.bayplug"), NULL);
    pack(at(b, "b.bayplug"), NULL);
    struct timespec old[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
    cr_assert_eq(utimensat(AT_FDCWD, at(path, "plugin/lib/data.txt"), old, 0), 0);
    cr_assert_eq(utimensat(AT_FDCWD, at(path, "plugin/lib"), old, 0), 0);
    cr_assert_eq(chmod(at(path, "plugin/plugin.json"), 0664), 0);
    cr_assert_eq(chmod(at(path, "plugin/plugin.so"), 0755), 0);
    pack(at(c, "c.bayplug"), NULL);
    char *ta = slurp(a, &alen), *tb = slurp(b, &blen), *tc = slurp(c, &clen);
    cr_assert(alen == blen && memcmp(ta, tb, alen) == 0, "two packs of one folder differ");
    cr_assert(alen == clen && memcmp(ta, tc, alen) == 0, "other times and modes on disk changed the package");
    free(ta);
    free(tb);
    free(tc);
}

Test(package, a_package_is_named_after_the_id_and_version_of_its_manifest)
{
    char cwd[PATH_MAX];
    bay__pkg_packed res;
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    cr_assert_eq(chdir(tmp), 0);
    int rc = bay__pkg_pack(plugin, NULL, NULL, &res, &err);
    cr_assert_eq(chdir(cwd), 0);
    cr_assert_eq(rc, 0, "%s", err.message);
    cr_assert_str_eq(res.path, "example-hello-1.2.0.bayplug");
    char path[PATH_MAX];
    cr_assert_eq(access(at(path, "example-hello-1.2.0.bayplug"), R_OK), 0);
}

Test(package, a_round_trip_gives_back_the_files_with_normal_modes)
{
    char path[PATH_MAX];
    struct stat st;
    size_t len;
    pack(pkg, NULL);
    cr_assert_eq(bay__pkg_unpack(pkg, dest, NULL, &err), 0, "%s", err.message);
    const struct {
        const char *rel, *text;
        mode_t mode;
    } want[] = {{"out/plugin/plugin.json", MANIFEST, 0644}, {"out/plugin/plugin.so", "\177ELF pretend", 0755},
                {"out/plugin/lib/data.txt", "forty-two\n", 0644}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        char *text = slurp(at(path, want[i].rel), &len);
        cr_assert_str_eq(text, want[i].text, "%s", want[i].rel);
        free(text);
        cr_assert_eq(stat(path, &st), 0);
        cr_assert_eq(st.st_mode & 07777, want[i].mode & ~umask(umask(0)), "%s: mode %o", want[i].rel, st.st_mode);
    }
    cr_assert_eq(entries(dest), 3);
    cr_assert_eq(entries(out), 1, "the private folder is gone");
}

Test(package, with_a_key_the_package_holds_a_new_signature_and_the_folder_is_untouched)
{
    char key[PATH_MAX], id[BAY_KEY_ID_SIZE];
    bay__sig_info info;
    cr_assert_eq(bay__key_generate(at(key, "key"), NULL, id, &err), 0, "%s", err.message);
    put("plugin/plugin.sig", "an old signature\n", 0644);
    pack(pkg, key);
    size_t len;
    char *old = slurp(at((char[PATH_MAX]){0}, "plugin/plugin.sig"), &len);
    cr_assert_str_eq(old, "an old signature\n", "the folder's own plugin.sig was left alone");
    free(old);
    cr_assert_eq(bay__pkg_unpack(pkg, dest, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(bay__signature_verify(dest, NULL, &info, &err), 0, "%s", err.message);
    cr_assert_str_eq(info.key_id, id);
    cr_assert_eq(info.nfiles, 3);
}

/* pack_refused asserts that packing fails with code and exactly message (after "TMP/plugin"), writing nothing. */
static void pack_refused(int code, const char *message)
{
    char expected[600];
    bay__pkg_packed res;
    int before = entries(tmp);
    snprintf(expected, sizeof expected, "%s%s", plugin, message);
    cr_assert_eq(bay__pkg_pack(plugin, NULL, pkg, &res, &err), code, "%s", err.message);
    cr_assert_str_eq(err.message, expected);
    cr_assert_eq(entries(tmp), before, "packing left something behind");
}

Test(package, packing_refuses_a_symbolic_link)
{
    char path[PATH_MAX];
    cr_assert_eq(symlink("/etc/passwd", at(path, "plugin/lib/passwd")), 0);
    pack_refused(BAY_EINVAL, ": \"lib/passwd\" is a symbolic link; a package holds only files and folders (replace "
                             "it by what it stands for, or remove it)");
}

Test(package, packing_refuses_a_fifo)
{
    char path[PATH_MAX];
    cr_assert_eq(mkfifo(at(path, "plugin/pipe"), 0600), 0);
    pack_refused(BAY_EINVAL, ": \"pipe\" is a FIFO; a package holds only files and folders (replace it by what it "
                             "stands for, or remove it)");
}

Test(package, packing_a_manifest_without_an_id_is_refused_saying_what_to_add)
{
    put("plugin/plugin.json", "{\"name\": \"t\", \"version\": \"1.2.0\", \"language\": \"c\", \"entry\": \"plugin.so\", "
                              "\"provides\": []}", 0600);
    pack_refused(BAY_EMANIFEST, ": plugin.json has no \"id\": a package must say which plugin it is; add \"id\": "
                                "\"VENDOR/NAME\", the plugin id it installs as");
}

Test(package, packing_refuses_an_invalid_manifest)
{
    put("plugin/plugin.json", "{\"name\": \"t\", \"version\": \"1.x\", \"language\": \"c\", \"entry\": \"plugin.so\", "
                              "\"provides\": []}", 0644);
    pack_refused(BAY_EMANIFEST, ": plugin.json: field \"version\": expected a semver string like \"1.2.0\", got "
                                "\"1.x\"");
}

Test(package, a_package_inside_the_folder_it_packs_is_refused)
{
    char inside[PATH_MAX], expected[PATH_MAX * 3];
    bay__pkg_packed res;
    snprintf(inside, sizeof inside, "%s/lib/p.bayplug", plugin);
    snprintf(expected, sizeof expected, "%s: the package %s would be inside the folder it packs, and so in the next "
             "package; write it elsewhere (-o FILE)", plugin, inside);
    cr_assert_eq(bay__pkg_pack(plugin, NULL, inside, &res, &err), BAY_EINVAL, "%s", err.message);
    cr_assert_str_eq(err.message, expected);
    cr_assert_eq(entries(at(inside, "plugin/lib")), 1, "nothing written");
}

Test(package, a_folder_given_as_a_link_is_packed_like_the_folder)
{
    char link[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
    size_t alen, blen;
    cr_assert_eq(symlink(plugin, at(link, "link")), 0);
    pack(at(a, "a.bayplug"), NULL);
    bay__pkg_packed res;
    cr_assert_eq(bay__pkg_pack(link, NULL, at(b, "b.bayplug"), &res, &err), 0, "%s", err.message);
    char *ta = slurp(a, &alen), *tb = slurp(b, &blen);
    cr_assert(alen == blen && memcmp(ta, tb, alen) == 0, "packing through a link gave other bytes");
    free(ta);
    free(tb);
}

/* ---- unpacking: crafted archives ------------------------------------------------------- */

/* One entry of a crafted archive: a file of text (type 0), a folder, or whatever type says; link is a
 * symbolic link's target or, with hard, the entry it is a hard link to. */
typedef struct spec {
    const char *name;
    const char *text;
    mode_t type;
    const char *link;
    bool hard;
} spec;

#define MANIFEST_ENTRY {"plugin.json", MANIFEST, 0, NULL, false}

/* craft writes the entries (ended by one without a name) as a pax archive to pkg, gzip-compressed when gz. */
static void craft_as(const spec *v, bool gz)
{
    struct archive *w = archive_write_new();
    cr_assert_eq(archive_write_set_format_pax_restricted(w), ARCHIVE_OK);
    if (gz)
        cr_assert_eq(archive_write_add_filter_gzip(w), ARCHIVE_OK);
    cr_assert_eq(archive_write_open_filename(w, pkg), ARCHIVE_OK, "%s", archive_error_string(w));
    for (; v->name; v++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, v->name);
        archive_entry_set_filetype(e, v->type ? v->type : AE_IFREG);
        archive_entry_set_perm(e, 0644);
        if (v->hard)
            archive_entry_set_hardlink(e, v->link);
        else if (v->link)
            archive_entry_set_symlink(e, v->link);
        if (v->type == AE_IFCHR)
            archive_entry_set_rdev(e, makedev(1, 3));
        archive_entry_set_size(e, v->text ? (la_int64_t)strlen(v->text) : 0);
        cr_assert_eq(archive_write_header(w, e), ARCHIVE_OK, "%s: %s", v->name, archive_error_string(w));
        if (v->text)
            cr_assert_eq(archive_write_data(w, v->text, strlen(v->text)), (la_ssize_t)strlen(v->text));
        archive_entry_free(e);
    }
    cr_assert_eq(archive_write_close(w), ARCHIVE_OK);
    archive_write_free(w);
}

#define CRAFT(...) craft_as((const spec[]){__VA_ARGS__, {NULL, NULL, 0, NULL, false}}, true)

/* unpack_refused asserts that unpacking pkg with limits fails with code and a message that is exactly
 * "package PKG: " and what, or begins so when what ends in '*', and that TMP/out stays empty. */
static void unpack_refused(const bay__pkg_limits *limits, int code, const char *what)
{
    char expected[600];
    size_t n = (size_t)snprintf(expected, sizeof expected, "package %s: %s", pkg, what);
    bool prefix = expected[n - 1] == '*';
    cr_assert_eq(bay__pkg_unpack(pkg, dest, limits, &err), code, "%s", err.message);
    if (prefix)
        cr_assert(strncmp(err.message, expected, n - 1) == 0, "\"%s\" does not begin \"%.*s\"", err.message,
                  (int)n - 1, expected);
    else
        cr_assert_str_eq(err.message, expected);
    cr_assert_eq(entries(out), 0, "unpacking left something behind");
}

/* Entries a package may not hold, each after a valid plugin.json, and the reason given for each. */
static const struct {
    spec entry;
    const char *why;
} unsafe[] = {
    {{"/etc/cron.d/evil", "* * * * * root sh\n", 0, NULL, false},
     "entry \"/etc/cron.d/evil\": an absolute path may not be in a package"},
    {{"lib/../../x", "boo\n", 0, NULL, false}, "entry \"lib/../../x\": a path may not leave the package"},
    {{"lib/./x", "x\n", 0, NULL, false}, "entry \"lib/./x\": a path may not hold an empty or \".\" part"},
    {{"bad\033[2Jname", "x\n", 0, NULL, false},
     "entry \"bad?[2Jname\": the name is not printable UTF-8 or holds a backslash"},
    {{"lib", NULL, AE_IFLNK, "/etc", false},
     "entry \"lib\": a symbolic link (to \"/etc\"); a package holds only files and folders"},
    {{"copy.json", NULL, 0, "plugin.json", true},
     "entry \"copy.json\": a hard link (to \"plugin.json\"); a package holds only files and folders"},
    {{"null", NULL, AE_IFCHR, NULL, false},
     "entry \"null\": a character device; a package holds only files and folders"},
    {{"pipe", NULL, AE_IFIFO, NULL, false}, "entry \"pipe\": a FIFO; a package holds only files and folders"},
};

Test(package, an_absolute_path_a_climb_out_a_link_a_device_or_a_fifo_is_refused_saying_why)
{
    for (size_t i = 0; i < sizeof unsafe / sizeof *unsafe; i++) {
        CRAFT(MANIFEST_ENTRY, unsafe[i].entry);
        unpack_refused(NULL, BAY_EPERM, unsafe[i].why);
    }
}

Test(package, a_link_out_is_refused_before_anything_is_written_through_it)
{
    CRAFT(MANIFEST_ENTRY, {"lib", NULL, AE_IFLNK, "/etc", false}, {"lib/passwd", "x\n", 0, NULL, false});
    unpack_refused(NULL, BAY_EPERM, "entry \"lib\": a symbolic link (to \"/etc\"); a package holds only files and "
                                    "folders");
}

Test(package, an_entry_twice_is_refused)
{
    CRAFT(MANIFEST_ENTRY, {"a.txt", "first\n", 0, NULL, false}, {"./a.txt", "second\n", 0, NULL, false});
    unpack_refused(NULL, BAY_EPERM, "entry \"a.txt\": appears twice");
}

Test(package, more_files_than_the_limit_are_refused)
{
    CRAFT(MANIFEST_ENTRY, {"lib", NULL, AE_IFDIR, NULL, false}, {"lib/a", "a", 0, NULL, false},
          {"lib/b", "b", 0, NULL, false});
    unpack_refused(&(bay__pkg_limits){.max_files = 3}, BAY_EPERM,
                   "more than 3 files and folders, the most a package may hold (an archive bomb?)");
}

Test(package, more_bytes_than_the_limit_are_refused)
{
    char big[2001];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CRAFT(MANIFEST_ENTRY, {"big", big, 0, NULL, false});
    unpack_refused(&(bay__pkg_limits){.max_bytes = 1000}, BAY_EPERM,
                   "entry \"big\": the files would take more than 1000 bytes unpacked, the most a package may (an "
                   "archive bomb?)");
}

Test(package, a_truncated_package_is_refused)
{
    char noise[65537];
    for (size_t i = 0; i + 1 < sizeof noise; i++) /* what gzip cannot shrink: the cut falls in the data */
        noise[i] = (char)(' ' + (i * 7919 + i / 13 * 104729) % 95);
    noise[sizeof noise - 1] = '\0';
    CRAFT(MANIFEST_ENTRY, {"noise", noise, 0, NULL, false});
    size_t len;
    char *bytes = slurp(pkg, &len);
    int fd = open(pkg, O_WRONLY | O_TRUNC | O_CLOEXEC);
    cr_assert(fd >= 0 && write(fd, bytes, len / 2) == (ssize_t)(len / 2));
    close(fd);
    free(bytes);
    unpack_refused(NULL, BAY_EINVAL, "truncated or damaged (*");
}

Test(package, a_file_that_is_no_archive_is_refused)
{
    put("p.bayplug", "this is a text file, not a package\n", 0644);
    unpack_refused(NULL, BAY_EINVAL, "not a plugbay package (a tar archive compressed with gzip): *");
}

Test(package, an_archive_without_gzip_is_refused)
{
    craft_as((const spec[]){MANIFEST_ENTRY, {NULL, NULL, 0, NULL, false}}, false);
    unpack_refused(NULL, BAY_EINVAL, "not a plugbay package (a tar archive compressed with gzip): it is a *");
}

Test(package, a_package_without_a_manifest_is_refused)
{
    CRAFT({"lib", NULL, AE_IFDIR, NULL, false}, {"lib/plugin.json", MANIFEST, 0, NULL, false});
    unpack_refused(NULL, BAY_EMANIFEST, "no plugin.json at the top: not a plugin folder");
}

Test(package, an_invalid_manifest_is_refused)
{
    CRAFT({"plugin.json", "{\"name\": \"t\"}", 0, NULL, false});
    unpack_refused(NULL, BAY_EMANIFEST, "plugin.json: field \"version\": expected a semver string like \"1.2.0\", got "
                                        "nothing (the field is required)");
}

Test(package, an_existing_destination_is_not_replaced)
{
    pack(pkg, NULL);
    cr_assert_eq(mkdir(dest, 0700), 0);
    cr_assert_eq(bay__pkg_unpack(pkg, dest, NULL, &err), BAY_EEXIST, "%s", err.message);
    cr_assert_eq(entries(dest), 0);
    cr_assert_eq(entries(out), 1);
}
