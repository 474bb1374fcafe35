/* cli/kit.c — where the plugin authors' kit is (templates, conformance cases, headers, the wasm SDK, plugbayd), and builds with make. */
#include "kit.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* is_folder tells whether path is a folder. */
static bool is_folder(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int kit_locate(kit_paths *k, bay_error *err)
{
    char self[PATH_MAX], bin[PATH_MAX / 2], share[PATH_MAX / 2 + 32];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0)
        return bay_error_set(err, BAY_EIO, NULL, "cannot find plugbay's own path: /proc/self/exe: %s", strerror(errno));
    self[n] = '\0';
    snprintf(bin, sizeof bin, "%s", dirname(self));
    snprintf(share, sizeof share, "%s/../share/plugbay", bin);
    const char *plugbayd = getenv("PLUGBAYD");
    k->installed = is_folder(share) && strlen(share) < PATH_MAX - 64;
    if (k->installed) {
        snprintf(k->templates, sizeof k->templates, "%s/templates", share);
        snprintf(k->conformance, sizeof k->conformance, "%s/conformance", share);
        snprintf(k->wasm_sdk, sizeof k->wasm_sdk, "%s/wasm", share);
        snprintf(k->include, sizeof k->include, "%s/../include", bin);
        snprintf(k->pkgconfig, sizeof k->pkgconfig, "%s/../lib/pkgconfig", bin);
    } else {
        snprintf(k->templates, sizeof k->templates, "%s/sdk/templates", BAY_SOURCE_DIR);
        snprintf(k->conformance, sizeof k->conformance, "%s/sdk/conformance", BAY_SOURCE_DIR);
        snprintf(k->wasm_sdk, sizeof k->wasm_sdk, "%s/bridges/wasm/sdk", BAY_SOURCE_DIR);
        snprintf(k->include, sizeof k->include, "%s/include", BAY_SOURCE_DIR);
        k->pkgconfig[0] = '\0';
    }
    snprintf(k->plugbayd, sizeof k->plugbayd, "%s", plugbayd && *plugbayd ? plugbayd : bin);
    if (!(plugbayd && *plugbayd))
        snprintf(k->plugbayd + strlen(k->plugbayd), sizeof k->plugbayd - strlen(k->plugbayd), "/plugbayd");
    return 0;
}

/* with_pkgconfig puts k's pkgconfig folder first in $PKG_CONFIG_PATH, for make's pkg-config. */
static void with_pkgconfig(const kit_paths *k)
{
    const char *was = getenv("PKG_CONFIG_PATH");
    char *path = NULL;
    if (asprintf(&path, "%s%s%s", k->pkgconfig, was && *was ? ":" : "", was ? was : "") >= 0)
        setenv("PKG_CONFIG_PATH", path, 1);
    free(path);
}

/* collect reads fd to its end into a new string (*out, freed by the caller). */
static void collect(int fd, char **out)
{
    size_t len = 0;
    FILE *f = open_memstream(out, &len);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0 && f)
            fwrite(buf, 1, (size_t)n, f);
    if (f)
        fclose(f);
}

int kit_make(const kit_paths *k, const char *dir, bay_error *err)
{
    char makefile[PATH_MAX + 16], include[PATH_MAX + 32], sdk[PATH_MAX + 32];
    snprintf(makefile, sizeof makefile, "%s/Makefile", dir);
    if (access(makefile, F_OK) != 0)
        return 0;
    snprintf(include, sizeof include, "PLUGBAY_INCLUDE=%s", k->include);
    snprintf(sdk, sizeof sdk, "PLUGBAY_WASM_SDK=%s", k->wasm_sdk);
    /* Installed, make asks pkg-config (the NULL ends the words there); in the build tree it is told. */
    char *argv[] = {"make", "--no-print-directory", "-C", (char *)dir, k->installed ? NULL : include, sdk, NULL};
    if (k->installed)
        with_pkgconfig(k);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return bay_error_set(err, BAY_EIO, NULL, "cannot run make: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
    pid_t pid;
    int e = posix_spawnp(&pid, "make", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    char *output = NULL;
    if (e == 0)
        collect(fds[0], &output);
    close(fds[0]);
    if (e)
        return bay_error_set(err, BAY_EIO, NULL, "cannot run make in %s: %s", dir, strerror(e));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    bool built = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!built && output)
        fputs(output, stdout);
    free(output);
    fflush(stdout);
    if (built)
        return 0;
    return bay_error_set(err, BAY_EPLUGIN, NULL, "the build failed: `make -C %s` exited with status %d (its output "
                         "is above); fix the code and try again", dir, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}
