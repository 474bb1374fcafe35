/* cli/test.c — plugbay test: a plugin folder built, loaded in a private plugbayd and its test file's cases run. */
#include "test.h"

#include <stdio.h>

#include "manifest.h"
#include "private.h"
#include "testfile.h"
#include "testrun.h"

int cli_test(const signing_args *a, bay_error *err)
{
    kit_paths k;
    char path[PATH_MAX + 32], id[BAY_PLUGIN_ID_MAX + 1], lang[PRIVATE_LANG_MAX];
    test_file t;
    int rc = kit_locate(&k, err);
    if (rc == 0) /* a folder that is no plugin's is said to be so before its tests are read */
        rc = private_plugin_id(a->dir, id, sizeof id, lang, err);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/%s", a->conformance ? k.conformance : a->dir,
             a->conformance ? "cases.json" : "tests.json");
    if ((rc = testfile_read(path, lang, &t, err)) != 0)
        return rc;
    private_broker pb;
    rc = private_open(&pb, &k, a->dir, a->with, a->nwith, id, sizeof id, err);
    /* The conformance suite calls in the plugin's own context: its five plugins, loaded together, each serve the
     * suite's points in theirs alone (a plugin declaring no contexts sees every call). */
    size_t failed = rc ? 0 : testrun(&pb, id, a->conformance ? id : NULL, &t);
    if (rc == 0 && failed)
        rc = bay_error_set(err, private_interrupted() ? BAY_ECANCELED : BAY_EPLUGIN, NULL, "%s: %zu of %zu cases %s",
                           path, failed, t.ncases, private_interrupted() ? "failed or did not run" : "failed");
    private_stop(&pb);
    testfile_free(&t);
    return rc;
}
