/*
 * expfmt.h - parser for the Prometheus text exposition format 0.0.4 and the
 * OpenMetrics 1.0 text format.
 *
 * Specs: https://prometheus.io/docs/instrumenting/exposition_formats/ (0.0.4)
 * and https://github.com/OpenObservability/OpenMetrics/blob/main/specification/
 * OpenMetrics.md (1.0). One parser serves both formats and two strictness
 * levels:
 *
 *  - strict (COLL_EXPFMT_STRICT): every rule of the format, for
 *    `promlite check metrics`. For 0.0.4 that is what `promtool check metrics`
 *    (the prometheus/common text parser) enforces; for OpenMetrics it is the
 *    spec and the OpenMetrics test suite (metadata placement, family grouping
 *    and interleaving, histogram/summary/stateset/info structure, counter-like
 *    values, exemplar placement and length, `# EOF`).
 *  - lenient (the default): what Prometheus 2.42's scrape parsers accept,
 *    syntax only. The scraper and the import path use it.
 *
 * The parser walks a caller's buffer and yields one entry at a time. It never
 * allocates per sample: labels, decoded escapes and bookkeeping live in
 * scratch storage owned by the parser and reused from entry to entry (it grows
 * only when a line needs more than any line before it, or when a new metric
 * family appears in strict mode).
 *
 *     struct coll_expfmt_parser *p = coll_expfmt_parser_new(COLL_EXPFMT_PROMETHEUS, 0);
 *     coll_expfmt_parser_reset(p, body, len);
 *     struct coll_expfmt_entry e;
 *     struct coll_expfmt_err err;
 *     int rc;
 *     while ((rc = coll_expfmt_next(p, &e, &err)) > 0)
 *         if (rc == COLL_EXPFMT_SAMPLE) use(&e.sample);
 *     if (rc < 0) report(err.line, err.col, err.msg);
 *     coll_expfmt_parser_free(p);
 */
#ifndef COLLECTOR_EXPFMT_H
#define COLLECTOR_EXPFMT_H

#include <stddef.h>
#include <stdint.h>

#include "common/labels.h"

enum coll_expfmt_format {
    COLL_EXPFMT_PROMETHEUS = 0, /* text 0.0.4 */
    COLL_EXPFMT_OPENMETRICS = 1 /* OpenMetrics 1.0 text */
};

/* Flags for coll_expfmt_parser_new. */
#define COLL_EXPFMT_STRICT 0x1u /* apply every rule of the format */
/*
 * Accept the value token `stale` and yield the Prometheus stale marker
 * (NaN with bits 0x7ff0000000000002). For the import path; off for scrapes.
 */
#define COLL_EXPFMT_STALE_TOKEN 0x2u

/* Bits of the stale-marker NaN and of the NaN the parser yields for `NaN`. */
#define COLL_EXPFMT_STALE_NAN_BITS  UINT64_C(0x7ff0000000000002)
#define COLL_EXPFMT_NORMAL_NAN_BITS UINT64_C(0x7ff8000000000001)

enum coll_expfmt_type {
    COLL_EXPFMT_UNTYPED = 0, /* 0.0.4 "untyped", OpenMetrics "unknown" */
    COLL_EXPFMT_COUNTER,
    COLL_EXPFMT_GAUGE,
    COLL_EXPFMT_HISTOGRAM,
    COLL_EXPFMT_SUMMARY,
    COLL_EXPFMT_INFO,          /* OpenMetrics only */
    COLL_EXPFMT_STATESET,      /* OpenMetrics only */
    COLL_EXPFMT_GAUGEHISTOGRAM /* OpenMetrics only */
};

/* Kinds of entry coll_expfmt_next yields (its positive return values). */
enum coll_expfmt_kind {
    COLL_EXPFMT_SAMPLE = 1,
    COLL_EXPFMT_HELP = 2,
    COLL_EXPFMT_TYPE = 3,
    COLL_EXPFMT_UNIT = 4
};

/* A byte range. Not NUL-terminated. */
struct coll_expfmt_str {
    const char *p;
    size_t n;
};

/* One label; escapes in the value are decoded. */
struct coll_expfmt_label {
    struct coll_expfmt_str name;
    struct coll_expfmt_str value;
};

