/*
 * api.c - the read side of the Prometheus HTTP API v1 (docs/querying/api.md):
 * instant and range queries, series, label names and values, and the status
 * and metadata endpoints, with Prometheus 2.42's parameter rules, error
 * texts and JSON shapes (../shared/reference/captures/prometheus-api/).
 */
#include "server/srv_int.h"

#include "collector/scrape.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/timeutil.h"
#include "query/ast.h"
#include "server/json.h"

#include <promlite/client.h>
#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>
#include <pthread.h>
#include <string.h>

/* Prometheus refuses range queries with more points per series than this. */
#define MAX_POINTS 11000

/* ---- parameters ---- */

/* Parses time param `name` (default `def` when absent) as parseTimeParam does. */
static int time_param(struct srv_req *req, const char *name, int64_t def, int64_t *out,
                      struct srv_resp *resp)
{
    const struct srv_param *p = srv_params_get(&req->params, name);
    if (!p || !p->value[0]) {
        *out = def;
        return 0;
    }
    struct pl_err err;
    if (pl_time_parse(p->value, p->vlen, out, &err)) {
        srv__resp_error(resp, 400, "bad_data",
                        "invalid parameter \"%s\": Invalid time value for '%s': %s", name, name,
                        err.msg);
        return -1;
    }
    return 0;
}

/* Parses a mandatory time (query_range start/end): no default, bare message. */
static int time_required(struct srv_req *req, const char *name, int64_t *out, struct srv_resp *resp)
{
    const struct srv_param *p = srv_params_get(&req->params, name);
    struct pl_err err;
    if (pl_time_parse(p ? p->value : "", p ? p->vlen : 0, out, &err)) {
        srv__resp_error(resp, 400, "bad_data", "invalid parameter \"%s\": %s", name, err.msg);
        return -1;
    }
    return 0;
}

/* The optional `timeout` parameter: 0 when absent. */
static int timeout_param(struct srv_req *req, int64_t *out, struct srv_resp *resp)
{
    const struct srv_param *p = srv_params_get(&req->params, "timeout");
    *out = 0;
    if (!p || !p->value[0])
        return 0;
    struct pl_err err;
    if (pl_duration_or_seconds_parse(p->value, p->vlen, out, &err)) {
        srv__resp_error(resp, 400, "bad_data", "invalid parameter \"timeout\": %s", err.msg);
        return -1;
    }
    return 0;
}

/* ---- query execution ---- */

/*
 * Evaluates a parsed query. The `timeout` parameter can only shorten
 * --query.timeout (Prometheus derives a context with both deadlines); every
 * query is cancelled when the server shuts down.
 */
static int run_query(struct srv *s, const struct query_expr *e, int64_t start, int64_t end,
                     int64_t step, int range, int64_t timeout_ms, struct query_result *res,
                     struct query_error *qerr)
{
    struct query_exec_opts xo;
    memset(&xo, 0, sizeof(xo));
    if (timeout_ms > 0 && timeout_ms < s->flags.query_timeout_ms)
        xo.timeout_ms = timeout_ms;
    xo.cancel = &s->cancel_queries;
    if (s->engine_queries)
        exp_gauge_inc(s->engine_queries);
    int rc = query_exec_expr(s->engine, &s->qq, e->root, start, end, step, range, &xo, res, qerr);
    if (s->engine_queries)
        exp_gauge_dec(s->engine_queries);
    return rc;
}

static void answer_result(struct srv_resp *resp, const struct query_result *res)
{
    struct pl_buf data;
    pl_buf_init(&data, SRV_MAX_RESPONSE);
    if (srv_json_query_result(&data, res))
        srv__resp_error(resp, 500, "internal", "cannot encode the result");
    else
        srv__resp_success(resp, &data);
    pl_buf_fini(&data);
}

static void answer_query_error(struct srv_resp *resp, const struct query_error *qe)
{
    enum query_err_type t = qe->type == QUERY_ERR_NONE ? QUERY_ERR_INTERNAL : qe->type;
    srv__resp_error(resp, query_err_http_status(t), query_err_type_name(t), "%s", qe->msg);
}

/* Parses q; on error answers 400 with `prefix` before the position. */
static struct query_expr *parse_or_answer(const char *q, size_t n, const char *prefix,
                                          struct srv_resp *resp)
{
    struct query_expr *e = NULL;
    struct query_parse_err pe;
    memset(&pe, 0, sizeof(pe));
    if (query_parse(q, n, &e, &pe)) {
        srv__resp_error(resp, 400, "bad_data", "%s%d:%d: parse error: %s", prefix, pe.line, pe.col,
                        pe.msg);
        return NULL;
    }
    return e;
}

