/*
 * coll_textfile.c - the textfile collector: every *.prom file in
 * --collector.textfile.directory, in the Prometheus text format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/), merged by
 * family name and re-exposed, plus node_textfile_mtime_seconds{file} and
 * node_textfile_scrape_error. A file that does not parse, carries client-side
 * timestamps or contradicts another file's TYPE is skipped whole and sets
 * node_textfile_scrape_error to 1 (node_exporter's behaviour).
 */
#include "exporter/node/node_int.h"

#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define TF_MAX_FILES  1024
#define TF_MAX_LABELS 64

struct tf_sample {
    const char *name;
    size_t label0, nlabels; /* range in the label arrays */
    double v;
};

struct tf_family {
    const char *name, *help;
    enum exp_type type;
    int typed;
    size_t *samples; /* indexes into the sample array */
    size_t ns, cap;
    char files[256]; /* for the default HELP */
};

struct tf_state {
    struct tf_sample *s;
    size_t ns, scap;
    const char **ln, **lv;
    size_t nl, lcap;
    struct tf_family *f;
    size_t nf, fcap;
    int32_t *idx; /* open-addressing index of f by name (-1 empty), 2x nf or more */
    size_t icap;
};

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 64;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (!np)
        return PL_ERR_NOMEM;
    *p = np;
    *cap = nc;
    return 0;
}

