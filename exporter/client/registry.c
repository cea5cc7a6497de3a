/*
 * registry.c - the metric registry of libpromlite-client: families, children
 * per label values, lock-free updates and rendering (Prometheus data model,
 * https://prometheus.io/docs/concepts/metric_types/).
 *
 * Counters keep an integer part (updated with fetch_add by exp_counter_inc)
 * and a float part (compare-and-swap on the bit pattern of a double), so the
 * common increment is one atomic instruction and totals stay exact. Gauges
 * are one CAS'd double. Histograms keep one non-cumulative atomic count per
 * bucket plus a CAS'd sum; the rendered _count is the sum of the buckets, so
 * it always equals the +Inf bucket. Summaries keep exact samples in rotating
 * age buckets under a per-child mutex (bounded by reservoir sampling).
 * Children of a family live in a hash table (lookup under the family mutex)
 * and in a list in creation order (the rendering order).
 */
#include "exporter/client/client_int.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SUMMARY_BUCKET_CAP 1024
#define DEFAULT_LIMIT      (64u << 20)

const double exp_default_buckets[11] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};

struct age_bucket {
    double *vals; /* up to SUMMARY_BUCKET_CAP observations */
    size_t n;
    uint64_t seen; /* observations offered to this bucket (reservoir sampling) */
};

struct summary_state {
    pthread_mutex_t mu;
    struct age_bucket *buckets;
    unsigned nb, cur;
    double cur_start; /* monotonic start of the current bucket */
    uint64_t rng;     /* xorshift state for reservoir sampling */
};

struct exp_metric {
    struct exp_family *fam;
    struct exp_metric *next;  /* creation order */
    struct exp_metric *hnext; /* hash chain */
    uint64_t hash;
    char **values;
    _Atomic uint64_t ival;     /* counter: integer increments */
    _Atomic uint64_t fbits;    /* counter: float part; gauge: value; histogram/summary: sum */
    _Atomic uint64_t count;    /* summary: observation count */
    _Atomic uint64_t *buckets; /* histogram: nbounds + 1 non-cumulative counts */
    struct summary_state *sum;
};

struct exp_family {
    struct exp_registry *reg;
    struct exp_family *next;
    char *name, *help;
    enum exp_type type;
    size_t nlabels;
    char **label_names;
    double *bounds;
    size_t nbounds;
    struct exp_quantile *q;
    size_t nq;
    double max_age;
    unsigned age_buckets;
    pthread_mutex_t mu;
    struct exp_metric **table;
    size_t tcap, count;
    struct exp_metric *head, *tail;
};

struct collector {
    exp_collect_fn fn;
    void *ud;
    void (*ud_free)(void *);
    struct collector *next;
};

struct exp_registry {
    pthread_mutex_t mu;
    struct exp_family *fams, *fams_tail;
    struct collector *colls, *colls_tail;
    size_t limit;
};

const char *exp_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
    case EXP_ERR_INVALID:
        return "invalid argument";
    case EXP_ERR_NOMEM:
        return "out of memory";
    case EXP_ERR_LIMIT:
        return "size limit reached";
    case EXP_ERR_NOTFOUND:
        return "not found";
    case EXP_ERR_EXISTS:
        return "already registered";
    case EXP_ERR_IO:
        return "I/O error";
    case EXP_ERR_UNSUPPORTED:
        return "unsupported";
    default:
        return code < 0 && code > -4096 ? "system error" : "unknown error";
    }
}

static inline double bits2d(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof(d));
    return d;
}

static inline uint64_t d2bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof(b));
    return b;
}

