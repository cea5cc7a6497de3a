/*
 * write.c - the write side of the HTTP API: the remote write 1.0 receiver
 * (POST /api/v1/write, remote_write_spec.md). One request is one append
 * batch (one WAL record): 204 means the samples are durable. As Prometheus
 * 2.42 does, a request with any rejected sample is rolled back whole and
 * answered 400 (never retried by senders); storage failures are 500 (retried).
 *
 * Also the text import (POST /api/v1/import/prometheus): a Prometheus text
 * 0.0.4 (or OpenMetrics, detected by its `# EOF`) body whose samples carry
 * millisecond timestamps, `stale` standing for the stale marker. The whole
 * body is one batch: 204 means durable; any invalid line, or any sample the
 * storage refuses, rejects the whole body with a 400 naming the line.
 */
#include "server/srv_int.h"

#include "common/log.h"
#include "collector/expfmt.h"
#include "common/hash.h"
#include "common/mem.h"
#include "common/timeutil.h"
#include "server/remote.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Prometheus's texts for the per-sample append errors. */
static const char *append_error_text(int rc)
{
    switch (rc) {
    case PL_ERR_OUT_OF_ORDER:
        return "out of order sample";
    case PL_ERR_DUPLICATE:
        return "duplicate sample for timestamp";
    case PL_ERR_TOO_OLD:
        return "out of bounds";
    default:
        return pl_err_str(rc);
    }
}

/*
 * Per-thread decode state, reused so that steady traffic does not allocate;
 * freed by the key's destructor when the connection's thread exits (a
 * remote-write sender keeps its connections open).
 */
struct rw_state {
    struct srv_rw_request req;
    struct pl_labels_builder lb;
    struct coll_expfmt_parser *text, *om; /* import parsers, by format */
};
static pthread_key_t rw_key;
static pthread_once_t rw_once = PTHREAD_ONCE_INIT;

static void rw_state_free(void *p)
{
    struct rw_state *st = p;
    srv_rw_request_fini(&st->req);
    pl_lb_fini(&st->lb);
    coll_expfmt_parser_free(st->text);
    coll_expfmt_parser_free(st->om);
    free(st);
}

static void rw_key_init(void)
{
    pthread_key_create(&rw_key, rw_state_free);
}

static struct rw_state *rw_state_get(void)
{
    pthread_once(&rw_once, rw_key_init);
    struct rw_state *st = pthread_getspecific(rw_key);
    if (!st) {
        st = pl_xcalloc(1, sizeof(*st));
        srv_rw_request_init(&st->req);
        pl_lb_init(&st->lb);
        st->text = coll_expfmt_parser_new(COLL_EXPFMT_PROMETHEUS, COLL_EXPFMT_STALE_TOKEN);
        st->om = coll_expfmt_parser_new(COLL_EXPFMT_OPENMETRICS, COLL_EXPFMT_STALE_TOKEN);
        pthread_setspecific(rw_key, st);
    }
    return st;
}

