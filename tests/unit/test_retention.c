/*
 * test_retention.c - the retention decision with a fixed "now": keep_last,
 * daily/weekly/monthly buckets across day, ISO week, month and year
 * boundaries, the newest verified bundle, incremental chains, and the
 * reason reported for each kept bundle.
 */
#include <criterion/criterion.h>

#include <string.h>
#include <time.h>

#include "backup/retention.h"

static int64_t T(int y, int mo, int d, int h)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    return (int64_t)timegm(&tm);
}

static dr_ret_bundle full(uint64_t v, int64_t t)
{
    dr_ret_bundle b = {v, 0, t, 0, 0};
    return b;
}

static dr_ret_bundle incr(uint64_t v, uint64_t parent, int64_t t)
{
    dr_ret_bundle b = {v, parent, t, 1, 0};
    return b;
}

#define MAXB 64
static int keep[MAXB];
static const char *why[MAXB];

static void run(dr_retention r, dr_ret_bundle *b, size_t n, int64_t now)
{
    cr_assert(n <= MAXB);
    dr_retention_apply(&r, b, n, now, keep, why);
}

/* "1101..." : expected keep flags in b[] order. */
static void expect(const char *flags, size_t n)
{
    cr_assert_eq(strlen(flags), n, "pattern length");
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(keep[i], flags[i] == '1', "bundle %zu: keep=%d, expected %c (why %s)", i,
                     keep[i], flags[i], why[i] ? why[i] : "-");
}

static void expect_why(size_t i, const char *rule)
{
    if (!rule) {
        cr_expect_null(why[i], "bundle %zu: why %s, expected none", i, why[i]);
        return;
    }
    cr_assert_not_null(why[i], "bundle %zu: no reason, expected %s", i, rule);
    cr_expect_str_eq(why[i], rule, "bundle %zu", i);
}

Test(retention, empty)
{
    dr_retention r = {3, 3, 3, 3};
    dr_retention_apply(&r, NULL, 0, 0, keep, why);
}

Test(retention, keep_last_only)
{
    dr_ret_bundle b[6];
    for (int i = 0; i < 6; i++)
        b[i] = full((uint64_t)i + 1, T(2024, 3, 1, i));
    run((dr_retention){3, 0, 0, 0}, b, 6, T(2024, 3, 2, 0));
    expect("000111", 6);
    expect_why(5, "keep_last");
    expect_why(0, NULL);
}

Test(retention, keep_last_more_than_there_are)
{
    dr_ret_bundle b[2] = {full(1, 100), full(2, 200)};
    run((dr_retention){10, 0, 0, 0}, b, 2, 1000);
    expect("11", 2);
}

Test(retention, input_order_does_not_matter)
{
    dr_ret_bundle b[4] = {full(3, T(2024, 1, 3, 0)), full(1, T(2024, 1, 1, 0)),
                          full(4, T(2024, 1, 4, 0)), full(2, T(2024, 1, 2, 0))};
    run((dr_retention){2, 0, 0, 0}, b, 4, T(2024, 1, 5, 0));
    expect("1010", 4);
}

Test(retention, same_time_orders_by_version)
{
    dr_ret_bundle b[3] = {full(1, 500), full(2, 500), full(3, 500)};
    run((dr_retention){1, 0, 0, 0}, b, 3, 1000);
    expect("001", 3);
}

Test(retention, daily_newest_per_day)
{
    /* Two per day on 3 days. */
    dr_ret_bundle b[6] = {
        full(1, T(2024, 5, 1, 1)),  full(2, T(2024, 5, 1, 23)), full(3, T(2024, 5, 2, 0)),
        full(4, T(2024, 5, 2, 12)), full(5, T(2024, 5, 3, 6)),  full(6, T(2024, 5, 3, 7)),
    };
    run((dr_retention){0, 2, 0, 0}, b, 6, T(2024, 5, 3, 8));
    expect("000101", 6);
    expect_why(5, "daily");
    expect_why(3, "daily");
    run((dr_retention){0, 3, 0, 0}, b, 6, T(2024, 5, 3, 8));
    expect("010101", 6);
}

