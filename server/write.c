/*
 * write.c - the write side of the HTTP API: the remote write 1.0 receiver
 * (POST /api/v1/write, remote_write_spec.md). One request is one append
 * batch (one WAL record): 204 means the samples are durable. As Prometheus
 * 2.42 does, a request with any rejected sample is rolled back whole and
 * answered 400 (never retried by senders); storage failures are 500 (retried).
 */
#include "server/srv_int.h"

#include "common/log.h"
#include "common/mem.h"
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
 * freed by the key's destructor when an MHD pool thread exits.
 */
struct rw_state {
    struct srv_rw_request req;
    struct pl_labels_builder lb;
};
static pthread_key_t rw_key;
static pthread_once_t rw_once = PTHREAD_ONCE_INIT;

static void rw_state_free(void *p)
{
    struct rw_state *st = p;
    srv_rw_request_fini(&st->req);
    pl_lb_fini(&st->lb);
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