void srv__api_remote_write(struct srv *s, struct srv_req *req, struct srv_resp *resp)
{
    struct rw_state *st = rw_state_get();
    if (req->content_encoding && strcasecmp(req->content_encoding, "snappy") != 0) {
        srv__resp_text(resp, 415, "unsupported Content-Encoding; only snappy is supported\n");
        return;
    }
    struct pl_err err;
    pl_err_clear(&err);
    int rc =
        srv_rw_decode_snappy(&st->req, req->body.data ? req->body.data : "", req->body.len, &err);
    if (rc) {
        srv__resp_text(resp, rc == PL_ERR_LIMIT ? 413 : 400, err.msg);
        pl_log(PL_LOG_WARN, "web", "rejected remote write request", "err", err.msg, NULL);
        return;
    }
    const struct srv_rw_request *r = &st->req;
    struct tsdb_appender *app;
    if ((rc = tsdb_appender_begin(s->db, &app))) {
        srv__resp_text(resp, 500, pl_err_str(rc));
        return;
    }
    char msg[1024];
    int status = 0;
    for (size_t i = 0; i < r->nseries && !status; i++) {
        pl_lb_reset(&st->lb);
        for (size_t j = r->lab_off[i]; j < r->lab_off[i + 1]; j++) {
            const struct srv_rw_label *l = &r->labels[j];
            size_t vl;
            if (l->name_len == 0 || !pl_label_name_valid(l->name, l->name_len)) {
                snprintf(msg, sizeof(msg), "invalid label name \"%.*s\": invalid sample",
                         (int)(l->name_len > 200 ? 200 : l->name_len), l->name);
                status = 400;
                break;
            }
            if (pl_lb_get(&st->lb, l->name, l->name_len, &vl)) {
                snprintf(msg, sizeof(msg), "label name \"%.*s\" is not unique: invalid sample",
                         (int)(l->name_len > 200 ? 200 : l->name_len), l->name);
                status = 400;
                break;
            }
            pl_lb_set(&st->lb, l->name, l->name_len, l->value, l->value_len);
        }
        if (status)
            break;
        if (r->smp_off[i] == r->smp_off[i + 1])
            continue;
        struct pl_labels *ls = pl_lb_labels(&st->lb);
        if (ls->n == 0) {
            pl_labels_free(ls);
            snprintf(msg, sizeof(msg), "series with no labels: invalid sample");
            status = 400;
            break;
        }
        uint64_t ref = 0;
        for (size_t k = r->smp_off[i]; k < r->smp_off[i + 1]; k++) {
            rc = k == r->smp_off[i] ? tsdb_append(app, ls, r->t[k], r->v[k], &ref)
                                    : tsdb_append_ref(app, ref, r->t[k], r->v[k]);
            if (rc) {
                struct pl_buf lt;
                pl_buf_init(&lt, 600);
                pl_labels_format(ls, &lt);
                snprintf(msg, sizeof(msg), "%s: series %s, timestamp %lld", append_error_text(rc),
                         pl_buf_cstr(&lt), (long long)r->t[k]);
                pl_buf_fini(&lt);
                status = (rc == PL_ERR_OUT_OF_ORDER || rc == PL_ERR_DUPLICATE ||
                          rc == PL_ERR_TOO_OLD || rc == PL_ERR_INVALID)
                             ? 400
                             : 500;
                break;
            }
        }
        pl_labels_free(ls);
    }
    if (status) {
        tsdb_appender_rollback(app);
        pl_log(PL_LOG_WARN, "web", "rejected remote write request", "err", msg, NULL);
        srv__resp_text(resp, status, msg);
        return;
    }
    if ((rc = tsdb_appender_commit(app, NULL, &err))) {
        pl_log(PL_LOG_ERROR, "web", "remote write commit failed", "err", err.msg, NULL);
        srv__resp_text(resp, 500, err.msg[0] ? err.msg : pl_err_str(rc));
        return;
    }
    resp->status = 204;
}

/* ---- text import ---- */

/*
 * Series already seen in this body, keyed by their text as written: repeated
 * lines of one series append by reference, with no label parsing or
 * allocation per sample. Open addressing, grown at half load.
 */
struct seen {
    const char *key;
    size_t klen;
    uint64_t hash, ref;
};
struct seen_map {
    struct seen *v;
    size_t n, cap; /* cap is a power of two */
};

static struct seen *seen_find(struct seen_map *m, const char *k, size_t n, uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct seen *e = &m->v[i];
        if (!e->key || (e->hash == h && e->klen == n && !memcmp(e->key, k, n)))
            return e;
    }
}

static void seen_add(struct seen_map *m, const char *k, size_t n, uint64_t h, uint64_t ref)
{
    if ((m->n + 1) * 2 > m->cap) {
        struct seen_map g = {pl_xcalloc(m->cap ? m->cap * 2 : 256, sizeof(struct seen)), 0,
                             m->cap ? m->cap * 2 : 256};
        for (size_t i = 0; i < m->cap; i++)
            if (m->v[i].key)
                *seen_find(&g, m->v[i].key, m->v[i].klen, m->v[i].hash) = m->v[i];
        g.n = m->n;
        free(m->v);
        *m = g;
    }
    struct seen *e = seen_find(m, k, n, h);
    e->key = k;
    e->klen = n;
    e->hash = h;
    e->ref = ref;
    m->n++;
}

