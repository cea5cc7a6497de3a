/*
 * fuzz_promql.c - libFuzzer target for the PromQL parser (query/parse.c).
 *
 * Parses arbitrary bytes; whatever parses is printed, reparsed (which must
 * succeed), printed again (which must give the same text), and freed. Parse
 * errors must carry a position inside the input. Inputs are capped at 64 KiB.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "query/ast.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    struct query_expr *e = NULL;
    struct query_parse_err err;
    if (query_parse((const char *)data, size, &e, &err) != 0) {
        if (err.offset > size || err.line < 1 || err.col < 1 || err.msg[0] == 0)
            abort();
        return 0;
    }
    struct pl_buf a, b;
    pl_buf_init(&a, 1 << 24);
    pl_buf_init(&b, 1 << 24);
    if (query_expr_format(e, &a) != 0)
        abort();
    struct query_expr *e2 = NULL;
    if (query_parse(a.data ? a.data : "", a.len, &e2, &err) != 0) {
        fprintf(stderr, "printed form does not reparse: %s\n  %s\n", pl_buf_cstr(&a), err.msg);
        abort();
    }
    if (query_expr_format(e2, &b) != 0 || strcmp(pl_buf_cstr(&a), pl_buf_cstr(&b)) != 0) {
        fprintf(stderr, "printing is not stable:\n  %s\n  %s\n", pl_buf_cstr(&a), pl_buf_cstr(&b));
        abort();
    }
    query_expr_free(e2);
    query_expr_free(e);
    pl_buf_fini(&a);
    pl_buf_fini(&b);
    return 0;
}
