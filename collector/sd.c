/*
 * sd.c - service discovery providers: static, file (JSON/YAML, globs,
 * inotify plus refresh_interval) and DNS (SRV, A, AAAA via libresolv).
 *
 * Spec: https://prometheus.io/docs/prometheus/2.42/configuration/configuration/#file_sd_config
 * and #dns_sd_config; semantics from Prometheus 2.42 discovery/file/file.go
 * and discovery/dns/dns.go: group sources "PATH:INDEX" and the DNS name,
 * `__meta_filepath`, `__meta_dns_*` labels, previous groups kept when a file
 * or lookup fails, no groups for a vanished file or a name that does not exist.
 */
#include "collector/sd.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <glob.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <unistd.h>
#include <yaml.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/mem.h"

/* Largest file_sd file read, in bytes. */
#define FILE_SD_MAX_BYTES (32u << 20)

struct file_entry {
    char *path;
    struct coll_target_group *groups;
    size_t ngroups;
    int seen; /* matched by the current refresh */
};

struct file_prov {
    const struct coll_file_sd_config *cfg;
    struct file_entry *files;
    size_t nfiles, cap;
    int64_t next_ms;
};

struct dns_prov {
    const struct coll_dns_sd_config *cfg;
    struct coll_target_group *groups; /* one per name, index-aligned with cfg->names */
    int64_t next_ms;
};

struct coll_sd {
    struct coll_target_group *statics;
    size_t nstatics;
    struct file_prov *files;
    size_t nfile;
    struct dns_prov *dns;
    size_t ndns;
    int inotify_fd; /* -1 without file_sd or inotify */
    int polled;
    uint64_t failures;
};

/* ---- shared: building groups ---- */

struct group_builder {
    struct pl_labels **targets;
    size_t n, cap;
};

static void gb_add(struct group_builder *gb, struct pl_labels *ls)
{
    if (gb->n == gb->cap) {
        gb->cap = gb->cap ? gb->cap * 2 : 8;
        gb->targets = pl_xreallocarray(gb->targets, gb->cap, sizeof(*gb->targets));
    }
    gb->targets[gb->n++] = ls;
}

static void gb_discard(struct group_builder *gb)
{
    for (size_t i = 0; i < gb->n; i++)
        pl_labels_free(gb->targets[i]);
    free(gb->targets);
    memset(gb, 0, sizeof(*gb));
}

static void gb_finish(struct group_builder *gb, struct coll_target_group *g)
{
    g->targets = gb->targets;
    g->ntargets = gb->n;
    memset(gb, 0, sizeof(*gb));
}

static int utf8_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        size_t need = c < 0x80         ? 1
                      : (c >> 5) == 6  ? 2
                      : (c >> 4) == 14 ? 3
                      : (c >> 3) == 30 ? 4
                                       : 0;
        if (!need || i + need > n)
            return 0;
        for (size_t k = 1; k < need; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
        i += need;
    }
    return 1;
}

/* ---- file_sd: parsing ---- */

struct groups_vec {
    struct coll_target_group *v;
    size_t n, cap;
};

static struct coll_target_group *gv_push(struct groups_vec *gv)
{
    if (gv->n == gv->cap) {
        gv->cap = gv->cap ? gv->cap * 2 : 4;
        gv->v = pl_xreallocarray(gv->v, gv->cap, sizeof(*gv->v));
    }
    struct coll_target_group *g = &gv->v[gv->n++];
    memset(g, 0, sizeof(*g));
    return g;
}

static void set_source(struct coll_target_group *g, const char *path, size_t idx)
{
    struct pl_buf b;
    pl_buf_init(&b, 1u << 16);
    pl_buf_printf(&b, "%s:%zu", path, idx);
    g->source = pl_buf_steal(&b, NULL);
    if (!g->source)
        g->source = pl_xstrdup("");
}

