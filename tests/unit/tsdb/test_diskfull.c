/*
 * test_diskfull.c - a full disk under the memory-mapped store (tsdb/space.c).
 *
 * Appends must fail with a clear error (-ENOSPC, naming the path and the free
 * space), never crash (with MDB_WRITEMAP a store into an unallocated block of
 * a full file system is a SIGBUS); everything acknowledged must survive, and
 * appending must continue once there is room again. The disk is a 48 MiB
 * tmpfs mounted in a private mount namespace of a child process (needs root;
 * skipped otherwise), filled by the database itself and by another file.
 */
#include "tests.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/labels.h"
#include "../support/tmpfs_child.h"

#define NSERIES  200  /* new series per batch, one sample each */
#define MAXBATCH 4000 /* bound: a 48 MiB disk is full long before */

/* Appends batch b: NSERIES new series with long label values, one sample each. */
static int batch(struct tsdb *db, int b, struct pl_err *err)
{
    char pad[201];
    memset(pad, 'x', 200);
    pad[200] = 0;
    struct tsdb_appender *a;
    int rc = tsdb_appender_begin(db, &a);
    if (rc)
        return pl_err_set(err, rc, "appender_begin");
    for (int i = 0; i < NSERIES; i++) {
        char s[512];
        snprintf(s, sizeof(s), "fill{b=\"%d\",i=\"%d\",pad=\"%s-%d-%d\"}", b, i, pad, b, i);
        struct pl_labels *ls;
        if ((rc = pl_labels_parse(s, strlen(s), &ls, err)))
            break;
        rc = tsdb_append(a, ls, (int64_t)b * 1000, b * 1e6 + i + 0.25, NULL);
        pl_labels_free(ls);
        if (rc) {
            pl_err_set(err, rc, "append");
            break;
        }
    }
    if (rc) {
        tsdb_appender_rollback(a);
        return rc;
    }
    return tsdb_appender_commit(a, NULL, err);
}

/* Samples of series with label b="<b>" (or all fill series when b < 0); -1 on error. */
static long count(struct tsdb *db, int b)
{
    struct tsdb_matcher *m;
    struct pl_err err;
    char v[16];
    snprintf(v, sizeof(v), "%d", b);
    if (tsdb_matcher_new(TSDB_MATCH_EQ, b < 0 ? "__name__" : "b", b < 0 ? "fill" : v, &m, &err))
        return -1;
    long n = -1;
    struct tsdb_querier *q;
    if (tsdb_querier_open(db, INT64_MIN / 2, INT64_MAX / 2, &q, &err) == 0) {
        struct tsdb_series_set *ss;
        if (tsdb_select(q, &m, 1, &ss, &err) == 0) {
            struct tsdb_samples smp;
            tsdb_samples_init(&smp);
            const struct pl_labels *ls;
            n = 0;
            while (tsdb_series_set_next(ss, &ls) == 1) {
                if (tsdb_series_set_samples(ss, INT64_MIN / 2, INT64_MAX / 2, &smp, &err)) {
                    n = -1;
                    break;
                }
                n += (long)smp.n;
            }
            tsdb_samples_fini(&smp);
            tsdb_series_set_free(ss);
        }
        tsdb_querier_close(q);
    }
    tsdb_matcher_free(m);
    return n;
}

/* Writes `mib` MiB of zeros to path, or until the disk is full when mib < 0. */
static int write_file(const char *path, int mib)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -errno;
    static char buf[1 << 16];
    long left = mib < 0 ? 1L << 40 : (long)mib << 20;
    while (left > 0) {
        ssize_t w = write(fd, buf, sizeof(buf));
        if (w < 0) {
            int e = errno;
            close(fd);
            return mib < 0 && e == ENOSPC ? 0 : -e;
        }
        left -= w;
    }
    close(fd);
    return 0;
}

static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int rc = in < 0 || out < 0 ? -1 : 0;
    static char buf[1 << 16];
    ssize_t n;
    while (rc == 0 && (n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n)
            rc = -1;
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return rc;
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "diskfull child: " __VA_ARGS__);                                       \
            fprintf(stderr, " (%s:%d)\n", __FILE__, __LINE__);                                     \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