static void atomic_add_double(_Atomic uint64_t *p, double v)
{
    uint64_t old = atomic_load_explicit(p, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(p, &old, d2bits(bits2d(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double exp_now_monotonic(void)
{
    return mono_now();
}

/* ------------------------------------------------------------------ registry */

int exp_registry_new(struct exp_registry **out)
{
    struct exp_registry *r = calloc(1, sizeof(*r));
    if (!r)
        return EXP_ERR_NOMEM;
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        free(r);
        return EXP_ERR_NOMEM;
    }
    r->limit = DEFAULT_LIMIT;
    *out = r;
    return 0;
}

void exp_registry_set_limit(struct exp_registry *r, size_t max_bytes)
{
    pthread_mutex_lock(&r->mu);
    r->limit = max_bytes;
    pthread_mutex_unlock(&r->mu);
}

static void metric_free(struct exp_metric *m)
{
    if (!m)
        return;
    free(m->values);
    free(m->buckets);
    if (m->sum) {
        for (unsigned i = 0; i < m->sum->nb; i++)
            free(m->sum->buckets[i].vals);
        free(m->sum->buckets);
        pthread_mutex_destroy(&m->sum->mu);
        free(m->sum);
    }
    free(m);
}

static void family_free(struct exp_family *f)
{
    if (!f)
        return;
    for (struct exp_metric *m = f->head, *n; m; m = n) {
        n = m->next;
        metric_free(m);
    }
    free(f->table);
    free(f->name);
    free(f->help);
    free(f->label_names); /* one block with the strings */
    free(f->bounds);
    free(f->q);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

void exp_registry_free(struct exp_registry *r)
{
    if (!r)
        return;
    for (struct exp_family *f = r->fams, *n; f; f = n) {
        n = f->next;
        family_free(f);
    }
    for (struct collector *c = r->colls, *n; c; c = n) {
        n = c->next;
        if (c->ud_free)
            c->ud_free(c->ud);
        free(c);
    }
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* Copies n strings into one block: an array of pointers followed by the text. */
static char **strv_dup(size_t n, const char *const *src)
{
    size_t total = n * sizeof(char *);
    for (size_t i = 0; i < n; i++)
        total += strlen(src[i]) + 1;
    char **v = malloc(total ? total : 1);
    if (!v)
        return NULL;
    char *p = (char *)(v + n);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(src[i]) + 1;
        memcpy(p, src[i], l);
        v[i] = p;
        p += l;
    }
    return v;
}

static int family_add(struct exp_registry *r, const char *name, const char *help,
                      enum exp_type type, size_t nlabels, const char *const *label_names,
                      struct exp_family **out)
{
    if (!r || !out || !exp__valid_metric_name(name) || (nlabels && !label_names) || nlabels > 64)
        return EXP_ERR_INVALID;
    for (size_t i = 0; i < nlabels; i++) {
        if (!exp__valid_label_name(label_names[i]))
            return EXP_ERR_INVALID;
        for (size_t j = 0; j < i; j++)
            if (strcmp(label_names[i], label_names[j]) == 0)
                return EXP_ERR_INVALID;
        if (type == EXP_HISTOGRAM && strcmp(label_names[i], "le") == 0)
            return EXP_ERR_INVALID;
        if (type == EXP_SUMMARY && strcmp(label_names[i], "quantile") == 0)
            return EXP_ERR_INVALID;
    }
    struct exp_family *f = calloc(1, sizeof(*f));
    if (!f)
        return EXP_ERR_NOMEM;
    if (pthread_mutex_init(&f->mu, NULL) != 0) {
        free(f);
        return EXP_ERR_NOMEM;
    }
    f->reg = r;
    f->type = type;
    f->nlabels = nlabels;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    f->label_names = strv_dup(nlabels, label_names);
    if (!f->name || !f->help || !f->label_names) {
        family_free(f);
        return EXP_ERR_NOMEM;
    }
    *out = f;
    return 0;
}

/* Links a fully built family into the registry, refusing duplicate names. */
static int family_publish(struct exp_registry *r, struct exp_family *f)
{
    pthread_mutex_lock(&r->mu);
    for (struct exp_family *g = r->fams; g; g = g->next) {
        if (strcmp(g->name, f->name) == 0) {
            pthread_mutex_unlock(&r->mu);
            family_free(f);
            return EXP_ERR_EXISTS;
        }
    }
    if (r->fams_tail)
        r->fams_tail->next = f;
    else
        r->fams = f;
    r->fams_tail = f;
    pthread_mutex_unlock(&r->mu);
    return 0;
}

struct exp_family *exp__registry_find(struct exp_registry *r, const char *name, enum exp_type type,
                                      size_t nlabels, const char *const *label_names)
{
    struct exp_family *found = NULL;
    pthread_mutex_lock(&r->mu);
    for (struct exp_family *g = r->fams; g && !found; g = g->next) {
        if (strcmp(g->name, name) != 0)
            continue;
        if (g->type != type || g->nlabels != nlabels)
            break;
        size_t i = 0;
        while (i < nlabels && strcmp(g->label_names[i], label_names[i]) == 0)
            i++;
        if (i == nlabels)
            found = g;
        break;
    }
    pthread_mutex_unlock(&r->mu);
    return found;
}

int exp_counter_new(struct exp_registry *r, const char *name, const char *help, size_t nlabels,
                    const char *const *label_names, struct exp_family **out)
{
    struct exp_family *f;
    int rc = family_add(r, name, help, EXP_COUNTER, nlabels, label_names, &f);
    if (rc == 0 && (rc = family_publish(r, f)) == 0)
        *out = f;
    return rc;
}

int exp_gauge_new(struct exp_registry *r, const char *name, const char *help, size_t nlabels,
                  const char *const *label_names, struct exp_family **out)
{
    struct exp_family *f;
    int rc = family_add(r, name, help, EXP_GAUGE, nlabels, label_names, &f);
    if (rc == 0 && (rc = family_publish(r, f)) == 0)
        *out = f;
    return rc;
}

int exp_histogram_new(struct exp_registry *r, const char *name, const char *help, size_t nlabels,
                      const char *const *label_names, const double *bounds, size_t nbounds,
                      struct exp_family **out)
{
    if (!bounds) {
        bounds = exp_default_buckets;
        nbounds = sizeof(exp_default_buckets) / sizeof(exp_default_buckets[0]);
    }
    if (nbounds > 4096)
        return EXP_ERR_INVALID;
    for (size_t i = 0; i < nbounds; i++) {
        if (!isfinite(bounds[i]) || (i && !(bounds[i] > bounds[i - 1])))
            return EXP_ERR_INVALID;
    }
    struct exp_family *f;
    int rc = family_add(r, name, help, EXP_HISTOGRAM, nlabels, label_names, &f);
    if (rc)
        return rc;
    f->nbounds = nbounds;
    f->bounds = malloc((nbounds ? nbounds : 1) * sizeof(double));
    if (!f->bounds) {
        family_free(f);
        return EXP_ERR_NOMEM;
    }
    if (nbounds)
        memcpy(f->bounds, bounds, nbounds * sizeof(double));
    if ((rc = family_publish(r, f)) == 0)
        *out = f;
    return rc;
}

int exp_buckets_linear(double start, double width, size_t count, double *out)
{
    if (!count || !(width > 0) || !out)
        return EXP_ERR_INVALID;
    for (size_t i = 0; i < count; i++)
        out[i] = start + width * (double)i;
    return 0;
}

int exp_buckets_exponential(double start, double factor, size_t count, double *out)
{
    if (!count || !(start > 0) || !(factor > 1) || !out)
        return EXP_ERR_INVALID;
    double v = start;
    for (size_t i = 0; i < count; i++, v *= factor)
        out[i] = v;
    return 0;
}

int exp_summary_new(struct exp_registry *r, const char *name, const char *help, size_t nlabels,
                    const char *const *label_names, const struct exp_quantile *q, size_t nq,
                    double max_age_s, unsigned age_buckets, struct exp_family **out)
{
    if ((nq && !q) || nq > 64 || !(max_age_s > 0) || age_buckets == 0 || age_buckets > 1024)
        return EXP_ERR_INVALID;
    for (size_t i = 0; i < nq; i++)
        if (!(q[i].quantile >= 0 && q[i].quantile <= 1))
            return EXP_ERR_INVALID;
    struct exp_family *f;
    int rc = family_add(r, name, help, EXP_SUMMARY, nlabels, label_names, &f);
    if (rc)
        return rc;
    f->nq = nq;
    f->max_age = max_age_s;
    f->age_buckets = age_buckets;
    f->q = malloc((nq ? nq : 1) * sizeof(*q));
    if (!f->q) {
        family_free(f);
        return EXP_ERR_NOMEM;
    }
    if (nq)
        memcpy(f->q, q, nq * sizeof(*q));
    if ((rc = family_publish(r, f)) == 0)
        *out = f;
    return rc;
}

/* ------------------------------------------------------------------ children */

static uint64_t hash_values(size_t n, const char *const *v)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)v[i]; *p; p++)
            h = (h ^ *p) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL;
    }
    return h;
}

static int values_equal(size_t n, char *const *a, const char *const *b)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(a[i], b[i]) != 0)
            return 0;
    return 1;
}

