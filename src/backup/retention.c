/*
 * retention.c - the keep/delete decision (see retention.h).
 *
 * Each calendar rule walks the bundles newest first and keeps the first
 * bundle it meets in each new bucket (day, week, month) until it has seen
 * its number of buckets: buckets without bundles do not count, so a stack
 * that was not backed up for a week still keeps `daily` generations rather
 * than none. A week is keyed by the day number of its Monday, which is
 * unique per ISO week without computing ISO years.
 */
#include "backup/retention.h"

#include <stdlib.h>
#include <time.h>

#include "util/mem.h"

/* Newest first: captured_at, then version, descending. */
static int cmp_newest(const void *a, const void *b, void *base)
{
    const dr_ret_bundle *x = &((const dr_ret_bundle *)base)[*(const size_t *)a];
    const dr_ret_bundle *y = &((const dr_ret_bundle *)base)[*(const size_t *)b];
    if (x->captured_at != y->captured_at)
        return x->captured_at > y->captured_at ? -1 : 1;
    if (x->version != y->version)
        return x->version > y->version ? -1 : 1;
    return 0;
}

static int64_t day_of(int64_t t)
{
    /* Floor division: times before 1970 land in the right day too. */
    return t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
}

typedef enum bucket_kind { B_DAY, B_WEEK, B_MONTH } bucket_kind;

static int64_t bucket_of(int64_t t, bucket_kind k)
{
    int64_t d = day_of(t);
    switch (k) {
    case B_DAY:
        return d;
    case B_WEEK: {
        /* 1970-01-01 was a Thursday: (d + 3) mod 7 is 0 on Mondays. */
        int64_t w = ((d + 3) % 7 + 7) % 7;
        return d - w;
    }
    case B_MONTH: {
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        return (int64_t)(tm.tm_year + 1900) * 12 + tm.tm_mon;
    }
    }
    return d;
}

static void mark(int *keep, const char **why, size_t i, const char *rule)
{
    if (!keep[i]) {
        keep[i] = 1;
        if (why)
            why[i] = rule;
    }
}

static void bucket_rule(const dr_ret_bundle *b, const size_t *order, size_t n, int64_t now,
                        int count, bucket_kind k, const char *rule, int *keep, const char **why)
{
    int seen = 0;
    int64_t last = 0;
    for (size_t j = 0; j < n && count > 0; j++) {
        size_t i = order[j];
        int64_t t = b[i].captured_at > now ? now : b[i].captured_at;
        int64_t key = bucket_of(t, k);
        if (seen > 0 && key == last)
            continue;
        last = key;
        if (++seen > count)
            break;
        mark(keep, why, i, rule);
    }
}

static size_t find_version(const dr_ret_bundle *b, size_t n, uint64_t v)
{
    for (size_t i = 0; i < n; i++)
        if (b[i].version == v)
            return i;
    return n;
}

void dr_retention_apply(const dr_retention *r, const dr_ret_bundle *b, size_t n, int64_t now,
                        int *keep, const char **why)
{
    for (size_t i = 0; i < n; i++) {
        keep[i] = 0;
        if (why)
            why[i] = NULL;
    }
    if (n == 0)
        return;
    size_t *order = dr_xcalloc(n, sizeof(*order));
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, n, sizeof(*order), cmp_newest, (void *)b);

    for (size_t j = 0; j < n; j++)
        if (b[order[j]].verified) {
            mark(keep, why, order[j], DR_RET_WHY_VERIFIED);
            break;
        }
    for (size_t j = 0; j < n && (int64_t)j < (int64_t)r->keep_last; j++)
        mark(keep, why, order[j], DR_RET_WHY_LAST);
    bucket_rule(b, order, n, now, r->daily, B_DAY, DR_RET_WHY_DAILY, keep, why);
    bucket_rule(b, order, n, now, r->weekly, B_WEEK, DR_RET_WHY_WEEKLY, keep, why);
    bucket_rule(b, order, n, now, r->monthly, B_MONTH, DR_RET_WHY_MONTHLY, keep, why);

    /* Chains: a kept incremental is useless without every bundle below it.
     * Walking from each kept bundle marks ancestors; an ancestor marked here
     * is walked again by its own turn (harmless, and chains are short). The
     * step bound guards against a parent cycle in a corrupt summary. */
    for (size_t i = 0; i < n; i++) {
        if (!keep[i])
            continue;
        size_t cur = i;
        for (size_t steps = 0; steps < n && b[cur].incremental && b[cur].parent != 0; steps++) {
            size_t p = find_version(b, n, b[cur].parent);
            if (p == n)
                break; /* the parent is gone already: nothing left to protect */
            mark(keep, why, p, DR_RET_WHY_PARENT);
            cur = p;
        }
    }
    free(order);
}

uint64_t dr_retention_kept_child(const dr_ret_bundle *b, size_t n, const int *keep, size_t i)
{
    uint64_t best = 0;
    int64_t best_t = 0;
    for (size_t j = 0; j < n; j++) {
        if (j == i || !keep[j] || !b[j].incremental || b[j].parent != b[i].version)
            continue;
        if (best == 0 || b[j].captured_at > best_t ||
            (b[j].captured_at == best_t && b[j].version > best)) {
            best = b[j].version;
            best_t = b[j].captured_at;
        }
    }
    return best;
}
