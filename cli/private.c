/* cli/private.c — a private plugbayd for plugbay test and dev: temporary folders, the plugin folders copied in, waited on, stopped. */
#include "private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "manifest.h"
#include "signing.h"

extern char **environ;

/* How long plugbayd may take to answer, and a plugin to load (a first WebAssembly compile included). */
#define ANSWER_MS 30000
#define LOAD_MS 120000
#define POLL_MS 50

static volatile sig_atomic_t interrupted;
static volatile pid_t running; /* the private plugbayd, for on_signal */

/* on_signal notes SIGINT or SIGTERM and kills plugbayd at once (its workers die with it), so that no call waits on
 * it: a SIGTERM would let calls in flight run to its drain timeout. */
static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
    if (running > 0)
        kill(running, SIGKILL);
}

bool private_interrupted(void)
{
    return interrupted;
}

/* nap waits POLL_MS (less when a signal comes). */
static void nap(void)
{
    nanosleep(&(struct timespec){0, POLL_MS * 1000000L}, NULL);
}

int private_plugin_id(const char *dir, char *id, size_t len, char lang[PRIVATE_LANG_MAX], bay_error *err)
{
    char manifest[PATH_MAX + 16], folder[PATH_MAX];
    snprintf(manifest, sizeof manifest, "%s/plugin.json", dir);
    if (access(manifest, F_OK) != 0)
        return bay_error_set(err, BAY_EMANIFEST, NULL, "%s has no plugin.json: is it a plugin folder? (`plugbay new "
                             "--lang LANG ID` makes one)", dir);
    bay__manifest *m = NULL;
    int rc = bay__manifest_read(dir, dir, &m, err);
    if (rc)
        return rc;
    snprintf(folder, sizeof folder, "%s", dir);
    snprintf(id, len, "%s", m->id ? m->id : basename(folder));
    if (lang) /* a library binding is a "c" plugin without an entry */
        snprintf(lang, PRIVATE_LANG_MAX, "%s", m->library ? "ffi" : m->language);
    bay__manifest_free(m);
    return bay__plugin_id_valid(id) ? 0 : bay_error_set(err, BAY_EMANIFEST, NULL, "%s: its plugin.json has no \"id\" "
                                                        "and its folder's name is no plugin id: add \"id\"", dir);
}

/* copy_file copies the regular file from to `to` through to.new, renamed over `to` at the end. */
static int copy_file(const char *from, const char *to, mode_t mode, bay_error *err)
{
    char tmp[PATH_MAX * 2 + 8], hex[65];
    snprintf(tmp, sizeof tmp, "%s.new", to);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 0777);
    int e = fd < 0 ? errno : bay__file_sha256(from, O_NOFOLLOW, fd, hex, NULL);
    if (fd >= 0 && close(fd) != 0 && e == 0)
        e = errno;
    if (e == 0 && rename(tmp, to) != 0)
        e = errno;
    if (e)
        unlink(tmp);
    return e ? bay_error_set(err, BAY_EIO, NULL, "cannot copy %s to %s: %s", from, to, strerror(e)) : 0;
}

/* copy_tree copies the folder from into the folder to (made when missing): its folders and regular files, but
 * not hidden names nor symbolic links, and a plugin.json at its top last. */
static int copy_tree(const char *from, const char *to, bay_error *err)
{
    struct dirent **list;
    int n = scandir(from, &list, NULL, alphasort), rc = 0;
    if (n < 0)
        return bay_error_set(err, BAY_EIO, NULL, "cannot read the folder %s: %s", from, strerror(errno));
    if (mkdir(to, 0755) != 0 && errno != EEXIST)
        rc = bay_error_set(err, BAY_EIO, NULL, "cannot make the folder %s: %s", to, strerror(errno));
    for (int pass = 0; pass < 2; pass++) /* plugin.json in the second pass */
        for (int i = 0; rc == 0 && i < n; i++) {
            char a[PATH_MAX * 2], b[PATH_MAX * 2];
            struct stat st;
            bool manifest = strcmp(list[i]->d_name, "plugin.json") == 0;
            snprintf(a, sizeof a, "%s/%s", from, list[i]->d_name);
            snprintf(b, sizeof b, "%s/%s", to, list[i]->d_name);
            if (list[i]->d_name[0] == '.' || manifest != (pass == 1) || lstat(a, &st) != 0)
                continue;
            if (S_ISDIR(st.st_mode))
                rc = copy_tree(a, b, err);
            else if (S_ISREG(st.st_mode))
                rc = copy_file(a, b, st.st_mode, err);
        }
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
    return rc;
}

