/*
 * retention.h - which bundles to keep: a pure function of the bundles, the
 * policy (profile keys retention.*) and the current time.
 *
 * No I/O and no clock: `drctl bundles prune` (and backup after a run) list
 * the store, call this, and delete what is not kept. Keeping the decision
 * pure is what lets the unit tests walk day, ISO week, month and year
 * boundaries with a fixed "now".
 */
#ifndef DRCTL_BACKUP_RETENTION_H
#define DRCTL_BACKUP_RETENTION_H

#include <stddef.h>
#include <stdint.h>

typedef struct dr_retention {
    int keep_last, daily, weekly, monthly;
} dr_retention;

typedef struct dr_ret_bundle {
    uint64_t version, parent; /* parent 0 = none */
    int64_t captured_at;      /* Unix seconds, UTC */
    int incremental;
    int verified;
} dr_ret_bundle;

/* The reasons why[] points at (static strings, compare with strcmp). */
#define DR_RET_WHY_VERIFIED "newest verified"
#define DR_RET_WHY_LAST "keep_last"
#define DR_RET_WHY_DAILY "daily"
#define DR_RET_WHY_WEEKLY "weekly"
#define DR_RET_WHY_MONTHLY "monthly"
#define DR_RET_WHY_PARENT "parent"

/*
 * keep[i] = 1 for bundles to keep, 0 for bundles to delete; why[i] (may be
 * NULL as an array) the first rule that keeps it, in this order, or NULL:
 *   "newest verified"  the newest bundle with verified set: never deleted
 *   "keep_last"        the newest keep_last bundles
 *   "daily"            the newest bundle of each of the last `daily` UTC days
 *                      that have bundles, counting back from now's day
 *   "weekly"           the same per ISO 8601 week (Monday to Sunday, UTC; the
 *                      week of 2021-01-01 is 2020-W53)
 *   "monthly"          the same per calendar month
 *   "parent"           an ancestor (parent chain down to its full bundle) of a
 *                      kept incremental; dr_retention_kept_child names which
 * "Newest" orders by captured_at, then version. A bundle captured after `now`
 * (a skewed clock) counts in now's day, week and month. Parents that are not
 * in b[] (deleted earlier) end the chain walk. Bundles may come in any order;
 * versions are expected unique.
 */
void dr_retention_apply(const dr_retention *r, const dr_ret_bundle *b, size_t n, int64_t now,
                        int *keep, const char **why);

/* For a bundle kept as "parent": the version of the newest kept bundle whose
 * parent it is (for "parent of vN"), or 0 when none. */
uint64_t dr_retention_kept_child(const dr_ret_bundle *b, size_t n, const int *keep, size_t i);

#endif