/*
 * Returning freed heap to the OS. After a large query glibc keeps the freed
 * memory in the worker thread's malloc arena (measured: 2.5 GB resident after
 * a 2.4M-point range query). malloc_trim fixes that but costs tens of ms, so
 * it runs on a background thread after the answer is built, never on the
 * request's own latency path; requests only raise a flag.
 */
static pthread_mutex_t trim_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t trim_cond = PTHREAD_COND_INITIALIZER;
static pthread_once_t trim_once = PTHREAD_ONCE_INIT;
static int trim_pending;

static void *trim_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&trim_lock);
    for (;;) {
        while (!trim_pending)
            pthread_cond_wait(&trim_cond, &trim_lock);
        trim_pending = 0;
        pthread_mutex_unlock(&trim_lock);
        malloc_trim(0);
        pthread_mutex_lock(&trim_lock);
    }
    return NULL;
}

static void trim_start(void)
{
    pthread_t th;
    if (pthread_create(&th, NULL, trim_main, NULL) == 0)
        pthread_detach(th);
}

/* Frees a result and, after a query that touched over a million samples, asks for a trim. */
static void release_result(struct query_result *res)
{
    uint64_t touched = res->samples_total;
    query_result_fini(res);
    if (touched <= 1000000)
        return;
    pthread_once(&trim_once, trim_start);
    pthread_mutex_lock(&trim_lock);
    trim_pending = 1;
    pthread_cond_signal(&trim_cond);
    pthread_mutex_unlock(&trim_lock);
}

void srv__api_query(struct srv *s, struct srv_req *req, struct srv_resp *resp)
{
    int64_t t, timeout_ms;
    if (time_param(req, "time", pl_time_now_ms(), &t, resp) ||
        timeout_param(req, &timeout_ms, resp))
        return;
    const struct srv_param *qp = srv_params_get(&req->params, "query");
    const char *q = qp ? qp->value : "";
    size_t qn = qp ? qp->vlen : 0;
    struct query_expr *e = parse_or_answer(q, qn, "invalid parameter \"query\": ", resp);
    if (!e)
        return;
    struct query_result res;
    struct query_error qe;
    memset(&res, 0, sizeof(res));
    memset(&qe, 0, sizeof(qe));
    if (run_query(s, e, t, t, 1, 0, timeout_ms, &res, &qe))
        answer_query_error(resp, &qe);
    else
        answer_result(resp, &res);
    release_result(&res);
    query_expr_free(e);
}

static const char *documented_type(enum query_value_type t)
{
    switch (t) {
    case QUERY_VT_SCALAR:
        return "scalar";
    case QUERY_VT_VECTOR:
        return "instant vector";
    case QUERY_VT_MATRIX:
        return "range vector";
    case QUERY_VT_STRING:
        return "string";
    default:
        return "none";
    }
}

void srv__api_query_range(struct srv *s, struct srv_req *req, struct srv_resp *resp)
{
    int64_t start, end, step, timeout_ms;
    if (time_required(req, "start", &start, resp) || time_required(req, "end", &end, resp))
        return;
    if (end < start) {
        srv__resp_error(resp, 400, "bad_data",
                        "invalid parameter \"end\": end timestamp must not be before start time");
        return;
    }
    const struct srv_param *sp = srv_params_get(&req->params, "step");
    struct pl_err err;
    if (pl_duration_or_seconds_parse(sp ? sp->value : "", sp ? sp->vlen : 0, &step, &err)) {
        srv__resp_error(resp, 400, "bad_data", "invalid parameter \"step\": %s", err.msg);
        return;
    }
    if (step <= 0) {
        srv__resp_error(resp, 400, "bad_data",
                        "invalid parameter \"step\": zero or negative query resolution step "
                        "widths are not accepted. Try a positive integer");
        return;
    }
    /* Prometheus compares in seconds with float division; integer ms division agrees. */
    if ((end - start) / step > MAX_POINTS) {
        srv__resp_error(resp, 400, "bad_data",
                        "exceeded maximum resolution of 11,000 points per timeseries. Try "
                        "decreasing the query resolution (?step=XX)");
        return;
    }
    if (timeout_param(req, &timeout_ms, resp))
        return;
    const struct srv_param *qp = srv_params_get(&req->params, "query");
    const char *q = qp ? qp->value : "";
    size_t qn = qp ? qp->vlen : 0;
    struct query_expr *e = parse_or_answer(q, qn, "", resp);
    if (!e)
        return;
    enum query_value_type vt = query_node_type(e->root);
    if (vt != QUERY_VT_SCALAR && vt != QUERY_VT_VECTOR) {
        query_expr_free(e);
        srv__resp_error(resp, 400, "bad_data",
                        "invalid expression type \"%s\" for range query, must be Scalar or "
                        "instant Vector",
                        documented_type(vt));
        return;
    }
    struct query_result res;
    struct query_error qe;
    memset(&res, 0, sizeof(res));
    memset(&qe, 0, sizeof(qe));
    if (run_query(s, e, start, end, step, 1, timeout_ms, &res, &qe))
        answer_query_error(resp, &qe);
    else
        answer_result(resp, &res);
    release_result(&res);
    query_expr_free(e);
}