int private_place(private_broker *pb, const char *dir, const char *id, bay_error *err)
{
    char to[PATH_MAX * 2];
    snprintf(to, sizeof to, "%s/%s", pb->plugins, id);
    int e = bay__file_mkdirs(to, strlen(pb->plugins), false, 0755);
    if (e)
        return bay_error_set(err, BAY_EIO, NULL, "cannot make the folder %s: %s", to, strerror(e));
    return copy_tree(dir, to, err);
}

/* catch_signals sends SIGINT and SIGTERM to on_signal, without restarting what they interrupt. */
static void catch_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* exited tells whether plugbayd has exited, reaping it (pid then 0). */
static bool exited(private_broker *pb)
{
    int status;
    if (pb->pid <= 0 || waitpid(pb->pid, &status, WNOHANG) != pb->pid)
        return pb->pid <= 0;
    pb->pid = running = 0;
    return true;
}

/* answered connects to plugbayd once it answers: 0, or the code with err once it exited or ANSWER_MS passed. */
static int answered(private_broker *pb, const char *log, bay_error *err)
{
    for (int waited = 0; !interrupted; waited += POLL_MS) {
        if (exited(pb))
            return bay_error_set(err, BAY_ECONN, NULL, "the private plugbayd exited at start; its log was %s", log);
        if (bay_connect(pb->url, "plugbay-kit", &pb->conn, err) == 0)
            return 0;
        if (waited > ANSWER_MS)
            return bay_error_set(err, BAY_ECONN, NULL, "the private plugbayd did not answer within %d s", ANSWER_MS / 1000);
        nap();
    }
    return bay_error_set(err, BAY_ECANCELED, NULL, "interrupted");
}

int private_start(private_broker *pb, const kit_paths *k, bay_error *err)
{
    memset(pb, 0, sizeof *pb);
    int rc = cli_temp_folder("kit", pb->tmp, err);
    if (rc)
        return rc;
    char state[PATH_MAX + 8], log[PATH_MAX + 16];
    snprintf(pb->plugins, sizeof pb->plugins, "%s/plugins", pb->tmp);
    snprintf(state, sizeof state, "%s/state", pb->tmp);
    snprintf(log, sizeof log, "%s/plugbayd.log", pb->tmp);
    snprintf(pb->url, sizeof pb->url, "ipc://%s/plugbayd.sock", state);
    if (mkdir(pb->plugins, 0700) != 0)
        return bay_error_set(err, BAY_EIO, NULL, "cannot make the folder %s: %s", pb->plugins, strerror(errno));
    char *argv[] = {(char *)k->plugbayd, "--plugins", pb->plugins, "--state", state, "--log", log, "--autoinstall",
                    "--exit-with-parent", NULL};
    catch_signals();
    pid_t pid;
    int e = posix_spawn(&pid, k->plugbayd, NULL, NULL, argv, environ);
    if (e)
        return bay_error_set(err, BAY_EIO, NULL, "cannot start %s: %s (set PLUGBAYD to plugbayd's path)", k->plugbayd,
                             strerror(e));
    pb->pid = running = pid;
    return answered(pb, log, err);
}

/* plugin_info asks plugbayd for info on plugin id: a new map, or NULL when it has none (yet). */
static bay_value *plugin_info(private_broker *pb, const char *id)
{
    bay_value *args = bay_map(), *info = NULL;
    bay_map_set(args, "id", bay_str(id));
    if (bay_command(pb->conn, "info", args, ANSWER_MS, &info, NULL) != 0)
        info = NULL;
    bay_value_free(args);
    return info;
}

