/*
 * admin.c - the TSDB admin API (docs/querying/api.md, "TSDB Admin APIs"),
 * served only with --web.enable-admin-api: delete_series, clean_tombstones
 * and snapshot.
 */
#include "server/srv_int.h"

#include "common/log.h"
#include "common/mem.h"
#include "common/timeutil.h"

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
    struct srv_selectors sel;
    if (srv__selectors_parse(req, &sel, 1, resp))
        return;
    for (size_t i = 0; i < sel.n; i++) {
        struct pl_err err;
        pl_err_clear(&err);
        int rc = tsdb_delete_series(s->db, sel.v[i].ms, sel.v[i].n, start, end, &err);
        if (rc) {
            srv__selectors_free(&sel);
            srv__resp_error(resp, 500, "internal", "%s", err.msg[0] ? err.msg : pl_err_str(rc));
            return;
        }
    }
    srv__selectors_free(&sel);
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
