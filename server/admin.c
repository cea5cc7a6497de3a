/*
 * admin.c - the TSDB admin API (docs/querying/api.md, "TSDB Admin APIs"),
 * served only with --web.enable-admin-api: delete_series, clean_tombstones
 * and snapshot.
 */
#include "server/srv_int.h"

#include "common/log.h"
#include "common/mem.h"
#include "common/timeutil.h"
#include "query/ast.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static int admin_time(struct srv_req *req, const char *name, int64_t def, int64_t *out,
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

void srv__api_delete_series(struct srv *s, struct srv_req *req, struct srv_resp *resp)
{
    if (srv_params_count(&req->params, "match[]") == 0) {
        srv__resp_error(resp, 400, "bad_data", "no match[] parameter provided");
        return;
    }
    int64_t start, end;
    if (admin_time(req, "start", PL_TIME_MIN, &start, resp) ||
        admin_time(req, "end", PL_TIME_MAX, &end, resp))
        return;
    for (size_t i = 0; i < req->params.n; i++) {
        const struct srv_param *p = &req->params.v[i];
        if (strcmp(p->key, "match[]") != 0)
            continue;
        struct query_expr *e = NULL;
        struct query_parse_err pe;
        memset(&pe, 0, sizeof(pe));
        if (query_parse(p->value, p->vlen, &e, &pe)) {
            srv__resp_error(resp, 400, "bad_data", "%d:%d: parse error: %s", pe.line, pe.col,
                            pe.msg);
            return;
        }
        const struct query_node *root = e->root;
        if (root->kind != QUERY_NODE_VECTOR_SELECTOR) {
            query_expr_free(e);
            srv__resp_error(resp, 400, "bad_data", "1:1: parse error: expected a series selector");
            return;
        }
        int nonempty = 0;
        for (size_t j = 0; j < root->vs.nmatchers; j++)
            nonempty |= !tsdb_matcher_matches_empty(root->vs.matchers[j]);
        if (!nonempty) {
            query_expr_free(e);
            srv__resp_error(resp, 400, "bad_data",
                            "match[] must contain at least one non-empty matcher");
            return;
        }
        struct pl_err err;
        pl_err_clear(&err);
        int rc = tsdb_delete_series(s->db, root->vs.matchers, root->vs.nmatchers, start, end, &err);
        query_expr_free(e);
        if (rc) {
            srv__resp_error(resp, 500, "internal", "%s", err.msg[0] ? err.msg : pl_err_str(rc));
            return;
        }
    }
    resp->status = 204;
}

void srv__api_clean_tombstones(struct srv *s, struct srv_req *req, struct srv_resp *resp)
{
    struct pl_err err;
    pl_err_clear(&err);
    int rc = tsdb_clean_tombstones(s->db, &err);
    if (rc) {
        srv__resp_error(resp, 500, "internal", "%s", err.msg[0] ? err.msg : pl_err_str(rc));
        return;
    }
    resp->status = 204;
}

void srv__api_snapshot(struct srv *s, struct srv_req *req, struct srv_resp *resp)
{
    /* <data>/snapshots/<UTC time>-<random hex>, as Prometheus names them. */
    char dir[2048], name[64];
    int64_t now = pl_time_now_ms();
    time_t secs = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(name, sizeof(name), "%Y%m%dT%H%M%SZ", &tm);
    unsigned long long rnd = (unsigned long long)pl_mono_ns() ^ ((unsigned long long)now << 20);
    snprintf(name + n, sizeof(name) - n, "-%016llx", rnd);
    snprintf(dir, sizeof(dir), "%s/snapshots", s->flags.tsdb_path);
    if (mkdir(dir, 0777) && errno != EEXIST) {
        srv__resp_error(resp, 500, "internal", "create snapshot directory: %s", strerror(errno));
        return;
    }
    snprintf(dir, sizeof(dir), "%s/snapshots/%s", s->flags.tsdb_path, name);
    struct pl_err err;
    pl_err_clear(&err);
    int rc = tsdb_snapshot(s->db, dir, &err);
    if (rc) {
        srv__resp_error(resp, 500, "internal", "create snapshot: %s",
                        err.msg[0] ? err.msg : pl_err_str(rc));
        return;
    }
    pl_log(PL_LOG_INFO, "web", "snapshot created", "dir", dir, NULL);
    struct pl_buf data;
    pl_buf_init(&data, 256);
    pl_buf_puts(&data, "{\"name\":\"");
    pl_buf_puts(&data, name);
    pl_buf_puts(&data, "\"}");
    srv__resp_success(resp, &data);
    pl_buf_fini(&data);
}
