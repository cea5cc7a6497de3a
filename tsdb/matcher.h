/*
 * matcher.h - label matchers with Prometheus semantics: =, !=, =~, !~.
 *
 * Regular expressions are fully anchored and follow Go's RE2 syntax as
 * Prometheus 2.42 does: we compile with PCRE2 (anchored at both ends, UTF,
 * invalid UTF-8 tolerated, \w \d \s ASCII-only) and reject the syntax RE2
 * rejects (look-around, back-references, possessive and atomic groups, \Z,
 * \C, repeat counts over 1000, (?<name>...)) with Go's error texts. Literal
 * patterns, `.*`, `.+`, prefixes `foo.*` and alternations of literals `a|b|c`
 * take fast paths that never enter the regex engine.
 *
 * A matcher is immutable after creation and may be used from many threads.
 */
#ifndef TSDB_MATCHER_H
#define TSDB_MATCHER_H

#include <stddef.h>

#include "common/err.h"
#include "common/labels.h"

enum tsdb_match_type {
    TSDB_MATCH_EQ,  /* =  */
    TSDB_MATCH_NEQ, /* != */
    TSDB_MATCH_RE,  /* =~ */
    TSDB_MATCH_NRE, /* !~ */
};

struct tsdb_matcher;

/*
 * Creates a matcher; name and value are copied. For the regex types, a pattern
 * Go's regexp would refuse fails with PL_ERR_INVALID and a message such as
 * "error parsing regexp: invalid or unsupported Perl syntax: `(?=`".
 * OUT: *out, freed with tsdb_matcher_free.
 */
int tsdb_matcher_new(enum tsdb_match_type type, const char *name, const char *value,
                     struct tsdb_matcher **out, struct pl_err *err);
void tsdb_matcher_free(struct tsdb_matcher *m);

enum tsdb_match_type tsdb_matcher_type(const struct tsdb_matcher *m);
const char *tsdb_matcher_name(const struct tsdb_matcher *m);
const char *tsdb_matcher_value(const struct tsdb_matcher *m);

/* Whether a label value (absent labels have value "") satisfies the matcher. */
int tsdb_matcher_matches(const struct tsdb_matcher *m, const char *v, size_t n);
/* Whether the matcher accepts the empty string (then it also selects series lacking the label). */
int tsdb_matcher_matches_empty(const struct tsdb_matcher *m);
/* Whether a label set satisfies every matcher of ms[0..n). */
int tsdb_matchers_match_labels(struct tsdb_matcher *const *ms, size_t n,
                               const struct pl_labels *ls);

/* Compiles a standalone anchored RE2-compatible regex (also used by relabeling). */
struct tsdb_regex;
int tsdb_regex_new(const char *pattern, struct tsdb_regex **out, struct pl_err *err);
void tsdb_regex_free(struct tsdb_regex *re);
int tsdb_regex_match(const struct tsdb_regex *re, const char *s, size_t n);

#endif
