/*
 * ast.c - names, static types and canonical printing of PromQL syntax trees.
 *
 * Printing follows the String() methods of Prometheus 2.42's
 * promql/parser/printer.go, so that a formatted query reads the way
 * Prometheus shows it (`sum by (job) (rate(x{a="b"}[5m] offset 1m))`), and
 * reparsing the text gives the same tree. Where Prometheus's printer loses
 * information (`ignoring () group_left ()` prints as nothing) we print the
 * clause so that the round trip holds.
 */
#include "query/ast.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"
#include "query/lex.h"
#include "query/parse_int.h"

const char *query_value_type_name(enum query_value_type t)
{
    switch (t) {
    case QUERY_VT_SCALAR:
        return "scalar";
    case QUERY_VT_VECTOR:
        return "vector";
    case QUERY_VT_MATRIX:
        return "matrix";
    case QUERY_VT_STRING:
        return "string";
    case QUERY_VT_NONE:
    default:
        return "none";
    }
}

const char *query__value_type_doc(enum query_value_type t)
{
    switch (t) {
    case QUERY_VT_VECTOR:
        return "instant vector";
    case QUERY_VT_MATRIX:
        return "range vector";
    default:
        return query_value_type_name(t);
    }
}

const char *query_binop_name(enum query_binop op)
{
    switch (op) {
    case QUERY_OP_ADD:
        return "+";
    case QUERY_OP_SUB:
        return "-";
    case QUERY_OP_MUL:
        return "*";
    case QUERY_OP_DIV:
        return "/";
    case QUERY_OP_MOD:
        return "%";
    case QUERY_OP_POW:
        return "^";
    case QUERY_OP_ATAN2:
        return "atan2";
    case QUERY_OP_EQL:
        return "==";
    case QUERY_OP_NEQ:
        return "!=";
    case QUERY_OP_GTR:
        return ">";
    case QUERY_OP_LSS:
        return "<";
    case QUERY_OP_GTE:
        return ">=";
    case QUERY_OP_LTE:
        return "<=";
    case QUERY_OP_AND:
        return "and";
    case QUERY_OP_OR:
        return "or";
    case QUERY_OP_UNLESS:
        return "unless";
    }
    return "?";
}

int query_binop_is_comparison(enum query_binop op)
{
    return op == QUERY_OP_EQL || op == QUERY_OP_NEQ || op == QUERY_OP_GTR || op == QUERY_OP_LSS ||
           op == QUERY_OP_GTE || op == QUERY_OP_LTE;
}

int query_binop_is_set(enum query_binop op)
{
    return op == QUERY_OP_AND || op == QUERY_OP_OR || op == QUERY_OP_UNLESS;
}

const char *query_aggop_name(enum query_aggop op)
{
    switch (op) {
    case QUERY_AGG_SUM:
        return "sum";
    case QUERY_AGG_AVG:
        return "avg";
    case QUERY_AGG_COUNT:
        return "count";
    case QUERY_AGG_MIN:
        return "min";
    case QUERY_AGG_MAX:
        return "max";
    case QUERY_AGG_GROUP:
        return "group";
    case QUERY_AGG_STDDEV:
        return "stddev";
    case QUERY_AGG_STDVAR:
        return "stdvar";
    case QUERY_AGG_TOPK:
        return "topk";
    case QUERY_AGG_BOTTOMK:
        return "bottomk";
    case QUERY_AGG_COUNT_VALUES:
        return "count_values";
    case QUERY_AGG_QUANTILE:
        return "quantile";
    }
    return "?";
}

enum query_value_type query_node_type(const struct query_node *n)
{
    /* Parentheses and unary operators take their operand's type; walk down iteratively. */
    while (n && (n->kind == QUERY_NODE_PAREN || n->kind == QUERY_NODE_UNARY))
        n = n->kind == QUERY_NODE_PAREN ? n->paren.expr : n->unary.expr;
    if (!n)
        return QUERY_VT_NONE;
    switch (n->kind) {
    case QUERY_NODE_NUMBER:
        return QUERY_VT_SCALAR;
    case QUERY_NODE_STRING:
        return QUERY_VT_STRING;
    case QUERY_NODE_VECTOR_SELECTOR:
    case QUERY_NODE_AGGREGATE:
        return QUERY_VT_VECTOR;
    case QUERY_NODE_MATRIX_SELECTOR:
    case QUERY_NODE_SUBQUERY:
        return QUERY_VT_MATRIX;
    case QUERY_NODE_CALL:
        return n->call.func ? n->call.func->ret : QUERY_VT_NONE;
    case QUERY_NODE_BINARY:
        /* Scalar only between two scalars; the parser caps the tree height, so recursion is
         * bounded. */
        return query_node_type(n->binary.lhs) == QUERY_VT_SCALAR &&
                       query_node_type(n->binary.rhs) == QUERY_VT_SCALAR
                   ? QUERY_VT_SCALAR
                   : QUERY_VT_VECTOR;
    default:
        return QUERY_VT_NONE;
    }
}

