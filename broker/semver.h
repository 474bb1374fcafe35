/* broker/semver.h — semantic versions (semver.org 2.0) and version ranges. */
#ifndef BAY_SEMVER_H
#define BAY_SEMVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <plugbay/error.h>

typedef struct bay__semver {
    uint64_t major, minor, patch;
    char pre[64]; /* pre-release ("rc.1"), "" when none; build metadata is ignored */
} bay__semver;

/* bay__semver_parse parses "MAJOR.MINOR.PATCH[-PRE][+BUILD]". Returns 0 or BAY_EINVAL. */
int bay__semver_parse(const char *s, bay__semver *out);

/* bay__semver_cmp orders a and b by semver precedence: <0, 0 or >0. */
int bay__semver_cmp(const bay__semver *a, const bay__semver *b);

/* bay__semver_range_check validates range syntax: space-separated comparators
 * (">=1.2.0", "<2", "=1.0.0", "1.2.3"), caret ("^1.2"), tilde ("~1.2.3"),
 * wildcards ("1.x", "*"), and "||" between alternatives. Partial versions mean
 * what npm makes of them: "1.2" = "1.2.x" = ">=1.2.0 <1.3.0", "<=1.2" = "<1.3.0",
 * ">1" = ">=2.0.0"; "^" keeps the leftmost non-zero part, "~" the minor (or the
 * major when only it is given). ">*" and "<*" are refused (they match nothing).
 * Returns 0 or BAY_EINVAL with the reason in err (NULL allowed). */
int bay__semver_range_check(const char *range, bay_error *err);

/* bay__semver_satisfies returns true when v is inside range (an invalid range is
 * never satisfied). A pre-release version (1.2.3-rc.1) satisfies an alternative
 * only when one of its comparators names the same 1.2.3 with a pre-release
 * (npm's rule): ">=1.2.3-rc.0" takes 1.2.3-rc.1, but "^1.0.0" takes no 1.x.y-pre. */
bool bay__semver_satisfies(const bay__semver *v, const char *range);

#endif
