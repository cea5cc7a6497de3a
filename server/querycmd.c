/*
 * querycmd.c - `promlite query EXPR`: one instant or range query, against a
 * local data directory (opened read-only, evaluated in-process) or any
 * server speaking the Prometheus HTTP API (libcurl), printed as a table or
 * as the API's JSON answer.
 */
#include "server/cli.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/timeutil.h"
#include "server/json.h"
#include "server/params.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/query.h"
#include "tsdb/tsdb.h"

#define QUERY_MAX_RESPONSE (1u << 30)

struct qopts {
    const char *expr;
    const char *time, *start, *end, *step;
    const char *data, *url;
    const char *format;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: promlite query EXPR [--time T | --start S --end E [--step D]]\n"
               "                          [--data DIR | --url URL] [--format table|json]\n\n"
               "Runs one PromQL query against a data directory (read-only; default data/)\n"
               "or a Prometheus-compatible server. Times are RFC 3339 or Unix seconds; the\n"
               "step is a duration (15s) or seconds, by default (end-start)/250, at least 1s.\n");
}

static int parse_args(int argc, char **argv, struct qopts *o)
{
    static const struct {
        const char *name;
        size_t off;
    } flags[] = {
        {"time", offsetof(struct qopts, time)},     {"start", offsetof(struct qopts, start)},
        {"end", offsetof(struct qopts, end)},       {"step", offsetof(struct qopts, step)},
        {"data", offsetof(struct qopts, data)},     {"url", offsetof(struct qopts, url)},
        {"format", offsetof(struct qopts, format)},
    };
    memset(o, 0, sizeof(*o));
    o->format = "table";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            if (o->expr) {
                fprintf(stderr, "promlite query: unexpected argument \"%s\"\n", a);
                return 2;
            }
            o->expr = a;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        size_t k;
        for (k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
            if (strlen(flags[k].name) == nlen && !strncmp(flags[k].name, name, nlen))
                break;
        if (k == sizeof(flags) / sizeof(flags[0])) {
            fprintf(stderr, "promlite query: unknown flag '--%.*s'\n", (int)nlen, name);
            return 2;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) {
            fprintf(stderr, "promlite query: flag '--%s' needs a value\n", flags[k].name);
            return 2;
        }
        *(const char **)((char *)o + flags[k].off) = val;
    }
    if (!o->expr) {
        usage(stderr);
        return 2;
    }
    if (strcmp(o->format, "table") && strcmp(o->format, "json")) {
        fprintf(stderr, "promlite query: --format must be table or json\n");
        return 2;
    }
    if (o->data && o->url) {
        fprintf(stderr, "promlite query: give --data or --url, not both\n");
        return 2;
    }
    if (o->time && (o->start || o->end || o->step)) {
        fprintf(stderr, "promlite query: --time is for instant queries, --start/--end/--step "
                        "for range queries\n");
        return 2;
    }
    if ((o->start || o->end || o->step) && !(o->start && o->end)) {
        fprintf(stderr, "promlite query: a range query needs --start and --end\n");
        return 2;
    }
    return 0;
}

/* ---- output ---- */

static void print_labels(json_t *metric)
{
    const char *name = json_string_value(json_object_get(metric, "__name__"));
    printf("%s{", name ? name : "");
    const char *k;
    json_t *v;
    int first = 1;
    /* jansson keeps insertion order, which is the server's sorted order. */
    json_object_foreach(metric, k, v)
    {
        if (!strcmp(k, "__name__"))
            continue;
        printf("%s%s=\"%s\"", first ? "" : ", ", k, json_string_value(v));
        first = 0;
    }
    printf("}");
}

static void print_point(json_t *p)
{
    printf("%s @[%.3f]", json_string_value(json_array_get(p, 1)),
           json_number_value(json_array_get(p, 0)));
}