/* The child, on the tmpfs at `mnt` (tmpfs_child_run); results go to `out` (ud). */
static int child_main(const char *mnt, void *ud)
{
    const char *out = ud;
    char filler[600], dbdir[600], path[700];
    snprintf(filler, sizeof(filler), "%s/filler", mnt);
    snprintf(dbdir, sizeof(dbdir), "%s/db", mnt);
    CHECK(write_file(filler, 16) == 0, "writing the filler");

    struct tsdb_options o;
    tsdb_options_init(&o);
    o.path = dbdir;
    o.retention_ms = 0;
    o.map_initial_bytes = 16 << 20; /* the map must grow on the way */
    struct tsdb *db;
    struct pl_err err;
    CHECK(tsdb_open(&o, &db, &err) == 0, "open: %s", err.msg);

    int acked[MAXBATCH];
    int nacked = 0, b = 0, rc = 0;
    /* 1. The database fills the disk. */
    for (; b < MAXBATCH; b++) {
        if ((rc = batch(db, b, &err)) != 0)
            break;
        acked[nacked++] = b;
    }
    CHECK(rc == -ENOSPC, "expected -ENOSPC after %d batches, got %d: %s", nacked, rc, err.msg);
    CHECK(nacked > 20, "disk full after only %d batches", nacked);
    CHECK(strstr(err.msg, "disk full") && strstr(err.msg, dbdir) && strstr(err.msg, "free"),
          "unclear message: %s", err.msg);
    fprintf(stderr, "diskfull: after %d batches: %s\n", nacked, err.msg);
    for (int i = 0; i < 3; i++) {
        rc = batch(db, ++b, &err);
        CHECK(rc == -ENOSPC, "retry on a full disk: %d %s", rc, err.msg);
    }
    CHECK(count(db, -1) == (long)nacked * NSERIES, "reading on a full disk");

    /* 2. Room again: appending continues. */
    CHECK(unlink(filler) == 0, "unlink");
    for (int i = 0; i < 3; i++) {
        rc = batch(db, ++b, &err);
        CHECK(rc == 0, "append after freeing space: %s", err.msg);
        acked[nacked++] = b;
    }

    /*
     * 3. Another file takes every free block: commits go on into the blocks
     * already reserved for the data file, then fail cleanly.
     */
    snprintf(path, sizeof(path), "%s/filler2", mnt);
    CHECK(write_file(path, -1) == 0, "filling the disk");
    int ok = 0, full = 0;
    while (full < 3 && b < MAXBATCH - 10) {
        rc = batch(db, ++b, &err);
        CHECK(rc == 0 || rc == -ENOSPC, "append on a disk filled by another file: %s", err.msg);
        if (rc == 0) {
            acked[nacked++] = b;
            ok++;
        } else {
            full++;
        }
    }
    fprintf(stderr, "diskfull: disk filled by another file: %d batches fit, %d refused\n", ok,
            full);
    CHECK(full > 0, "a full disk accepted every batch");
    CHECK(count(db, -1) == (long)nacked * NSERIES, "reading on a full disk");
    CHECK(unlink(path) == 0, "unlink");
    rc = batch(db, ++b, &err);
    CHECK(rc == 0, "append after freeing space: %s", err.msg);
    acked[nacked++] = b;
    tsdb_close(db);

    /* 4. Reopen in place; then hand a copy to the parent (outside the tmpfs). */
    CHECK(tsdb_open(&o, &db, &err) == 0, "reopen: %s", err.msg);
    CHECK(count(db, -1) == (long)nacked * NSERIES, "after reopen");
    tsdb_close(db);
    snprintf(path, sizeof(path), "%s/copy", out);
    CHECK(mkdir(path, 0755) == 0, "mkdir");
    char from[700], to[800];
    snprintf(from, sizeof(from), "%s/data.mdb", dbdir);
    snprintf(to, sizeof(to), "%s/data.mdb", path);
    CHECK(copy_file(from, to) == 0, "copy");
    snprintf(path, sizeof(path), "%s/acked", out);
    FILE *fp = fopen(path, "w");
    CHECK(fp, "acked file");
    for (int i = 0; i < nacked; i++)
        fprintf(fp, "%d\n", acked[i]);
    fprintf(fp, "last %d\n", b);
    fclose(fp);
    return 0;
}

