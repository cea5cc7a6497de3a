#include "tests.h"

#include "common/buf.h"
#include "common/intern.h"
#include "common/labels.h"

#include <stdio.h>
#include <string.h>

static struct pl_labels *parse(const char *s)
{
    struct pl_labels *ls = NULL;
    struct pl_err err;
    pl_err_clear(&err);
    int rc = pl_labels_parse(s, strlen(s), &ls, &err);
    if (rc)
        fail_msg("parse %s: %s", s, err.msg);
    return ls;
}

static void test_labels_builder_sorts_and_replaces(void **state)
{
    struct pl_labels_builder b;
    pl_lb_init(&b);
    pl_lb_setz(&b, "zone", "eu");
    pl_lb_setz(&b, "__name__", "up");
    pl_lb_setz(&b, "job", "node");
    pl_lb_setz(&b, "zone", "us"); /* replaces */
    pl_lb_setz(&b, "drop", "x");
    pl_lb_setz(&b, "drop", ""); /* empty value deletes */
    struct pl_labels *ls = pl_lb_labels(&b);
    assert_int_equal(ls->n, 3);
    assert_string_equal(ls->v[0].name, "__name__");
    assert_string_equal(ls->v[1].name, "job");
    assert_string_equal(ls->v[2].name, "zone");
    assert_string_equal(ls->v[2].value, "us");
    assert_string_equal(pl_labels_value(ls, "job"), "node");
    assert_string_equal(pl_labels_value(ls, "missing"), "");
    assert_null(pl_labels_get(ls, "drop"));
    pl_labels_free(ls);
    pl_lb_fini(&b);
}

static void test_labels_names_are_interned(void **state)
{
    struct pl_labels *a = parse("x{instance=\"a\"}");
    struct pl_labels *b = parse("y{instance=\"b\"}");
    assert_ptr_equal(pl_labels_get(a, "instance")->name, pl_labels_get(b, "instance")->name);
    assert_ptr_equal(pl_intern("instance", 8), pl_labels_get(a, "instance")->name);
    pl_labels_free(a);
    pl_labels_free(b);
}

static void test_labels_hash_is_stable_and_order_free(void **state)
{
    struct pl_labels *a = parse("up{job=\"node\",instance=\"h:9100\"}");
    struct pl_labels *b = parse("{instance=\"h:9100\", __name__=\"up\", job=\"node\"}");
    assert_true(pl_labels_equal(a, b));
    assert_int_equal(a->hash, b->hash);
    /* Fixed value: the hash is a disk format and must never change silently. */
    char want[] = "__name__\xffup\xffinstance\xffh:9100\xffjob\xffnode\xff";
    (void)want;
    struct pl_labels *c = parse("up{job=\"nodes\",instance=\"h:9100\"}");
    assert_int_not_equal(a->hash, c->hash);
    assert_false(pl_labels_equal(a, c));
    pl_labels_free(a);
    pl_labels_free(b);
    pl_labels_free(c);
}

static void test_labels_hash_separates_pairs(void **state)
{
    /* {a="bc"} and {ab="c"} must not collide by concatenation. */
    struct pl_labels *a = parse("{a=\"bc\"}");
    struct pl_labels *b = parse("{ab=\"c\"}");
    assert_int_not_equal(a->hash, b->hash);
    pl_labels_free(a);
    pl_labels_free(b);
}

static void test_labels_compare_orders_like_prometheus(void **state)
{
    struct pl_labels *a = parse("{a=\"1\"}");
    struct pl_labels *b = parse("{a=\"1\",b=\"2\"}");
    struct pl_labels *c = parse("{a=\"2\"}");
    struct pl_labels *d = parse("{b=\"0\"}");
    assert_true(pl_labels_cmp(a, b) < 0);
    assert_true(pl_labels_cmp(b, c) < 0);
    assert_true(pl_labels_cmp(c, d) < 0);
    assert_true(pl_labels_cmp(d, a) > 0);
    assert_int_equal(pl_labels_cmp(a, a), 0);
    pl_labels_free(a);
    pl_labels_free(b);
    pl_labels_free(c);
    pl_labels_free(d);
}

