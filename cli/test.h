/* cli/test.h — plugbay test: a plugin folder built, loaded in a private plugbayd and its test file's cases run. */
#ifndef BAY_CLI_TEST_H
#define BAY_CLI_TEST_H

#include "signing.h"

/* cli_test reads the test file (a->dir/tests.json, or the kit's
 * conformance/cases.json with a->conformance), builds and loads the plugin
 * folder a->dir (and each of a->with first) in a private plugbayd, runs the
 * cases and prints the outcome. Returns 0 when every case passed, else a
 * code with err saying what failed. */
int cli_test(const signing_args *a, bay_error *err);

#endif
