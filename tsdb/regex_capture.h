/*
 * regex_capture.h - anchored RE2-compatible regexes with capture groups.
 *
 * Relabeling (Prometheus relabel.Regex) compiles `^(?:PATTERN)$` with Go's
 * regexp and expands `$1`, `${name}` from the submatches. This is the same
 * PCRE2 set-up as tsdb_regex (matcher.h) -- the RE2 syntax checks with Go's
 * error texts, UTF without UCP, `$` only at the very end -- but keeps the
 * capture groups. Error messages show the anchored form, as Prometheus does:
 * "error parsing regexp: missing closing ]: `[)$`".
 *
 * A compiled regex is immutable and may be shared by threads; matching uses
 * caller-provided offsets, so it never allocates.
 */
#ifndef TSDB_REGEX_CAPTURE_H
#define TSDB_REGEX_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* The most groups (including group 0) a match reports. */
#define TSDB_REGEX_CAPTURE_MAX 64

struct tsdb_regex_capture;

/*
 * Compiles `^(?:pattern)$`. OUT: *out, freed with tsdb_regex_capture_free.
 * PL_ERR_INVALID with Go's message when Go's regexp would refuse the pattern.
 */
int tsdb_regex_capture_new(const char *pattern, struct tsdb_regex_capture **out,
                           struct pl_err *err);
void tsdb_regex_capture_free(struct tsdb_regex_capture *re);

/* The pattern as given (not anchored). Borrowed for the regex's lifetime. */
const char *tsdb_regex_capture_pattern(const struct tsdb_regex_capture *re);

/* Number of capture groups, group 0 included (at most TSDB_REGEX_CAPTURE_MAX). */
uint32_t tsdb_regex_capture_groups(const struct tsdb_regex_capture *re);

/* Index of the group named `name` ((?P<name>...)), or -1. */
int tsdb_regex_capture_group_index(const struct tsdb_regex_capture *re, const char *name, size_t n);

/*
 * Matches the whole of s[0..n). Returns 1 on a match, 0 otherwise.
 * OUT: ovec (may be NULL): for each group g < tsdb_regex_capture_groups(),
 * ovec[2g], ovec[2g+1] are its start and end offsets, or SIZE_MAX both when
 * the group did not take part. ovec must hold 2 * TSDB_REGEX_CAPTURE_MAX.
 */
int tsdb_regex_capture_match(const struct tsdb_regex_capture *re, const char *s, size_t n,
                             size_t *ovec);

/*
 * Appends `tmpl` expanded like Go's regexp.Expand: `$$` is `$`; `$name` and
 * `${name}` take the longest run of [A-Za-z0-9_] as the name (so `$1x` is the
 * group named "1x"); a number is a group index, anything else a group name;
 * unknown or non-participating groups expand to nothing; a malformed `$` is
 * copied literally. ovec comes from a successful tsdb_regex_capture_match on s.
 * Returns 0 or PL_ERR_LIMIT from the buffer.
 */
struct pl_buf;
int tsdb_regex_capture_expand(const struct tsdb_regex_capture *re, const char *tmpl,
                              size_t tmpl_len, const char *s, const size_t *ovec,
                              struct pl_buf *out);

#endif
