/*
 * binop.c - PromQL binary operators (Prometheus 2.42, promql/engine.go):
 * arithmetic with Go float64 semantics (% is math.Mod, ^ is math.Pow),
 * comparisons (filtering, or 0/1 with bool), atan2, the set operators
 * and/or/unless, and vector matching with on/ignoring and
 * group_left/group_right, including Prometheus's matching errors.
 *
 * Match signatures are computed once per series; each step then joins the
 * samples present through a hash table of the "one" side.
 */
#include "query/eval_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

/* vectorElemBinop: the value and whether a comparison keeps the sample. */
static double elem_binop(enum query_binop op, double l, double r, int *keep)
{
    *keep = 1;
    switch (op) {
    case QUERY_OP_ADD:
        return l + r;
    case QUERY_OP_SUB:
        return l - r;
    case QUERY_OP_MUL:
        return l * r;
    case QUERY_OP_DIV:
        return l / r;
    case QUERY_OP_POW:
        return pow(l, r);
    case QUERY_OP_MOD:
        return fmod(l, r);
    case QUERY_OP_ATAN2:
        return atan2(l, r);
    case QUERY_OP_EQL:
        *keep = l == r;
        return l;
    case QUERY_OP_NEQ:
        *keep = l != r;
        return l;
    case QUERY_OP_GTR:
        *keep = l > r;
        return l;
    case QUERY_OP_LSS:
        *keep = l < r;
        return l;
    case QUERY_OP_GTE:
        *keep = l >= r;
        return l;
    case QUERY_OP_LTE:
        *keep = l <= r;
        return l;
    default:
        *keep = 0;
        return NAN;
    }
}

static int drops_name(enum query_binop op)
{
    switch (op) {
    case QUERY_OP_ADD:
    case QUERY_OP_SUB:
    case QUERY_OP_MUL:
    case QUERY_OP_DIV:
    case QUERY_OP_POW:
    case QUERY_OP_MOD:
        return 1; /* not atan2: Prometheus 2.42 keeps the name there */
    default:
        return 0;
    }
}

__attribute__((noinline)) static int scalar_scalar(struct ev_ctx *c, const struct query_node *n,
                                                   struct ev_value *l, struct ev_value *r,
                                                   struct ev_value *out)
{
    out->type = QUERY_VT_SCALAR;
    out->sc = l->sc;
    l->sc = NULL;
    for (size_t k = 0; k < c->nsteps; k++) {
        int keep;
        double v = elem_binop(n->binary.op, out->sc[k], r->sc[k], &keep);
        if (query_binop_is_comparison(n->binary.op))
            v = keep ? 1 : 0;
        out->sc[k] = v;
    }
    return query__tick(c, c->nsteps);
}

/* vector op scalar (swap = 0) or scalar op vector (swap = 1). */
__attribute__((noinline)) static int vector_scalar(struct ev_ctx *c, const struct query_node *n,
                                                   struct ev_value *vec, const double *sc, int swap,
                                                   struct ev_value *out)
{
    enum query_binop op = n->binary.op;
    int cmp = query_binop_is_comparison(op);
    int rb = n->binary.return_bool;
    out->type = QUERY_VT_VECTOR;
    for (size_t i = 0; i < vec->m.n; i++) {
        struct ev_series *s = &vec->m.s[i];
        struct ev_series *o = NULL;
        for (size_t j = 0; j < s->n; j++) {
            size_t k = (size_t)((s->t[j] - c->start) / c->step);
            double lv = s->v[j], rv = sc[k];
            if (swap) {
                double t = lv;
                lv = rv;
                rv = t;
            }
            int keep;
            double v = elem_binop(op, lv, rv, &keep);
            if (cmp && swap)
                v = rv; /* the vector's value, even on the right */
            if (rb) {
                v = keep ? 1 : 0;
                keep = 1;
            }
            if (!keep)
                continue;
            if (!o) {
                const struct pl_labels *ls = s->ls;
                if (drops_name(op) || rb)
                    ls = query__drop_name(c, ls);
                o = query__matrix_add(&out->m, ls);
            }
            query__series_push(o, s->t[j], v);
        }
        if (o) {
            int rc = query__samples_add(c, o->n);
            if (rc)
                return rc;
        }
        int rc = query__tick(c, 1 + s->n);
        if (rc)
            return rc;
    }
    return query__matrix_dedupe(c, &out->m);
}