static int parse_json_groups(const char *path, const char *text, size_t len, struct groups_vec *gv,
                             struct pl_err *err)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    if (!root)
        return pl_err_set(err, PL_ERR_INVALID, "%s:%d: %s", path, je.line, je.text);
    int rc = 0;
    if (!json_is_array(root)) {
        rc = pl_err_set(err, PL_ERR_INVALID,
                        "%s: json: cannot unmarshal into []*targetgroup.Group: not an array", path);
        goto out;
    }
    struct pl_labels_builder lb;
    pl_lb_init(&lb);
    for (size_t i = 0; i < json_array_size(root) && !rc; i++) {
        json_t *o = json_array_get(root, i);
        if (json_is_null(o)) {
            rc = pl_err_set(err, PL_ERR_INVALID, "%s: nil target group item found", path);
            break;
        }
        if (!json_is_object(o)) {
            rc = pl_err_set(err, PL_ERR_INVALID, "%s: group %zu is not an object", path, i);
            break;
        }
        struct coll_target_group *g = gv_push(gv);
        set_source(g, path, i);
        pl_lb_reset(&lb);
        json_t *labels = json_object_get(o, "labels");
        if (labels && !json_is_null(labels)) {
            if (!json_is_object(labels)) {
                rc = pl_err_set(err, PL_ERR_INVALID, "%s: group %zu: labels must be an object",
                                path, i);
                break;
            }
            const char *k;
            json_t *v;
            json_object_foreach(labels, k, v)
            {
                if (!pl_label_name_valid(k, strlen(k))) {
                    rc = pl_err_set(err, PL_ERR_INVALID, "%s: \"%s\" is not a valid label name",
                                    path, k);
                    break;
                }
                if (!json_is_string(v)) {
                    rc = pl_err_set(err, PL_ERR_INVALID, "%s: group %zu: label %s must be a string",
                                    path, i, k);
                    break;
                }
                pl_lb_set(&lb, k, strlen(k), json_string_value(v), json_string_length(v));
            }
            if (rc)
                break;
        }
        pl_lb_setz(&lb, COLL_SD_META_FILEPATH, path);
        g->labels = pl_lb_labels(&lb);
        json_t *targets = json_object_get(o, "targets");
        struct group_builder gb = {0};
        if (targets && !json_is_null(targets)) {
            if (!json_is_array(targets)) {
                rc = pl_err_set(err, PL_ERR_INVALID, "%s: group %zu: targets must be an array",
                                path, i);
                break;
            }
            for (size_t t = 0; t < json_array_size(targets); t++) {
                json_t *tv = json_array_get(targets, t);
                if (!json_is_string(tv)) {
                    rc = pl_err_set(err, PL_ERR_INVALID,
                                    "%s: group %zu: target %zu must be a string", path, i, t);
                    break;
                }
                pl_lb_reset(&lb);
                pl_lb_set(&lb, "__address__", 11, json_string_value(tv), json_string_length(tv));
                gb_add(&gb, pl_lb_labels(&lb));
            }
        }
        if (rc) {
            gb_discard(&gb);
            break;
        }
        gb_finish(&gb, g);
    }
    pl_lb_fini(&lb);
out:
    json_decref(root);
    return rc;
}

static yaml_node_t *ynode(yaml_document_t *d, int i)
{
    return yaml_document_get_node(d, i);
}