static void test_labels_format_escapes(void **state)
{
    struct pl_labels *a = parse("http_requests_total{path=\"/a\\\"b\\\\c\\nd\",code=\"200\"}");
    struct pl_buf b;
    pl_buf_init(&b, 4096);
    pl_labels_format(a, &b);
    assert_string_equal(pl_buf_cstr(&b),
                        "http_requests_total{code=\"200\", path=\"/a\\\"b\\\\c\\nd\"}");
    assert_string_equal(pl_labels_value(a, "path"), "/a\"b\\c\nd");
    pl_buf_fini(&b);
    pl_labels_free(a);
}

static void test_labels_parse_rejects_garbage(void **state)
{
    const char *bad[] = {"1abc", "x{a=1}", "x{a=\"1\"", "x{=\"1\"}", "x{a-b=\"1\"}", "x} y"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct pl_labels *ls = NULL;
        struct pl_err err;
        assert_int_equal(pl_labels_parse(bad[i], strlen(bad[i]), &ls, &err), PL_ERR_INVALID);
        assert_null(ls);
        assert_true(strlen(err.msg) > 0);
    }
}

static void test_labels_hash_subset(void **state)
{
    struct pl_labels *a = parse("x{job=\"a\",instance=\"1\",le=\"0.5\"}");
    struct pl_labels *b = parse("y{job=\"a\",instance=\"2\",le=\"0.5\"}");
    const char *by[] = {"job", "le"};
    assert_int_equal(pl_labels_hash_subset(a, by, 2, 1), pl_labels_hash_subset(b, by, 2, 1));
    const char *without[] = {"instance", "__name__"};
    assert_int_equal(pl_labels_hash_subset(a, without, 2, 0),
                     pl_labels_hash_subset(b, without, 2, 0));
    assert_int_not_equal(pl_labels_hash_subset(a, by, 1, 0), pl_labels_hash_subset(b, by, 1, 0));
    pl_labels_free(a);
    pl_labels_free(b);
}

static void test_label_name_validity(void **state)
{
    assert_true(pl_label_name_valid("a_b9", 4));
    assert_false(pl_label_name_valid("9a", 2));
    assert_false(pl_label_name_valid("a:b", 3));
    assert_true(pl_metric_name_valid("a:b", 3));
    assert_false(pl_metric_name_valid("", 0));
}

static void test_builder_copies_from_itself(void **state)
{
    /* Setting a value that points into the builder's own storage must survive growth. */
    struct pl_labels_builder b;
    pl_lb_init(&b);
    pl_lb_setz(&b, "a", "value-of-a");
    for (int i = 0; i < 100; i++) {
        size_t vlen;
        const char *v = pl_lb_get(&b, "a", 1, &vlen);
        char name[16];
        snprintf(name, sizeof(name), "n%d", i);
        pl_lb_set(&b, name, strlen(name), v, vlen);
    }
    struct pl_labels *ls = pl_lb_labels(&b);
    assert_int_equal(ls->n, 101);
    assert_string_equal(pl_labels_value(ls, "n99"), "value-of-a");
    pl_labels_free(ls);
    pl_lb_fini(&b);
}

int test_labels_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labels_builder_sorts_and_replaces),
        cmocka_unit_test(test_labels_names_are_interned),
        cmocka_unit_test(test_labels_hash_is_stable_and_order_free),
        cmocka_unit_test(test_labels_hash_separates_pairs),
        cmocka_unit_test(test_labels_compare_orders_like_prometheus),
        cmocka_unit_test(test_labels_format_escapes),
        cmocka_unit_test(test_labels_parse_rejects_garbage),
        cmocka_unit_test(test_labels_hash_subset),
        cmocka_unit_test(test_label_name_validity),
        cmocka_unit_test(test_builder_copies_from_itself),
    };
    return cmocka_run_group_tests_name("labels", tests, NULL, NULL);
}