static int table_grow(struct exp_family *f)
{
    size_t ncap = f->tcap ? f->tcap * 2 : 16;
    struct exp_metric **t = calloc(ncap, sizeof(*t));
    if (!t)
        return EXP_ERR_NOMEM;
    for (struct exp_metric *m = f->head; m; m = m->next) {
        size_t i = m->hash & (ncap - 1);
        m->hnext = t[i];
        t[i] = m;
    }
    free(f->table);
    f->table = t;
    f->tcap = ncap;
    return 0;
}

static struct exp_metric *metric_create(struct exp_family *f, uint64_t h, const char *const *values)
{
    struct exp_metric *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->fam = f;
    m->hash = h;
    m->values = strv_dup(f->nlabels, values);
    if (!m->values)
        goto fail;
    if (f->type == EXP_HISTOGRAM) {
        m->buckets = calloc(f->nbounds + 1, sizeof(*m->buckets));
        if (!m->buckets)
            goto fail;
    } else if (f->type == EXP_SUMMARY) {
        m->sum = calloc(1, sizeof(*m->sum));
        if (!m->sum)
            goto fail;
        m->sum->buckets = calloc(f->age_buckets, sizeof(struct age_bucket));
        if (!m->sum->buckets || pthread_mutex_init(&m->sum->mu, NULL) != 0) {
            free(m->sum->buckets);
            free(m->sum);
            m->sum = NULL;
            goto fail;
        }
        m->sum->nb = f->age_buckets;
        m->sum->cur_start = mono_now();
        m->sum->rng = 0x9E3779B97F4A7C15ULL ^ h;
    }
    return m;
fail:
    free(m->values);
    free(m->buckets);
    free(m);
    return NULL;
}

