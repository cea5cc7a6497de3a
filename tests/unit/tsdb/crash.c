/*
 * crash.c - the kill -9 test: a child appends batches with the default sync
 * policy and reports each acknowledged batch over a pipe; the parent kills it
 * at random moments, reopens the database, checks that every acknowledged
 * sample is there with its value, that the database reads back whole, and
 * that appending continues. Seed: $TSDB_CRASH_SEED; rounds: $TSDB_CRASH_ROUNDS.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/labels.h"
#include "tsdb/tsdb.h"

#define NSERIES 20

static struct pl_labels *series[NSERIES];

static double value_of(int s, int64_t t)
{
    return (double)((t * 31 + s * 7) % 1000003) / 8.0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void open_db(const char *dir, struct tsdb **db)
{
    struct tsdb_options o;
    tsdb_options_init(&o);
    o.path = dir;
    o.retention_ms = 0;
    o.map_initial_bytes = 2 << 20; /* grows during the run */
    o.checkpoint_bytes = 32 << 10; /* checkpoints happen, and crashes hit them */
    struct pl_err err;
    if (tsdb_open(&o, db, &err) != 0) {
        fprintf(stderr, "FAIL: open: %s\n", err.msg);
        exit(1);
    }
}

/* Appends one batch: k samples per series from t. */
static int batch(struct tsdb *db, int64_t t, int k)
{
    struct tsdb_appender *a;
    struct pl_err err;
    if (tsdb_appender_begin(db, &a))
        return -1;
    for (int i = 0; i < k; i++)
        for (int s = 0; s < NSERIES; s++)
            if (tsdb_append(a, series[s], t + i, value_of(s, t + i), NULL)) {
                tsdb_appender_rollback(a);
                return -1;
            }
    return tsdb_appender_commit(a, NULL, &err);
}

static void child(const char *dir, int fd, int64_t t, unsigned seed)
{
    struct tsdb *db;
    open_db(dir, &db);
    srand(seed);
    for (;;) {
        int k = rand() % 10 == 0 ? 150 : 1 + rand() % 3;
        if (batch(db, t, k))
            _exit(3);
        t += k;
        int64_t acked = t - 1;
        if (write(fd, &acked, 8) != 8)
            _exit(4);
    }
}

/* Checks every series holds exactly t in [0, upto] with the right values; returns max t. */
static int64_t check(struct tsdb *db, int64_t acked)
{
    struct tsdb_querier *q;
    struct pl_err err;
    if (tsdb_querier_open(db, 0, INT64_MAX / 4, &q, &err)) {
        fprintf(stderr, "FAIL: querier: %s\n", err.msg);
        exit(1);
    }
    struct tsdb_matcher *m;
    tsdb_matcher_new(TSDB_MATCH_EQ, "__name__", "crash", &m, &err);
    struct tsdb_series_set *ss;
    if (tsdb_select(q, &m, 1, &ss, &err)) {
        fprintf(stderr, "FAIL: select: %s\n", err.msg);
        exit(1);
    }
    struct tsdb_samples smp;
    tsdb_samples_init(&smp);
    const struct pl_labels *ls;
    int n = 0;
    int64_t maxt = -1;
    while (tsdb_series_set_next(ss, &ls) == 1) {
        int s = atoi(pl_labels_value(ls, "s"));
        if (tsdb_series_set_samples(ss, 0, INT64_MAX / 4, &smp, &err)) {
            fprintf(stderr, "FAIL: samples: %s\n", err.msg);
            exit(1);
        }
        if ((int64_t)smp.n < acked + 1) {
            fprintf(stderr, "FAIL: series %d has %zu samples, %lld acknowledged\n", s, smp.n,
                    (long long)acked + 1);
            exit(1);
        }
        for (size_t i = 0; i < smp.n; i++) {
            if (smp.t[i] != (int64_t)i || smp.v[i] != value_of(s, (int64_t)i)) {
                fprintf(stderr, "FAIL: series %d sample %zu is (%lld, %g)\n", s, i,
                        (long long)smp.t[i], smp.v[i]);
                exit(1);
            }
        }
        if ((int64_t)smp.n - 1 > maxt)
            maxt = (int64_t)smp.n - 1;
        n++;
    }
    if (acked >= 0 && n != NSERIES) {
        fprintf(stderr, "FAIL: %d series, want %d\n", n, NSERIES);
        exit(1);
    }
    tsdb_samples_fini(&smp);
    tsdb_series_set_free(ss);
    tsdb_matcher_free(m);
    tsdb_querier_close(q);
    return maxt;
}

int main(void)
{
    const char *e = getenv("TSDB_CRASH_SEED");
    unsigned seed = e ? (unsigned)strtoul(e, NULL, 10) : 424242u;
    e = getenv("TSDB_CRASH_ROUNDS");
    int rounds = e ? atoi(e) : 50;
    printf("crash test: seed=%u rounds=%d (TSDB_CRASH_SEED, TSDB_CRASH_ROUNDS)\n", seed, rounds);
    srand(seed);
    char dir[512];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/tsdb-crash-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return 1;
    struct pl_err err;
    for (int s = 0; s < NSERIES; s++) {
        char buf[64];
        snprintf(buf, sizeof(buf), "crash{s=\"%d\"}", s);
        pl_labels_parse(buf, strlen(buf), &series[s], &err);
    }
    int64_t acked = -1, next = 0;
    long total_acks = 0;
    for (int r = 0; r < rounds; r++) {
        int fds[2];
        if (pipe(fds))
            return 1;
        unsigned cseed = (unsigned)rand();
        int delay_us = 5000 + rand() % 150000;
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            child(dir, fds[1], next, cseed);
        }
        close(fds[1]);
        usleep((useconds_t)delay_us);
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        int64_t a;
        while (read(fds[0], &a, 8) == 8) {
            acked = a;
            total_acks++;
        }
        close(fds[0]);
        struct tsdb *db;
        open_db(dir, &db);
        int64_t maxt = check(db, acked);
        /* Appending continues after the crash. */
        if (batch(db, maxt + 1, 1)) {
            fprintf(stderr, "FAIL: append after reopen\n");
            return 1;
        }
        acked = maxt + 1;
        next = acked + 1;
        tsdb_close(db);
    }
    printf("crash test: %d rounds, %ld acknowledged batches, %lld samples per series: ok\n", rounds,
           total_acks, (long long)next);
    for (int s = 0; s < NSERIES; s++)
        pl_labels_free(series[s]);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
