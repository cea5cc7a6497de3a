/*
 * client_int.h - internals of libpromlite-client shared between its files.
 *
 * Not installed. The writer is the one place that knows the two exposition
 * formats (Prometheus text 0.0.4 and OpenMetrics 1.0); registry.c, process.c
 * and every collector produce output only through it.
 */
#ifndef EXPORTER_CLIENT_CLIENT_INT_H
#define EXPORTER_CLIENT_CLIENT_INT_H

#include "exporter/include/promlite/client.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define EXP__NAME_MAX 256 /* longest family name the writer accepts */

/* A growable output buffer with a hard limit (curl dynbuf). */
struct exp_writer {
    char *buf;
    size_t len, cap, limit;
    enum exp_format fmt;
    int err;                  /* sticky: the first error, 0 if none */
    char fam[EXP__NAME_MAX];  /* current family name as written on samples */
    size_t famlen;            /* 0: no family started */
    char meta[EXP__NAME_MAX]; /* name in HELP/TYPE (OpenMetrics counters drop _total) */
    enum exp_type type;
    uint64_t *fam_seen; /* open-addressing set of family-name hashes (0 = empty) */
    size_t fam_n, fam_cap;
};

/* Initialises an empty writer producing `fmt`, at most `limit` bytes. */
void exp__writer_init(struct exp_writer *w, enum exp_format fmt, size_t limit);

/* Empties the writer for a new exposition, keeping its buffer (no allocation). */
void exp__writer_reset(struct exp_writer *w, enum exp_format fmt, size_t limit);

/* Frees the buffer. */
void exp__writer_fini(struct exp_writer *w);

/* Whether a family of this name was already written in this exposition. */
int exp__writer_has_family(const struct exp_writer *w, const char *name);

/* Appends raw bytes (sticky error on limit or allocation failure). */
int exp__writer_put(struct exp_writer *w, const char *s, size_t n);

/* Appends the OpenMetrics terminator when writing OpenMetrics. */
int exp__writer_finish(struct exp_writer *w);

/*
 * Writes a sample with an extra trailing label (le= or quantile=) whose value
 * is the float `extra_v` formatted for exposition; extra_name NULL for none.
 */
int exp__writer_sample_ex(struct exp_writer *w, const char *suffix, size_t nlabels,
                          const char *const *names, const char *const *values,
                          const char *extra_name, double extra_v, double v);

/*
 * The registered family `name` if it has this type and these label names,
 * else NULL (lets a restarted server reuse its promhttp families).
 */
struct exp_family *exp__registry_find(struct exp_registry *r, const char *name, enum exp_type type,
                                      size_t nlabels, const char *const *label_names);

/*
 * Renders the registry into `w` (reset first; its buffer is reused).
 * Returns 0 or the first error; w->buf/w->len hold the exposition on success.
 */
int exp__registry_render_into(struct exp_registry *r, enum exp_format fmt, struct exp_writer *w);

/*
 * A reusable gzip compressor (deflateReset instead of a new 256 KiB state
 * per reply). exp__gz_compress returns 0 with out/outlen pointing into the
 * compressor's buffer (valid until the next call), or an EXP_ERR_* code.
 */
struct exp__gz;
struct exp__gz *exp__gz_new(void);
void exp__gz_free(struct exp__gz *g);
int exp__gz_compress(struct exp__gz *g, const char *in, size_t n, const char **out, size_t *outlen);

/*
 * Formats a float the way Prometheus parsers read it back exactly: integers
 * below 2^53 plainly, others with the shortest of %.15g/%.17g that round-trips,
 * NaN, +Inf, -Inf. Writes at most 32 bytes; returns the length.
 */
size_t exp__fmt_double(char *out, double v);

/* Validation of names (see client.h). Return 1 when valid. */
int exp__valid_metric_name(const char *s);
int exp__valid_label_name(const char *s);

#endif