static int yaml_is_null(const yaml_node_t *n)
{
    if (!n)
        return 1;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static int parse_yaml_groups(const char *path, const char *text, size_t len, struct groups_vec *gv,
                             struct pl_err *err)
{
    yaml_parser_t p;
    yaml_document_t d;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, &d)) {
        int rc = pl_err_set(err, PL_ERR_INVALID, "%s:%zu: yaml: %s", path, p.problem_mark.line + 1,
                            p.problem ? p.problem : "error");
        yaml_parser_delete(&p);
        return rc;
    }
    yaml_parser_delete(&p);
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&d);
    if (!root || yaml_is_null(root))
        goto out;
    if (root->type != YAML_SEQUENCE_NODE) {
        rc = pl_err_set(err, PL_ERR_INVALID,
                        "%s:%zu: cannot unmarshal into []*targetgroup.Group: not a list", path,
                        root->start_mark.line + 1);
        goto out;
    }
    struct pl_labels_builder lb;
    pl_lb_init(&lb);
    size_t idx = 0;
    for (yaml_node_item_t *it = root->data.sequence.items.start;
         it < root->data.sequence.items.top && !rc; it++, idx++) {
        yaml_node_t *o = ynode(&d, *it);
        int line = (int)o->start_mark.line + 1;
        if (yaml_is_null(o)) {
            rc = pl_err_set(err, PL_ERR_INVALID, "%s: nil target group item found", path);
            break;
        }
        if (o->type != YAML_MAPPING_NODE) {
            rc = pl_err_set(err, PL_ERR_INVALID, "%s:%d: a target group must be a mapping", path,
                            line);
            break;
        }
        yaml_node_t *targets = NULL, *labels = NULL;
        for (yaml_node_pair_t *pr = o->data.mapping.pairs.start; pr < o->data.mapping.pairs.top;
             pr++) {
            yaml_node_t *k = ynode(&d, pr->key);
            const char *ks = k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
            if (!strcmp(ks, "targets"))
                targets = ynode(&d, pr->value);
            else if (!strcmp(ks, "labels"))
                labels = ynode(&d, pr->value);
            else {
                rc = pl_err_set(err, PL_ERR_INVALID,
                                "%s:%zu: field %s not found in type targetgroup.Group", path,
                                k->start_mark.line + 1, ks);
                break;
            }
        }
        if (rc)
            break;
        struct coll_target_group *g = gv_push(gv);
        set_source(g, path, idx);
        pl_lb_reset(&lb);
        if (labels && !yaml_is_null(labels)) {
            if (labels->type != YAML_MAPPING_NODE) {
                rc = pl_err_set(err, PL_ERR_INVALID, "%s:%zu: labels must be a mapping", path,
                                labels->start_mark.line + 1);
                break;
            }
            for (yaml_node_pair_t *pr = labels->data.mapping.pairs.start;
                 pr < labels->data.mapping.pairs.top; pr++) {
                yaml_node_t *k = ynode(&d, pr->key), *v = ynode(&d, pr->value);
                if (k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE) {
                    rc = pl_err_set(err, PL_ERR_INVALID, "%s:%zu: labels must map names to strings",
                                    path, k->start_mark.line + 1);
                    break;
                }
                const char *ks = (const char *)k->data.scalar.value;
                if (!pl_label_name_valid(ks, k->data.scalar.length)) {
                    rc = pl_err_set(err, PL_ERR_INVALID, "%s:%zu: \"%s\" is not a valid label name",
                                    path, k->start_mark.line + 1, ks);
                    break;
                }
                const char *vs = yaml_is_null(v) ? "" : (const char *)v->data.scalar.value;
                pl_lb_set(&lb, ks, k->data.scalar.length, vs, strlen(vs));
            }
            if (rc)
                break;
        }
        pl_lb_setz(&lb, COLL_SD_META_FILEPATH, path);
        g->labels = pl_lb_labels(&lb);
        struct group_builder gb = {0};
        if (targets && !yaml_is_null(targets)) {
            if (targets->type != YAML_SEQUENCE_NODE) {
                rc = pl_err_set(err, PL_ERR_INVALID, "%s:%zu: targets must be a list", path,
                                targets->start_mark.line + 1);
                break;
            }
            for (yaml_node_item_t *ti = targets->data.sequence.items.start;
                 ti < targets->data.sequence.items.top; ti++) {
                yaml_node_t *tv = ynode(&d, *ti);
                if (tv->type != YAML_SCALAR_NODE) {
                    rc = pl_err_set(err, PL_ERR_INVALID, "%s:%zu: a target must be a string", path,
                                    tv->start_mark.line + 1);
                    break;
                }
                pl_lb_reset(&lb);
                pl_lb_set(&lb, "__address__", 11, (const char *)tv->data.scalar.value,
                          tv->data.scalar.length);
                gb_add(&gb, pl_lb_labels(&lb));
            }
        }
        if (rc) {
            gb_discard(&gb);
            break;
        }
        gb_finish(&gb, g);
    }
    pl_lb_fini(&lb);
