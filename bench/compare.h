/* bench/compare.h — plugbay-bench --compare: the change of every figure between two results files. */
#ifndef BAY_BENCH_COMPARE_H
#define BAY_BENCH_COMPARE_H

#include <stdio.h>

/* bay__bench_compare prints to out, for every numeric leaf of the JSON files
 * old_path and new_path matched by its path ("languages.c.call_nng.p50_us",
 * an array element named by its "language", "name", "id" or "path" member, else by
 * its index), the old and new value, the change in % and whether it got
 * better or worse (rates, "per_s", higher is better; times, sizes and ratios
 * of them lower; baselines and counts are not judged), then the figures found
 * on one side only and a summary line. Returns 0; 1 when fail_over >= 0 and
 * a ratio to a baseline (a leaf named "ratio") got worse by more than
 * fail_over percent; 2 when a file cannot be read as JSON (said on stderr). */
int bay__bench_compare(const char *old_path, const char *new_path, double fail_over, FILE *out);

#endif
