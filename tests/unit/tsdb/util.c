/* util.c - fixtures for test_tsdb: temporary LMDB databases and helpers. */
#include "tests.h"

#include <ftw.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/labels.h"

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void rm_rf(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/tsdb-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir))
        return -1;
    tsdb_options_init(&f->o);
    f->o.path = f->dir;
    f->o.sync = TSDB_SYNC_NONE;
    f->o.retention_ms = 0;
    f->o.map_initial_bytes = 16 << 20;
    struct pl_err err;
    if (tsdb_open(&f->o, &f->db, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

int fx_teardown(void **state)
{
    struct fx *f = *state;
    tsdb_close(f->db);
    rm_rf(f->dir);
    free(f);
    return 0;
}

void fx_reopen(struct fx *f)
{
    tsdb_close(f->db);
    f->db = NULL;
    struct pl_err err;
    int rc = tsdb_open(&f->o, &f->db, &err);
    if (rc)
        fprintf(stderr, "reopen: %s\n", err.msg);
    assert_int_equal(rc, 0);
}

static void crash_child(const struct fx *f, const char *name, int nser, int batches,
                        double (*value)(int b, int i))
{
    struct tsdb *db;
    struct pl_err err;
    struct tsdb_options o = f->o;
    o.checkpoint_bytes = UINT64_MAX / 2; /* never checkpoint: all in the WAL */
    if (tsdb_open(&o, &db, &err))
        _exit(2);
    char buf[128];
    for (int b = 0; b < batches; b++) {
        struct tsdb_appender *a;
        tsdb_appender_begin(db, &a);
        for (int i = 0; i < nser; i++) {
            struct pl_labels *ls;
            int n = snprintf(buf, sizeof(buf), "%s{i=\"%d\"}", name, i);
            if (pl_labels_parse(buf, (size_t)n, &ls, &err))
                _exit(3);
            if (tsdb_append(a, ls, (int64_t)b * 1000, value(b, i), NULL))
                _exit(3);
            pl_labels_free(ls);
        }
        if (tsdb_appender_commit(a, NULL, &err))
            _exit(4);
    }
    _exit(0); /* no tsdb_close: like a crash after the last commit */
}

void fx_crash_after_appends(struct fx *f, const char *name, int nser, int batches,
                            double (*value)(int b, int i))
{
    tsdb_close(f->db);
    f->db = NULL;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        crash_child(f, name, nser, batches, value);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("the appending child failed (status %d)", st);
}

int app1(struct tsdb *db, const char *series, int64_t t, double v)
{
    struct pl_labels *ls;
    struct pl_err err;
    assert_int_equal(pl_labels_parse(series, strlen(series), &ls, &err), 0);
    struct tsdb_appender *a;
    assert_int_equal(tsdb_appender_begin(db, &a), 0);
    int rc = tsdb_append(a, ls, t, v, NULL);
    pl_labels_free(ls);
    if (rc) {
        tsdb_appender_rollback(a);
        return rc;
    }
    return tsdb_appender_commit(a, NULL, &err);
}

size_t mk_matchers(struct tsdb_matcher **ms, const char *const *specs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *s = specs[i];
        const char *op = strpbrk(s, "=!");
        assert_non_null(op);
        char name[128];
        snprintf(name, sizeof(name), "%.*s", (int)(op - s), s);
        enum tsdb_match_type ty;
        const char *val;
        if (op[0] == '=' && op[1] == '~') {
            ty = TSDB_MATCH_RE;
            val = op + 2;
        } else if (op[0] == '!' && op[1] == '~') {
            ty = TSDB_MATCH_NRE;
            val = op + 2;
        } else if (op[0] == '!') {
            ty = TSDB_MATCH_NEQ;
            val = op + 2;
        } else {
            ty = TSDB_MATCH_EQ;
            val = op + 1;
        }
        struct pl_err err;
        assert_int_equal(tsdb_matcher_new(ty, name, val, &ms[i], &err), 0);
    }
    return n;
}

void free_matchers(struct tsdb_matcher **ms, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tsdb_matcher_free(ms[i]);
}

long sel(struct tsdb *db, const char *const *specs, size_t n, int64_t mint, int64_t maxt, char *out,
         size_t outlen)
{
    struct tsdb_matcher *ms[16];
    mk_matchers(ms, specs, n);
    struct tsdb_querier *q;
    struct pl_err err;
    long total = -1;
    if (tsdb_querier_open(db, mint, maxt, &q, &err) != 0)
        goto out;
    struct tsdb_series_set *ss;
    if (tsdb_select(q, ms, n, &ss, &err) != 0) {
        tsdb_querier_close(q);
        goto out;
    }
    struct pl_buf b;
    pl_buf_init(&b, 1 << 20);
    struct tsdb_samples smp;
    tsdb_samples_init(&smp);
    const struct pl_labels *ls;
    total = 0;
    while (tsdb_series_set_next(ss, &ls) == 1) {
        if (b.len)
            pl_buf_putc(&b, ';');
        pl_labels_format(ls, &b);
        if (tsdb_series_set_samples(ss, mint, maxt, &smp, &err) != 0) {
            total = -1;
            break;
        }
        total += (long)smp.n;
    }
    if (out)
        snprintf(out, outlen, "%s", pl_buf_cstr(&b));
    pl_buf_fini(&b);
    tsdb_samples_fini(&smp);
    tsdb_series_set_free(ss);
    tsdb_querier_close(q);
out:
    free_matchers(ms, n);
    return total;
}

long series_samples(struct tsdb *db, const char *series, int64_t mint, int64_t maxt,
                    struct tsdb_samples *s)
{
    struct pl_labels *ls;
    struct pl_err err;
    assert_int_equal(pl_labels_parse(series, strlen(series), &ls, &err), 0);
    struct tsdb_matcher *ms[32];
    for (uint32_t i = 0; i < ls->n; i++)
        assert_int_equal(
            tsdb_matcher_new(TSDB_MATCH_EQ, ls->v[i].name, ls->v[i].value, &ms[i], &err), 0);
    long n = -1;
    struct tsdb_querier *q;
    if (tsdb_querier_open(db, mint, maxt, &q, &err) == 0) {
        struct tsdb_series_set *ss;
        if (tsdb_select(q, ms, ls->n, &ss, &err) == 0) {
            const struct pl_labels *got;
            s->n = 0;
            n = 0;
            if (tsdb_series_set_next(ss, &got) == 1) {
                if (tsdb_series_set_samples(ss, mint, maxt, s, &err) == 0)
                    n = (long)s->n;
                else
                    n = -1;
            }
            tsdb_series_set_free(ss);
        }
        tsdb_querier_close(q);
    }
    free_matchers(ms, ls->n);
    pl_labels_free(ls);
    return n;
}

unsigned test_seed(void)
{
    const char *e = getenv("TSDB_TEST_SEED");
    unsigned seed = e ? (unsigned)strtoul(e, NULL, 10) : 20261123u;
    fprintf(stderr, "seed=%u (override with TSDB_TEST_SEED)\n", seed);
    return seed;
}