void srv__api_format_query(struct srv *s, struct srv_req *req, struct srv_resp *resp)
{
    const struct srv_param *qp = srv_params_get(&req->params, "query");
    struct query_expr *e = parse_or_answer(qp ? qp->value : "", qp ? qp->vlen : 0,
                                           "invalid parameter \"query\": ", resp);
    if (!e)
        return;
    struct pl_buf txt, data;
    pl_buf_init(&txt, SRV_MAX_FORM);
    pl_buf_init(&data, SRV_MAX_RESPONSE);
    if (query_node_format(e->root, &txt) || srv_json_str(&data, txt.data ? txt.data : "", txt.len))
        srv__resp_error(resp, 500, "internal", "cannot format the expression");
    else
        srv__resp_success(resp, &data);
    pl_buf_fini(&txt);
    pl_buf_fini(&data);
    query_expr_free(e);
}

/* ---- series and labels ---- */

/*
 * Prometheus parses match[] with parser.ParseMetricSelector, which accepts
 * selectors whose matchers all match the empty string ({job=~".*"}); the
 * series and delete endpoints then refuse them, while labels and label
 * values use them as given. query_parse applies the expression rule that
 * refuses them outright, so such a selector is parsed again with a
 * placeholder matcher that is dropped afterwards.
 */
#define PLACEHOLDER "__promlite_placeholder__"

static struct query_expr *parse_selector(const char *v, size_t n, int *only_empty,
                                         struct srv_resp *resp)
{
    struct query_expr *e = NULL;
    struct query_parse_err pe;
    memset(&pe, 0, sizeof(pe));
    *only_empty = 0;
    if (query_parse(v, n, &e, &pe) == 0)
        return e;
    const char *close = n ? memchr(v, '}', n) : NULL;
    if (strstr(pe.msg, "at least one non-empty matcher") && close && close == v + n - 1) {
        /* Insert the placeholder before the closing brace. */
        size_t k = (size_t)(close - v);
        while (k > 0 && (v[k - 1] == ' ' || v[k - 1] == '\t' || v[k - 1] == '\n'))
            k--;
        int comma = k > 0 && v[k - 1] != '{' && v[k - 1] != ',';
        struct pl_buf alt;
        pl_buf_init(&alt, n + 64);
        pl_buf_append(&alt, v, k);
        pl_buf_printf(&alt, "%s" PLACEHOLDER "=\"1\"}", comma ? "," : "");
        struct query_parse_err pe2;
        int rc = query_parse(alt.data, alt.len, &e, &pe2);
        pl_buf_fini(&alt);
        if (rc == 0) {
            *only_empty = 1;
            return e;
        }
    }
    srv__resp_error(resp, 400, "bad_data", "invalid parameter \"match[]\": %d:%d: parse error: %s",
                    pe.line, pe.col, pe.msg);
    return NULL;
}

void srv__selectors_free(struct srv_selectors *sel)
{
    for (size_t i = 0; i < sel->n; i++) {
        query_expr_free(sel->v[i].expr);
        free(sel->v[i].ms);
    }
    free(sel->v);
    sel->v = NULL;
    sel->n = 0;
}