Test(retention, daily_skips_days_without_bundles)
{
    /* Days 1, 5, 9 only: daily=2 keeps the last two days that HAVE bundles. */
    dr_ret_bundle b[3] = {full(1, T(2024, 5, 1, 0)), full(2, T(2024, 5, 5, 0)),
                          full(3, T(2024, 5, 9, 0))};
    run((dr_retention){0, 2, 0, 0}, b, 3, T(2024, 5, 20, 0));
    expect("011", 3);
}

Test(retention, day_boundary_is_utc_midnight)
{
    dr_ret_bundle b[3] = {full(1, T(2024, 5, 1, 23) + 3599), /* 23:59:59 */
                          full(2, T(2024, 5, 2, 0)),         /* 00:00:00 next day */
                          full(3, T(2024, 5, 2, 0) + 1)};
    run((dr_retention){0, 2, 0, 0}, b, 3, T(2024, 5, 2, 1));
    expect("101", 3);
}

Test(retention, daily_across_year_end)
{
    dr_ret_bundle b[4] = {full(1, T(2023, 12, 30, 10)), full(2, T(2023, 12, 31, 10)),
                          full(3, T(2023, 12, 31, 20)), full(4, T(2024, 1, 1, 3))};
    run((dr_retention){0, 2, 0, 0}, b, 4, T(2024, 1, 1, 4));
    expect("0011", 4);
}

Test(retention, weekly_iso_weeks)
{
    /* 2024-05-05 is a Sunday, 2024-05-06 a Monday. */
    dr_ret_bundle b[4] = {full(1, T(2024, 4, 29, 0)), /* Mon, week 18 */
                          full(2, T(2024, 5, 5, 23)), /* Sun, week 18 */
                          full(3, T(2024, 5, 6, 0)),  /* Mon, week 19 */
                          full(4, T(2024, 5, 8, 0))}; /* Wed, week 19 */
    run((dr_retention){0, 0, 2, 0}, b, 4, T(2024, 5, 9, 0));
    expect("0101", 4);
    expect_why(1, "weekly");
    run((dr_retention){0, 0, 1, 0}, b, 4, T(2024, 5, 9, 0));
    expect("0001", 4);
}

Test(retention, weekly_across_year_end_iso_week_53)
{
    /* 2020-12-28 (Mon) .. 2021-01-03 (Sun) is ISO week 2020-W53: one week
     * across the year end. 2021-01-04 starts 2021-W01. */
    dr_ret_bundle b[4] = {full(1, T(2020, 12, 27, 12)), /* Sun, 2020-W52 */
                          full(2, T(2020, 12, 28, 12)), /* 2020-W53 */
                          full(3, T(2021, 1, 3, 12)),   /* 2020-W53 */
                          full(4, T(2021, 1, 4, 12))};  /* 2021-W01 */
    run((dr_retention){0, 0, 3, 0}, b, 4, T(2021, 1, 5, 0));
    expect("1011", 4);
    run((dr_retention){0, 0, 2, 0}, b, 4, T(2021, 1, 5, 0));
    expect("0011", 4);
}

Test(retention, weekly_year_start_in_previous_iso_year)
{
    /* 2024-12-30 (Mon) .. 2025-01-05 is 2025-W01. */
    dr_ret_bundle b[3] = {full(1, T(2024, 12, 29, 0)), /* 2024-W52 */
                          full(2, T(2024, 12, 30, 0)), /* 2025-W01 */
                          full(3, T(2025, 1, 5, 23))}; /* 2025-W01 */
    run((dr_retention){0, 0, 2, 0}, b, 3, T(2025, 1, 6, 0));
    expect("101", 3);
}

Test(retention, monthly_and_year_end)
{
    dr_ret_bundle b[5] = {full(1, T(2023, 11, 30, 0)), full(2, T(2023, 12, 1, 0)),
                          full(3, T(2023, 12, 31, 23)), full(4, T(2024, 1, 1, 0)),
                          full(5, T(2024, 1, 15, 0))};
    run((dr_retention){0, 0, 0, 2}, b, 5, T(2024, 2, 1, 0));
    expect("00101", 5);
    expect_why(2, "monthly");
    run((dr_retention){0, 0, 0, 12}, b, 5, T(2024, 2, 1, 0));
    expect("10101", 5);
}

