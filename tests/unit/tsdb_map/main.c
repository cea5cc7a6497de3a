/*
 * main.c - test_tsdb_map: tsdb_map_release (tsdb/map_release.h) gives the
 * map's pages back without losing a byte, alone and under appends.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/labels.h"
#include "tsdb/map_release.h"
#include "tsdb/tsdb.h"

#define NSERIES 20000
#define NROUNDS 6

/* Resident KiB of this process's mappings of `dir`/data.mdb (smaps). */
static long map_rss_kib(const char *dir)
{
    char want[600], line[1024];
    snprintf(want, sizeof(want), "%s/data.mdb", dir);
    FILE *f = fopen("/proc/self/smaps", "r");
    assert_non_null(f);
    long total = 0;
    int in = 0;
    while (fgets(line, sizeof(line), f)) {
        long v;
        unsigned long lo, hi;
        char sp;
        /* A mapping's header ("lo-hi perms ..."), with or without a path: an anonymous
         * mapping after the file's must end its count. */
        if (sscanf(line, "%lx-%lx%c", &lo, &hi, &sp) == 3 && sp == ' ') {
            line[strcspn(line, "\n")] = '\0';
            size_t l = strlen(line), wl = strlen(want);
            in = l >= wl && !strcmp(line + l - wl, want);
        } else if (in && sscanf(line, "Rss: %ld kB", &v) == 1) {
            total += v;
        }
    }
    fclose(f);
    return total;
}

static struct pl_labels *series_labels(struct pl_labels_builder *lb, int i)
{
    char v[32];
    snprintf(v, sizeof(v), "%d", i);
    pl_lb_reset(lb);
    pl_lb_setz(lb, PL_METRIC_NAME, "map_release_test_metric_with_a_long_name");
    pl_lb_setz(lb, "instance", "host-with-a-long-name.example.org:9100");
    pl_lb_setz(lb, "id", v);
    return pl_lb_labels(lb);
}

/* Appends one sample per series at t (value i + t) in one batch. */
static void append_round(struct tsdb *db, struct pl_labels *const *ls, int64_t t)
{
    struct tsdb_appender *a;
    assert_int_equal(tsdb_appender_begin(db, &a), 0);
    for (int i = 0; i < NSERIES; i++)
        assert_int_equal(tsdb_append(a, ls[i], t, (double)i + (double)t, NULL), 0);
    struct pl_err err;
    assert_int_equal(tsdb_appender_commit(a, NULL, &err), 0);
}

/* Every series has exactly rounds samples at 1000, 2000, ... with value id + t. */
static void check_all(struct tsdb *db, int rounds)
{
    struct tsdb_querier *q;
    struct pl_err err;
    assert_int_equal(tsdb_querier_open(db, 0, INT64_MAX / 2, &q, &err), 0);
    struct tsdb_matcher *m;
    assert_int_equal(tsdb_matcher_new(TSDB_MATCH_EQ, PL_METRIC_NAME,
                                      "map_release_test_metric_with_a_long_name", &m, &err),
                     0);
    struct tsdb_series_set *ss;
    assert_int_equal(tsdb_select(q, &m, 1, &ss, &err), 0);
    struct tsdb_samples s;
    tsdb_samples_init(&s);
    const struct pl_labels *ls;
    int n = 0;
    while (tsdb_series_set_next(ss, &ls) == 1) {
        int id = atoi(pl_labels_value(ls, "id"));
        assert_int_equal(tsdb_series_set_samples(ss, 0, INT64_MAX / 2, &s, &err), 0);
        assert_int_equal(s.n, (size_t)rounds);
        for (int k = 0; k < rounds; k++) {
            assert_int_equal(s.t[k], (int64_t)(k + 1) * 1000);
            assert_true(s.v[k] == (double)id + (double)s.t[k]);
        }
        n++;
    }
    assert_int_equal(n, NSERIES);
    tsdb_samples_fini(&s);
    tsdb_series_set_free(ss);
    tsdb_matcher_free(m);
    tsdb_querier_close(q);
}

struct fixture {
    char dir[64];
    struct tsdb_options o;
    struct tsdb *db;
    struct pl_labels *ls[NSERIES];
};

