/* cli/testrun.h — plugbay test's run: each case of a test file called against a private plugbayd, one line each and a sum. */
#ifndef BAY_CLI_TESTRUN_H
#define BAY_CLI_TESTRUN_H

#include "private.h"
#include "testfile.h"

/* testrun runs the cases of t, in order, through pb's connection (in
 * context, when not NULL: only providers declaring it, or none, see them), printing
 * "ok   NAME" or "FAIL NAME" for each (a failure followed by the call, its
 * arguments, what was expected, what came back and plugin id's log lines
 * during the call) and then "N passed, M failed". Stops early when
 * interrupted. Returns the number of cases that failed or did not run. */
size_t testrun(private_broker *pb, const char *id, const char *context, const test_file *t);

#endif