Test(retention, monthly_leap_day)
{
    dr_ret_bundle b[3] = {full(1, T(2024, 2, 29, 23)), full(2, T(2024, 3, 1, 0)),
                          full(3, T(2024, 3, 31, 0))};
    run((dr_retention){0, 0, 0, 2}, b, 3, T(2024, 4, 1, 0));
    expect("101", 3);
}

Test(retention, first_rule_is_reported)
{
    dr_ret_bundle b[3] = {full(1, T(2024, 1, 10, 0)), full(2, T(2024, 2, 10, 0)),
                          full(3, T(2024, 3, 10, 0))};
    run((dr_retention){1, 2, 3, 3}, b, 3, T(2024, 3, 11, 0));
    expect("111", 3);
    expect_why(2, "keep_last");
    expect_why(1, "daily");
    expect_why(0, "weekly");
}

Test(retention, newest_verified_is_never_deleted)
{
    dr_ret_bundle b[4] = {full(1, 100), full(2, 200), full(3, 300), full(4, 400)};
    b[1].verified = 1;
    b[0].verified = 1;
    run((dr_retention){1, 0, 0, 0}, b, 4, 1000);
    expect("0101", 4);
    expect_why(1, "newest verified");
    expect_why(3, "keep_last");
}

Test(retention, newest_verified_wins_the_reason)
{
    dr_ret_bundle b[2] = {full(1, 100), full(2, 200)};
    b[1].verified = 1;
    run((dr_retention){2, 0, 0, 0}, b, 2, 1000);
    expect_why(1, "newest verified");
    expect_why(0, "keep_last");
}

Test(retention, no_verified_bundle)
{
    dr_ret_bundle b[2] = {full(1, 100), full(2, 200)};
    run((dr_retention){0, 0, 0, 1}, b, 2, 1000);
    expect("01", 2);
}

Test(retention, chain_of_kept_incremental_is_kept)
{
    /* 1 full <- 2 <- 3 <- 4 (incrementals), 5 full <- 6. keep_last 1 keeps 6,
     * which needs 5. */
    dr_ret_bundle b[6] = {full(1, 100),    incr(2, 1, 200), incr(3, 2, 300),
                          incr(4, 3, 400), full(5, 500),    incr(6, 5, 600)};
    run((dr_retention){1, 0, 0, 0}, b, 6, 1000);
    expect("000011", 6);
    expect_why(4, "parent");
    cr_expect_eq(dr_retention_kept_child(b, 6, keep, 4), 6);
}

Test(retention, long_chain_kept_to_its_full)
{
    dr_ret_bundle b[5] = {full(1, 100), incr(2, 1, 200), incr(3, 2, 300), incr(4, 3, 400),
                          incr(5, 4, 500)};
    run((dr_retention){1, 0, 0, 0}, b, 5, 1000);
    expect("11111", 5);
    expect_why(4, "keep_last");
    for (int i = 0; i < 4; i++)
        expect_why((size_t)i, "parent");
    cr_expect_eq(dr_retention_kept_child(b, 5, keep, 0), 2);
    cr_expect_eq(dr_retention_kept_child(b, 5, keep, 3), 5);
}

Test(retention, chain_of_a_daily_bundle_in_the_middle)
{
    /* Day 1: full 1, incr 2. Day 2: full 3, incr 4. daily=2 keeps 2 and 4,
     * which need 1 and 3. */
    dr_ret_bundle b[4] = {full(1, T(2024, 1, 1, 1)), incr(2, 1, T(2024, 1, 1, 2)),
                          full(3, T(2024, 1, 2, 1)), incr(4, 3, T(2024, 1, 2, 2))};
    run((dr_retention){0, 2, 0, 0}, b, 4, T(2024, 1, 3, 0));
    expect("1111", 4);
    expect_why(0, "parent");
    expect_why(1, "daily");
}