int srv__selectors_parse(struct srv_req *req, struct srv_selectors *sel, int need_nonempty,
                         struct srv_resp *resp)
{
    size_t n = srv_params_count(&req->params, "match[]");
    sel->v = pl_xcalloc(n ? n : 1, sizeof(*sel->v));
    sel->n = 0;
    for (size_t i = 0; i < req->params.n; i++) {
        const struct srv_param *p = &req->params.v[i];
        if (strcmp(p->key, "match[]") != 0)
            continue;
        int only_empty;
        struct query_expr *e = parse_selector(p->value, p->vlen, &only_empty, resp);
        if (!e)
            goto fail;
        struct srv_selector *s = &sel->v[sel->n++];
        s->expr = e;
        const struct query_node *root = e->root;
        if (root->kind != QUERY_NODE_VECTOR_SELECTOR) {
            srv__resp_error(resp, 400, "bad_data",
                            "invalid parameter \"match[]\": 1:1: parse error: unexpected %s, "
                            "expected a series selector",
                            documented_type(query_node_type(root)));
            goto fail;
        }
        s->ms = pl_xcalloc(root->vs.nmatchers + 1, sizeof(*s->ms));
        for (size_t j = 0; j < root->vs.nmatchers; j++)
            if (strcmp(tsdb_matcher_name(root->vs.matchers[j]), PLACEHOLDER) != 0)
                s->ms[s->n++] = root->vs.matchers[j];
        if (need_nonempty && only_empty) {
            srv__resp_error(resp, 400, "bad_data",
                            "invalid parameter \"match[]\": match[] must contain at least one "
                            "non-empty matcher");
            goto fail;
        }
    }
    return 0;
fail:
    srv__selectors_free(sel);
    return -1;
}

static int cmp_labels(const void *a, const void *b)
{
    return pl_labels_cmp(*(struct pl_labels *const *)a, *(struct pl_labels *const *)b);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int open_querier(struct srv *s, int64_t mint, int64_t maxt, struct tsdb_querier **q,
                        struct srv_resp *resp)
{
    struct pl_err err;
    pl_err_clear(&err);
    if (tsdb_querier_open(s->db, mint, maxt, q, &err)) {
        srv__resp_error(resp, 500, "internal", "%s", err.msg);
        return -1;
    }
    return 0;
}

void srv__api_series(struct srv *s, struct srv_req *req, struct srv_resp *resp)
{
    if (srv_params_count(&req->params, "match[]") == 0) {
        srv__resp_error(resp, 400, "bad_data", "no match[] parameter provided");
        return;
    }
    int64_t start, end;
    if (time_param(req, "start", PL_TIME_MIN, &start, resp) ||
        time_param(req, "end", PL_TIME_MAX, &end, resp))
        return;
    struct srv_selectors sel;
    if (srv__selectors_parse(req, &sel, 1, resp))
        return;
    struct tsdb_querier *q;
    if (open_querier(s, start, end, &q, resp)) {
        srv__selectors_free(&sel);
        return;
    }
    struct pl_labels **all = NULL;
    size_t n = 0, cap = 0;
    struct pl_err err;
    pl_err_clear(&err);
    int rc = 0;
    for (size_t i = 0; i < sel.n && !rc; i++) {
        struct tsdb_series_set *ss;
        rc = tsdb_select(q, sel.v[i].ms, sel.v[i].n, &ss, &err);
        if (rc)
            break;
        const struct pl_labels *ls;
        int r;
        while ((r = tsdb_series_set_next(ss, &ls)) == 1) {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                all = pl_xreallocarray(all, cap, sizeof(*all));
            }
            all[n++] = pl_labels_dup(ls);
        }
        if (r < 0)
            rc = r;
        tsdb_series_set_free(ss);
    }
    size_t nsel = sel.n;
    tsdb_querier_close(q);
    srv__selectors_free(&sel);
    if (rc) {
        srv__resp_error(resp, 500, "internal", "%s", err.msg[0] ? err.msg : pl_err_str(rc));
    } else {
        /* One selector yields sorted, distinct series; several must be merged. */
        if (nsel > 1 && n > 1)
            qsort(all, n, sizeof(*all), cmp_labels);
        struct pl_buf data;
        pl_buf_init(&data, SRV_MAX_RESPONSE);
        int w = pl_buf_putc(&data, '[');
        size_t out = 0;
        for (size_t i = 0; i < n && !w; i++) {
            if (i && pl_labels_equal(all[i - 1], all[i]))
                continue;
            if (out++)
                w = pl_buf_putc(&data, ',');
            w = w ? w : srv_json_labels(&data, all[i]);
        }
        w = w ? w : pl_buf_putc(&data, ']');
        if (w)
            srv__resp_error(resp, 500, "internal", "response too large");
        else
            srv__resp_success(resp, &data);
        pl_buf_fini(&data);
    }
    for (size_t i = 0; i < n; i++)
        pl_labels_free(all[i]);
    free(all);
}

