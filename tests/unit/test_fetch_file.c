/* tests/unit/test_fetch_file.c — broker/fetch.c on file:// URLs: into memory and into files, the size cap, the sha256 check, schemes refused, nothing left after a failure. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <plugbay/error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch.h"
#include "file.h"

#define HELLO_SHA256 "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" /* of "hello" */

static char tmp[32]; /* the test's folder: hello.txt, and what is fetched */
static char url[128];
static bay_error err;

static void setup(void)
{
    char path[PATH_MAX];
    snprintf(tmp, sizeof tmp, "/tmp/bay-fetch-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    snprintf(path, sizeof path, "%s/hello.txt", tmp);
    const char *step;
    cr_assert_eq(bay__file_write_new(AT_FDCWD, path, 0644, "hello", 5, &step), 0);
    snprintf(url, sizeof url, "file://%s/hello.txt", tmp);
}

static void teardown(void)
{
    bay__file_remove_tree(AT_FDCWD, tmp);
}

TestSuite(fetch_file, .init = setup, .fini = teardown);

/* entries counts what the test's folder holds. */
static int entries(void)
{
    DIR *d = opendir(tmp);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0; /* hidden temporary files count */
    closedir(d);
    return n;
}

Test(fetch_file, into_memory_with_its_size_and_sha256)
{
    bay__fetched got;
    cr_assert_eq(bay__fetch(url, NULL, NULL, &got, &err), 0, "%s", err.message);
    cr_assert_str_eq(got.data, "hello");
    cr_assert_eq(got.size, 5);
    cr_assert_str_eq(got.sha256, HELLO_SHA256);
    free(got.data);
}

Test(fetch_file, into_a_file_renamed_into_place)
{
    char dest[PATH_MAX], *text = NULL;
    size_t len;
    struct stat st;
    bay__fetched got;
    snprintf(dest, sizeof dest, "%s/copy.txt", tmp);
    cr_assert_eq(bay__fetch(url, NULL, dest, &got, &err), 0, "%s", err.message);
    cr_assert_null(got.data);
    cr_assert_eq(bay__file_read_small(AT_FDCWD, dest, 0, 100, &text, &len, &st), 0);
    cr_assert_str_eq(text, "hello");
    free(text);
    cr_assert_eq(entries(), 2, "no temporary file left");
}

Test(fetch_file, more_than_the_cap_is_cut_off_and_leaves_nothing)
{
    char dest[PATH_MAX];
    bay__fetched got;
    bay__fetch_limits small = {.max_bytes = 3};
    snprintf(dest, sizeof dest, "%s/copy.txt", tmp);
    cr_assert_eq(bay__fetch(url, &small, dest, &got, &err), BAY_EPERM);
    cr_assert(strstr(err.message, "hello.txt: larger than 3 bytes, the most accepted"), "%s", err.message);
    cr_assert_eq(entries(), 1, "nothing beside hello.txt");
    cr_assert_eq(bay__fetch(url, &small, NULL, &got, &err), BAY_EPERM);
    cr_assert_null(got.data);
}

Test(fetch_file, a_package_unlike_the_index_entry_is_refused_and_leaves_nothing)
{
    char dest[PATH_MAX], base[PATH_MAX];
    bay__index_entry e = {.path = "hello.txt", .size = 5, .sha256 = HELLO_SHA256};
    snprintf(dest, sizeof dest, "%s/copy.txt", tmp);
    snprintf(base, sizeof base, "file://%s/", tmp);
    cr_assert_eq(bay__fetch_package(base, &e, NULL, dest, &err), 0, "%s", err.message);
    cr_assert_eq(unlink(dest), 0);
    e.sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
    cr_assert_eq(bay__fetch_package(base, &e, NULL, dest, &err), BAY_EPERM);
    cr_assert(strstr(err.message, "hello.txt: 5 bytes with sha256 " HELLO_SHA256 ", but the index says 5 bytes"),
              "%s", err.message);
    cr_assert_eq(entries(), 1, "nothing beside hello.txt");
}

Test(fetch_file, a_missing_file_and_other_schemes_are_refused)
{
    bay__fetched got;
    char missing[PATH_MAX];
    snprintf(missing, sizeof missing, "file://%s/nope", tmp);
    cr_assert_eq(bay__fetch(missing, NULL, NULL, &got, &err), BAY_ENOENT);
    cr_assert(strstr(err.message, "/nope: cannot read the file"), "%s", err.message);
    cr_assert_eq(bay__fetch("ftp://127.0.0.1/x", NULL, NULL, &got, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "only http://, https:// and file:// URLs"), "%s", err.message);
}