/* Makes room for one more label pair in both label arrays. */
static int labels_grow(struct tf_state *st)
{
    if (st->nl + 1 <= st->lcap)
        return 0;
    size_t nc = st->lcap ? st->lcap * 2 : 64;
    const char **a = realloc(st->ln, nc * sizeof(*a));
    if (!a)
        return PL_ERR_NOMEM;
    st->ln = a;
    const char **b = realloc(st->lv, nc * sizeof(*b));
    if (!b)
        return PL_ERR_NOMEM;
    st->lv = b;
    st->lcap = nc;
    return 0;
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Rebuilds the name index for st->f[0..nf) with at least `cap` slots. */
static int index_rebuild(struct tf_state *st, size_t cap)
{
    size_t ncap = st->icap ? st->icap : 64;
    while (ncap < cap || ncap < 2 * (st->nf + 1))
        ncap *= 2;
    if (ncap != st->icap) {
        int32_t *n = realloc(st->idx, ncap * sizeof(*n));
        if (!n)
            return PL_ERR_NOMEM;
        st->idx = n;
        st->icap = ncap;
    }
    memset(st->idx, 0xff, st->icap * sizeof(*st->idx));
    for (size_t k = 0; k < st->nf; k++) {
        size_t i = name_hash(st->f[k].name) & (st->icap - 1);
        while (st->idx[i] >= 0)
            i = (i + 1) & (st->icap - 1);
        st->idx[i] = (int32_t)k;
    }
    return 0;
}

static struct tf_family *family_find(struct tf_state *st, const char *name)
{
    if (!st->icap)
        return NULL;
    for (size_t i = name_hash(name) & (st->icap - 1); st->idx[i] >= 0; i = (i + 1) & (st->icap - 1))
        if (strcmp(st->f[st->idx[i]].name, name) == 0)
            return &st->f[st->idx[i]];
    return NULL;
}

static struct tf_family *family_get(struct tf_state *st, const char *name)
{
    struct tf_family *f = family_find(st, name);
    if (f)
        return f;
    if (st->nf >= INT32_MAX - 1 || grow((void **)&st->f, &st->fcap, st->nf + 1, sizeof(*st->f)))
        return NULL;
    f = &st->f[st->nf++];
    memset(f, 0, sizeof(*f));
    f->name = name;
    f->type = EXP_UNTYPED;
    if (2 * st->nf > st->icap) {
        if (index_rebuild(st, 2 * st->icap)) {
            st->nf--;
            return NULL;
        }
    } else {
        size_t i = name_hash(name) & (st->icap - 1);
        while (st->idx[i] >= 0)
            i = (i + 1) & (st->icap - 1);
        st->idx[i] = (int32_t)(st->nf - 1);
    }
    return f;
}

static int valid_name(const char *s, size_t n, int label)
{
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (!label && c == ':') || (i && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

/* Parses a float as the text format writes it (also NaN, +Inf, -Inf). */
static int parse_value(const char *s, double *out)
{
    if (!strcasecmp(s, "nan")) {
        *out = NAN;
        return 0;
    }
    if (!strcasecmp(s, "+inf") || !strcasecmp(s, "inf")) {
        *out = INFINITY;
        return 0;
    }
    if (!strcasecmp(s, "-inf")) {
        *out = -INFINITY;
        return 0;
    }
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return (end == s || *end) ? -1 : 0;
}

/* The family a sample of `name` belongs to, given the last declared family. */
static struct tf_family *owner(struct tf_state *st, struct tf_family *cur, const char *name)
{
    if (cur) {
        size_t cl = strlen(cur->name);
        if (strcmp(cur->name, name) == 0)
            return cur;
        if (strncmp(cur->name, name, cl) == 0) {
            const char *suf = name + cl;
            if ((cur->type == EXP_HISTOGRAM &&
                 (!strcmp(suf, "_bucket") || !strcmp(suf, "_sum") || !strcmp(suf, "_count"))) ||
                (cur->type == EXP_SUMMARY && (!strcmp(suf, "_sum") || !strcmp(suf, "_count"))))
                return cur;
        }
    }
    return family_get(st, name);
}

/*
 * Parses one file (data is modified in place and must outlive the state).
 * On error returns -1 with a message in err; the caller rolls the state back.
 */
static int parse_file(struct tf_state *st, char *data, const char *file, struct pl_err *err)
{
    struct tf_family *cur = NULL;
    int lineno = 0;
    char *p = data;
    for (char *line; (line = node__line(&p)) != NULL;) {
        lineno++;
        while (*line == ' ' || *line == '\t')
            line++;
        size_t ll = strlen(line);
        while (ll && (line[ll - 1] == ' ' || line[ll - 1] == '\t' || line[ll - 1] == '\r'))
            line[--ll] = '\0';
        if (!*line)
            continue;
        if (line[0] == '#') {
            char *q = line + 1, *kw = node__field(&q), *name = kw ? node__field(&q) : NULL;
            if (!kw || !name || (strcmp(kw, "HELP") && strcmp(kw, "TYPE")))
                continue; /* a comment */
            if (!valid_name(name, strlen(name), 0))
                return pl_err_set(err, -1, "%s:%d: invalid metric name %s", file, lineno, name);
            while (*q == ' ' || *q == '\t')
                q++;
            cur = family_get(st, name);
            if (!cur)
                return pl_err_set(err, PL_ERR_NOMEM, "out of memory");
            if (kw[0] == 'H') {
                /* Unescape \\ and \n in place. */
                char *o = q;
                for (char *i = q; *i; i++) {
                    if (*i == '\\' && (i[1] == '\\' || i[1] == 'n'))
                        *o++ = *++i == 'n' ? '\n' : '\\';
                    else
                        *o++ = *i;
                }
                *o = '\0';
                cur->help = q;
            } else {
                static const char *types[] = {"counter", "gauge", "histogram", "summary",
                                              "untyped"};
                int t = -1;
                for (int i = 0; i < 5; i++)
                    if (strcmp(q, types[i]) == 0)
                        t = i;
                if (t < 0)
                    return pl_err_set(err, -1, "%s:%d: unknown type %s", file, lineno, q);
                if (cur->typed && cur->type != (enum exp_type)t)
                    return pl_err_set(err, -1,
                                      "%s:%d: %s has type %s, declared differently "
                                      "before",
                                      file, lineno, name, q);
                if (cur->ns && !cur->typed)
                    return pl_err_set(err, -1, "%s:%d: TYPE for %s after its samples", file, lineno,
                                      name);
                cur->type = (enum exp_type)t;
                cur->typed = 1;
            }
            continue;
        }
        /* A sample: name [{labels}] value [timestamp] */
        char *s = line;
        size_t nl = strcspn(s, "{ \t");
        if (!valid_name(s, nl, 0))
            return pl_err_set(err, -1, "%s:%d: invalid metric name", file, lineno);
        char *rest = s + nl;
        char term = *rest;
        *rest = '\0';
        const char *name = s;
        rest++;
        size_t label0 = st->nl, nlab = 0;
        if (term == '{') {
            for (;;) {
                while (*rest == ' ' || *rest == '\t' || *rest == ',')
                    rest++;
                if (*rest == '}') {
                    rest++;
                    break;
                }
                size_t kl = strcspn(rest, "= \t");
                if (!valid_name(rest, kl, 1) || (kl >= 2 && rest[0] == '_' && rest[1] == '_'))
                    return pl_err_set(err, -1, "%s:%d: invalid label name", file, lineno);
                char *key = rest;
                rest += kl;
                while (*rest == ' ' || *rest == '\t')
                    rest++;
                if (rest[0] != '=')
                    return pl_err_set(err, -1, "%s:%d: expected '='", file, lineno);
                key[kl] = '\0';
                rest++;
                while (*rest == ' ' || *rest == '\t')
                    rest++;
                if (*rest != '"')
                    return pl_err_set(err, -1, "%s:%d: expected '\"'", file, lineno);
                char *val = ++rest, *o = rest;
                for (;;) {
                    if (!*rest)
                        return pl_err_set(err, -1, "%s:%d: unterminated label value", file, lineno);
                    if (*rest == '"')
                        break;
                    if (*rest == '\\') {
                        rest++;
                        if (*rest == 'n')
                            *o++ = '\n';
                        else if (*rest == '\\' || *rest == '"')
                            *o++ = *rest;
                        else
                            return pl_err_set(err, -1, "%s:%d: bad escape", file, lineno);
                        rest++;
                    } else {
                        *o++ = *rest++;
                    }
                }
                *o = '\0';
                rest++;
                if (nlab >= TF_MAX_LABELS)
                    return pl_err_set(err, -1, "%s:%d: too many labels", file, lineno);
                if (labels_grow(st))
                    return pl_err_set(err, PL_ERR_NOMEM, "out of memory");
                for (size_t i = label0; i < st->nl; i++)
                    if (strcmp(st->ln[i], key) == 0)
                        return pl_err_set(err, -1, "%s:%d: duplicate label %s", file, lineno, key);
                st->ln[st->nl] = key;
                st->lv[st->nl] = val;
                st->nl++;
                nlab++;
            }
        } else if (term == '\0') {
            return pl_err_set(err, -1, "%s:%d: missing value", file, lineno);
        }
        char *vs = node__field(&rest), *ts = node__field(&rest);
        double v;
        if (!vs || parse_value(vs, &v))
            return pl_err_set(err, -1, "%s:%d: invalid value", file, lineno);
        if (ts)
            return pl_err_set(err, -1,
                              "%s:%d: textfile contains unsupported client-side "
                              "timestamp",
                              file, lineno);
        struct tf_family *f = owner(st, cur, name);
        if (!f || grow((void **)&st->s, &st->scap, st->ns + 1, sizeof(*st->s)) ||
            grow((void **)&f->samples, &f->cap, f->ns + 1, sizeof(size_t)))
            return pl_err_set(err, PL_ERR_NOMEM, "out of memory");
        st->s[st->ns] = (struct tf_sample){name, label0, nlab, v};
        f->samples[f->ns++] = st->ns++;
    }
    return 0;
}

static int cmp_fam(const void *a, const void *b)
{
    return strcmp(((const struct tf_family *)a)->name, ((const struct tf_family *)b)->name);
}

int node__collect_textfile(struct node_exporter *e, struct exp_writer *w, struct pl_err *err)
{
    int scrape_error = 0;
    struct tf_file {
        char *buf, *path;
        double mtime;
    } *files = NULL;
    size_t nfiles = 0, fcap = 0;
    struct tf_state st;
    memset(&st, 0, sizeof(st));

    if (e->textdir[0]) {
        DIR *d = opendir(e->textdir);
        if (!d) {
            scrape_error = 1;
            pl_log(PL_LOG_ERROR, "exporter", "failed to read textfile collector directory", "path",
                   e->textdir, "err", strerror(errno), NULL);
        }
        struct dirent **list = NULL;
        int nl = 0;
        if (d) {
            closedir(d);
            nl = scandir(e->textdir, &list, NULL, alphasort);
            if (nl < 0)
                nl = 0, scrape_error = 1;
        }
        for (int i = 0; i < nl; i++) {
            const char *fn = list[i]->d_name;
            size_t fl = strlen(fn);
            if (fl < 6 || strcmp(fn + fl - 5, ".prom") != 0 || fl >= 256 || nfiles >= TF_MAX_FILES)
                continue;
            char path[1024];
            struct stat sb;
            if (node__path(path, sizeof(path), e->textdir, fn) || stat(path, &sb) != 0 ||
                !S_ISREG(sb.st_mode))
                continue;
            char *data;
            size_t len;
            struct pl_err ferr;
            if (node__read(e, path, &data, &len, &ferr) != 0) {
                scrape_error = 1;
                pl_log(PL_LOG_ERROR, "exporter", "failed to read textfile", "file", path, "err",
                       ferr.msg, NULL);
                continue;
            }
            char *copy = malloc(len + 1);
            if (!copy) {
                scrape_error = 1;
                continue;
            }
            memcpy(copy, data, len + 1);
            /* Parse; on failure roll back to the state before this file (one
             * snapshot entry per family seen so far). */
            struct tf_state saved = st;
            struct tf_snap {
                size_t ns;
                int typed;
                enum exp_type type;
                const char *help;
            } *snap = malloc((st.nf ? st.nf : 1) * sizeof(*snap));
            if (!snap) {
                scrape_error = 1;
                free(copy);
                continue;
            }
            for (size_t k = 0; k < st.nf; k++)
                snap[k] = (struct tf_snap){st.f[k].ns, st.f[k].typed, st.f[k].type, st.f[k].help};
            if (parse_file(&st, copy, fn, &ferr) != 0) {
                scrape_error = 1;
                pl_log(PL_LOG_ERROR, "exporter", "failed to parse textfile", "file", path, "err",
                       ferr.msg, NULL);
                for (size_t k = saved.nf; k < st.nf; k++)
                    free(st.f[k].samples);
                st.nf = saved.nf;
                st.ns = saved.ns;
                st.nl = saved.nl;
                for (size_t k = 0; k < st.nf; k++) {
                    st.f[k].ns = snap[k].ns;
                    st.f[k].typed = snap[k].typed;
                    st.f[k].type = snap[k].type;
                    st.f[k].help = snap[k].help;
                }
                index_rebuild(&st, 0); /* drop the families of the failed file */
                free(snap);
                free(copy);
                continue;
            }
            for (size_t k = 0; k < st.nf; k++) {
                /* Remember which files contributed, for the default HELP. */
                if (st.f[k].ns > (k < saved.nf ? snap[k].ns : 0)) {
                    size_t cl = strlen(st.f[k].files);
                    snprintf(st.f[k].files + cl, sizeof(st.f[k].files) - cl, "%s%s", cl ? ", " : "",
                             path);
                }
            }
            free(snap);
            char *pcopy = strdup(path);
            if (!pcopy || grow((void **)&files, &fcap, nfiles + 1, sizeof(*files))) {
                /* The parsed samples point into copy: keep it alive until the end. */
                free(pcopy);
                scrape_error = 1;
                pcopy = NULL;
            }
            if (!pcopy) {
                for (size_t k = 0; k < st.nf; k++)
                    free(st.f[k].samples);
                st.nf = 0, st.ns = 0, st.nl = 0;
                index_rebuild(&st, 0);
                free(copy);
                continue;
            }
            files[nfiles].buf = copy;
            files[nfiles].path = pcopy;
            files[nfiles].mtime = (double)sb.st_mtim.tv_sec; /* whole seconds, like node_exporter */
            nfiles++;
        }
        for (int i = 0; i < nl; i++)
            free(list[i]);
        free(list);
    }

    if (st.nf)
        qsort(st.f, st.nf, sizeof(*st.f), cmp_fam);
    for (size_t i = 0; i < st.nf && !w->err; i++) {
        struct tf_family *f = &st.f[i];
        if (!f->ns)
            continue;
        /* A name the exporter itself writes (now or after this collector) would
         * make the whole scrape invalid: drop the textfile family instead. */
        if (exp__writer_has_family(w, f->name) || strncmp(f->name, "node_textfile_", 14) == 0 ||
            strncmp(f->name, "node_scrape_collector_", 22) == 0) {
            pl_log(PL_LOG_ERROR, "exporter", "textfile metric collides with a built-in metric",
                   "metric", f->name, "files", f->files, NULL);
            scrape_error = 1;
            continue;
        }
        char help[320];
        if (!f->help)
            snprintf(help, sizeof(help), "Metric read from %s", f->files);
        exp_writer_family(w, f->name, f->help ? f->help : help, f->type);
        size_t fl = strlen(f->name);
        for (size_t k = 0; k < f->ns; k++) {
            const struct tf_sample *s = &st.s[f->samples[k]];
            const char *suffix = strlen(s->name) > fl ? s->name + fl : NULL;
            exp_writer_sample_suffix(w, suffix, s->nlabels, st.ln + s->label0, st.lv + s->label0,
                                     s->v);
        }
    }
    if (nfiles) {
        exp_writer_family(w, "node_textfile_mtime_seconds",
                          "Unixtime mtime of textfiles successfully read.", EXP_GAUGE);
        for (size_t i = 0; i < nfiles; i++)
            exp_writer_samplef(w, files[i].mtime, 1, "file", files[i].path);
    }
    exp_writer_family(w, "node_textfile_scrape_error",
                      "1 if there was an error opening or reading a file, 0 otherwise", EXP_GAUGE);
    exp_writer_sample(w, 0, NULL, NULL, scrape_error);

    for (size_t i = 0; i < st.nf; i++)
        free(st.f[i].samples);
    free(st.f);
    free(st.idx);
    free(st.s);
    free(st.ln);
    free(st.lv);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i].buf), free(files[i].path);
    free(files);
    (void)err;
    return 0;
}