static void fx_open(struct fixture *f)
{
    struct pl_err err;
    assert_int_equal(tsdb_open(&f->o, &f->db, &err), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/tsdb-map-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    tsdb_options_init(&f->o);
    f->o.path = f->dir;
    f->o.sync = TSDB_SYNC_NONE;
    struct pl_labels_builder lb;
    pl_lb_init(&lb);
    for (int i = 0; i < NSERIES; i++)
        f->ls[i] = series_labels(&lb, i);
    pl_lb_fini(&lb);
    fx_open(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    tsdb_close(f->db);
    for (int i = 0; i < NSERIES; i++)
        pl_labels_free(f->ls[i]);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
    free(f);
    return 0;
}

/* The data file's pages leave the resident set; every sample is still there, also after reopen. */
static void test_map_release_drops_pages_keeps_data(void **state)
{
    struct fixture *f = *state;
    for (int r = 1; r <= NROUNDS; r++)
        append_round(f->db, f->ls, r * 1000);
    long before = map_rss_kib(f->dir);
    /* 20000 new series write their index: several MiB of the map were touched. */
    assert_true(before > 2048);
    assert_int_equal(tsdb_map_release(f->db), 0);
    long after = map_rss_kib(f->dir);
    if (after > before / 4)
        fail_msg("map RSS %ld KiB before release, %ld KiB after", before, after);
    check_all(f->db, NROUNDS);
    /* Pages dropped while dirty (sync none: nothing written back yet) survive a reopen. */
    append_round(f->db, f->ls, (NROUNDS + 1) * 1000);
    assert_int_equal(tsdb_map_release(f->db), 0);
    tsdb_close(f->db);
    fx_open(f);
    check_all(f->db, NROUNDS + 1);
}

struct releaser {
    struct tsdb *db;
    volatile int stop;
    int calls, failed;
};

static void *release_loop(void *arg)
{
    struct releaser *r = arg;
    while (!r->stop) {
        r->failed += tsdb_map_release(r->db) != 0;
        r->calls++;
        usleep(500);
    }
    return NULL;
}

/* Releasing in a loop while batches commit (and the map grows) loses nothing. */
static void test_map_release_concurrent_with_appends(void **state)
{
    struct fixture *f = *state;
    struct releaser r = {.db = f->db};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, release_loop, &r), 0);
    for (int k = 1; k <= NROUNDS; k++)
        append_round(f->db, f->ls, k * 1000);
    r.stop = 1;
    pthread_join(th, NULL);
    assert_int_equal(r.failed, 0);
    assert_true(r.calls > 0);
    check_all(f->db, NROUNDS);
    tsdb_close(f->db);
    fx_open(f);
    check_all(f->db, NROUNDS);
}

/*
 * The map's range is cached between calls: after the map grew (LMDB mapped
 * the file anew, elsewhere), a release finds and drops the new mapping.
 */
static void test_map_release_follows_a_grown_map(void **state)
{
    struct fixture *f = *state;
    /* A new database with a small map (an existing one keeps its map size). */
    tsdb_close(f->db);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'/*", f->dir);
    assert_int_equal(system(cmd), 0);
    f->o.map_initial_bytes = 1u << 20;
    fx_open(f);
    assert_int_equal(tsdb_map_release(f->db), 0);
    struct tsdb_stats st0, st1;
    tsdb_stats_get(f->db, &st0);
    for (int r = 1; r <= NROUNDS; r++)
        append_round(f->db, f->ls, r * 1000);
    tsdb_stats_get(f->db, &st1);
    assert_true(st1.map_bytes > st0.map_bytes);
    long before = map_rss_kib(f->dir);
    assert_true(before > 2048);
    assert_int_equal(tsdb_map_release(f->db), 0);
    long after = map_rss_kib(f->dir);
    if (after > before / 4)
        fail_msg("map RSS %ld KiB before release, %ld KiB after (map grew from %llu to %llu)",
                 before, after, (unsigned long long)st0.map_bytes,
                 (unsigned long long)st1.map_bytes);
    check_all(f->db, NROUNDS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_map_release_drops_pages_keeps_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_release_concurrent_with_appends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_release_follows_a_grown_map, setup, teardown),
    };
    return cmocka_run_group_tests_name("tsdb_map", tests, NULL, NULL);
}