/* Go's strconv.Quote for label values (ASCII-printable kept, the rest escaped). */
static void quote_go(struct pl_buf *b, const char *s)
{
    pl_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            pl_buf_puts(b, "\\\"");
            break;
        case '\\':
            pl_buf_puts(b, "\\\\");
            break;
        case '\n':
            pl_buf_puts(b, "\\n");
            break;
        case '\t':
            pl_buf_puts(b, "\\t");
            break;
        case '\r':
            pl_buf_puts(b, "\\r");
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                pl_buf_printf(b, "\\x%02x", *p);
            else
                pl_buf_putc(b, (char)*p);
        }
    }
    pl_buf_putc(b, '"');
}

/* labels.Labels.String(): {a="1", b="2"}, __name__ included as a label. */
static void labels_go_string(struct pl_buf *b, const struct pl_labels *ls)
{
    pl_buf_putc(b, '{');
    for (uint32_t i = 0; i < ls->n; i++) {
        if (i)
            pl_buf_puts(b, ", ");
        pl_buf_puts(b, ls->v[i].name);
        pl_buf_putc(b, '=');
        quote_go(b, ls->v[i].value);
    }
    pl_buf_putc(b, '}');
}

static int in_list(const char *name, const char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

/* labels.MatchLabels(on, names...). */
static const struct pl_labels *match_labels(struct ev_ctx *c, const struct pl_labels *ls,
                                            const struct query_vector_matching *vm)
{
    pl_lb_reset(&c->lb);
    for (uint32_t i = 0; i < ls->n; i++) {
        int ok = in_list(ls->v[i].name, vm->labels, vm->nlabels);
        if (vm->on == ok && (vm->on || strcmp(ls->v[i].name, PL_METRIC_NAME) != 0))
            pl_lb_set(&c->lb, ls->v[i].name, ls->v[i].name_len, ls->v[i].value, ls->v[i].value_len);
    }
    return query__lb_pooled(c);
}

static uint64_t signature(const struct pl_labels *ls, const struct query_vector_matching *vm,
                          const char **ign, size_t nign)
{
    if (vm && vm->on)
        return pl_labels_hash_subset(ls, vm->labels, vm->nlabels, 1);
    return pl_labels_hash_subset(ls, ign, nign, 0);
}

/* resultMetric in Prometheus. */
static const struct pl_labels *result_metric(struct ev_ctx *c, const struct pl_labels *l,
                                             const struct pl_labels *r, enum query_binop op,
                                             const struct query_vector_matching *vm, int rb)
{
    pl_lb_reset_from(&c->lb, l);
    if (drops_name(op) || rb)
        pl_lb_del(&c->lb, PL_METRIC_NAME, strlen(PL_METRIC_NAME));
    if (vm->card == QUERY_CARD_ONE_TO_ONE) {
        if (vm->on) {
            for (uint32_t i = 0; i < l->n; i++)
                if (!in_list(l->v[i].name, vm->labels, vm->nlabels))
                    pl_lb_del(&c->lb, l->v[i].name, l->v[i].name_len);
        } else {
            for (size_t i = 0; i < vm->nlabels; i++)
                pl_lb_del(&c->lb, vm->labels[i], strlen(vm->labels[i]));
        }
    }
    for (size_t i = 0; i < vm->ninclude; i++) {
        const struct pl_label *x = pl_labels_get(r, vm->include[i]);
        if (x)
            pl_lb_set(&c->lb, x->name, x->name_len, x->value, x->value_len);
        else
            pl_lb_del(&c->lb, vm->include[i], strlen(vm->include[i]));
    }
    return query__lb_pooled(c);
}

/* Output series keyed by labels: a new series per sample in instant mode. */
struct outc {
    struct ev_hmap h;
};

static struct ev_series *out_get(struct ev_ctx *c, struct outc *oc, struct ev_matrix *m,
                                 const struct pl_labels *ls)
{
    if (c->nsteps > 1) {
        uint32_t it = 0, idx;
        while (query__hmap_iter(&oc->h, ls->hash, &it, &idx))
            if (pl_labels_equal(m->s[idx].ls, ls))
                return &m->s[idx];
        query__hmap_put(&oc->h, ls->hash, (uint32_t)m->n);
    }
    return query__matrix_add(m, ls);
}

__attribute__((noinline)) static int vector_vector(struct ev_ctx *c, const struct query_node *n,
                                                   struct ev_value *lv, struct ev_value *rv,
                                                   struct ev_value *out)
{
    enum query_binop op = n->binary.op;
    const struct query_vector_matching *vm = n->binary.matching;
    struct query_vector_matching dflt = {0};
    if (!vm) {
        dflt.card = query_binop_is_set(op) ? QUERY_CARD_MANY_TO_MANY : QUERY_CARD_ONE_TO_ONE;
        vm = &dflt;
    }
    int rb = n->binary.return_bool;
    /* ignoring(...) also ignores the metric name. */
    size_t nign = vm->on ? 0 : vm->nlabels + 1;
    const char **ign = pl_xmalloc((nign + 1) * sizeof(*ign));
    for (size_t i = 0; !vm->on && i < vm->nlabels; i++)
        ign[i] = vm->labels[i];
    if (!vm->on)
        ign[vm->nlabels] = PL_METRIC_NAME;

    size_t nl = lv->m.n, nr = rv->m.n;
    uint64_t *lsig = pl_xmalloc((nl + 1) * sizeof(*lsig));
    uint64_t *rsig = pl_xmalloc((nr + 1) * sizeof(*rsig));
    for (size_t i = 0; i < nl; i++)
        lsig[i] = signature(lv->m.s[i].ls, vm, ign, nign);
    for (size_t i = 0; i < nr; i++)
        rsig[i] = signature(rv->m.s[i].ls, vm, ign, nign);
    free(ign);

    size_t *lcur = pl_xcalloc(nl + 1, sizeof(size_t));
    size_t *rcur = pl_xcalloc(nr + 1, sizeof(size_t));
    /* per-step present samples: series index and value */
    uint32_t *lidx = pl_xmalloc((nl + 1) * sizeof(uint32_t));
    uint32_t *ridx = pl_xmalloc((nr + 1) * sizeof(uint32_t));
    double *lval = pl_xmalloc((nl + 1) * sizeof(double));
    double *rval = pl_xmalloc((nr + 1) * sizeof(double));
    /* result-metric cache per "many" side series: last partner and labels */
    int swap = vm->card == QUERY_CARD_ONE_TO_MANY;
    size_t nmany = swap ? nr : nl;
    int64_t *cache_r = pl_xmalloc((nmany + 1) * sizeof(*cache_r));
    const struct pl_labels **cache_ls = pl_xmalloc((nmany + 1) * sizeof(*cache_ls));
    for (size_t i = 0; i < nmany; i++)
        cache_r[i] = -1;
    struct ev_hmap sigs, matched;
    query__hmap_init(&sigs);
    query__hmap_init(&matched);
    uint64_t *mpair = NULL; /* matched (sig, metric hash) pairs for many-to-one */
    size_t nmpair = 0, mpcap = 0;
    struct outc oc;
    query__hmap_init(&oc.h);
    struct pl_buf eb;
    pl_buf_init(&eb, 1 << 16);
    int rc = 0;
    out->type = QUERY_VT_VECTOR;

    for (size_t k = 0; k < c->nsteps && rc == 0; k++) {
        int64_t ts = query__step_time(c, k);
        size_t cl = 0, cr = 0;
        for (size_t i = 0; i < nl; i++) {
            struct ev_series *s = &lv->m.s[i];
            if (lcur[i] < s->n && s->t[lcur[i]] == ts) {
                lidx[cl] = (uint32_t)i;
                lval[cl++] = s->v[lcur[i]++];
            }
        }
        for (size_t i = 0; i < nr; i++) {
            struct ev_series *s = &rv->m.s[i];
            if (rcur[i] < s->n && s->t[rcur[i]] == ts) {
                ridx[cr] = (uint32_t)i;
                rval[cr++] = s->v[rcur[i]++];
            }
        }
        query__hmap_clear(&sigs);
        size_t emitted = 0;
        if (query_binop_is_set(op)) {
            if (op == QUERY_OP_OR) {
                for (size_t a = 0; a < cl; a++) {
                    query__hmap_put(&sigs, lsig[lidx[a]], 0);
                    query__series_push(out_get(c, &oc, &out->m, lv->m.s[lidx[a]].ls), ts, lval[a]);
                    emitted++;
                }
                for (size_t b = 0; b < cr; b++) {
                    uint32_t it = 0, d;
                    if (query__hmap_iter(&sigs, rsig[ridx[b]], &it, &d))
                        continue;
                    query__series_push(out_get(c, &oc, &out->m, rv->m.s[ridx[b]].ls), ts, rval[b]);
                    emitted++;
                }
            } else {
                for (size_t b = 0; b < cr; b++)
                    query__hmap_put(&sigs, rsig[ridx[b]], 0);
                for (size_t a = 0; a < cl; a++) {
                    uint32_t it = 0, d;
                    int found = query__hmap_iter(&sigs, lsig[lidx[a]], &it, &d);
                    if (found != (op == QUERY_OP_AND))
                        continue;
                    query__series_push(out_get(c, &oc, &out->m, lv->m.s[lidx[a]].ls), ts, lval[a]);
                    emitted++;
                }
            }
            rc = query__samples_add(c, emitted);
            if (rc == 0)
                rc = query__check(c);
            continue;
        }
        /* Nothing can match when a side is empty (and no matching error is raised). */
        if (cl == 0 || cr == 0) {
            rc = query__check(c);
            continue;
        }
        /* The "one" side goes into the table; with group_right that is the left. */
        uint32_t *oidx = swap ? lidx : ridx, *midx = swap ? ridx : lidx;
        double *oval = swap ? lval : rval, *mval = swap ? rval : lval;
        uint64_t *osig = swap ? lsig : rsig, *msig = swap ? rsig : lsig;
        struct ev_matrix *om = swap ? &lv->m : &rv->m, *mm = swap ? &rv->m : &lv->m;
        size_t con = swap ? cl : cr, cmn = swap ? cr : cl;
        for (size_t b = 0; b < con && rc == 0; b++) {
            uint32_t it = 0, d;
            if (query__hmap_iter(&sigs, osig[oidx[b]], &it, &d)) {
                const struct pl_labels *rs = om->s[oidx[b]].ls, *dup = om->s[oidx[d]].ls;
                pl_buf_reset(&eb);
                labels_go_string(&eb, match_labels(c, rs, vm));
                pl_buf_printf(&eb, " on the %s hand-side of the operation: [",
                              swap ? "left" : "right");
                labels_go_string(&eb, rs);
                pl_buf_puts(&eb, ", ");
                labels_go_string(&eb, dup);
                pl_buf_puts(&eb, "];many-to-many matching not allowed: matching labels must be "
                                 "unique on one side");
                rc = query__errf(c, QUERY_ERR_EXECUTION,
                                 "found duplicate series for the match "
                                 "group %s",
                                 pl_buf_cstr(&eb));
                break;
            }
            query__hmap_put(&sigs, osig[oidx[b]], (uint32_t)b);
        }
        query__hmap_clear(&matched);
        nmpair = 0;
        for (size_t a = 0; a < cmn && rc == 0; a++) {
            uint64_t sig = msig[midx[a]];
            uint32_t it = 0, b;
            if (!query__hmap_iter(&sigs, sig, &it, &b))
                continue;
            double vl = mval[a], vr = oval[b];
            if (swap) {
                double t = vl;
                vl = vr;
                vr = t;
            }
            int keep;
            double v = elem_binop(op, vl, vr, &keep);
            if (rb) {
                v = keep ? 1 : 0;
            } else if (!keep) {
                continue;
            }
            uint32_t mi = midx[a], oi = oidx[b];
            const struct pl_labels *ls;
            if (cache_r[mi] == (int64_t)oi) {
                ls = cache_ls[mi];
            } else {
                ls = result_metric(c, mm->s[mi].ls, om->s[oi].ls, op, vm, rb);
                cache_r[mi] = oi;
                cache_ls[mi] = ls;
            }
            if (vm->card == QUERY_CARD_ONE_TO_ONE) {
                uint32_t it2 = 0, d;
                if (query__hmap_iter(&matched, sig, &it2, &d)) {
                    rc = query__errf(c, QUERY_ERR_EXECUTION,
                                     "multiple matches for labels: many-to-one matching must be "
                                     "explicit (group_left/group_right)");
                    break;
                }
                query__hmap_put(&matched, sig, 0);
            } else {
                uint32_t it2 = 0, pi;
                int dup = 0;
                while (query__hmap_iter(&matched, sig, &it2, &pi))
                    if (mpair[pi] == ls->hash) {
                        dup = 1;
                        break;
                    }
                if (dup) {
                    rc = query__errf(c, QUERY_ERR_EXECUTION,
                                     "multiple matches for labels: grouping labels must ensure "
                                     "unique matches");
                    break;
                }
                if (nmpair == mpcap) {
                    mpcap = mpcap ? mpcap * 2 : 64;
                    mpair = pl_xreallocarray(mpair, mpcap, sizeof(*mpair));
                }
                mpair[nmpair] = ls->hash;
                query__hmap_put(&matched, sig, (uint32_t)nmpair++);
            }
            query__series_push(out_get(c, &oc, &out->m, ls), ts, v);
            emitted++;
        }
        if (rc == 0)
            rc = query__samples_add(c, emitted);
        if (rc == 0)
            rc = query__check(c);
    }
    pl_buf_fini(&eb);
    query__hmap_fini(&oc.h);
    query__hmap_fini(&sigs);
    query__hmap_fini(&matched);
    free(mpair);
    free(cache_r);
    free(cache_ls);
    free(lidx);
    free(ridx);
    free(lval);
    free(rval);
    free(lcur);
    free(rcur);
    free(lsig);
    free(rsig);
    if (rc == 0 && c->nsteps == 1)
        rc = query__matrix_dedupe(c, &out->m);
    return rc;
}

int query__binary(struct ev_ctx *c, const struct query_node *n, struct ev_value *out)
{
    struct ev_value l = {0}, r = {0};
    int rc = query__eval(c, n->binary.lhs, &l);
    if (rc == 0)
        rc = query__eval(c, n->binary.rhs, &r);
    if (rc)
        goto out;
    if (l.type == QUERY_VT_SCALAR && r.type == QUERY_VT_SCALAR)
        rc = scalar_scalar(c, n, &l, &r, out);
    else if (l.type == QUERY_VT_VECTOR && r.type == QUERY_VT_SCALAR)
        rc = vector_scalar(c, n, &l, r.sc, 0, out);
    else if (l.type == QUERY_VT_SCALAR && r.type == QUERY_VT_VECTOR)
        rc = vector_scalar(c, n, &r, l.sc, 1, out);
    else if (l.type == QUERY_VT_VECTOR && r.type == QUERY_VT_VECTOR)
        rc = vector_vector(c, n, &l, &r, out);
    else
        rc = query__errf(c, QUERY_ERR_BAD_DATA,
                         "binary expression must contain only scalar and "
                         "instant vector types");
out:
    query__value_fini(c, &l);
    query__value_fini(c, &r);
    return rc;
}
