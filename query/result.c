/*
 * result.c - query results: converting an evaluated value into the public
 * struct query_result (instant and range shapes as the Prometheus API
 * returns them) and releasing it.
 */
#include "query/query.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "query/eval_int.h"

void query_result_fini(struct query_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nseries; i++) {
        pl_labels_free(r->series[i].labels);
        free(r->series[i].t);
        free(r->series[i].v);
    }
    free(r->series);
    free(r->str);
    memset(r, 0, sizeof(*r));
}

static int cmp_series(const void *a, const void *b)
{
    const struct query_series *x = a, *y = b;
    return pl_labels_cmp(x->labels, y->labels);
}

/* Moves the points of m into r, copying labels (the pool dies with the query). */
static void take_matrix(struct query_result *r, struct ev_matrix *m)
{
    r->series = pl_xcalloc(m->n + 1, sizeof(*r->series));
    r->nseries = 0;
    for (size_t i = 0; i < m->n; i++) {
        struct ev_series *s = &m->s[i];
        if (s->n == 0)
            continue;
        struct query_series *o = &r->series[r->nseries++];
        o->labels = pl_labels_dup(s->ls);
        o->t = s->t;
        o->v = s->v;
        o->n = s->n;
        s->t = NULL;
        s->v = NULL;
        s->n = 0;
    }
}

int query__result_from(struct ev_ctx *c, struct ev_value *v, int is_range, struct query_result *r);
int query__result_from(struct ev_ctx *c, struct ev_value *v, int is_range, struct query_result *r)
{
    memset(r, 0, sizeof(*r));
    r->t = c->start;
    if (!is_range) {
        r->type = v->type;
        switch (v->type) {
        case QUERY_VT_SCALAR:
            r->scalar = v->sc[0];
            break;
        case QUERY_VT_STRING:
            r->str = pl_xstrdup(v->str);
            break;
        case QUERY_VT_VECTOR:
        case QUERY_VT_MATRIX:
            take_matrix(r, &v->m);
            break;
        default:
            break;
        }
        return 0;
    }
    r->type = QUERY_VT_MATRIX;
    if (v->type == QUERY_VT_SCALAR) {
        r->series = pl_xcalloc(1, sizeof(*r->series));
        r->nseries = 1;
        struct query_series *o = &r->series[0];
        o->labels = pl_labels_dup(c->empty);
        o->t = pl_xmalloc(c->nsteps * sizeof(*o->t));
        o->v = pl_xmalloc(c->nsteps * sizeof(*o->v));
        for (size_t k = 0; k < c->nsteps; k++) {
            o->t[k] = query__step_time(c, k);
            o->v[k] = v->sc[k];
        }
        o->n = c->nsteps;
        return 0;
    }
    take_matrix(r, &v->m);
    qsort(r->series, r->nseries, sizeof(*r->series), cmp_series);
    return 0;
}
