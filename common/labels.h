/*
 * labels.h - label sets, as Prometheus defines them.
 *
 * A label set is an immutable array of (name, value) pairs sorted by name, with
 * no empty values and no duplicate names. The metric name is the label
 * `__name__`. Names are interned (intern.h); values are stored in the same
 * allocation as the array, so a label set is one malloc and one free.
 *
 * The hash is XXH3 over "name\xffvalue\xff" for each pair in order, like
 * Prometheus's labels.Hash: stable across runs, and the series key on disk.
 */
#ifndef COMMON_LABELS_H
#define COMMON_LABELS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define PL_METRIC_NAME "__name__"

struct pl_label {
    const char *name;  /* interned, NUL-terminated */
    const char *value; /* NUL-terminated; may contain no NUL in practice */
    uint32_t name_len;
    uint32_t value_len;
};

struct pl_labels {
    uint32_t n;
    uint64_t hash;
    struct pl_label v[];
};

/* Frees a label set from this module. NULL-safe. */
void pl_labels_free(struct pl_labels *ls);
/* A copy of `ls` (one allocation). */
struct pl_labels *pl_labels_dup(const struct pl_labels *ls);
/* The label named `name`, or NULL. Binary search. */
const struct pl_label *pl_labels_get(const struct pl_labels *ls, const char *name);
/* Value of `name`, or "" when absent (Prometheus's Labels.Get). */
const char *pl_labels_value(const struct pl_labels *ls, const char *name);
/* Orders label sets as Prometheus's labels.Compare does. */
int pl_labels_cmp(const struct pl_labels *a, const struct pl_labels *b);
int pl_labels_equal(const struct pl_labels *a, const struct pl_labels *b);
/* Hash of the pairs whose names are (include=1) or are not (include=0) in names[]. */
uint64_t pl_labels_hash_subset(const struct pl_labels *ls, const char *const *names, size_t nnames,
                               int include);

/*
 * Appends the Prometheus string form: `name{a="x", b="y"}`, or `{...}` when
 * there is no metric name; values escaped with \\ \" \n.
 */
int pl_labels_format(const struct pl_labels *ls, struct pl_buf *out);
/* Appends a label value escaped for exposition and PromQL strings. */
int pl_escape_label_value(struct pl_buf *out, const char *v, size_t n);

/*
 * Parses `name{a="x",b="y"}`, `{a="x"}` or `name` (the form pl_labels_format
 * writes, commas with or without spaces). OUT: *out, owned by the caller.
 */
int pl_labels_parse(const char *s, size_t n, struct pl_labels **out, struct pl_err *err);

/* Validity of names under Prometheus 2.42 rules. */
int pl_label_name_valid(const char *s, size_t n);  /* [a-zA-Z_][a-zA-Z0-9_]* */
int pl_metric_name_valid(const char *s, size_t n); /* [a-zA-Z_:][a-zA-Z0-9_:]* */

/*
 * A builder collects pairs in any order, later ones replacing earlier ones
 * with the same name, and produces a sorted label set. Reusable: one builder
 * per scrape loop or evaluator avoids allocation per series.
 */
struct pl_lb_pair {
    uint32_t noff, nlen, voff, vlen; /* offsets into bytes */
};

struct pl_labels_builder {
    struct pl_lb_pair *v;
    uint32_t n, cap;
    struct pl_buf bytes;
};

void pl_lb_init(struct pl_labels_builder *b);
void pl_lb_fini(struct pl_labels_builder *b);
void pl_lb_reset(struct pl_labels_builder *b);
/* Starts from the pairs of `ls`. */
void pl_lb_reset_from(struct pl_labels_builder *b, const struct pl_labels *ls);
/* Sets name=value; an empty value deletes the name (as Prometheus's builder). */
void pl_lb_set(struct pl_labels_builder *b, const char *name, size_t nlen, const char *value,
               size_t vlen);
void pl_lb_setz(struct pl_labels_builder *b, const char *name, const char *value);
void pl_lb_del(struct pl_labels_builder *b, const char *name, size_t nlen);
/* Current value of `name` in the builder, or NULL (length in *vlen). */
const char *pl_lb_get(const struct pl_labels_builder *b, const char *name, size_t nlen,
                      size_t *vlen);
/* A new sorted label set (owned by the caller); the builder keeps its pairs. */
struct pl_labels *pl_lb_labels(struct pl_labels_builder *b);

#endif