out:
    yaml_document_delete(&d);
    return rc;
}

int coll_file_sd_parse(const char *path, const char *text, size_t len,
                       struct coll_target_group **out, size_t *nout, struct pl_err *err)
{
    if (!utf8_ok(text, len))
        return pl_err_set(err, PL_ERR_INVALID, "%s: file is not valid UTF-8", path);
    struct groups_vec gv = {0};
    size_t pl = strlen(path);
    int json = pl >= 5 && !strcasecmp(path + pl - 5, ".json");
    int rc = json ? parse_json_groups(path, text, len, &gv, err)
                  : parse_yaml_groups(path, text, len, &gv, err);
    if (rc) {
        coll_target_groups_free(gv.v, gv.n);
        return rc;
    }
    *out = gv.v;
    *nout = gv.n;
    return 0;
}

/* ---- file_sd: refreshing ---- */

static int read_file(const char *path, struct pl_buf *b, struct pl_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return pl_err_set(err, -errno, "open %s: %s", path, strerror(errno));
    char chunk[16384];
    size_t got;
    int rc = 0;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (pl_buf_append(b, chunk, got) != 0) {
            rc = pl_err_set(err, PL_ERR_LIMIT, "%s: larger than %u bytes", path, FILE_SD_MAX_BYTES);
            break;
        }
    if (!rc && ferror(f))
        rc = pl_err_set(err, PL_ERR_IO, "read %s: %s", path, strerror(errno));
    fclose(f);
    return rc;
}

static struct file_entry *file_entry(struct file_prov *fp, const char *path)
{
    for (size_t i = 0; i < fp->nfiles; i++)
        if (!strcmp(fp->files[i].path, path))
            return &fp->files[i];
    if (fp->nfiles == fp->cap) {
        fp->cap = fp->cap ? fp->cap * 2 : 8;
        fp->files = pl_xreallocarray(fp->files, fp->cap, sizeof(*fp->files));
    }
    struct file_entry *e = &fp->files[fp->nfiles++];
    memset(e, 0, sizeof(*e));
    e->path = pl_xstrdup(path);
    return e;
}

/* Rereads every file of the provider. Returns 1 if groups changed. */
static int file_refresh(struct coll_sd *sd, struct file_prov *fp)
{
    int changed = 0;
    for (size_t i = 0; i < fp->nfiles; i++)
        fp->files[i].seen = 0;
    struct pl_buf b;
    pl_buf_init(&b, FILE_SD_MAX_BYTES);
    for (size_t p = 0; p < fp->cfg->nfiles; p++) {
        glob_t g;
        int grc = glob(fp->cfg->files[p], 0, NULL, &g);
        if (grc != 0) {
            if (grc != GLOB_NOMATCH) {
                sd->failures++;
                pl_log(PL_LOG_ERROR, "discovery", "Error expanding glob", "glob", fp->cfg->files[p],
                       NULL);
            }
            globfree(&g);
            continue;
        }
        for (size_t k = 0; k < g.gl_pathc; k++) {
            const char *path = g.gl_pathv[k];
            struct file_entry *e = file_entry(fp, path);
            e->seen = 1;
            struct pl_err err;
            struct coll_target_group *groups = NULL;
            size_t ng = 0;
            pl_buf_reset(&b);
            if (read_file(path, &b, &err) != 0 ||
                coll_file_sd_parse(path, b.data ? b.data : "", b.len, &groups, &ng, &err) != 0) {
                /* Keep the previous groups of this file, as Prometheus does. */
                sd->failures++;
                pl_log(PL_LOG_ERROR, "discovery", "Error reading file", "path", path, "err",
                       err.msg, NULL);
                continue;
            }
            coll_target_groups_free(e->groups, e->ngroups);
            e->groups = groups;
            e->ngroups = ng;
            changed = 1;
        }
        globfree(&g);
    }
    pl_buf_fini(&b);
    /* Files no longer matched lose their targets. */
    for (size_t i = 0; i < fp->nfiles;) {
        if (fp->files[i].seen) {
            i++;
            continue;
        }
        coll_target_groups_free(fp->files[i].groups, fp->files[i].ngroups);
        free(fp->files[i].path);
        fp->files[i] = fp->files[--fp->nfiles];
        changed = 1;
    }
    return changed;
}