struct coll_expfmt_sample {
    /*
     * The metric family the sample belongs to and its type, as far as the
     * format tells: `a` and COUNTER for `a_total` after `# TYPE a counter`.
     * A sample that no TYPE line covers is its own UNTYPED family.
     */
    struct coll_expfmt_str family;
    enum coll_expfmt_type type;
    struct coll_expfmt_str name; /* the sample's metric name as written */
    /*
     * The series exactly as written, `name{labels}` (no value), a slice of
     * the input: a cheap cache key for the scraper (Prometheus's scrape cache
     * idea). Two spellings of one series give two keys.
     */
    struct coll_expfmt_str series;
    const struct coll_expfmt_label *labels; /* in input order, no __name__ */
    size_t nlabels;
    /* The series text was the one coll_expfmt_expect gave: no labels are listed. */
    int hinted;
    double value;
    int has_ts;
    int64_t ts_ms; /* 0.0.4: as written; OpenMetrics: seconds x 1000, truncated */
    int has_exemplar;
    const struct coll_expfmt_label *ex_labels;
    size_t ex_nlabels;
    double ex_value;
    int ex_has_ts;
    int64_t ex_ts_ms;
};

/* An entry. Everything it points to is borrowed until the next call. */
struct coll_expfmt_entry {
    enum coll_expfmt_kind kind;
    uint32_t line; /* 1-based line of the entry */
    /* SAMPLE */
    struct coll_expfmt_sample sample;
    /* HELP, TYPE, UNIT: the metric name and the text (HELP escapes decoded) */
    struct coll_expfmt_str meta_name;
    struct coll_expfmt_str meta_text;
    enum coll_expfmt_type meta_type; /* TYPE */
};

#define COLL_EXPFMT_ERR_MSG_MAX 256

/* Where and why the input is invalid. Lines and columns are 1-based bytes. */
struct coll_expfmt_err {
    uint32_t line;
    uint32_t col;
    char msg[COLL_EXPFMT_ERR_MSG_MAX];
};

struct coll_expfmt_parser;

/* A parser for `format` with COLL_EXPFMT_* `flags`. Free with _free. */
struct coll_expfmt_parser *coll_expfmt_parser_new(enum coll_expfmt_format format, unsigned flags);
/* NULL-safe. */
void coll_expfmt_parser_free(struct coll_expfmt_parser *p);

/*
 * Starts parsing buf[0..len). The buffer is borrowed: it must stay unchanged
 * until the parse ends or the parser is reset again. Keeps scratch memory.
 */
void coll_expfmt_parser_reset(struct coll_expfmt_parser *p, const char *buf, size_t len);

/*
 * A hint for the next sample (the scraper's series cache knows the page it
 * saw last): when, in lenient 0.0.4 mode, the next sample's text starts with
 * exactly series[0..n) and a blank, that series text was accepted by this
 * mode before, so its labels are not scanned again; the sample then comes
 * with `hinted` set, `series` and `name` set and no labels (nlabels 0). Ignored in other
 * modes. `series` must not span lines (contain '\n': the line count would
 * be off); it is borrowed until the next
 * coll_expfmt_next, which consumes the hint whether it matched or not.
 */
void coll_expfmt_expect(struct coll_expfmt_parser *p, const char *series, size_t n);

/*
 * Next entry. Returns a COLL_EXPFMT_SAMPLE/HELP/TYPE/UNIT kind (> 0) with *e
 * filled, 0 at the valid end of the input, or PL_ERR_INVALID with *err filled
 * (err may be NULL). After 0 or an error, further calls repeat the result.
 * Comments (0.0.4) and `# EOF` yield nothing. Whatever the bytes, it never
 * reads outside the buffer.
 */
int coll_expfmt_next(struct coll_expfmt_parser *p, struct coll_expfmt_entry *e,
                     struct coll_expfmt_err *err);

/*
 * Puts the sample's label set in `b`: `__name__` = the sample name, then its
 * labels (empty values are dropped, as Prometheus does). Resets `b` first.
 */
void coll_expfmt_sample_to_builder(const struct coll_expfmt_sample *s, struct pl_labels_builder *b);

/* The sample's label set, owned by the caller (via pl_lb_labels on `b`). */
struct pl_labels *coll_expfmt_sample_labels(const struct coll_expfmt_sample *s,
                                            struct pl_labels_builder *b);

/*
 * "auto" detection: OpenMetrics when the input ends with `# EOF`, optionally
 * followed by one newline; otherwise Prometheus text.
 */
enum coll_expfmt_format coll_expfmt_detect(const char *buf, size_t len);

/* "counter", "gauge", ... ("untyped" for COLL_EXPFMT_UNTYPED). */
const char *coll_expfmt_type_name(enum coll_expfmt_type t);

#endif