void srv__api_import(struct srv *s, struct srv_req *req, struct srv_resp *resp)
{
    struct rw_state *st = rw_state_get();
    if (req->content_encoding && strcasecmp(req->content_encoding, "identity") != 0) {
        srv__resp_error(resp, 415, "bad_data", "unsupported Content-Encoding \"%s\"",
                        req->content_encoding);
        return;
    }
    const char *body = req->body.data ? req->body.data : "";
    size_t len = req->body.len;
    struct coll_expfmt_parser *p =
        coll_expfmt_detect(body, len) == COLL_EXPFMT_OPENMETRICS ? st->om : st->text;
    coll_expfmt_parser_reset(p, body, len);
    struct tsdb_appender *app;
    int rc = tsdb_appender_begin(s->db, &app);
    if (rc) {
        srv__resp_error(resp, 500, "internal", "%s", pl_err_str(rc));
        return;
    }
    struct seen_map seen = {NULL, 0, 0};
    int64_t now = pl_time_now_ms();
    struct coll_expfmt_entry e;
    struct coll_expfmt_err perr;
    int status = 0;
    while ((rc = coll_expfmt_next(p, &e, &perr)) > 0) {
        if (rc != COLL_EXPFMT_SAMPLE)
            continue;
        const struct coll_expfmt_sample *sm = &e.sample;
        int64_t t = sm->has_ts ? sm->ts_ms : now;
        uint64_t h = pl_hash64(sm->series.p, sm->series.n, 0);
        struct seen *hit = seen.cap ? seen_find(&seen, sm->series.p, sm->series.n, h) : NULL;
        if (hit && hit->key) {
            rc = tsdb_append_ref(app, hit->ref, t, sm->value);
        } else {
            for (size_t i = 0; i < sm->nlabels; i++)
                for (size_t j = 0; j < i; j++)
                    if (sm->labels[i].name.n == sm->labels[j].name.n &&
                        !memcmp(sm->labels[i].name.p, sm->labels[j].name.p, sm->labels[i].name.n)) {
                        srv__resp_error(
                            resp, 400, "bad_data", "line %u: label name \"%.*s\" is not unique",
                            e.line, (int)(sm->labels[i].name.n > 200 ? 200 : sm->labels[i].name.n),
                            sm->labels[i].name.p);
                        status = 400;
                        goto done;
                    }
            struct pl_labels *ls = coll_expfmt_sample_labels(sm, &st->lb);
            uint64_t ref = 0;
            rc = tsdb_append(app, ls, t, sm->value, &ref);
            pl_labels_free(ls);
            if (!rc)
                seen_add(&seen, sm->series.p, sm->series.n, h, ref);
        }
        if (rc) {
            int bad = rc == PL_ERR_OUT_OF_ORDER || rc == PL_ERR_DUPLICATE || rc == PL_ERR_TOO_OLD ||
                      rc == PL_ERR_INVALID;
            srv__resp_error(resp, bad ? 400 : 500, bad ? "bad_data" : "internal",
                            "line %u: %s: %.*s %lld", e.line, append_error_text(rc),
                            (int)(sm->series.n > 300 ? 300 : sm->series.n), sm->series.p,
                            (long long)t);
            status = bad ? 400 : 500;
            goto done;
        }
    }
    if (rc < 0) {
        srv__resp_error(resp, 400, "bad_data", "line %u:%u: %s", perr.line, perr.col, perr.msg);
        status = 400;
    }
done:
    free(seen.v);
    if (status) {
        tsdb_appender_rollback(app);
        pl_log(PL_LOG_WARN, "web", "rejected text import", "err", pl_buf_cstr(&resp->body), NULL);
        return;
    }
    struct pl_err err;
    pl_err_clear(&err);
    if ((rc = tsdb_appender_commit(app, NULL, &err))) {
        pl_log(PL_LOG_ERROR, "web", "text import commit failed", "err", err.msg, NULL);
        srv__resp_error(resp, 500, "internal", "%s", err.msg[0] ? err.msg : pl_err_str(rc));
        return;
    }
    resp->status = 204;
}