static void watch_dirs(struct coll_sd *sd)
{
    if (sd->inotify_fd < 0)
        return;
    for (size_t i = 0; i < sd->nfile; i++)
        for (size_t k = 0; k < sd->files[i].cfg->nfiles; k++) {
            char *dir = pl_xstrdup(sd->files[i].cfg->files[k]);
            char *slash = strrchr(dir, '/');
            if (slash)
                *(slash == dir ? slash + 1 : slash) = '\0';
            else
                strcpy(dir, ".");
            /* Adding the same directory twice returns the same watch. */
            if (inotify_add_watch(sd->inotify_fd, dir,
                                  IN_CREATE | IN_DELETE | IN_MODIFY | IN_MOVED_FROM | IN_MOVED_TO |
                                      IN_CLOSE_WRITE) < 0)
                pl_log(PL_LOG_WARN, "discovery", "Cannot watch directory; using refresh_interval",
                       "dir", dir, "err", strerror(errno), NULL);
            free(dir);
        }
}

/* Drains inotify; returns 1 if any event arrived. */
static int drain_inotify(struct coll_sd *sd)
{
    if (sd->inotify_fd < 0)
        return 0;
    int any = 0;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(sd->inotify_fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        any = 1;
    }
    return any;
}

/* ---- dns_sd ---- */

static void join_host_port(char *out, size_t outlen, const char *host, int port)
{
    if (strchr(host, ':'))
        snprintf(out, outlen, "[%s]:%d", host, port);
    else
        snprintf(out, outlen, "%s:%d", host, port);
}

int coll_dns_sd_parse(const unsigned char *msg, size_t len, const char *name,
                      enum coll_dns_type type, int port, struct coll_target_group *g,
                      struct pl_err *err)
{
    memset(g, 0, sizeof(*g));
    ns_msg h;
    if (len > 65535 || ns_initparse(msg, (int)len, &h) < 0)
        return pl_err_set(err, PL_ERR_INVALID, "dns %s: malformed response", name);
    struct group_builder gb = {0};
    struct pl_labels_builder lb;
    pl_lb_init(&lb);
    int count = ns_msg_count(h, ns_s_an);
    int rc = 0;
    for (int i = 0; i < count; i++) {
        ns_rr rr;
        if (ns_parserr(&h, ns_s_an, i, &rr) < 0) {
            rc = pl_err_set(err, PL_ERR_INVALID, "dns %s: malformed answer record %d", name, i);
            break;
        }
        char addr[NS_MAXDNAME + 16], tgt[NS_MAXDNAME + 2] = "", portstr[8] = "";
        const unsigned char *rd = ns_rr_rdata(rr);
        unsigned rdlen = ns_rr_rdlen(rr);
        int t = ns_rr_type(rr);
        if (t == ns_t_srv && type == COLL_DNS_SRV) {
            if (rdlen < 7) {
                rc = pl_err_set(err, PL_ERR_INVALID, "dns %s: short SRV record", name);
                break;
            }
            int sport = (rd[4] << 8) | rd[5];
            char host[NS_MAXDNAME];
            if (ns_name_uncompress(ns_msg_base(h), ns_msg_end(h), rd + 6, host, sizeof(host)) < 0) {
                rc = pl_err_set(err, PL_ERR_INVALID, "dns %s: bad SRV target", name);
                break;
            }
            /* Go's miekg/dns keeps the final dot; the address drops it. */
            size_t hl = strlen(host);
            if (hl == 0 || host[hl - 1] != '.')
                snprintf(tgt, sizeof(tgt), "%s.", host);
            else
                snprintf(tgt, sizeof(tgt), "%s", host);
            while (hl > 0 && host[hl - 1] == '.')
                host[--hl] = '\0';
            snprintf(portstr, sizeof(portstr), "%d", sport);
            join_host_port(addr, sizeof(addr), host, sport);
        } else if (t == ns_t_a && type == COLL_DNS_A && rdlen == 4) {
            char ip[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, rd, ip, sizeof(ip));
            join_host_port(addr, sizeof(addr), ip, port);
        } else if (t == ns_t_aaaa && type == COLL_DNS_AAAA && rdlen == 16) {
            char ip[INET6_ADDRSTRLEN];
            inet_ntop(AF_INET6, rd, ip, sizeof(ip));
            join_host_port(addr, sizeof(addr), ip, port);
        } else {
            continue; /* CNAME on the way, or a record we did not ask for */
        }
        pl_lb_reset(&lb);
        pl_lb_setz(&lb, "__address__", addr);
        pl_lb_setz(&lb, COLL_SD_META_DNS_NAME, name);
        pl_lb_setz(&lb, COLL_SD_META_DNS_SRV_TGT, tgt);
        pl_lb_setz(&lb, COLL_SD_META_DNS_SRV_PORT, portstr);
        gb_add(&gb, pl_lb_labels(&lb));
    }
    pl_lb_fini(&lb);
    if (rc) {
        gb_discard(&gb);
        return rc;
    }
    gb_finish(&gb, g);
    g->source = pl_xstrdup(name);
    return 0;
}

