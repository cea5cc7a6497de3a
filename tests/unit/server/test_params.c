/* test_params.c - query strings and form bodies (server/params.c). */
#include "tests.h"

#include "server/params.h"

static void test_params_decodes_pairs_plus_and_escapes(void **state)
{
    struct srv_params p;
    srv_params_init(&p, 100);
    const char *q = "query=sum(rate(up%5B5m%5D))+by+(job)&time=1435781451.781&empty=&flag";
    assert_int_equal(srv_params_parse_urlencoded(&p, q, strlen(q), NULL), 0);
    assert_int_equal(p.n, 4);
    assert_string_equal(srv_params_value(&p, "query"), "sum(rate(up[5m])) by (job)");
    assert_string_equal(srv_params_value(&p, "time"), "1435781451.781");
    assert_non_null(srv_params_get(&p, "empty"));
    assert_string_equal(srv_params_value(&p, "empty"), "");
    assert_non_null(srv_params_get(&p, "flag"));
    assert_null(srv_params_get(&p, "absent"));
    assert_string_equal(srv_params_value(&p, "absent"), "");
    srv_params_fini(&p);
}

static void test_params_keeps_repeated_keys_in_order(void **state)
{
    struct srv_params p;
    srv_params_init(&p, 100);
    const char *body = "match%5B%5D=up&match[]=%7Bjob%3D%22node%22%7D&&start=1";
    assert_int_equal(srv_params_parse_urlencoded(&p, body, strlen(body), NULL), 0);
    const char *url = "match[]=process_start_time_seconds";
    assert_int_equal(srv_params_parse_urlencoded(&p, url, strlen(url), NULL), 0);
    assert_int_equal(srv_params_count(&p, "match[]"), 3);
    assert_string_equal(p.v[0].value, "up");
    assert_string_equal(p.v[1].value, "{job=\"node\"}");
    assert_string_equal(p.v[3].value, "process_start_time_seconds");
    srv_params_fini(&p);
}

static void test_params_rejects_bad_escape_without_partial_result(void **state)
{
    struct srv_params p;
    srv_params_init(&p, 100);
    struct pl_err err;
    const char *q = "a=1&b=%zz&c=3";
    assert_int_equal(srv_params_parse_urlencoded(&p, q, strlen(q), &err), PL_ERR_INVALID);
    assert_string_equal(err.msg, "invalid URL escape \"%zz\"");
    assert_int_equal(p.n, 0);
    const char *t = "a=%4";
    assert_int_equal(srv_params_parse_urlencoded(&p, t, strlen(t), &err), PL_ERR_INVALID);
    assert_string_equal(err.msg, "invalid URL escape \"%4\"");
    assert_int_equal(p.n, 0);
    srv_params_fini(&p);
}

static void test_params_keeps_nul_bytes_counted(void **state)
{
    struct srv_params p;
    srv_params_init(&p, 100);
    const char *q = "query=a%00b";
    assert_int_equal(srv_params_parse_urlencoded(&p, q, strlen(q), NULL), 0);
    const struct srv_param *e = srv_params_get(&p, "query");
    assert_int_equal(e->vlen, 3);
    assert_memory_equal(e->value, "a\0b", 3);
    srv_params_fini(&p);
}

static void test_params_enforces_pair_limit(void **state)
{
    struct srv_params p;
    srv_params_init(&p, 2);
    struct pl_err err;
    const char *q = "a=1&b=2&c=3";
    assert_int_equal(srv_params_parse_urlencoded(&p, q, strlen(q), &err), PL_ERR_LIMIT);
    assert_int_equal(p.n, 0);
    srv_params_fini(&p);
}

static void test_params_handles_large_form_body(void **state)
{
    /* A Grafana POST with a long match[] list: 20,000 pairs, about 1 MB. */
    struct srv_params p;
    srv_params_init(&p, 100000);
    size_t cap = 20000 * 64, len = 0;
    char *body = malloc(cap);
    for (int i = 0; i < 20000; i++)
        len +=
            (size_t)snprintf(body + len, cap - len,
                             "%smatch%%5B%%5D=metric_%d%%7Bjob%%3D%%22x%%22%%7D", i ? "&" : "", i);
    assert_int_equal(srv_params_parse_urlencoded(&p, body, len, NULL), 0);
    assert_int_equal(srv_params_count(&p, "match[]"), 20000);
    assert_string_equal(p.v[19999].value, "metric_19999{job=\"x\"}");
    free(body);
    srv_params_fini(&p);
}

int test_params_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_decodes_pairs_plus_and_escapes),
        cmocka_unit_test(test_params_keeps_repeated_keys_in_order),
        cmocka_unit_test(test_params_rejects_bad_escape_without_partial_result),
        cmocka_unit_test(test_params_keeps_nul_bytes_counted),
        cmocka_unit_test(test_params_enforces_pair_limit),
        cmocka_unit_test(test_params_handles_large_form_body),
    };
    return cmocka_run_group_tests_name("params", tests, NULL, NULL);
}