/* Prints the API answer `body` as a table. Returns the exit status. */
static int print_table(const char *body, size_t len)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_PRESERVE_ORDER, &je);
    if (!root) {
        fprintf(stderr, "promlite query: the answer is not JSON: %s\n", je.text);
        return 1;
    }
    int rc = 0;
    const char *status = json_string_value(json_object_get(root, "status"));
    json_t *data = json_object_get(root, "data");
    if (!status || strcmp(status, "success") || !data) {
        const char *et = json_string_value(json_object_get(root, "errorType"));
        const char *e = json_string_value(json_object_get(root, "error"));
        fprintf(stderr, "promlite query: %s: %s\n", et ? et : "error", e ? e : "(no message)");
        json_decref(root);
        return 1;
    }
    const char *rt = json_string_value(json_object_get(data, "resultType"));
    json_t *res = json_object_get(data, "result");
    if (rt && (!strcmp(rt, "scalar") || !strcmp(rt, "string"))) {
        if (!strcmp(rt, "scalar"))
            print_point(res);
        else
            printf("%s", json_string_value(json_array_get(res, 1)));
        printf("\n");
    } else if (rt && !strcmp(rt, "vector")) {
        size_t i;
        json_t *s;
        json_array_foreach(res, i, s)
        {
            print_labels(json_object_get(s, "metric"));
            printf(" => ");
            print_point(json_object_get(s, "value"));
            printf("\n");
        }
    } else if (rt && !strcmp(rt, "matrix")) {
        size_t i, j;
        json_t *s, *p;
        json_array_foreach(res, i, s)
        {
            print_labels(json_object_get(s, "metric"));
            printf(" =>\n");
            json_array_foreach(json_object_get(s, "values"), j, p)
            {
                printf("  ");
                print_point(p);
                printf("\n");
            }
        }
    } else {
        fprintf(stderr, "promlite query: unknown resultType \"%s\"\n", rt ? rt : "");
        rc = 1;
    }
    json_decref(root);
    return rc;
}

static int output(const struct qopts *o, const char *body, size_t len)
{
    if (!strcmp(o->format, "json")) {
        fwrite(body, 1, len, stdout);
        printf("\n");
        json_t *root = json_loadb(body, len, 0, NULL);
        const char *st = root ? json_string_value(json_object_get(root, "status")) : NULL;
        int ok = st && !strcmp(st, "success");
        json_decref(root);
        return ok ? 0 : 1;
    }
    return print_table(body, len);
}

/* ---- times ---- */

static int parse_times(const struct qopts *o, int64_t *t, int64_t *start, int64_t *end,
                       int64_t *step)
{
    struct pl_err err;
    *t = pl_time_now_ms();
    if (o->time && pl_time_parse(o->time, strlen(o->time), t, &err))
        goto bad;
    if (o->start) {
        if (pl_time_parse(o->start, strlen(o->start), start, &err) ||
            pl_time_parse(o->end, strlen(o->end), end, &err))
            goto bad;
        if (*end < *start) {
            fprintf(stderr, "promlite query: --end is before --start\n");
            return 2;
        }
        if (o->step) {
            if (pl_duration_or_seconds_parse(o->step, strlen(o->step), step, &err))
                goto bad;
            if (*step <= 0) {
                fprintf(stderr, "promlite query: --step must be positive\n");
                return 2;
            }
        } else {
            int64_t res = (*end - *start) / 250 / 1000;
            *step = (res < 1 ? 1 : res) * 1000;
        }
    }
    return 0;
bad:
    fprintf(stderr, "promlite query: %s\n", err.msg);
    return 2;
}

/* ---- remote ---- */

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct pl_buf *b = ud;
    return pl_buf_append(b, p, sz * n) ? 0 : sz * n;
}

static void add_param(struct pl_buf *b, CURL *c, const char *k, const char *v)
{
    char *e = curl_easy_escape(c, v, 0);
    pl_buf_printf(b, "%s%s=%s", b->len ? "&" : "", k, e ? e : "");
    curl_free(e);
}

static void add_time(struct pl_buf *b, CURL *c, const char *k, int64_t ms)
{
    struct pl_buf t;
    pl_buf_init(&t, 64);
    srv_json_time(&t, ms);
    add_param(b, c, k, pl_buf_cstr(&t));
    pl_buf_fini(&t);
}