/*
 * Resolves one name. Returns 0 with *g filled (empty for a name that does not
 * exist or has no such records), or an error (previous group kept).
 */
static int dns_lookup(const struct coll_dns_sd_config *cfg, const char *name,
                      struct coll_target_group *g, struct pl_err *err)
{
    int qtype = cfg->type == COLL_DNS_SRV ? ns_t_srv : cfg->type == COLL_DNS_A ? ns_t_a : ns_t_aaaa;
    struct __res_state st;
    memset(&st, 0, sizeof(st));
    if (res_ninit(&st) != 0)
        return pl_err_set(err, PL_ERR_IO, "dns %s: resolver initialisation failed", name);
    /* Bounded: 2 s per try, 2 tries, so shutdown never waits long on DNS. */
    st.retrans = 2;
    st.retry = 2;
    unsigned char *ans = pl_xmalloc(65536);
    int n = res_nsearch(&st, name, ns_c_in, qtype, ans, 65536);
    int rc;
    if (n < 0) {
        int he = st.res_h_errno;
        if (he == HOST_NOT_FOUND || he == NO_DATA) {
            memset(g, 0, sizeof(*g));
            g->source = pl_xstrdup(name);
            rc = 0;
        } else {
            rc = pl_err_set(err, PL_ERR_IO, "dns %s: lookup failed: %s", name, hstrerror(he));
        }
    } else {
        rc = coll_dns_sd_parse(ans, (size_t)n, name, cfg->type, cfg->port, g, err);
    }
    free(ans);
    res_nclose(&st);
    return rc;
}

static int dns_refresh(struct coll_sd *sd, struct dns_prov *dp)
{
    int changed = 0;
    for (size_t i = 0; i < dp->cfg->nnames; i++) {
        struct coll_target_group g;
        struct pl_err err;
        if (dns_lookup(dp->cfg, dp->cfg->names[i], &g, &err) != 0) {
            sd->failures++;
            pl_log(PL_LOG_ERROR, "discovery", "Error refreshing DNS targets", "name",
                   dp->cfg->names[i], "err", err.msg, NULL);
            continue;
        }
        coll_target_group_fini(&dp->groups[i]);
        dp->groups[i] = g;
        changed = 1;
    }
    return changed;
}

/* ---- the set of providers ---- */

