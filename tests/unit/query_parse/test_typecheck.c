/*
 * test_typecheck.c - exhaustive type checks against Prometheus 2.42.
 *
 * Every function called with 0..3 arguments (0..5 for label_join and
 * label_replace) of every type, every aggregation with 0..3 arguments with
 * and without grouping, and every binary operator between every pair of
 * types with each kind of modifier. Each case renders as
 * "<query>  =>  OK|<error text>" and the lines are hashed (FNV-1a 64). The
 * expected digests come from the same lines produced by Prometheus 2.42
 * (promtool check rules), so any difference in acceptance, message or
 * position fails. Set QP_DUMP=1 to print the lines for a diff.
 */
#include "tests.h"

#include <inttypes.h>

#include "common/buf.h"

struct digest {
    uint64_t h;
    size_t n;
    int dump;
};

static void digest_add(struct digest *d, const char *q)
{
    char *err = qp_parse_err(q);
    struct pl_buf line;
    pl_buf_init(&line, 4096);
    pl_buf_printf(&line, "%s  =>  %s\n", q, err ? err : "OK");
    free(err);
    for (size_t i = 0; i < line.len; i++) {
        d->h ^= (unsigned char)line.data[i];
        d->h *= 0x100000001b3ULL;
    }
    if (d->dump)
        fputs(pl_buf_cstr(&line), stdout);
    pl_buf_fini(&line);
    d->n++;
}

static const char *const arg_text[4] = {"x", "x[5m]", "1", "\"a\""}; /* v m s t */

/* Appends the k-th (base 4, first argument most significant) combination of n arguments. */
static void put_args(struct pl_buf *b, unsigned k, int n)
{
    unsigned div = 1;
    for (int i = 1; i < n; i++)
        div *= 4;
    for (int i = 0; i < n; i++) {
        if (i > 0)
            pl_buf_puts(b, ", ");
        pl_buf_puts(b, arg_text[(k / div) % 4]);
        div /= 4;
    }
}

static void init_digest(struct digest *d)
{
    d->h = 0xcbf29ce484222325ULL;
    d->n = 0;
    const char *dump = getenv("QP_DUMP");
    d->dump = dump && *dump == '1';
}

static void test_typecheck_functions_match_prometheus(void **state)
{
    struct digest d;
    init_digest(&d);
    for (int f = 0; f < QUERY_FN__COUNT; f++) {
        const char *name = query_function_get((enum query_func_id)f)->name;
        int label = strncmp(name, "label", 5) == 0;
        for (int n = 0; n < 6; n++) {
            if (n >= 4 && !label)
                continue;
            unsigned combos = 1;
            for (int i = 0; i < n; i++)
                combos *= 4;
            for (unsigned k = 0; k < combos; k++) {
                struct pl_buf b;
                pl_buf_init(&b, 1000);
                pl_buf_printf(&b, "%s(", name);
                put_args(&b, k, n);
                pl_buf_putc(&b, ')');
                digest_add(&d, pl_buf_cstr(&b));
                pl_buf_fini(&b);
            }
        }
    }
    assert_int_equal(d.n, 8255);
    assert_int_equal(d.h, 0x548705efcd480417ULL);
}

static void test_typecheck_aggregations_match_prometheus(void **state)
{
    static const char *const ops[] = {"sum",  "avg",     "count",    "min",
                                      "max",  "group",   "stddev",   "stdvar",
                                      "topk", "bottomk", "quantile", "count_values"};
    struct digest d;
    init_digest(&d);
    for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
        for (int n = 0; n < 4; n++) {
            unsigned combos = 1;
            for (int i = 0; i < n; i++)
                combos *= 4;
            for (unsigned k = 0; k < combos; k++) {
                struct pl_buf a, q;
                pl_buf_init(&a, 1000);
                pl_buf_init(&q, 1000);
                put_args(&a, k, n);
                pl_buf_printf(&q, "%s(%s)", ops[o], pl_buf_cstr(&a));
                digest_add(&d, pl_buf_cstr(&q));
                pl_buf_reset(&q);
                pl_buf_printf(&q, "%s by (l) (%s)", ops[o], pl_buf_cstr(&a));
                digest_add(&d, pl_buf_cstr(&q));
                pl_buf_reset(&q);
                pl_buf_printf(&q, "%s(%s) without (l)", ops[o], pl_buf_cstr(&a));
                digest_add(&d, pl_buf_cstr(&q));
                pl_buf_fini(&a);
                pl_buf_fini(&q);
            }
        }
    }
    assert_int_equal(d.n, 3060);
    assert_int_equal(d.h, 0x43cea6ddd0e842a0ULL);
}

static void test_typecheck_binary_operators_match_prometheus(void **state)
{
    static const char *const ops[] = {"+",  "-", "*", "/",  "%",  "^",   "atan2", "==",
                                      "!=", ">", "<", ">=", "<=", "and", "or",    "unless"};
    static const char *const mods[] = {"",
                                       " bool",
                                       " on(a)",
                                       " ignoring(a)",
                                       " on(a) group_left",
                                       " ignoring(b) group_right(c)",
                                       " bool on(a) group_left(b)",
                                       " on(a) group_left(a)"};
    struct digest d;
    init_digest(&d);
    for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++)
        for (int l = 0; l < 4; l++)
            for (int r = 0; r < 4; r++)
                for (size_t m = 0; m < sizeof(mods) / sizeof(mods[0]); m++) {
                    char q[200];
                    snprintf(q, sizeof(q), "%s %s%s %s", arg_text[l], ops[o], mods[m], arg_text[r]);
                    digest_add(&d, q);
                }
    assert_int_equal(d.n, 2048);
    assert_int_equal(d.h, 0xb7cbc342be5c75bfULL);
}

int test_typecheck_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_typecheck_functions_match_prometheus),
        cmocka_unit_test(test_typecheck_aggregations_match_prometheus),
        cmocka_unit_test(test_typecheck_binary_operators_match_prometheus),
    };
    return cmocka_run_group_tests_name("typecheck", tests, NULL, NULL);
}