int exp_family_child(struct exp_family *f, const char *const *label_values, struct exp_metric **out)
{
    if (!f || !out || (f->nlabels && !label_values))
        return EXP_ERR_INVALID;
    for (size_t i = 0; i < f->nlabels; i++)
        if (!label_values[i])
            return EXP_ERR_INVALID;
    uint64_t h = hash_values(f->nlabels, label_values);
    int rc = 0;
    pthread_mutex_lock(&f->mu);
    struct exp_metric *m = NULL;
    if (f->tcap) {
        for (m = f->table[h & (f->tcap - 1)]; m; m = m->hnext)
            if (m->hash == h && values_equal(f->nlabels, m->values, label_values))
                break;
    }
    if (!m) {
        if ((f->count + 1) * 4 > f->tcap * 3 && (rc = table_grow(f)) != 0)
            goto out;
        m = metric_create(f, h, label_values);
        if (!m) {
            rc = EXP_ERR_NOMEM;
            goto out;
        }
        size_t i = h & (f->tcap - 1);
        m->hnext = f->table[i];
        f->table[i] = m;
        if (f->tail)
            f->tail->next = m;
        else
            f->head = m;
        f->tail = m;
        f->count++;
    }
    *out = m;
out:
    pthread_mutex_unlock(&f->mu);
    return rc;
}

int exp_family_childv(struct exp_family *f, struct exp_metric **out, ...)
{
    const char *vals[64];
    if (!f)
        return EXP_ERR_INVALID;
    va_list ap;
    va_start(ap, out);
    for (size_t i = 0; i < f->nlabels; i++)
        vals[i] = va_arg(ap, const char *);
    va_end(ap);
    return exp_family_child(f, vals, out);
}

/* ------------------------------------------------------------------ updates */

void exp_counter_inc(struct exp_metric *m)
{
    atomic_fetch_add_explicit(&m->ival, 1, memory_order_relaxed);
}

int exp_counter_add(struct exp_metric *m, double v)
{
    if (!(v >= 0))
        return EXP_ERR_INVALID;
    if (v == floor(v) && v < 18446744073709551616.0)
        atomic_fetch_add_explicit(&m->ival, (uint64_t)v, memory_order_relaxed);
    else
        atomic_add_double(&m->fbits, v);
    return 0;
}

void exp_gauge_set(struct exp_metric *m, double v)
{
    atomic_store_explicit(&m->fbits, d2bits(v), memory_order_relaxed);
}

void exp_gauge_add(struct exp_metric *m, double v)
{
    atomic_add_double(&m->fbits, v);
}