int coll_sd_new(const struct coll_static_config *st, size_t nst,
                const struct coll_file_sd_config *files, size_t nfiles,
                const struct coll_dns_sd_config *dns, size_t ndns, struct coll_sd **out,
                struct pl_err *err)
{
    struct coll_sd *sd = pl_xcalloc(1, sizeof(*sd));
    sd->inotify_fd = -1;
    coll_static_groups(st, nst, &sd->statics, &sd->nstatics);
    if (nfiles) {
        sd->files = pl_xcalloc(nfiles, sizeof(*sd->files));
        sd->nfile = nfiles;
        for (size_t i = 0; i < nfiles; i++)
            sd->files[i].cfg = &files[i];
        sd->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (sd->inotify_fd < 0)
            pl_log(PL_LOG_WARN, "discovery", "inotify unavailable; using refresh_interval", "err",
                   strerror(errno), NULL);
        watch_dirs(sd);
    }
    if (ndns) {
        sd->dns = pl_xcalloc(ndns, sizeof(*sd->dns));
        sd->ndns = ndns;
        for (size_t i = 0; i < ndns; i++) {
            sd->dns[i].cfg = &dns[i];
            sd->dns[i].groups =
                pl_xcalloc(dns[i].nnames ? dns[i].nnames : 1, sizeof(*sd->dns[i].groups));
        }
    }
    (void)err;
    *out = sd;
    return 0;
}

void coll_sd_free(struct coll_sd *sd)
{
    if (!sd)
        return;
    coll_target_groups_free(sd->statics, sd->nstatics);
    for (size_t i = 0; i < sd->nfile; i++) {
        for (size_t k = 0; k < sd->files[i].nfiles; k++) {
            coll_target_groups_free(sd->files[i].files[k].groups, sd->files[i].files[k].ngroups);
            free(sd->files[i].files[k].path);
        }
        free(sd->files[i].files);
    }
    free(sd->files);
    for (size_t i = 0; i < sd->ndns; i++)
        coll_target_groups_free(sd->dns[i].groups, sd->dns[i].cfg->nnames);
    free(sd->dns);
    if (sd->inotify_fd >= 0)
        close(sd->inotify_fd);
    free(sd);
}

int coll_sd_poll(struct coll_sd *sd, int64_t now_ms)
{
    int changed = 0;
    int first = !sd->polled;
    sd->polled = 1;
    if (first)
        changed = 1; /* the static groups appear */
    int file_event = drain_inotify(sd);
    for (size_t i = 0; i < sd->nfile; i++) {
        struct file_prov *fp = &sd->files[i];
        if (first || file_event || now_ms >= fp->next_ms) {
            changed |= file_refresh(sd, fp);
            fp->next_ms = now_ms + fp->cfg->refresh_ms;
        }
    }
    for (size_t i = 0; i < sd->ndns; i++) {
        struct dns_prov *dp = &sd->dns[i];
        if (first || now_ms >= dp->next_ms) {
            changed |= dns_refresh(sd, dp);
            dp->next_ms = now_ms + dp->cfg->refresh_ms;
        }
    }
    return changed;
}

int64_t coll_sd_next_due(const struct coll_sd *sd)
{
    int64_t due = INT64_MAX;
    if (!sd->polled)
        return 0;
    for (size_t i = 0; i < sd->nfile; i++)
        if (sd->files[i].next_ms < due)
            due = sd->files[i].next_ms;
    for (size_t i = 0; i < sd->ndns; i++)
        if (sd->dns[i].next_ms < due)
            due = sd->dns[i].next_ms;
    return due;
}

size_t coll_sd_fds(const struct coll_sd *sd, int *fds, size_t max)
{
    if (sd->inotify_fd >= 0 && max > 0) {
        fds[0] = sd->inotify_fd;
        return 1;
    }
    return 0;
}

void coll_sd_foreach(const struct coll_sd *sd,
                     void (*fn)(const struct coll_target_group *g, void *ud), void *ud)
{
    for (size_t i = 0; i < sd->nstatics; i++)
        fn(&sd->statics[i], ud);
    for (size_t i = 0; i < sd->nfile; i++)
        for (size_t k = 0; k < sd->files[i].nfiles; k++)
            for (size_t j = 0; j < sd->files[i].files[k].ngroups; j++)
                fn(&sd->files[i].files[k].groups[j], ud);
    for (size_t i = 0; i < sd->ndns; i++)
        for (size_t k = 0; k < sd->dns[i].cfg->nnames; k++)
            if (sd->dns[i].groups[k].source)
                fn(&sd->dns[i].groups[k], ud);
}

uint64_t coll_sd_failures(const struct coll_sd *sd)
{
    return sd->failures;
}