/* Answers a sorted, de-duplicated JSON array of the strings in list. */
static void answer_strings(struct srv_resp *resp, struct tsdb_strings *list)
{
    if (list->n > 1)
        qsort(list->v, list->n, sizeof(*list->v), cmp_str);
    struct pl_buf data;
    pl_buf_init(&data, SRV_MAX_RESPONSE);
    int w = pl_buf_putc(&data, '[');
    size_t out = 0;
    for (size_t i = 0; i < list->n && !w; i++) {
        if (i && !strcmp(list->v[i - 1], list->v[i]))
            continue;
        if (out++)
            w = pl_buf_putc(&data, ',');
        w = w ? w : srv_json_strz(&data, list->v[i]);
    }
    w = w ? w : pl_buf_putc(&data, ']');
    if (w)
        srv__resp_error(resp, 500, "internal", "response too large");
    else
        srv__resp_success(resp, &data);
    pl_buf_fini(&data);
}

/* Moves the strings of src to the end of dst. */
static void strings_take(struct tsdb_strings *dst, struct tsdb_strings *src)
{
    for (size_t i = 0; i < src->n; i++) {
        if (dst->n == dst->cap) {
            dst->cap = dst->cap ? dst->cap * 2 : 64;
            dst->v = pl_xreallocarray(dst->v, dst->cap, sizeof(*dst->v));
        }
        dst->v[dst->n++] = src->v[i];
    }
    src->n = 0;
}

/* Label names (name == NULL) or values of `name`, over every match[] or all series. */
static void label_query(struct srv *s, struct srv_req *req, const char *name, struct srv_resp *resp)
{
    int64_t start, end;
    if (time_param(req, "start", PL_TIME_MIN, &start, resp) ||
        time_param(req, "end", PL_TIME_MAX, &end, resp))
        return;
    struct srv_selectors sel;
    if (srv__selectors_parse(req, &sel, 0, resp))
        return;
    struct tsdb_querier *q;
    if (open_querier(s, start, end, &q, resp)) {
        srv__selectors_free(&sel);
        return;
    }
    struct tsdb_strings all = {0}, one = {0};
    struct pl_err err;
    pl_err_clear(&err);
    int rc = 0;
    size_t rounds = sel.n ? sel.n : 1;
    for (size_t i = 0; i < rounds && !rc; i++) {
        struct tsdb_matcher *const *ms = NULL;
        size_t nms = 0;
        if (sel.n) {
            ms = sel.v[i].ms;
            nms = sel.v[i].n;
        }
        rc = name ? tsdb_label_values(q, name, ms, nms, &one, &err)
                  : tsdb_label_names(q, ms, nms, &one, &err);
        if (!rc)
            strings_take(&all, &one);
        tsdb_strings_fini(&one);
        memset(&one, 0, sizeof(one));
    }
    tsdb_querier_close(q);
    srv__selectors_free(&sel);
    if (rc)
        srv__resp_error(resp, 500, "internal", "%s", err.msg[0] ? err.msg : pl_err_str(rc));
    else
        answer_strings(resp, &all);
    tsdb_strings_fini(&all);
}

void srv__api_labels(struct srv *s, struct srv_req *req, struct srv_resp *resp)
{
    label_query(s, req, NULL, resp);
}

void srv__api_label_values(struct srv *s, struct srv_req *req, struct srv_resp *resp)
{
    char *name = pl_xstrndup(req->path_arg, req->path_arg_len);
    if (!pl_label_name_valid(name, strlen(name)))
        srv__resp_error(resp, 400, "bad_data", "invalid label name: \"%s\"", name);
    else
        label_query(s, req, name, resp);
    free(name);
}

void srv__api_exemplars(struct srv *s, struct srv_req *req, struct srv_resp *resp)
{
    /* No exemplar storage: validate like Prometheus, answer an empty list. */
    int64_t start, end;
    if (time_param(req, "start", PL_TIME_MIN, &start, resp) ||
        time_param(req, "end", PL_TIME_MAX, &end, resp))
        return;
    const struct srv_param *qp = srv_params_get(&req->params, "query");
    struct query_expr *e = parse_or_answer(qp ? qp->value : "", qp ? qp->vlen : 0, "", resp);
    if (!e)
        return;
    query_expr_free(e);
    struct pl_buf data;
    pl_buf_init(&data, 16);
    pl_buf_puts(&data, "[]");
    srv__resp_success(resp, &data);
    pl_buf_fini(&data);
}