void exp_gauge_inc(struct exp_metric *m)
{
    atomic_add_double(&m->fbits, 1);
}

void exp_gauge_dec(struct exp_metric *m)
{
    atomic_add_double(&m->fbits, -1);
}

void exp_gauge_set_to_current_time(struct exp_metric *m)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    exp_gauge_set(m, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

void exp_histogram_observe(struct exp_metric *m, double v)
{
    const struct exp_family *f = m->fam;
    size_t lo = 0, hi = f->nbounds; /* first bound >= v, or nbounds (+Inf) */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (f->bounds[mid] >= v)
            hi = mid;
        else
            lo = mid + 1;
    }
    atomic_fetch_add_explicit(&m->buckets[lo], 1, memory_order_relaxed);
    atomic_add_double(&m->fbits, v);
}

/* Moves the window forward to `now`, clearing buckets that fell out of it. */
static void summary_rotate(struct summary_state *s, double width, double now)
{
    if (now - s->cur_start >= width * s->nb) {
        for (unsigned i = 0; i < s->nb; i++)
            s->buckets[i].n = 0, s->buckets[i].seen = 0;
        s->cur_start = now;
        return;
    }
    while (now - s->cur_start >= width) {
        s->cur = (s->cur + 1) % s->nb;
        s->buckets[s->cur].n = 0;
        s->buckets[s->cur].seen = 0;
        s->cur_start += width;
    }
}

void exp_summary_observe(struct exp_metric *m, double v)
{
    struct summary_state *s = m->sum;
    const struct exp_family *f = m->fam;
    atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
    atomic_add_double(&m->fbits, v);
    if (!f->nq || isnan(v))
        return;
    pthread_mutex_lock(&s->mu);
    summary_rotate(s, f->max_age / s->nb, mono_now());
    struct age_bucket *b = &s->buckets[s->cur];
    b->seen++;
    if (b->n < SUMMARY_BUCKET_CAP) {
        if (!b->vals)
            b->vals = malloc(SUMMARY_BUCKET_CAP * sizeof(double));
        if (b->vals)
            b->vals[b->n++] = v;
    } else {
        /* Reservoir sampling keeps a uniform sample of the bucket's stream. */
        s->rng ^= s->rng << 13;
        s->rng ^= s->rng >> 7;
        s->rng ^= s->rng << 17;
        uint64_t j = s->rng % b->seen;
        if (j < SUMMARY_BUCKET_CAP)
            b->vals[j] = v;
    }
    pthread_mutex_unlock(&s->mu);
}

double exp_metric_value(struct exp_metric *m)
{
    switch (m->fam->type) {
    case EXP_COUNTER:
        return (double)atomic_load(&m->ival) + bits2d(atomic_load(&m->fbits));
    case EXP_HISTOGRAM: {
        uint64_t c = 0;
        for (size_t i = 0; i <= m->fam->nbounds; i++)
            c += atomic_load(&m->buckets[i]);
        return (double)c;
    }
    case EXP_SUMMARY:
        return (double)atomic_load(&m->count);
    default:
        return bits2d(atomic_load(&m->fbits));
    }
}

/* ------------------------------------------------------------------ rendering */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int render_summary(struct exp_writer *w, struct exp_family *f, struct exp_metric *m,
                          double **scratch, size_t *scap)
{
    const char *const *ln = (const char *const *)f->label_names;
    const char *const *lv = (const char *const *)m->values;
    if (f->nq) {
        struct summary_state *s = m->sum;
        pthread_mutex_lock(&s->mu);
        summary_rotate(s, f->max_age / s->nb, mono_now());
        size_t n = 0;
        for (unsigned i = 0; i < s->nb; i++)
            n += s->buckets[i].n;
        if (n > *scap) {
            double *ns = realloc(*scratch, n * sizeof(double));
            if (!ns) {
                pthread_mutex_unlock(&s->mu);
                return w->err = EXP_ERR_NOMEM;
            }
            *scratch = ns;
            *scap = n;
        }
        size_t k = 0;
        for (unsigned i = 0; i < s->nb; i++) {
            if (s->buckets[i].n)
                memcpy(*scratch + k, s->buckets[i].vals, s->buckets[i].n * sizeof(double));
            k += s->buckets[i].n;
        }
        pthread_mutex_unlock(&s->mu);
        if (n)
            qsort(*scratch, n, sizeof(double), cmp_double);
        for (size_t i = 0; i < f->nq; i++) {
            double qv = NAN;
            if (n) {
                /* Nearest rank: the smallest value with at least q*n values <= it. */
                double rank = ceil(f->q[i].quantile * (double)n);
                size_t idx = rank < 1 ? 0 : (size_t)rank - 1;
                qv = (*scratch)[idx < n ? idx : n - 1];
            }
            exp__writer_sample_ex(w, "", f->nlabels, ln, lv, "quantile", f->q[i].quantile, qv);
        }
    }
    exp__writer_sample_ex(w, "_sum", f->nlabels, ln, lv, NULL, 0, bits2d(atomic_load(&m->fbits)));
    return exp__writer_sample_ex(w, "_count", f->nlabels, ln, lv, NULL, 0,
                                 (double)atomic_load(&m->count));
}