Test(retention, chain_with_missing_parent_stops)
{
    /* v1 deleted earlier: 2's chain is broken, nothing else to keep. */
    dr_ret_bundle b[3] = {incr(2, 1, 200), incr(3, 2, 300), full(4, 50)};
    run((dr_retention){1, 0, 0, 0}, b, 3, 1000);
    expect("110", 3);
}

Test(retention, chain_cycle_terminates)
{
    dr_ret_bundle b[2] = {incr(1, 2, 100), incr(2, 1, 200)};
    run((dr_retention){1, 0, 0, 0}, b, 2, 1000);
    expect("11", 2);
}

Test(retention, parent_kept_for_verified_incremental)
{
    dr_ret_bundle b[4] = {full(1, 100), incr(2, 1, 200), full(3, 300), full(4, 400)};
    b[1].verified = 1;
    run((dr_retention){1, 0, 0, 0}, b, 4, 1000);
    expect("1101", 4);
    expect_why(1, "newest verified");
    expect_why(0, "parent");
}

Test(retention, full_bundle_parent_field_is_ignored)
{
    /* A full bundle with a stray parent does not pull anything in. */
    dr_ret_bundle b[2] = {full(1, 100), full(2, 200)};
    b[1].parent = 1;
    run((dr_retention){1, 0, 0, 0}, b, 2, 1000);
    expect("01", 2);
}

Test(retention, future_bundle_counts_in_now_bucket)
{
    /* Clock skew: v3 is "tomorrow"; it shares now's day with v2, so daily=1
     * keeps v3 only, daily=2 adds the previous day's v1. */
    dr_ret_bundle b[3] = {full(1, T(2024, 6, 1, 12)), full(2, T(2024, 6, 2, 1)),
                          full(3, T(2024, 6, 3, 5))};
    run((dr_retention){0, 1, 0, 0}, b, 3, T(2024, 6, 2, 12));
    expect("001", 3);
    run((dr_retention){0, 2, 0, 0}, b, 3, T(2024, 6, 2, 12));
    expect("101", 3);
}

Test(retention, before_epoch_days)
{
    dr_ret_bundle b[3] = {full(1, -86400 - 10), full(2, -10), full(3, 10)};
    run((dr_retention){0, 3, 0, 0}, b, 3, 100);
    expect("111", 3);
    run((dr_retention){0, 2, 0, 0}, b, 3, 100);
    expect("011", 3);
}

Test(retention, realistic_hourly_for_a_year)
{
    /* One bundle every 6 hours for 400 days would be 1600; use every 7 days
     * at 03:00 for 60 weeks (60 bundles), full every 4 (incrementals between). */
    dr_ret_bundle b[60];
    int64_t t0 = T(2023, 1, 2, 3); /* a Monday */
    uint64_t last_full = 0;
    for (int i = 0; i < 60; i++) {
        uint64_t v = (uint64_t)i + 1;
        if (i % 4 == 0) {
            b[i] = full(v, t0 + (int64_t)i * 7 * 86400);
            last_full = v;
        } else {
            b[i] = incr(v, v - 1, t0 + (int64_t)i * 7 * 86400);
        }
    }
    (void)last_full;
    int64_t now = b[59].captured_at + 3600;
    run((dr_retention){2, 7, 4, 12}, b, 60, now);
    /* Weekly bundles: daily 7 keeps the newest 7 (one per day that has one),
     * weekly 4 is inside that; monthly 12 keeps one per month for 12 months. */
    int kept = 0;
    for (int i = 0; i < 60; i++)
        kept += keep[i];
    cr_expect(keep[59] && keep[58] && keep[53]);
    /* Every kept incremental has its parent kept. */
    for (int i = 0; i < 60; i++)
        if (keep[i] && b[i].incremental)
            cr_expect(keep[i - 1], "v%d kept without its parent", i + 1);
    /* Old bundles beyond 12 months that are not parents are deleted. */
    cr_expect(!keep[1] && !keep[2] && !keep[3]);
    cr_expect(kept < 60 && kept > 12, "kept %d", kept);
}