/*
 * Go's strconv.FormatFloat(v, 'g', -1, 64), as Prometheus prints number
 * literals: the shortest digits that read back as v, with an exponent when
 * it is below -4 or at least 6 (1e+06, 2e-07, 123456, 0.0001).
 */
int query__format_float(struct pl_buf *out, double v)
{
    if (isnan(v))
        return pl_buf_puts(out, "NaN");
    if (isinf(v))
        return pl_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    if (v == 0)
        return pl_buf_puts(out, signbit(v) ? "-0" : "0");
    char tmp[64];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    /* tmp is [-]d[.ddd]e[+-]xx */
    char digits[32];
    size_t nd = 0;
    const char *p = tmp;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[nd++] = *p;
    int exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    int rc = 0;
    if (neg)
        rc = pl_buf_putc(out, '-');
    if (exp10 < -4 || exp10 >= 6) {
        /* %e form with the shortest mantissa and at least two exponent digits. */
        if (rc == 0)
            rc = pl_buf_putc(out, digits[0]);
        if (rc == 0 && nd > 1) {
            rc = pl_buf_putc(out, '.');
            if (rc == 0)
                rc = pl_buf_append(out, digits + 1, nd - 1);
        }
        if (rc == 0)
            rc = pl_buf_printf(out, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
        return rc;
    }
    /* The decimal point sits after digit index exp10 (value = 0.d1d2... * 10^(exp10+1)). */
    int point = exp10 + 1;
    if (point <= 0) {
        rc = rc ? rc : pl_buf_puts(out, "0.");
        for (int i = 0; rc == 0 && i < -point; i++)
            rc = pl_buf_putc(out, '0');
        if (rc == 0)
            rc = pl_buf_append(out, digits, nd);
        return rc;
    }
    for (int i = 0; rc == 0 && i < point; i++)
        rc = pl_buf_putc(out, (size_t)i < nd ? digits[i] : '0');
    if (rc == 0 && (size_t)point < nd) {
        rc = pl_buf_putc(out, '.');
        if (rc == 0)
            rc = pl_buf_append(out, digits + point, nd - (size_t)point);
    }
    return rc;
}

static int put_duration(struct pl_buf *out, int64_t ms)
{
    char tmp[64];
    pl_duration_format(ms, tmp, sizeof(tmp));
    return pl_buf_puts(out, tmp);
}

static int put_offset(struct pl_buf *out, int64_t ms)
{
    if (ms == 0)
        return 0;
    int rc = pl_buf_puts(out, ms > 0 ? " offset " : " offset -");
    if (rc == 0)
        rc = put_duration(out, ms > 0 ? ms : -ms);
    return rc;
}

static int put_at(struct pl_buf *out, enum query_at at, int64_t at_ms)
{
    switch (at) {
    case QUERY_AT_TIME: {
        /* Go's %.3f of ms/1000.0. */
        return pl_buf_printf(out, " @ %.3f", (double)at_ms / 1000.0);
    }
    case QUERY_AT_START:
        return pl_buf_puts(out, " @ start()");
    case QUERY_AT_END:
        return pl_buf_puts(out, " @ end()");
    case QUERY_AT_NONE:
    default:
        return 0;
    }
}

static const char *match_op_name(enum tsdb_match_type t)
{
    switch (t) {
    case TSDB_MATCH_EQ:
        return "=";
    case TSDB_MATCH_NEQ:
        return "!=";
    case TSDB_MATCH_RE:
        return "=~";
    case TSDB_MATCH_NRE:
        return "!~";
    }
    return "?";
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* name{sorted matchers}, without the __name__="name" matcher. */
static int put_selector_body(struct pl_buf *out, const struct query_node *vs)
{
    int rc = 0;
    const char *name = vs->vs.name;
    if (name)
        rc = pl_buf_puts(out, name);
    size_t n = vs->vs.nmatchers, k = 0;
    if (n == 0 || rc)
        return rc;
    char **parts = calloc(n, sizeof(*parts));
    if (!parts)
        return PL_ERR_NOMEM;
    struct pl_buf tmp;
    for (size_t i = 0; i < n; i++) {
        const struct tsdb_matcher *m = vs->vs.matchers[i];
        const char *mn = tsdb_matcher_name(m);
        const char *mv = tsdb_matcher_value(m);
        if (name && strcmp(mn, "__name__") == 0 && tsdb_matcher_type(m) == TSDB_MATCH_EQ &&
            strcmp(mv, name) == 0)
            continue;
        pl_buf_init(&tmp, SIZE_MAX / 2);
        pl_buf_puts(&tmp, mn);
        pl_buf_puts(&tmp, match_op_name(tsdb_matcher_type(m)));
        query__quote(&tmp, mv, strlen(mv), 0);
        size_t len;
        parts[k] = pl_buf_steal(&tmp, &len);
        if (!parts[k])
            parts[k] = strdup("");
        k++;
    }
    if (k > 0) {
        qsort(parts, k, sizeof(*parts), cmp_str);
        rc = pl_buf_putc(out, '{');
        for (size_t i = 0; rc == 0 && i < k; i++) {
            if (i > 0)
                rc = pl_buf_putc(out, ',');
            if (rc == 0)
                rc = pl_buf_puts(out, parts[i]);
        }
        if (rc == 0)
            rc = pl_buf_putc(out, '}');
    }
    for (size_t i = 0; i < k; i++)
        free(parts[i]);
    free(parts);
    return rc;
}

static int put_label_list(struct pl_buf *out, const char *const *ls, size_t n)
{
    int rc = pl_buf_putc(out, '(');
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (i > 0)
            rc = pl_buf_puts(out, ", ");
        if (rc == 0)
            rc = pl_buf_puts(out, ls[i]);
    }
    if (rc == 0)
        rc = pl_buf_putc(out, ')');
    return rc;
}

static int format_node(const struct query_node *n, struct pl_buf *out, int depth);

/*
 * The left spine of a chain of binary operators can be as deep as the query
 * is long, so binary nodes are printed with an explicit stack of their left
 * operands rather than by recursion on the left side.
 */
static int format_binary(const struct query_node *n, struct pl_buf *out, int depth)
{
    size_t cap = 16, k = 0;
    const struct query_node **stack = malloc(cap * sizeof(*stack));
    if (!stack)
        return PL_ERR_NOMEM;
    while (n->kind == QUERY_NODE_BINARY) {
        if (k == cap) {
            cap *= 2;
            const struct query_node **ns = realloc(stack, cap * sizeof(*stack));
            if (!ns) {
                free(stack);
                return PL_ERR_NOMEM;
            }
            stack = ns;
        }
        stack[k++] = n;
        n = n->binary.lhs;
    }
    int rc;
    if (n->kind == QUERY_NODE_NUMBER && isinf(n->number) && n->number > 0 &&
        stack[k - 1]->binary.op == QUERY_OP_POW)
        /* "+Inf ^ x" would read back as +(Inf ^ x); Prometheus prints it so, we do not. */
        rc = pl_buf_puts(out, "Inf");
    else
        rc = format_node(n, out, depth + 1);
    while (rc == 0 && k > 0) {
        const struct query_node *b = stack[--k];
        rc = pl_buf_printf(out, " %s", query_binop_name(b->binary.op));
        if (rc == 0 && b->binary.return_bool)
            rc = pl_buf_puts(out, " bool");
        const struct query_vector_matching *vm = b->binary.matching;
        int grouped =
            vm && (vm->card == QUERY_CARD_MANY_TO_ONE || vm->card == QUERY_CARD_ONE_TO_MANY);
        if (rc == 0 && vm && (vm->nlabels > 0 || vm->on || grouped)) {
            rc = pl_buf_puts(out, vm->on ? " on " : " ignoring ");
            if (rc == 0)
                rc = put_label_list(out, vm->labels, vm->nlabels);
            if (rc == 0 && grouped) {
                rc = pl_buf_puts(out, vm->card == QUERY_CARD_MANY_TO_ONE ? " group_left "
                                                                         : " group_right ");
                if (rc == 0)
                    rc = put_label_list(out, vm->include, vm->ninclude);
            }
        }
        if (rc == 0)
            rc = pl_buf_putc(out, ' ');
        if (rc == 0)
            rc = format_node(b->binary.rhs, out, depth + 1);
    }
    free(stack);
    return rc;
}

static int format_node(const struct query_node *n, struct pl_buf *out, int depth)
{
    int rc = 0;
    if (depth > 4 * QUERY_PARSE_MAX_DEPTH + 16)
        return PL_ERR_LIMIT;
    switch (n->kind) {
    case QUERY_NODE_NUMBER:
        return query__format_float(out, n->number);
    case QUERY_NODE_STRING:
        return query__quote(out, n->string.s, n->string.len, 0);
    case QUERY_NODE_VECTOR_SELECTOR:
        rc = put_selector_body(out, n);
        if (rc == 0)
            rc = put_at(out, n->vs.at, n->vs.at_ms);
        if (rc == 0)
            rc = put_offset(out, n->vs.offset_ms);
        return rc;
    case QUERY_NODE_MATRIX_SELECTOR: {
        const struct query_node *vs = n->ms.vs;
        rc = put_selector_body(out, vs);
        if (rc == 0)
            rc = pl_buf_putc(out, '[');
        if (rc == 0)
            rc = put_duration(out, n->ms.range_ms);
        if (rc == 0)
            rc = pl_buf_putc(out, ']');
        if (rc == 0)
            rc = put_at(out, vs->vs.at, vs->vs.at_ms);
        if (rc == 0)
            rc = put_offset(out, vs->vs.offset_ms);
        return rc;
    }
    case QUERY_NODE_SUBQUERY:
        rc = format_node(n->subquery.expr, out, depth + 1);
        if (rc == 0)
            rc = pl_buf_putc(out, '[');
        if (rc == 0)
            rc = put_duration(out, n->subquery.range_ms);
        if (rc == 0)
            rc = pl_buf_putc(out, ':');
        if (rc == 0 && n->subquery.step_ms != 0)
            rc = put_duration(out, n->subquery.step_ms);
        if (rc == 0)
            rc = pl_buf_putc(out, ']');
        if (rc == 0)
            rc = put_at(out, n->subquery.at, n->subquery.at_ms);
        if (rc == 0)
            rc = put_offset(out, n->subquery.offset_ms);
        return rc;
    case QUERY_NODE_PAREN:
        rc = pl_buf_putc(out, '(');
        if (rc == 0)
            rc = format_node(n->paren.expr, out, depth + 1);
        if (rc == 0)
            rc = pl_buf_putc(out, ')');
        return rc;
    case QUERY_NODE_UNARY:
        rc = pl_buf_puts(out, query_binop_name(n->unary.op));
        if (rc == 0)
            rc = format_node(n->unary.expr, out, depth + 1);
        return rc;
    case QUERY_NODE_BINARY:
        return format_binary(n, out, depth);
    case QUERY_NODE_CALL:
        rc = pl_buf_printf(out, "%s(", n->call.func->name);
        for (size_t i = 0; rc == 0 && i < n->call.nargs; i++) {
            if (i > 0)
                rc = pl_buf_puts(out, ", ");
            if (rc == 0)
                rc = format_node(n->call.args[i], out, depth + 1);
        }
        if (rc == 0)
            rc = pl_buf_putc(out, ')');
        return rc;
    case QUERY_NODE_AGGREGATE:
        rc = pl_buf_puts(out, query_aggop_name(n->agg.op));
        if (rc == 0 && (n->agg.without || n->agg.ngrouping > 0)) {
            rc = pl_buf_puts(out, n->agg.without ? " without " : " by ");
            if (rc == 0)
                rc = put_label_list(out, n->agg.grouping, n->agg.ngrouping);
            if (rc == 0)
                rc = pl_buf_putc(out, ' ');
        }
        if (rc == 0)
            rc = pl_buf_putc(out, '(');
        if (rc == 0 && n->agg.param) {
            rc = format_node(n->agg.param, out, depth + 1);
            if (rc == 0)
                rc = pl_buf_puts(out, ", ");
        }
        if (rc == 0)
            rc = format_node(n->agg.expr, out, depth + 1);
        if (rc == 0)
            rc = pl_buf_putc(out, ')');
        return rc;
    }
    return PL_ERR_INVALID;
}

int query_node_format(const struct query_node *n, struct pl_buf *out)
{
    if (!n)
        return PL_ERR_INVALID;
    return format_node(n, out, 0);
}

int query_expr_format(const struct query_expr *e, struct pl_buf *out)
{
    if (!e)
        return PL_ERR_INVALID;
    return query_node_format(e->root, out);
}

void query_parse_err_format(const struct query_parse_err *err, char *out, size_t outlen)
{
    snprintf(out, outlen, "%d:%d: parse error: %s", err->line, err->col, err->msg);
}

void query_expr_free(struct query_expr *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nowned; i++)
        tsdb_matcher_free(e->owned_matchers[i]);
    free(e->owned_matchers);
    pl_arena_fini(&e->arena);
    free(e->text);
    free(e);
}
