/* cli/send.c — plugbay install FILE: what a package is and asks, read here; the package sent to plugbayd in parts. */
#include "send.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "manifest.h"
#include "package.h"
#include "permission.h"
#include "signature.h"
#include "signing.h"

/* what_it_is reads the manifest and the signature of the package unpacked in folder into f. */
static int what_it_is(const char *file, const char *folder, package_facts *f, bay_error *err)
{
    bay__manifest *m = NULL;
    int rc = bay__manifest_read(folder, file, &m, err);
    if (rc)
        return rc;
    snprintf(f->id, sizeof f->id, "%s", m->id);
    snprintf(f->version, sizeof f->version, "%s", m->version);
    char **asked = permission_requested(m);
    f->asked = asked ? bay_array() : NULL;
    for (char **a = asked; f->asked && *a; a++)
        bay_array_push(f->asked, bay_str(*a));
    bay__strv_free(asked);
    bay__manifest_free(m);
    bay__sig_info si;
    bay_error unsigned_why;
    snprintf(f->key_id, sizeof f->key_id, "%s",
             bay__signature_verify(folder, NULL, &si, &unsigned_why) == 0 ? si.key_id : "");
    return f->asked ? 0 : bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
}

int package_read(const char *file, package_facts *f, bay_error *err)
{
    memset(f, 0, sizeof *f);
    char tmp[PATH_MAX], folder[PATH_MAX];
    struct stat st;
    if (stat(file, &st) != 0)
        return bay_error_set(err, BAY_EIO, NULL, "%s: %s", file, strerror(errno));
    f->size = st.st_size;
    int e = bay__file_sha256(AT_FDCWD, file, f->sha256);
    if (e)
        return bay_error_set(err, BAY_EIO, NULL, "%s: %s", file, strerror(e));
    int rc = cli_unpack_temp(file, tmp, folder, err);
    if (rc == 0)
        rc = what_it_is(file, folder, f, err);
    if (tmp[0])
        bay__file_remove_tree(AT_FDCWD, tmp);
    return rc;
}

void package_facts_free(package_facts *f)
{
    bay_value_free(f->asked);
    f->asked = NULL;
}

int package_send(bay_conn *conn, const char *file, const package_facts *f, int timeout_ms, bay_error *err)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bay_error_set(err, BAY_EIO, NULL, "%s: %s", file, strerror(errno));
    static char part[BAY_PKG_PART];
    int64_t offset = 0;
    int rc = 0;
    while (rc == 0 && offset < f->size) {
        ssize_t n = pread(fd, part, sizeof part, offset);
        if (n <= 0) {
            rc = bay_error_set(err, BAY_EIO, NULL, "%s: %s", file, n < 0 ? strerror(errno) : "it got shorter");
            break;
        }
        bay_value *args = bay_map(), *reply = NULL;
        bay_map_set(args, "sha256", bay_str(f->sha256));
        bay_map_set(args, "size", bay_int(f->size));
        bay_map_set(args, "offset", bay_int(offset));
        bay_map_set(args, "data", bay_bin(part, (size_t)n));
        rc = bay_command(conn, "package.put", args, timeout_ms, &reply, err);
        bay_value_free(args);
        bay_value_free(reply);
        offset += n;
    }
    close(fd);
    return rc;
}