static void test_full_disk_refuses_appends_cleanly_and_loses_nothing(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    char out[512];
    snprintf(out, sizeof(out), "%s/tsdb-out-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(out));
    if (tmpfs_child_run("the appending process", 48, child_main, out)) {
        rm_rf(out);
        skip();
    }

    /* The copy on a roomy disk: every acknowledged batch, nothing of the refused ones. */
    char path[700];
    snprintf(path, sizeof(path), "%s/acked", out);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    static int is_acked[MAXBATCH + 64];
    memset(is_acked, 0, sizeof(is_acked));
    int v, last = -1, nacked = 0;
    char word[16];
    while (fscanf(fp, "%15s", word) == 1) {
        if (strcmp(word, "last") == 0) {
            assert_int_equal(fscanf(fp, "%d", &last), 1);
            break;
        }
        v = atoi(word);
        assert_true(v >= 0 && v < MAXBATCH + 64);
        is_acked[v] = 1;
        nacked++;
    }
    fclose(fp);
    assert_true(last > 0 && last < MAXBATCH + 64);
    struct tsdb_options o;
    tsdb_options_init(&o);
    snprintf(path, sizeof(path), "%s/copy", out);
    o.path = path;
    o.retention_ms = 0;
    o.sync = TSDB_SYNC_NONE;
    struct tsdb *db;
    struct pl_err err;
    assert_int_equal(tsdb_open(&o, &db, &err), 0);
    assert_int_equal(count(db, -1), (long)nacked * NSERIES);
    for (int b = 0; b <= last; b++)
        assert_int_equal(count(db, b), is_acked[b] ? NSERIES : 0);
    assert_int_equal(batch(db, last + 1, &err), 0);
    assert_int_equal(count(db, last + 1), NSERIES);
    tsdb_close(db);
    rm_rf(out);
}

/*
 * The child of the crash test: a process fills the disk and dies without
 * closing (as kill -9 would leave it); the database must then open on the
 * full disk or refuse clearly, and open with every acknowledged batch once
 * there is room.
 */
static int crash_child_main(const char *mnt, void *ud)
{
    (void)ud;
    char filler[600], dbdir[600];
    snprintf(filler, sizeof(filler), "%s/filler", mnt);
    snprintf(dbdir, sizeof(dbdir), "%s/db", mnt);
    /*
     * Leave about 24 MiB to the database. Recovery needs more room than that
     * once the filler goes: WAL replay reserves for 32 MiB transactions.
     */
    CHECK(write_file(filler, 72) == 0, "writing the filler");
    struct tsdb_options o;
    tsdb_options_init(&o);
    o.path = dbdir;
    o.retention_ms = 0;
    o.map_initial_bytes = 16 << 20;
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        /* Fill the disk, report each acknowledged batch, die without closing. */
        close(fds[0]);
        struct tsdb *db;
        struct pl_err err;
        if (tsdb_open(&o, &db, &err) != 0)
            _exit(2);
        for (int b = 0; b < MAXBATCH; b++) {
            int rc = batch(db, b, &err);
            if (rc == -ENOSPC)
                break;
            if (rc != 0)
                _exit(3);
            if (write(fds[1], &b, sizeof(b)) != sizeof(b))
                _exit(4);
        }
        _exit(0);
    }
    close(fds[1]);
    int b, nacked = 0;
    while (read(fds[0], &b, sizeof(b)) == sizeof(b))
        CHECK(b == nacked++, "batches in order");
    close(fds[0]);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the appending process failed: status %d", st);
    CHECK(nacked > 10, "only %d batches", nacked);

    /* Reopen on the full disk: it works, or it says the disk is full. */
    struct tsdb *db;
    struct pl_err err;
    int rc = tsdb_open(&o, &db, &err);
    fprintf(stderr, "diskfull: reopen after a crash on the full disk: %s\n", rc ? err.msg : "ok");
    CHECK(rc == 0 || (rc == -ENOSPC && strstr(err.msg, "disk full")), "reopen: %d %s", rc, err.msg);
    if (rc == 0) {
        CHECK(count(db, -1) == (long)nacked * NSERIES, "acknowledged data on the full disk");
        tsdb_close(db);
    }
    CHECK(unlink(filler) == 0, "unlink");
    CHECK(tsdb_open(&o, &db, &err) == 0, "reopen with room: %s", err.msg);
    CHECK(count(db, -1) == (long)nacked * NSERIES, "acknowledged data after a crash: %ld of %ld",
          count(db, -1), (long)nacked * NSERIES);
    CHECK(batch(db, nacked + 1, &err) == 0, "append after recovery: %s", err.msg);
    tsdb_close(db);
    CHECK(tsdb_open(&o, &db, &err) == 0, "reopen: %s", err.msg);
    CHECK(count(db, -1) == (long)(nacked + 1) * NSERIES, "after a clean close");
    tsdb_close(db);
    return 0;
}

static void test_crash_on_a_full_disk_loses_nothing_acknowledged(void **state)
{
    (void)state;
    if (tmpfs_child_run("the crashing and reopening process", 96, crash_child_main, NULL))
        skip();
}

int test_diskfull_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_disk_refuses_appends_cleanly_and_loses_nothing),
        cmocka_unit_test(test_crash_on_a_full_disk_loses_nothing_acknowledged),
    };
    return cmocka_run_group_tests_name("tsdb_diskfull", tests, NULL, NULL);
}