static int render_family(struct exp_writer *w, struct exp_family *f, double **scratch, size_t *scap)
{
    pthread_mutex_lock(&f->mu);
    exp_writer_family(w, f->name, f->help, f->type);
    const char *const *ln = (const char *const *)f->label_names;
    for (struct exp_metric *m = f->head; m && !w->err; m = m->next) {
        const char *const *lv = (const char *const *)m->values;
        switch (f->type) {
        case EXP_HISTOGRAM: {
            uint64_t cum = 0;
            for (size_t i = 0; i <= f->nbounds; i++) {
                cum += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
                exp__writer_sample_ex(w, "_bucket", f->nlabels, ln, lv, "le",
                                      i < f->nbounds ? f->bounds[i] : INFINITY, (double)cum);
            }
            exp__writer_sample_ex(w, "_sum", f->nlabels, ln, lv, NULL, 0,
                                  bits2d(atomic_load(&m->fbits)));
            exp__writer_sample_ex(w, "_count", f->nlabels, ln, lv, NULL, 0, (double)cum);
            break;
        }
        case EXP_SUMMARY:
            render_summary(w, f, m, scratch, scap);
            break;
        default:
            exp_writer_sample(w, f->nlabels, ln, lv, exp_metric_value(m));
        }
    }
    pthread_mutex_unlock(&f->mu);
    return w->err;
}

int exp__registry_render_into(struct exp_registry *r, enum exp_format fmt, struct exp_writer *w)
{
    double *scratch = NULL;
    size_t scap = 0;
    pthread_mutex_lock(&r->mu);
    exp__writer_reset(w, fmt, r->limit);
    for (struct exp_family *f = r->fams; f && !w->err; f = f->next)
        render_family(w, f, &scratch, &scap);
    for (struct collector *c = r->colls; c && !w->err; c = c->next) {
        int rc = c->fn(w, c->ud);
        if (rc && !w->err)
            w->err = rc;
    }
    pthread_mutex_unlock(&r->mu);
    free(scratch);
    return exp__writer_finish(w);
}

int exp_registry_render(struct exp_registry *r, enum exp_format fmt, char **out, size_t *len)
{
    if (!r || !out || !len)
        return EXP_ERR_INVALID;
    struct exp_writer w;
    exp__writer_init(&w, fmt, 0);
    int rc = exp__registry_render_into(r, fmt, &w);
    if (rc) {
        exp__writer_fini(&w);
        return rc;
    }
    free(w.fam_seen); /* the caller gets the text only */
    *out = w.buf;
    *len = w.len;
    return 0;
}

int exp_registry_add_collector(struct exp_registry *r, exp_collect_fn fn, void *ud,
                               void (*ud_free)(void *))
{
    if (!r || !fn) {
        if (ud_free)
            ud_free(ud);
        return EXP_ERR_INVALID;
    }
    struct collector *c = calloc(1, sizeof(*c));
    if (!c) {
        if (ud_free)
            ud_free(ud);
        return EXP_ERR_NOMEM;
    }
    c->fn = fn;
    c->ud = ud;
    c->ud_free = ud_free;
    pthread_mutex_lock(&r->mu);
    if (r->colls_tail)
        r->colls_tail->next = c;
    else
        r->colls = c;
    r->colls_tail = c;
    pthread_mutex_unlock(&r->mu);
    return 0;
}