static int run_remote(const struct qopts *o, int64_t t, int64_t start, int64_t end, int64_t step)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "promlite query: cannot initialise libcurl\n");
        return 1;
    }
    CURL *c = curl_easy_init();
    struct pl_buf form, body, url;
    pl_buf_init(&form, 1 << 24);
    pl_buf_init(&body, QUERY_MAX_RESPONSE);
    pl_buf_init(&url, 1 << 16);
    add_param(&form, c, "query", o->expr);
    if (o->start) {
        add_time(&form, c, "start", start);
        add_time(&form, c, "end", end);
        add_time(&form, c, "step", step);
    } else {
        add_time(&form, c, "time", t);
    }
    size_t ul = strlen(o->url);
    while (ul && o->url[ul - 1] == '/')
        ul--;
    pl_buf_printf(&url, "%.*s/api/v1/%s", (int)ul, o->url, o->start ? "query_range" : "query");
    curl_easy_setopt(c, CURLOPT_URL, pl_buf_cstr(&url));
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, pl_buf_cstr(&form));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "promlite-query/" PROMLITE_VERSION);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, ""); /* any encoding libcurl decodes */
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
    CURLcode cc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    int rc;
    if (cc != CURLE_OK) {
        fprintf(stderr, "promlite query: %s: %s\n", pl_buf_cstr(&url), curl_easy_strerror(cc));
        rc = 1;
    } else if (code != 200 && (!body.len || body.data[0] != '{')) {
        fprintf(stderr, "promlite query: %s: HTTP %ld: %s\n", pl_buf_cstr(&url), code,
                pl_buf_cstr(&body));
        rc = 1;
    } else {
        rc = output(o, pl_buf_cstr(&body), body.len);
    }
    pl_buf_fini(&form);
    pl_buf_fini(&body);
    pl_buf_fini(&url);
    curl_easy_cleanup(c);
    curl_global_cleanup();
    return rc;
}

/* ---- local ---- */

static int run_local(const struct qopts *o, int64_t t, int64_t start, int64_t end, int64_t step)
{
    struct tsdb_options to;
    tsdb_options_init(&to);
    to.path = o->data ? o->data : "data/";
    to.read_only = 1;
    struct tsdb *db = NULL;
    struct pl_err err;
    pl_err_clear(&err);
    if (tsdb_open(&to, &db, &err)) {
        fprintf(stderr, "promlite query: open %s: %s\n", to.path, err.msg);
        return 1;
    }
    struct query_engine_opts qo;
    query_engine_opts_init(&qo);
    struct query_engine *e = NULL;
    if (query_engine_new(&qo, &e)) {
        tsdb_close(db);
        fprintf(stderr, "promlite query: cannot create the query engine\n");
        return 1;
    }
    struct query_queryable qq;
    query_queryable_tsdb(db, &qq);
    struct query_result res;
    struct query_error qe;
    memset(&res, 0, sizeof(res));
    memset(&qe, 0, sizeof(qe));
    int rc = o->start ? query_exec_range(e, &qq, o->expr, start, end, step, &res, &qe)
                      : query_exec_instant(e, &qq, o->expr, t, &res, &qe);
    struct pl_buf b;
    pl_buf_init(&b, QUERY_MAX_RESPONSE);
    if (rc) {
        pl_buf_puts(&b, "{\"status\":\"error\",\"errorType\":");
        srv_json_strz(&b, query_err_type_name(qe.type));
        pl_buf_puts(&b, ",\"error\":");
        srv_json_strz(&b, qe.msg);
        pl_buf_puts(&b, "}");
    } else {
        pl_buf_puts(&b, "{\"status\":\"success\",\"data\":");
        if (srv_json_query_result(&b, &res)) {
            fprintf(stderr, "promlite query: result too large\n");
            rc = -1;
        }
        pl_buf_puts(&b, "}");
    }
    int status = rc < 0 && !qe.msg[0] ? 1 : output(o, pl_buf_cstr(&b), b.len);
    pl_buf_fini(&b);
    query_result_fini(&res);
    query_engine_free(e);
    tsdb_close(db);
    return status;
}

int srv_cmd_query(int argc, char **argv)
{
    struct qopts o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    int64_t t = 0, start = 0, end = 0, step = 0;
    if ((rc = parse_times(&o, &t, &start, &end, &step)))
        return rc;
    return o.url ? run_remote(&o, t, start, end, step) : run_local(&o, t, start, end, step);
}
