/*
 * fuzz_expfmt.h - the body shared by the exposition-parser fuzz targets
 * (fuzz_expfmt_text.c, fuzz_expfmt_om.c): each defines FUZZ_EXPFMT_FORMAT and
 * includes this file. Strict and lenient modes, with the stale token on.
 *
 * Checks beyond "no crash": the parse ends with 0 or PL_ERR_INVALID, an
 * error has a position inside the input and a message, every sample's
 * slices lie inside the input or the parser's scratch, and a parser reused
 * after reset gives the same verdict.
 */
#ifndef TESTS_FUZZ_FUZZ_EXPFMT_H
#define TESTS_FUZZ_FUZZ_EXPFMT_H

#include "collector/expfmt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int run(struct coll_expfmt_parser *p, const char *buf, size_t len, size_t *samples)
{
    struct coll_expfmt_entry e;
    struct coll_expfmt_err err;
    int rc;
    size_t n = 0;
    uint32_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    coll_expfmt_parser_reset(p, buf, len);
    while ((rc = coll_expfmt_next(p, &e, &err)) > 0) {
        if (rc != COLL_EXPFMT_SAMPLE)
            continue;
        const struct coll_expfmt_sample *s = &e.sample;
        /* the raw slices point into the input */
        if (s->name.p < buf || s->name.p + s->name.n > buf + len || s->name.n == 0)
            abort();
        if (s->series.p != s->name.p || s->series.n < s->name.n)
            abort();
        size_t sum = 0;
        for (size_t i = 0; i < s->nlabels; i++)
            sum += s->labels[i].name.n + s->labels[i].value.n; /* reads every byte */
        for (size_t i = 0; i < s->nlabels; i++)
            for (size_t k = 0; k < s->labels[i].value.n; k++)
                sum += (unsigned char)s->labels[i].value.p[k];
        for (size_t i = 0; i < s->ex_nlabels; i++)
            for (size_t k = 0; k < s->ex_labels[i].value.n; k++)
                sum += (unsigned char)s->ex_labels[i].value.p[k];
        (void)sum;
        n++;
    }
    if (rc != 0 && rc != PL_ERR_INVALID)
        abort();
    if (rc < 0 && (err.line == 0 || err.line > lines || err.col == 0 || err.msg[0] == '\0'))
        abort();
    *samples = n;
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    /* an exact-size copy, so a read past the end is caught */
    char *buf = malloc(size ? size : 1);
    if (size)
        memcpy(buf, data, size);
    for (unsigned strict = 0; strict <= 1; strict++) {
        struct coll_expfmt_parser *p = coll_expfmt_parser_new(
            FUZZ_EXPFMT_FORMAT, (strict ? COLL_EXPFMT_STRICT : 0) | COLL_EXPFMT_STALE_TOKEN);
        size_t n1, n2;
        int rc1 = run(p, buf, size, &n1);
        int rc2 = run(p, buf, size, &n2);
        if (rc1 != rc2 || n1 != n2)
            abort();
        coll_expfmt_parser_free(p);
    }
    free(buf);
    return 0;
}

#endif