void srv__api_metadata(struct srv *s, struct srv_req *req, struct srv_resp *resp)
{
    /* Metadata comes from scrapes, which promlite does not do yet: none is known. */
    struct pl_buf data;
    pl_buf_init(&data, 16);
    pl_buf_puts(&data, "{}");
    srv__resp_success(resp, &data);
    pl_buf_fini(&data);
}

/* ---- status ---- */

void srv__api_buildinfo(struct srv *s, struct srv_req *req, struct srv_resp *resp)
{
    /*
     * Grafana gates features on `version`, so report the Prometheus release
     * whose API we follow; no `features` map (that would mean Mimir).
     */
    struct pl_buf data;
    pl_buf_init(&data, 1024);
    pl_buf_printf(&data,
                  "{\"version\":\"2.42.0\",\"revision\":\"promlite-%s\",\"branch\":\"promlite\","
                  "\"buildUser\":\"promlite\",\"buildDate\":\"%s\",\"goVersion\":\"none\"}",
                  PROMLITE_VERSION, __DATE__);
    srv__resp_success(resp, &data);
    pl_buf_fini(&data);
}

void srv__api_flags(struct srv *s, struct srv_req *req, struct srv_resp *resp)
{
    /* Prometheus prints the flags as one JSON object sorted by name. */
    int order[SRV_F_COUNT];
    for (int i = 0; i < SRV_F_COUNT; i++)
        order[i] = i;
    for (int i = 1; i < SRV_F_COUNT; i++)
        for (int j = i; j > 0 && strcmp(srv_flag_names[order[j - 1]], srv_flag_names[order[j]]) > 0;
             j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    struct pl_buf data;
    pl_buf_init(&data, 1 << 20);
    pl_buf_putc(&data, '{');
    for (int i = 0; i < SRV_F_COUNT; i++) {
        if (i)
            pl_buf_putc(&data, ',');
        srv_json_strz(&data, srv_flag_names[order[i]]);
        pl_buf_putc(&data, ':');
        srv_json_strz(&data, s->flags.text[order[i]]);
    }
    pl_buf_putc(&data, '}');
    srv__resp_success(resp, &data);
    pl_buf_fini(&data);
}

void srv__api_runtimeinfo(struct srv *s, struct srv_req *req, struct srv_resp *resp)
{
    char start[64], retention[64];
    pl_time_format_rfc3339(s->start_time_ms, start, sizeof(start));
    pl_duration_format(s->flags.retention_ms, retention, sizeof(retention));
    struct pl_buf data;
    pl_buf_init(&data, 1 << 16);
    pl_buf_puts(&data, "{\"startTime\":");
    srv_json_strz(&data, start);
    pl_buf_puts(&data, ",\"CWD\":");
    srv_json_strz(&data, s->cwd);
    char last[64];
    pl_time_format_rfc3339(atomic_load(&s->last_config_ms), last, sizeof(last));
    pl_buf_printf(&data, ",\"reloadConfigSuccess\":%s,\"lastConfigTime\":",
                  atomic_load(&s->reload_ok) ? "true" : "false");
    srv_json_strz(&data, last);
    pl_buf_puts(&data, ",\"corruptionCount\":0,\"goroutineCount\":0,\"GOMAXPROCS\":0,\"GOGC\":\"\","
                       "\"GODEBUG\":\"\",\"storageRetention\":");
    char ret[96];
    if (s->flags.retention_bytes)
        snprintf(ret, sizeof(ret), "%s or %s", retention, s->flags.text[SRV_F_RETENTION_SIZE]);
    else
        snprintf(ret, sizeof(ret), "%s", retention);
    srv_json_strz(&data, ret);
    pl_buf_putc(&data, '}');
    srv__resp_success(resp, &data);
    pl_buf_fini(&data);
}

void srv__api_targets(struct srv *s, struct srv_req *req, struct srv_resp *resp)
{
    const char *state = srv_params_value(&req->params, "state");
    if (!state[0])
        state = NULL;
    else if (strcmp(state, "active") && strcmp(state, "dropped") && strcmp(state, "any"))
        state = "any"; /* Prometheus treats unknown values as "any" */
    struct pl_buf data;
    pl_buf_init(&data, SRV_MAX_RESPONSE);
    if (coll_scrape_targets_json(s->scrape, state, &data))
        srv__resp_error(resp, 500, "internal", "cannot render the targets");
    else
        srv__resp_success(resp, &data);
    pl_buf_fini(&data);
}