int private_wait_loaded(private_broker *pb, const char *id, int64_t mark, bay_error *err)
{
    char state[32] = "", reason[400] = "";
    for (int waited = 0; !interrupted && !exited(pb) && waited < LOAD_MS; waited += POLL_MS) {
        bay_value *info = plugin_info(pb, id);
        snprintf(state, sizeof state, "%s", info ? bay_value_str(bay_map_get(info, "state"), NULL) : "");
        snprintf(reason, sizeof reason, "%s", info ? bay_value_str(bay_map_get(info, "reason"), NULL) : "");
        bay_value_free(info);
        if (strcmp(state, "loaded") == 0)
            return 0;
        if (strcmp(state, "failed") == 0 || strcmp(state, "invalid") == 0)
            break;
        nap();
    }
    if (interrupted)
        return bay_error_set(err, BAY_ECANCELED, NULL, "interrupted");
    fprintf(stderr, "plugbay: %s's log lines:\n", id);
    if (!private_print_log(pb, id, mark, "  ", stderr))
        fputs("  (none)\n", stderr);
    return bay_error_set(err, BAY_EUNAVAIL, id, "%s did not load: %s%s%s", id, state[0] ? state : "not found",
                         reason[0] ? ": " : "", reason);
}

int private_open(private_broker *pb, const kit_paths *k, const char *dir, const char *const *with, size_t nwith,
                 char *id, size_t len, bay_error *err)
{
    memset(pb, 0, sizeof *pb);
    char ids[nwith + 1][BAY_PLUGIN_ID_MAX + 1];
    const char *dirs[nwith + 1];
    int rc = 0;
    for (size_t i = 0; rc == 0 && i <= nwith; i++) {
        dirs[i] = i < nwith ? with[i] : dir;
        if ((rc = private_plugin_id(dirs[i], ids[i], sizeof ids[i], NULL, err)) == 0)
            rc = kit_make(k, dirs[i], err);
    }
    if (rc == 0)
        rc = private_start(pb, k, err);
    for (size_t i = 0; rc == 0 && i <= nwith; i++)
        rc = private_place(pb, dirs[i], ids[i], err);
    for (size_t i = 0; rc == 0 && i <= nwith; i++)
        rc = private_wait_loaded(pb, ids[i], 0, err);
    snprintf(id, len, "%s", ids[nwith]);
    return rc;
}

/* log_after asks plugbayd for plugin id's log lines numbered after mark: {"lines", "last"}, or NULL. */
static bay_value *log_after(private_broker *pb, const char *id, int64_t mark, int64_t lines)
{
    bay_value *args = bay_map(), *reply = NULL;
    bay_map_set(args, "id", bay_str(id));
    bay_map_set(args, "after", bay_int(mark));
    if (lines)
        bay_map_set(args, "lines", bay_int(lines));
    if (pb->conn == NULL || bay_command(pb->conn, "logs", args, ANSWER_MS, &reply, NULL) != 0)
        reply = NULL;
    bay_value_free(args);
    return reply;
}

int64_t private_log_mark(private_broker *pb, const char *id)
{
    bay_value *reply = log_after(pb, id, 0, 1);
    int64_t last = bay_value_int(bay_map_get(reply, "last"));
    bay_value_free(reply);
    return last;
}

bool private_print_log(private_broker *pb, const char *id, int64_t mark, const char *indent, FILE *f)
{
    bay_value *reply = log_after(pb, id, mark, 0);
    const bay_value *lines = bay_map_get(reply, "lines");
    for (size_t i = 0; i < bay_value_len(lines); i++)
        fprintf(f, "%s%s\n", indent, bay_value_str(bay_array_get(lines, i), NULL));
    bool any = bay_value_len(lines) > 0;
    bay_value_free(reply);
    return any;
}

void private_stop(private_broker *pb)
{
    bay_close(pb->conn);
    pb->conn = NULL;
    if (pb->pid > 0)
        kill(pb->pid, SIGTERM);
    for (int waited = 0; pb->pid > 0 && !exited(pb); waited += POLL_MS) {
        if (waited == 10000)
            kill(pb->pid, SIGKILL);
        nap();
    }
    if (pb->tmp[0])
        bay__file_remove_tree(AT_FDCWD, pb->tmp);
    pb->tmp[0] = '\0';
}
