/*
 * config.c - prometheus.yml parsing and validation (libyaml document API).
 *
 * Spec: https://prometheus.io/docs/prometheus/2.42/configuration/configuration/
 * Behaviour follows Prometheus 2.42's config package and Go's yaml.v2 in
 * strict mode, checked against `promtool check config`: the same defaults,
 * the same type errors ("cannot unmarshal !!str `abc` into uint"), the same
 * unknown-field errors ("field foo not found in type config.ScrapeConfig")
 * and the same validation messages, each prefixed with "FILE:LINE: ".
 *
 * The YAML is loaded as a document (aliases become shared nodes) and walked
 * with a fixed schema, so recursion depth is bounded by the schema; a budget
 * of node visits stops documents that multiply through aliases.
 */
#include "collector/config.h"

#include <errno.h>
#include <limits.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "common/buf.h"
#include "common/mem.h"
#include "common/timeutil.h"

/* Scalar visits allowed per document: far above any real config, far below a blow-up. */
#define VISIT_BUDGET 4000000

struct ctx {
    yaml_document_t doc;
    const char *name;
    struct coll_config *cfg;
    struct pl_err *err;
    long visits;
    struct pl_buf warn; /* warnings, NUL separated */
    size_t nwarn;
};

/* The config owns label sets (malloc'd) beside its arena. */
struct owned_labels {
    struct pl_labels **v;
    size_t n, cap;
};

struct coll_config_priv {
    struct coll_config pub;
    struct owned_labels labels;
};

static struct owned_labels *owned(struct coll_config *cfg)
{
    return &((struct coll_config_priv *)cfg)->labels;
}

/* ---- small helpers ---- */

static int line_of(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 0;
}

static int fail(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[PL_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n)
        return pl_err_set(c->err, PL_ERR_INVALID, "%s:%d: %s", c->name, line_of(n), msg);
    return pl_err_set(c->err, PL_ERR_INVALID, "%s: %s", c->name, msg);
}

static void warn(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void warn(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
    if (c->nwarn >= 64)
        return;
    char msg[PL_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (pl_buf_printf(&c->warn, "%s:%d: %s", c->name, line_of(n), msg) == 0 &&
        pl_buf_putc(&c->warn, '\0') == 0)
        c->nwarn++;
}

/* Go's %q, enough for messages: escapes quotes, backslashes and control bytes. */
static const char *quote(struct ctx *c, const char *s)
{
    static _Thread_local char out[4][300];
    static _Thread_local int slot;
    char *o = out[slot++ & 3];
    size_t j = 0;
    o[j++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p && j < sizeof(out[0]) - 6; p++) {
        if (*p == '"' || *p == '\\') {
            o[j++] = '\\';
            o[j++] = (char)*p;
        } else if (*p < 0x20 || *p == 0x7f) {
            j += (size_t)snprintf(o + j, 5, "\\x%02x", *p);
        } else {
            o[j++] = (char)*p;
        }
    }
    o[j++] = '"';
    o[j] = '\0';
    (void)c;
    return o;
}

static char *astrdup(struct ctx *c, const char *s, size_t n)
{
    return pl_arena_strndup(&c->cfg->arena, s, n);
}

static void *acalloc(struct ctx *c, size_t n, size_t size)
{
    if (n == 0)
        return NULL;
    return pl_arena_calloc(&c->cfg->arena, n * size);
}

static yaml_node_t *node_at(struct ctx *c, int idx)
{
    return yaml_document_get_node(&c->doc, idx);
}

static int visit(struct ctx *c, const yaml_node_t *n)
{
    if (++c->visits > VISIT_BUDGET)
        return fail(c, n, "document contains excessive aliasing");
    return 0;
}

static const char *sval(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static int is_plain(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static int is_null(const yaml_node_t *n)
{
    if (!n)
        return 1;
    if (!is_plain(n))
        return 0;
    const char *v = sval(n);
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static int bool_value(const char *v, int *out)
{
    static const char *const t[] = {"y",    "Y",    "yes", "Yes", "YES", "true",
                                    "True", "TRUE", "on",  "On",  "ON"};
    static const char *const f[] = {"n",     "N",     "no",  "No",  "NO", "false",
                                    "False", "FALSE", "off", "Off", "OFF"};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (!strcmp(v, t[i])) {
            *out = 1;
            return 1;
        }
        if (!strcmp(v, f[i])) {
            *out = 0;
            return 1;
        }
    }
    return 0;
}

/* Parses a YAML 1.1 integer (decimal, 0x, 0o/0 octal, 0b, with _ separators). */
static int int_value(const char *v, long long *out)
{
    char buf[80];
    size_t j = 0;
    for (const char *p = v; *p; p++) {
        if (*p == '_')
            continue;
        if (j + 1 >= sizeof(buf))
            return 0;
        buf[j++] = *p;
    }
    buf[j] = '\0';
    const char *s = buf;
    int neg = 0;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        base = 16, s += 2;
    else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
        base = 2, s += 2;
    else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
        base = 8, s += 2;
    else if (s[0] == '0' && s[1])
        base = 8, s += 1;
    if (!*s)
        return 0;
    for (const char *p = s; *p; p++) {
        int d = (*p >= '0' && *p <= '9')   ? *p - '0'
                : (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10
                : (*p >= 'A' && *p <= 'F') ? *p - 'A' + 10
                                           : 99;
        if (d >= base)
            return 0;
    }
    errno = 0;
    char *end;
    unsigned long long u = strtoull(s, &end, base);
    if (errno || *end || u > (unsigned long long)LLONG_MAX + (neg ? 1u : 0u))
        return 0;
    *out = neg ? (long long)(0 - u) : (long long)u;
    return 1;
}

static int float_value(const char *v)
{
    if (!strcmp(v, ".inf") || !strcmp(v, "-.inf") || !strcmp(v, "+.inf") || !strcmp(v, ".nan") ||
        !strcmp(v, ".NaN") || !strcmp(v, ".Inf") || !strcmp(v, "-.Inf"))
        return 1;
    const char *p = v;
    if (*p == '+' || *p == '-')
        p++;
    int digits = 0, dot = 0;
    for (; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digits++;
        else if (*p == '.' && !dot)
            dot = 1;
        else if ((*p == 'e' || *p == 'E') && digits)
            return p[1] != '\0';
        else if (*p != '_')
            return 0;
    }
    return digits > 0 && dot;
}

/* The tag yaml.v2 would resolve for a node, for error messages. */
static const char *tag_of(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SEQUENCE_NODE:
        return "!!seq";
    case YAML_MAPPING_NODE:
        return "!!map";
    default:
        break;
    }
    if (!is_plain(n))
        return "!!str";
    const char *v = sval(n);
    int b;
    long long i;
    if (is_null(n))
        return "!!null";
    if (bool_value(v, &b))
        return "!!bool";
    if (int_value(v, &i))
        return "!!int";
    if (float_value(v))
        return "!!float";
    return "!!str";
}

static int type_err(struct ctx *c, const yaml_node_t *n, const char *into)
{
    if (n->type != YAML_SCALAR_NODE)
        return fail(c, n, "cannot unmarshal %s into %s", tag_of(n), into);
    const char *v = sval(n);
    if (strlen(v) > 10)
        return fail(c, n, "cannot unmarshal %s `%.7s...` into %s", tag_of(n), v, into);
    return fail(c, n, "cannot unmarshal %s `%s` into %s", tag_of(n), v, into);
}

/* ---- mappings ---- */

static int in_list(const char *k, const char *const *list)
{
    for (; list && *list; list++)
        if (!strcmp(k, *list))
            return 1;
    return 0;
}

/*
 * Checks that `n` is a mapping (or null) whose keys are all in `known` (or in
 * `ignored`, which only warns) and appear once. Go type name for messages.
 */
static int map_check(struct ctx *c, const yaml_node_t *n, const char *type,
                     const char *const *known, const char *const *ignored)
{
    if (is_null(n))
        return 0;
    if (n->type != YAML_MAPPING_NODE)
        return type_err(c, n, type);
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(c, p->key);
        int rc = visit(c, k);
        if (rc)
            return rc;
        if (k->type != YAML_SCALAR_NODE)
            return type_err(c, k, "string");
        const char *ks = sval(k);
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *k2 = node_at(c, q->key);
            if (k2->type == YAML_SCALAR_NODE && !strcmp(sval(k2), ks))
                return fail(c, k, "field %s already set in type %s", ks, type);
        }
        if (in_list(ks, known))
            continue;
        if (in_list(ks, ignored)) {
            warn(c, k, "%s is not supported by promlite and is ignored", ks);
            continue;
        }
        return fail(c, k, "field %s not found in type %s", ks, type);
    }
    return 0;
}

/* The value node for `key`, or NULL when absent (or `n` is null). */
static yaml_node_t *map_get(struct ctx *c, const yaml_node_t *n, const char *key)
{
    if (!n || n->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(c, p->key);
        if (k->type == YAML_SCALAR_NODE && !strcmp(sval(k), key))
            return node_at(c, p->value);
    }
    return NULL;
}

/* ---- typed getters; an absent or null key leaves *out unchanged ---- */

static int get_str(struct ctx *c, const yaml_node_t *m, const char *key, const char **out)
{
    yaml_node_t *n = map_get(c, m, key);
    if (!n)
        return 0;
    int rc = visit(c, n);
    if (rc)
        return rc;
    if (n->type != YAML_SCALAR_NODE)
        return type_err(c, n, "string");
    if (is_null(n)) {
        *out = "";
        return 0;
    }
    *out = astrdup(c, sval(n), n->data.scalar.length);
    return 0;
}

static int get_bool(struct ctx *c, const yaml_node_t *m, const char *key, int *out)
{
    yaml_node_t *n = map_get(c, m, key);
    if (!n || is_null(n))
        return 0;
    int rc = visit(c, n);
    if (rc)
        return rc;
    if (!is_plain(n) || !bool_value(sval(n), out))
        return type_err(c, n, "bool");
    return 0;
}

static int get_uint(struct ctx *c, const yaml_node_t *m, const char *key, uint64_t *out,
                    const char *gotype)
{
    yaml_node_t *n = map_get(c, m, key);
    if (!n || is_null(n))
        return 0;
    int rc = visit(c, n);
    if (rc)
        return rc;
    long long v;
    if (!is_plain(n) || !int_value(sval(n), &v) || v < 0)
        return type_err(c, n, gotype);
    *out = (uint64_t)v;
    return 0;
}

static int get_int(struct ctx *c, const yaml_node_t *m, const char *key, int64_t *out)
{
    yaml_node_t *n = map_get(c, m, key);
    if (!n || is_null(n))
        return 0;
    int rc = visit(c, n);
    if (rc)
        return rc;
    long long v;
    if (!is_plain(n) || !int_value(sval(n), &v) || v < INT32_MIN || v > INT32_MAX)
        return type_err(c, n, "int");
    *out = v;
    return 0;
}

static int get_duration(struct ctx *c, const yaml_node_t *m, const char *key, int64_t *out)
{
    yaml_node_t *n = map_get(c, m, key);
    if (!n)
        return 0;
    int rc = visit(c, n);
    if (rc)
        return rc;
    if (n->type != YAML_SCALAR_NODE)
        return type_err(c, n, "string");
    if (is_null(n))
        return 0;
    struct pl_err e;
    int64_t ms;
    if (pl_duration_parse(sval(n), n->data.scalar.length, &ms, &e) != 0)
        return fail(c, n, "not a valid duration string: %s", quote(c, sval(n)));
    *out = ms;
    return 0;
}

/*
 * The sequence under `key` of mapping m. 0 with *seq NULL when the key is
 * absent or null; a type error naming `gotype` when it is not a sequence.
 * OUT: *seq, *cnt (items).
 */
static int get_seq(struct ctx *c, const yaml_node_t *m, const char *key, const char *gotype,
                   yaml_node_t **seq, size_t *cnt)
{
    yaml_node_t *n = map_get(c, m, key);
    *seq = NULL;
    *cnt = 0;
    if (!n || is_null(n))
        return 0;
    if (n->type != YAML_SEQUENCE_NODE)
        return type_err(c, n, gotype);
    *seq = n;
    *cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    return 0;
}

/* A sequence of scalars. */
static int get_strs(struct ctx *c, const yaml_node_t *m, const char *key, const char ***out,
                    size_t *nout, const char *gotype, int *present)
{
    yaml_node_t *n;
    size_t cnt;
    int seq_rc = get_seq(c, m, key, gotype, &n, &cnt);
    if (seq_rc || !n)
        return seq_rc;
    const char **v = acalloc(c, cnt, sizeof(*v));
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *it = node_at(c, n->data.sequence.items.start[i]);
        int rc = visit(c, it);
        if (rc)
            return rc;
        if (it->type != YAML_SCALAR_NODE)
            return type_err(c, it, "string");
        v[i] = is_null(it) ? "" : astrdup(c, sval(it), it->data.scalar.length);
    }
    *out = v;
    *nout = cnt;
    if (present)
        *present = 1;
    return 0;
}

static void own_labels(struct ctx *c, struct pl_labels *ls)
{
    struct owned_labels *o = owned(c->cfg);
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 16;
        o->v = pl_xreallocarray(o->v, o->cap, sizeof(*o->v));
    }
    o->v[o->n++] = ls;
}

static int utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned char b = p[i];
        size_t need = b < 0x80         ? 1
                      : (b >> 5) == 6  ? 2
                      : (b >> 4) == 14 ? 3
                      : (b >> 3) == 30 ? 4
                                       : 0;
        if (!need || i + need > n)
            return 0;
        for (size_t k = 1; k < need; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
        i += need;
    }
    return 1;
}

/* A map of label name -> value (model.LabelSet); empty values are left out. */
static int get_labelset(struct ctx *c, const yaml_node_t *m, const char *key,
                        struct pl_labels **out, const char *gotype)
{
    struct pl_labels_builder lb;
    pl_lb_init(&lb);
    int rc = 0;
    yaml_node_t *n = map_get(c, m, key);
    if (n && !is_null(n)) {
        if (n->type != YAML_MAPPING_NODE) {
            rc = type_err(c, n, gotype);
            goto out;
        }
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = node_at(c, p->key), *v = node_at(c, p->value);
            if ((rc = visit(c, k)) || (rc = visit(c, v)))
                goto out;
            if (k->type != YAML_SCALAR_NODE) {
                rc = type_err(c, k, "model.LabelName");
                goto out;
            }
            for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
                yaml_node_t *k2 = node_at(c, q->key);
                if (k2->type == YAML_SCALAR_NODE && !strcmp(sval(k2), sval(k))) {
                    rc = fail(c, k, "key %s already set in map", quote(c, sval(k)));
                    goto out;
                }
            }
            if (!pl_label_name_valid(sval(k), k->data.scalar.length)) {
                rc = fail(c, k, "%s is not a valid label name", quote(c, sval(k)));
                goto out;
            }
            if (v->type != YAML_SCALAR_NODE) {
                rc = type_err(c, v, "model.LabelValue");
                goto out;
            }
            const char *vs = is_null(v) ? "" : sval(v);
            size_t vl = strlen(vs);
            if (!utf8_valid(vs, vl)) {
                rc = fail(c, v, "%s is not a valid label value", quote(c, vs));
                goto out;
            }
            pl_lb_set(&lb, sval(k), k->data.scalar.length, vs, vl);
        }
    }
    *out = pl_lb_labels(&lb);
    own_labels(c, *out);
out:
    pl_lb_fini(&lb);
    return rc;
}

/* Joins a relative path to the config directory (Prometheus config.JoinDir). */
static const char *join_dir(struct ctx *c, const char *p)
{
    if (!p || !*p || p[0] == '/' || !c->cfg->dir || !*c->cfg->dir)
        return p;
    size_t dl = strlen(c->cfg->dir), pl = strlen(p);
    char *o = pl_arena_alloc(&c->cfg->arena, dl + pl + 2);
    memcpy(o, c->cfg->dir, dl);
    o[dl] = '/';
    memcpy(o + dl + 1, p, pl + 1);
    return o;
}

/* Checks a `<prefix>*<suffix>` glob the way Prometheus's path patterns do. */
static int glob_pattern_ok(const char *p, int need_ext)
{
    const char *star = strchr(p, '*');
    if (star && (strchr(star + 1, '*') || strchr(star + 1, '/')))
        return 0;
    if (!need_ext)
        return 1;
    const char *dot = strrchr(p, '.');
    if (!dot || (star && dot < star))
        return 0;
    static const char *const ext[] = {".json", ".yml", ".yaml", ".JSON", ".YML", ".YAML", NULL};
    return in_list(dot, ext);
}

/* ---- sections ---- */

static int parse_relabel_list(struct ctx *c, const yaml_node_t *m, const char *key,
                              struct coll_relabel_rule **out, size_t *nout, const char *null_msg)
{
    static const char *const keys[] = {"source_labels", "separator",   "regex",  "modulus",
                                       "target_label",  "replacement", "action", NULL};
    yaml_node_t *n;
    size_t cnt;
    int seq_rc = get_seq(c, m, key, "[]*relabel.Config", &n, &cnt);
    if (seq_rc || !n)
        return seq_rc;
    struct coll_relabel_rule *v = acalloc(c, cnt, sizeof(*v));
    /* Initialise all first so coll_config_free can release any prefix. */
    for (size_t i = 0; i < cnt; i++)
        coll_relabel_rule_init(&v[i]);
    *out = v;
    *nout = cnt;
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *it = node_at(c, n->data.sequence.items.start[i]);
        struct coll_relabel_rule *r = &v[i];
        r->line = line_of(it);
        if (is_null(it))
            return fail(c, it, "%s", null_msg);
        int rc = map_check(c, it, "relabel.plain", keys, NULL);
        if (rc)
            return rc;
        if ((rc = get_strs(c, it, "source_labels", &r->source_labels, &r->nsource,
                           "model.LabelNames", &r->source_set)))
            return rc;
        for (size_t k = 0; k < r->nsource; k++)
            if (!pl_label_name_valid(r->source_labels[k], strlen(r->source_labels[k])))
                return fail(c, map_get(c, it, "source_labels"), "%s is not a valid label name",
                            quote(c, r->source_labels[k]));
        if ((rc = get_str(c, it, "separator", &r->separator)) ||
            (rc = get_str(c, it, "target_label", &r->target_label)) ||
            (rc = get_str(c, it, "replacement", &r->replacement)) ||
            (rc = get_uint(c, it, "modulus", &r->modulus, "uint64")))
            return rc;
        yaml_node_t *re = map_get(c, it, "regex");
        if (re) {
            if (re->type != YAML_SCALAR_NODE)
                return type_err(c, re, "string");
            const char *pat = is_null(re) ? "" : sval(re);
            if (strlen(pat) != re->data.scalar.length)
                return fail(c, re, "error parsing regexp: invalid UTF-8: NUL byte in pattern");
            struct pl_err e;
            if (coll_relabel_rule_set_regex(r, pat, &e) != 0)
                return fail(c, re, "%s", e.msg);
        }
        const char *action = NULL;
        if ((rc = get_str(c, it, "action", &action)))
            return rc;
        if (action && coll_relabel_action_parse(action, &r->action) != 0)
            return fail(c, map_get(c, it, "action"), "unknown relabel action %s", quote(c, action));
        struct pl_err e;
        if (coll_relabel_rule_validate(r, &e) != 0)
            return fail(c, it, "%s", e.msg);
    }
    return 0;
}

static int check_target_address(struct ctx *c, const yaml_node_t *n, const char *t)
{
    if (strchr(t, '/'))
        return fail(c, n, "%s is not a valid hostname", quote(c, t));
    return 0;
}

static int parse_static_list(struct ctx *c, const yaml_node_t *m, struct coll_static_config **out,
                             size_t *nout)
{
    static const char *const keys[] = {"targets", "labels", NULL};
    static const char *const type =
        "struct { Targets []string \"yaml:\\\"targets\\\"\"; Labels model.LabelSet "
        "\"yaml:\\\"labels\\\"\" }";
    yaml_node_t *n;
    size_t cnt;
    int seq_rc = get_seq(c, m, "static_configs", "[]*targetgroup.Group", &n, &cnt);
    if (seq_rc || !n)
        return seq_rc;
    struct coll_static_config *v = acalloc(c, cnt, sizeof(*v));
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *it = node_at(c, n->data.sequence.items.start[i]);
        int rc = map_check(c, it, type, keys, NULL);
        if (rc)
            return rc;
        if ((rc = get_strs(c, it, "targets", &v[i].targets, &v[i].ntargets, "[]string", NULL)))
            return rc;
        for (size_t k = 0; k < v[i].ntargets; k++)
            if ((rc = check_target_address(c, map_get(c, it, "targets"), v[i].targets[k])))
                return rc;
        if ((rc = get_labelset(c, it, "labels", &v[i].labels, "model.LabelSet")))
            return rc;
    }
    *out = v;
    *nout = cnt;
    return 0;
}

static int parse_file_sd_list(struct ctx *c, const yaml_node_t *m, struct coll_file_sd_config **out,
                              size_t *nout)
{
    static const char *const keys[] = {"files", "refresh_interval", NULL};
    yaml_node_t *n;
    size_t cnt;
    int seq_rc = get_seq(c, m, "file_sd_configs", "discovery.Configs", &n, &cnt);
    if (seq_rc || !n)
        return seq_rc;
    struct coll_file_sd_config *v = acalloc(c, cnt, sizeof(*v));
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *it = node_at(c, n->data.sequence.items.start[i]);
        int rc = map_check(c, it, "file.plain", keys, NULL);
        if (rc)
            return rc;
        v[i].refresh_ms = 5 * PL_MS_PER_MIN;
        if ((rc = get_strs(c, it, "files", &v[i].files, &v[i].nfiles, "[]string", NULL)) ||
            (rc = get_duration(c, it, "refresh_interval", &v[i].refresh_ms)))
            return rc;
        if (v[i].nfiles == 0)
            return fail(c, it, "file service discovery config must contain at least one path name");
        for (size_t k = 0; k < v[i].nfiles; k++) {
            if (!glob_pattern_ok(v[i].files[k], 1))
                return fail(c, map_get(c, it, "files"),
                            "path name %s is not valid for file discovery",
                            quote(c, v[i].files[k]));
            v[i].files[k] = join_dir(c, v[i].files[k]);
        }
    }
    *out = v;
    *nout = cnt;
    return 0;
}

static int parse_dns_sd_list(struct ctx *c, const yaml_node_t *m, struct coll_dns_sd_config **out,
                             size_t *nout)
{
    static const char *const keys[] = {"names", "type", "port", "refresh_interval", NULL};
    yaml_node_t *n;
    size_t cnt;
    int seq_rc = get_seq(c, m, "dns_sd_configs", "discovery.Configs", &n, &cnt);
    if (seq_rc || !n)
        return seq_rc;
    struct coll_dns_sd_config *v = acalloc(c, cnt, sizeof(*v));
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *it = node_at(c, n->data.sequence.items.start[i]);
        int rc = map_check(c, it, "dns.plain", keys, NULL);
        if (rc)
            return rc;
        v[i].refresh_ms = 30 * PL_MS_PER_SEC;
        const char *type = "";
        int64_t port = 0;
        if ((rc = get_strs(c, it, "names", &v[i].names, &v[i].nnames, "[]string", NULL)) ||
            (rc = get_duration(c, it, "refresh_interval", &v[i].refresh_ms)) ||
            (rc = get_str(c, it, "type", &type)) || (rc = get_int(c, it, "port", &port)))
            return rc;
        if (v[i].nnames == 0)
            return fail(c, it, "DNS-SD config must contain at least one SRV record name");
        if (!*type || !strcmp(type, "SRV"))
            v[i].type = COLL_DNS_SRV;
        else if (!strcmp(type, "A"))
            v[i].type = COLL_DNS_A;
        else if (!strcmp(type, "AAAA"))
            v[i].type = COLL_DNS_AAAA;
        else if (!strcmp(type, "MX"))
            return fail(c, map_get(c, it, "type"),
                        "DNS-SD record type MX is not supported by promlite");
        else
            return fail(c, map_get(c, it, "type"), "invalid DNS-SD records type %s", type);
        if (v[i].type != COLL_DNS_SRV && port == 0)
            return fail(c, it,
                        "a port is required in DNS-SD configs for all record types except SRV");
        if (port < 0 || port > 65535)
            return fail(c, map_get(c, it, "port"), "invalid DNS-SD port %lld", (long long)port);
        v[i].port = (int)port;
    }
    *out = v;
    *nout = cnt;
    return 0;
}

/* HTTP client keys that sit inline in scrape, alertmanager and remote_write configs. */
#define HTTP_KEYS                                                                                  \
    "basic_auth", "authorization", "bearer_token", "bearer_token_file", "tls_config",              \
        "follow_redirects", "enable_http2"
#define HTTP_IGNORED                                                                               \
    "oauth2", "proxy_url", "no_proxy", "proxy_from_environment", "proxy_connect_header"

static int parse_http(struct ctx *c, const yaml_node_t *m, struct coll_http_config *h)
{
    static const char *const ba_keys[] = {"username", "password", "password_file", NULL};
    static const char *const au_keys[] = {"type", "credentials", "credentials_file", NULL};
    static const char *const tls_keys[] = {
        "ca_file",     "cert_file", "key_file", "server_name", "insecure_skip_verify",
        "min_version", NULL};
    int rc;
    h->follow_redirects = 1;
    h->enable_http2 = 1;
    if ((rc = get_bool(c, m, "follow_redirects", &h->follow_redirects)) ||
        (rc = get_bool(c, m, "enable_http2", &h->enable_http2)))
        return rc;
    yaml_node_t *ba = map_get(c, m, "basic_auth");
    if (ba && !is_null(ba)) {
        if ((rc = map_check(c, ba, "config.plain", ba_keys, NULL)))
            return rc;
        h->has_basic_auth = 1;
        h->basic_username = h->basic_password = h->basic_password_file = "";
        if ((rc = get_str(c, ba, "username", &h->basic_username)) ||
            (rc = get_str(c, ba, "password", &h->basic_password)) ||
            (rc = get_str(c, ba, "password_file", &h->basic_password_file)))
            return rc;
        h->basic_password_file = join_dir(c, h->basic_password_file);
    }
    yaml_node_t *au = map_get(c, m, "authorization");
    if (au && !is_null(au)) {
        if ((rc = map_check(c, au, "config.Authorization", au_keys, NULL)))
            return rc;
        h->has_authorization = 1;
        h->auth_type = h->auth_credentials = h->auth_credentials_file = "";
        if ((rc = get_str(c, au, "type", &h->auth_type)) ||
            (rc = get_str(c, au, "credentials", &h->auth_credentials)) ||
            (rc = get_str(c, au, "credentials_file", &h->auth_credentials_file)))
            return rc;
        h->auth_credentials_file = join_dir(c, h->auth_credentials_file);
    }
    const char *bt = "", *btf = "";
    if ((rc = get_str(c, m, "bearer_token", &bt)) ||
        (rc = get_str(c, m, "bearer_token_file", &btf)))
        return rc;
    yaml_node_t *tls = map_get(c, m, "tls_config");
    h->tls_ca_file = h->tls_cert_file = h->tls_key_file = h->tls_server_name = "";
    if (tls && !is_null(tls)) {
        const char *minv = "";
        if ((rc = map_check(c, tls, "config.plain", tls_keys, NULL)) ||
            (rc = get_str(c, tls, "ca_file", &h->tls_ca_file)) ||
            (rc = get_str(c, tls, "cert_file", &h->tls_cert_file)) ||
            (rc = get_str(c, tls, "key_file", &h->tls_key_file)) ||
            (rc = get_str(c, tls, "server_name", &h->tls_server_name)) ||
            (rc = get_bool(c, tls, "insecure_skip_verify", &h->tls_insecure_skip_verify)) ||
            (rc = get_str(c, tls, "min_version", &minv)))
            return rc;
        static const char *const versions[] = {"", "TLS10", "TLS11", "TLS12", "TLS13", NULL};
        if (!in_list(minv, versions))
            return fail(c, map_get(c, tls, "min_version"), "unknown TLS version: %s", minv);
        if (*h->tls_cert_file && !*h->tls_key_file)
            return fail(c, tls,
                        "exactly one of key or key_file must be configured when a client "
                        "certificate is configured");
        if (*h->tls_key_file && !*h->tls_cert_file)
            return fail(c, tls,
                        "exactly one of cert or cert_file must be configured when a client "
                        "key is configured");
        h->tls_ca_file = join_dir(c, h->tls_ca_file);
        h->tls_cert_file = join_dir(c, h->tls_cert_file);
        h->tls_key_file = join_dir(c, h->tls_key_file);
    }
    /* Validation in the order of Prometheus's HTTPClientConfig.Validate. */
    if (*bt && *btf)
        return fail(c, m, "at most one of bearer_token & bearer_token_file must be configured");
    if (h->has_basic_auth && (*bt || *btf))
        return fail(c, m,
                    "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be "
                    "configured");
    if (h->has_basic_auth && *h->basic_password && *h->basic_password_file)
        return fail(c, ba, "at most one of basic_auth password & password_file must be configured");
    if (h->has_authorization) {
        if (*bt || *btf)
            return fail(c, au,
                        "authorization is not compatible with bearer_token & "
                        "bearer_token_file");
        if (*h->auth_credentials && *h->auth_credentials_file)
            return fail(c, au,
                        "at most one of authorization credentials & credentials_file must "
                        "be configured");
        /* Trimmed as strings.TrimSpace; empty means Bearer. */
        const char *t = h->auth_type;
        while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r')
            t++;
        size_t tl = strlen(t);
        while (tl &&
               (t[tl - 1] == ' ' || t[tl - 1] == '\t' || t[tl - 1] == '\n' || t[tl - 1] == '\r'))
            tl--;
        h->auth_type = tl ? astrdup(c, t, tl) : "Bearer";
        if (!strcasecmp(h->auth_type, "basic"))
            return fail(c, au,
                        "authorization type cannot be set to \"basic\", use \"basic_auth\" "
                        "instead");
        if (h->has_basic_auth)
            return fail(c, m,
                        "at most one of basic_auth, oauth2 & authorization must be configured");
    } else if (*bt || *btf) {
        h->has_authorization = 1;
        h->auth_type = "Bearer";
        h->auth_credentials = bt;
        h->auth_credentials_file = join_dir(c, btf);
    }
    return 0;
}

static int parse_params(struct ctx *c, const yaml_node_t *m, struct coll_scrape_config *sc)
{
    yaml_node_t *n = map_get(c, m, "params");
    if (!n || is_null(n))
        return 0;
    if (n->type != YAML_MAPPING_NODE)
        return type_err(c, n, "url.Values");
    size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    sc->params = acalloc(c, cnt, sizeof(*sc->params));
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
        yaml_node_t *k = node_at(c, p->key);
        int rc = visit(c, k);
        if (rc)
            return rc;
        if (k->type != YAML_SCALAR_NODE)
            return type_err(c, k, "string");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(sc->params[j].name, sval(k)))
                return fail(c, k, "key %s already set in map", quote(c, sval(k)));
        sc->params[i].name = astrdup(c, sval(k), k->data.scalar.length);
        yaml_node_t *v = node_at(c, p->value);
        if (is_null(v))
            continue;
        if (v->type != YAML_SEQUENCE_NODE)
            return type_err(c, v, "[]string");
        size_t nv = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
        sc->params[i].values = acalloc(c, nv, sizeof(char *));
        sc->params[i].nvalues = nv;
        for (size_t j = 0; j < nv; j++) {
            yaml_node_t *it = node_at(c, v->data.sequence.items.start[j]);
            if ((rc = visit(c, it)))
                return rc;
            if (it->type != YAML_SCALAR_NODE)
                return type_err(c, it, "string");
            sc->params[i].values[j] =
                is_null(it) ? "" : astrdup(c, sval(it), it->data.scalar.length);
        }
    }
    sc->nparams = cnt;
    return 0;
}

static int parse_scrape(struct ctx *c, const yaml_node_t *it, struct coll_scrape_config *sc)
{
    static const char *const keys[] = {"job_name",
                                       "honor_labels",
                                       "honor_timestamps",
                                       "params",
                                       "scrape_interval",
                                       "scrape_timeout",
                                       "metrics_path",
                                       "scheme",
                                       "sample_limit",
                                       "target_limit",
                                       "label_limit",
                                       "label_name_length_limit",
                                       "label_value_length_limit",
                                       "body_size_limit",
                                       "relabel_configs",
                                       "metric_relabel_configs",
                                       "static_configs",
                                       "file_sd_configs",
                                       "dns_sd_configs",
                                       HTTP_KEYS,
                                       NULL};
    static const char *const ignored[] = {HTTP_IGNORED,
                                          "azure_sd_configs",
                                          "consul_sd_configs",
                                          "digitalocean_sd_configs",
                                          "docker_sd_configs",
                                          "dockerswarm_sd_configs",
                                          "ec2_sd_configs",
                                          "eureka_sd_configs",
                                          "gce_sd_configs",
                                          "hetzner_sd_configs",
                                          "http_sd_configs",
                                          "ionos_sd_configs",
                                          "kubernetes_sd_configs",
                                          "kuma_sd_configs",
                                          "lightsail_sd_configs",
                                          "linode_sd_configs",
                                          "marathon_sd_configs",
                                          "nerve_sd_configs",
                                          "nomad_sd_configs",
                                          "openstack_sd_configs",
                                          "ovhcloud_sd_configs",
                                          "puppetdb_sd_configs",
                                          "scaleway_sd_configs",
                                          "serverset_sd_configs",
                                          "triton_sd_configs",
                                          "uyuni_sd_configs",
                                          "vultr_sd_configs",
                                          NULL};
    sc->line = line_of(it);
    if (is_null(it))
        return fail(c, it, "empty or null scrape config section");
    int rc = map_check(c, it, "config.ScrapeConfig", keys, ignored);
    if (rc)
        return rc;
    sc->job_name = "";
    sc->metrics_path = "/metrics";
    sc->scheme = "http";
    sc->honor_timestamps = 1;
    const char *body = NULL;
    if ((rc = get_str(c, it, "job_name", &sc->job_name)) ||
        (rc = get_bool(c, it, "honor_labels", &sc->honor_labels)) ||
        (rc = get_bool(c, it, "honor_timestamps", &sc->honor_timestamps)) ||
        (rc = parse_params(c, it, sc)) ||
        (rc = get_duration(c, it, "scrape_interval", &sc->interval_ms)) ||
        (rc = get_duration(c, it, "scrape_timeout", &sc->timeout_ms)) ||
        (rc = get_str(c, it, "metrics_path", &sc->metrics_path)) ||
        (rc = get_str(c, it, "scheme", &sc->scheme)) ||
        (rc = get_uint(c, it, "sample_limit", &sc->sample_limit, "uint")) ||
        (rc = get_uint(c, it, "target_limit", &sc->target_limit, "uint")) ||
        (rc = get_uint(c, it, "label_limit", &sc->label_limit, "uint")) ||
        (rc = get_uint(c, it, "label_name_length_limit", &sc->label_name_length_limit, "uint")) ||
        (rc = get_uint(c, it, "label_value_length_limit", &sc->label_value_length_limit, "uint")) ||
        (rc = get_str(c, it, "body_size_limit", &body)))
        return rc;
    if (body && *body) {
        struct pl_err e;
        if (coll_size_parse(body, &sc->body_size_limit, &e) != 0)
            return fail(c, map_get(c, it, "body_size_limit"), "%s", e.msg);
    }
    if (!*sc->job_name)
        return fail(c, it, "job_name is empty");
    if ((rc = parse_http(c, it, &sc->http)) ||
        (rc = parse_relabel_list(c, it, "relabel_configs", &sc->relabel, &sc->nrelabel,
                                 "empty or null target relabeling rule in scrape config")) ||
        (rc = parse_relabel_list(c, it, "metric_relabel_configs", &sc->metric_relabel,
                                 &sc->nmetric_relabel,
                                 "empty or null metric relabeling rule in scrape config")) ||
        (rc = parse_static_list(c, it, &sc->static_configs, &sc->nstatic)) ||
        (rc = parse_file_sd_list(c, it, &sc->file_sd, &sc->nfile_sd)) ||
        (rc = parse_dns_sd_list(c, it, &sc->dns_sd, &sc->ndns_sd)))
        return rc;
    return 0;
}

static int parse_global(struct ctx *c, const yaml_node_t *root)
{
    static const char *const keys[] = {"scrape_interval", "scrape_timeout", "evaluation_interval",
                                       "external_labels", "query_log_file", NULL};
    struct coll_config *cfg = c->cfg;
    yaml_node_t *g = map_get(c, root, "global");
    int rc = 0;
    int64_t si = 0, st = 0, ei = 0;
    cfg->global.query_log_file = "";
    if (g && (rc = map_check(c, g, "config.plain", keys, NULL)))
        return rc;
    if ((rc = get_duration(c, g, "scrape_interval", &si)) ||
        (rc = get_duration(c, g, "scrape_timeout", &st)) ||
        (rc = get_duration(c, g, "evaluation_interval", &ei)) ||
        (rc = get_str(c, g, "query_log_file", &cfg->global.query_log_file)) ||
        (rc = get_labelset(c, g, "external_labels", &cfg->global.external_labels,
                           "map[string]string")))
        return rc;
    if (si == 0)
        si = PL_MS_PER_MIN;
    if (st > si)
        return fail(c, g, "global scrape timeout greater than scrape interval");
    if (st == 0)
        st = 10 * PL_MS_PER_SEC > si ? si : 10 * PL_MS_PER_SEC;
    if (ei == 0)
        ei = PL_MS_PER_MIN;
    cfg->global.scrape_interval_ms = si;
    cfg->global.scrape_timeout_ms = st;
    cfg->global.evaluation_interval_ms = ei;
    return 0;
}

static int parse_alerting(struct ctx *c, const yaml_node_t *root)
{
    static const char *const keys[] = {"alertmanagers", "alert_relabel_configs", NULL};
    static const char *const am_keys[] = {
        "static_configs", "file_sd_configs", "dns_sd_configs",  "scheme",  "path_prefix",
        "timeout",        "api_version",     "relabel_configs", HTTP_KEYS, NULL};
    static const char *const am_ignored[] = {
        HTTP_IGNORED,        "sigv4",           "kubernetes_sd_configs",
        "consul_sd_configs", "http_sd_configs", NULL};
    struct coll_config *cfg = c->cfg;
    yaml_node_t *a = map_get(c, root, "alerting");
    if (!a || is_null(a))
        return 0;
    int rc = map_check(c, a, "config.plain", keys, NULL);
    if (rc)
        return rc;
    if ((rc = parse_relabel_list(c, a, "alert_relabel_configs", &cfg->alert_relabel,
                                 &cfg->nalert_relabel, "empty or null alert relabeling rule")))
        return rc;
    yaml_node_t *ams;
    size_t cnt;
    if ((rc = get_seq(c, a, "alertmanagers", "config.AlertmanagerConfigs", &ams, &cnt)))
        return rc;
    if (!ams)
        return 0;
    cfg->alertmanagers = acalloc(c, cnt, sizeof(*cfg->alertmanagers));
    cfg->nalertmanagers = cnt;
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *it = node_at(c, ams->data.sequence.items.start[i]);
        struct coll_alertmanager_config *am = &cfg->alertmanagers[i];
        if (is_null(it))
            return fail(c, it, "empty or null alertmanager config");
        if ((rc = map_check(c, it, "config.AlertmanagerConfig", am_keys, am_ignored)))
            return rc;
        am->scheme = "http";
        am->path_prefix = "/";
        am->timeout_ms = 10 * PL_MS_PER_SEC;
        am->api_version = "v2";
        if ((rc = get_str(c, it, "scheme", &am->scheme)) ||
            (rc = get_str(c, it, "path_prefix", &am->path_prefix)) ||
            (rc = get_duration(c, it, "timeout", &am->timeout_ms)) ||
            (rc = get_str(c, it, "api_version", &am->api_version)) ||
            (rc = parse_http(c, it, &am->http)) ||
            (rc = parse_relabel_list(c, it, "relabel_configs", &am->relabel, &am->nrelabel,
                                     "empty or null Alertmanager target relabeling rule")) ||
            (rc = parse_static_list(c, it, &am->static_configs, &am->nstatic)) ||
            (rc = parse_file_sd_list(c, it, &am->file_sd, &am->nfile_sd)) ||
            (rc = parse_dns_sd_list(c, it, &am->dns_sd, &am->ndns_sd)))
            return rc;
        if (!*am->api_version)
            am->api_version = "v2";
        if (strcmp(am->api_version, "v1") && strcmp(am->api_version, "v2"))
            return fail(c, map_get(c, it, "api_version"),
                        "expected Alertmanager api version to be one of [v1 v2] but got %s",
                        am->api_version);
    }
    return 0;
}

/*
 * Go's url.Parse errors a config can meet, then what promlite can use: Go
 * accepts any URL here, but promlite only sends over http:// and https://.
 */
static int check_url(struct ctx *c, const yaml_node_t *n, const char *u)
{
    for (const unsigned char *p = (const unsigned char *)u; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return fail(c, n, "parse %s: net/url: invalid control character in URL", quote(c, u));
    if (u[0] == ':')
        return fail(c, n, "parse %s: missing protocol scheme", quote(c, u));
    if (strncasecmp(u, "http://", 7) != 0 && strncasecmp(u, "https://", 8) != 0)
        return fail(c, n, "unsupported URL %s: promlite needs an http:// or https:// URL",
                    quote(c, u));
    return 0;
}

static int parse_remote_write(struct ctx *c, const yaml_node_t *root)
{
    static const char *const keys[] = {"url",
                                       "remote_timeout",
                                       "headers",
                                       "write_relabel_configs",
                                       "name",
                                       "send_exemplars",
                                       "send_native_histograms",
                                       "queue_config",
                                       "metadata_config",
                                       HTTP_KEYS,
                                       NULL};
    static const char *const ignored[] = {HTTP_IGNORED, "sigv4", NULL};
    static const char *const q_keys[] = {"capacity",
                                         "max_shards",
                                         "min_shards",
                                         "max_samples_per_send",
                                         "batch_send_deadline",
                                         "min_backoff",
                                         "max_backoff",
                                         "retry_on_http_429",
                                         NULL};
    static const char *const md_keys[] = {"send", "send_interval", "max_samples_per_send", NULL};
    static const char *const reserved[] = {"Authorization",
                                           "Host",
                                           "Content-Encoding",
                                           "Content-Type",
                                           "Content-Length",
                                           "Prometheus-Remote-Write-Version",
                                           "User-Agent",
                                           "Connection",
                                           "Keep-Alive",
                                           "Proxy-Authenticate",
                                           "Proxy-Authorization",
                                           "Www-Authenticate",
                                           NULL};
    struct coll_config *cfg = c->cfg;
    yaml_node_t *rw;
    size_t cnt;
    int src = get_seq(c, root, "remote_write", "[]*config.RemoteWriteConfig", &rw, &cnt);
    if (src || !rw)
        return src;
    cfg->remote_write = acalloc(c, cnt, sizeof(*cfg->remote_write));
    cfg->nremote_write = cnt;
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *it = node_at(c, rw->data.sequence.items.start[i]);
        struct coll_remote_write_config *w = &cfg->remote_write[i];
        if (is_null(it))
            return fail(c, it, "empty or null remote write config section");
        int rc = map_check(c, it, "config.plain", keys, ignored);
        if (rc)
            return rc;
        w->url = "";
        w->name = "";
        w->remote_timeout_ms = 30 * PL_MS_PER_SEC;
        struct coll_queue_config *q = &w->queue;
        q->capacity = 2500;
        q->max_shards = 200;
        q->min_shards = 1;
        q->max_samples_per_send = 500;
        q->batch_send_deadline_ms = 5 * PL_MS_PER_SEC;
        q->min_backoff_ms = 30;
        q->max_backoff_ms = 5 * PL_MS_PER_SEC;
        int dummy = 0;
        if ((rc = get_str(c, it, "url", &w->url)) || (rc = get_str(c, it, "name", &w->name)) ||
            (rc = get_duration(c, it, "remote_timeout", &w->remote_timeout_ms)) ||
            (rc = get_bool(c, it, "send_exemplars", &dummy)) ||
            (rc = get_bool(c, it, "send_native_histograms", &dummy)) ||
            (rc = parse_http(c, it, &w->http)) ||
            (rc = parse_relabel_list(c, it, "write_relabel_configs", &w->write_relabel,
                                     &w->nwrite_relabel,
                                     "empty or null relabeling rule in remote write config")))
            return rc;
        yaml_node_t *qn = map_get(c, it, "queue_config");
        if (qn && ((rc = map_check(c, qn, "config.QueueConfig", q_keys, NULL)) ||
                   (rc = get_int(c, qn, "capacity", &q->capacity)) ||
                   (rc = get_int(c, qn, "max_shards", &q->max_shards)) ||
                   (rc = get_int(c, qn, "min_shards", &q->min_shards)) ||
                   (rc = get_int(c, qn, "max_samples_per_send", &q->max_samples_per_send)) ||
                   (rc = get_duration(c, qn, "batch_send_deadline", &q->batch_send_deadline_ms)) ||
                   (rc = get_duration(c, qn, "min_backoff", &q->min_backoff_ms)) ||
                   (rc = get_duration(c, qn, "max_backoff", &q->max_backoff_ms)) ||
                   (rc = get_bool(c, qn, "retry_on_http_429", &q->retry_on_http_429))))
            return rc;
        yaml_node_t *md = map_get(c, it, "metadata_config");
        int64_t mi = 0, ms = 0;
        if (md && ((rc = map_check(c, md, "config.MetadataConfig", md_keys, NULL)) ||
                   (rc = get_bool(c, md, "send", &dummy)) ||
                   (rc = get_duration(c, md, "send_interval", &ms)) ||
                   (rc = get_int(c, md, "max_samples_per_send", &mi))))
            return rc;
        if (!*w->url)
            return fail(c, it, "url for remote_write is empty");
        if ((rc = check_url(c, map_get(c, it, "url"), w->url)))
            return rc;
        yaml_node_t *hn = map_get(c, it, "headers");
        if (hn && !is_null(hn)) {
            if (hn->type != YAML_MAPPING_NODE)
                return type_err(c, hn, "map[string]string");
            size_t nh = (size_t)(hn->data.mapping.pairs.top - hn->data.mapping.pairs.start);
            w->headers = acalloc(c, nh, sizeof(*w->headers));
            for (size_t h = 0; h < nh; h++) {
                yaml_node_t *k = node_at(c, hn->data.mapping.pairs.start[h].key);
                yaml_node_t *v = node_at(c, hn->data.mapping.pairs.start[h].value);
                if ((rc = visit(c, k)) || (rc = visit(c, v)))
                    return rc;
                if (k->type != YAML_SCALAR_NODE)
                    return type_err(c, k, "string");
                if (v->type != YAML_SCALAR_NODE)
                    return type_err(c, v, "string");
                for (size_t j = 0; j < h; j++)
                    if (!strcmp(w->headers[j].name, sval(k)))
                        return fail(c, k, "key %s already set in map", quote(c, sval(k)));
                if (!strcasecmp(sval(k), "Authorization"))
                    return fail(c, k,
                                "authorization header must be changed via the basic_auth, "
                                "authorization, oauth2, or sigv4 parameter");
                for (const char *const *r = reserved; *r; r++)
                    if (!strcasecmp(sval(k), *r))
                        return fail(c, k, "%s is a reserved header. It must not be changed", *r);
                w->headers[h].name = astrdup(c, sval(k), k->data.scalar.length);
                w->headers[h].value = is_null(v) ? "" : astrdup(c, sval(v), v->data.scalar.length);
                w->nheaders++;
            }
        }
        if (*w->name)
            for (size_t j = 0; j < i; j++)
                if (!strcmp(cfg->remote_write[j].name, w->name))
                    return fail(c, it, "found multiple remote write configs with job name %s",
                                quote(c, w->name));
    }
    return 0;
}

static int parse_root(struct ctx *c)
{
    static const char *const keys[] = {"global",         "alerting",     "rule_files",
                                       "scrape_configs", "remote_write", NULL};
    static const char *const ignored[] = {"remote_read", "storage", "tracing", NULL};
    struct coll_config *cfg = c->cfg;
    yaml_node_t *root = yaml_document_get_root_node(&c->doc);
    int rc;
    if (root && (rc = map_check(c, root, "config.plain", keys, ignored)))
        return rc;
    if ((rc = parse_global(c, root)))
        return rc;
    if ((rc = get_strs(c, root, "rule_files", &cfg->rule_files, &cfg->nrule_files, "[]string",
                       NULL)))
        return rc;
    for (size_t i = 0; i < cfg->nrule_files; i++) {
        if (!glob_pattern_ok(cfg->rule_files[i], 0))
            return fail(c, map_get(c, root, "rule_files"), "invalid rule file path %s",
                        quote(c, cfg->rule_files[i]));
        cfg->rule_files[i] = join_dir(c, cfg->rule_files[i]);
    }
    yaml_node_t *sn;
    size_t cnt;
    if ((rc = get_seq(c, root, "scrape_configs", "[]*config.ScrapeConfig", &sn, &cnt)))
        return rc;
    if (sn) {
        cfg->scrape_configs = acalloc(c, cnt, sizeof(*cfg->scrape_configs));
        for (size_t i = 0; i < cnt; i++) {
            yaml_node_t *it = node_at(c, sn->data.sequence.items.start[i]);
            struct coll_scrape_config *sc = &cfg->scrape_configs[i];
            cfg->nscrape = i + 1; /* so that free releases what was parsed */
            if ((rc = parse_scrape(c, it, sc)))
                return rc;
            if (sc->interval_ms == 0)
                sc->interval_ms = cfg->global.scrape_interval_ms;
            if (sc->timeout_ms > sc->interval_ms)
                return fail(c, it,
                            "scrape timeout greater than scrape interval for scrape config with "
                            "job name %s",
                            quote(c, sc->job_name));
            if (sc->timeout_ms == 0)
                sc->timeout_ms = cfg->global.scrape_timeout_ms > sc->interval_ms
                                     ? sc->interval_ms
                                     : cfg->global.scrape_timeout_ms;
            for (size_t j = 0; j < i; j++)
                if (!strcmp(cfg->scrape_configs[j].job_name, sc->job_name))
                    return fail(c, it, "found multiple scrape configs with job name %s",
                                quote(c, sc->job_name));
        }
    }
    if ((rc = parse_alerting(c, root)) || (rc = parse_remote_write(c, root)))
        return rc;
    return 0;
}

/* yaml.v2's line for a libyaml error (a scanner error counts one more). */
static int yaml_error(struct ctx *c, yaml_parser_t *p)
{
    size_t line = 0;
    if (p->problem_mark.line != 0) {
        line = p->problem_mark.line;
        if (p->error == YAML_SCANNER_ERROR)
            line++;
    } else if (p->context_mark.line != 0) {
        line = p->context_mark.line;
    }
    const char *problem = p->problem ? p->problem : "unknown error";
    if (line)
        return pl_err_set(c->err, PL_ERR_INVALID, "%s:%zu: yaml: line %zu: %s", c->name, line, line,
                          problem);
    return pl_err_set(c->err, PL_ERR_INVALID, "%s: yaml: %s", c->name, problem);
}

static void free_rules(struct coll_relabel_rule *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        coll_relabel_rule_fini(&r[i]);
}

void coll_config_free(struct coll_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nscrape; i++) {
        free_rules(cfg->scrape_configs[i].relabel, cfg->scrape_configs[i].nrelabel);
        free_rules(cfg->scrape_configs[i].metric_relabel, cfg->scrape_configs[i].nmetric_relabel);
    }
    for (size_t i = 0; i < cfg->nalertmanagers; i++)
        free_rules(cfg->alertmanagers[i].relabel, cfg->alertmanagers[i].nrelabel);
    free_rules(cfg->alert_relabel, cfg->nalert_relabel);
    for (size_t i = 0; i < cfg->nremote_write; i++)
        free_rules(cfg->remote_write[i].write_relabel, cfg->remote_write[i].nwrite_relabel);
    struct owned_labels *o = owned(cfg);
    for (size_t i = 0; i < o->n; i++)
        pl_labels_free(o->v[i]);
    free(o->v);
    pl_arena_fini(&cfg->arena);
    free(cfg);
}

int coll_config_parse(const char *text, size_t len, const char *name, const char *dir,
                      struct coll_config **out, struct pl_err *err)
{
    if (len > COLL_CONFIG_MAX_BYTES)
        return pl_err_set(err, PL_ERR_LIMIT, "%s: config file larger than %u bytes", name,
                          COLL_CONFIG_MAX_BYTES);
    struct coll_config_priv *priv = pl_xcalloc(1, sizeof(*priv));
    struct coll_config *cfg = &priv->pub;
    pl_arena_init(&cfg->arena, 16384);
    cfg->path = pl_arena_strndup(&cfg->arena, name, strlen(name));
    cfg->dir = dir ? pl_arena_strndup(&cfg->arena, dir, strlen(dir)) : "";
    struct ctx c = {.name = cfg->path, .cfg = cfg, .err = err};
    pl_buf_init(&c.warn, 64 * PL_ERR_MSG_MAX);
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc;
    if (!yaml_parser_load(&parser, &c.doc)) {
        rc = yaml_error(&c, &parser);
        yaml_parser_delete(&parser);
        pl_buf_fini(&c.warn);
        coll_config_free(cfg);
        return rc;
    }
    /* A second document is ignored by yaml.v2's Unmarshal as well. */
    yaml_parser_delete(&parser);
    rc = parse_root(&c);
    if (rc == 0 && !cfg->global.external_labels) {
        struct pl_labels_builder lb;
        pl_lb_init(&lb);
        cfg->global.external_labels = pl_lb_labels(&lb);
        own_labels(&c, cfg->global.external_labels);
        pl_lb_fini(&lb);
    }
    if (rc == 0) {
        /* Static groups without labels get an empty set, so users never see NULL. */
        struct pl_labels_builder lb;
        pl_lb_init(&lb);
        for (size_t i = 0; i < cfg->nscrape; i++)
            for (size_t k = 0; k < cfg->scrape_configs[i].nstatic; k++)
                if (!cfg->scrape_configs[i].static_configs[k].labels) {
                    cfg->scrape_configs[i].static_configs[k].labels = pl_lb_labels(&lb);
                    own_labels(&c, cfg->scrape_configs[i].static_configs[k].labels);
                }
        pl_lb_fini(&lb);
    }
    if (rc == 0 && c.nwarn) {
        cfg->warnings = acalloc(&c, c.nwarn, sizeof(char *));
        const char *p = c.warn.data;
        for (size_t i = 0; i < c.nwarn; i++) {
            size_t l = strlen(p);
            cfg->warnings[i] = astrdup(&c, p, l);
            p += l + 1;
        }
        cfg->nwarnings = c.nwarn;
    }
    yaml_document_delete(&c.doc);
    pl_buf_fini(&c.warn);
    if (rc) {
        coll_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

int coll_config_load_file(const char *path, struct coll_config **out, struct pl_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return pl_err_set(err, -errno, "open %s: %s", path, strerror(errno));
    struct pl_buf b;
    pl_buf_init(&b, COLL_CONFIG_MAX_BYTES);
    char chunk[8192];
    size_t got;
    int rc = 0;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (pl_buf_append(&b, chunk, got) != 0) {
            rc = pl_err_set(err, PL_ERR_LIMIT, "%s: config file larger than %u bytes", path,
                            COLL_CONFIG_MAX_BYTES);
            break;
        }
    }
    if (!rc && ferror(f))
        rc = pl_err_set(err, PL_ERR_IO, "read %s: %s", path, strerror(errno));
    fclose(f);
    if (rc) {
        pl_buf_fini(&b);
        return rc;
    }
    char *dir = pl_xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    else
        dir[0] = '\0';
    rc = coll_config_parse(b.data ? b.data : "", b.len, path, dir, out, err);
    free(dir);
    pl_buf_fini(&b);
    return rc;
}

const char coll_config_default_yaml[] =
    "# promlite's built-in configuration: used when no --config.file is given.\n"
    "global:\n"
    "  scrape_interval: 15s\n"
    "  evaluation_interval: 15s\n"
    "scrape_configs:\n"
    "  - job_name: promlite\n"
    "    static_configs:\n"
    "      - targets: ['localhost:9090']\n"
    "  - job_name: node\n"
    "    static_configs:\n"
    "      - targets: ['localhost:9100']\n";

int coll_config_load_default(struct coll_config **out, struct pl_err *err)
{
    return coll_config_parse(coll_config_default_yaml, sizeof(coll_config_default_yaml) - 1,
                             "<default>", NULL, out, err);
}

const struct coll_scrape_config *coll_config_scrape(const struct coll_config *cfg, const char *job)
{
    for (size_t i = 0; i < cfg->nscrape; i++)
        if (!strcmp(cfg->scrape_configs[i].job_name, job))
            return &cfg->scrape_configs[i];
    return NULL;
}

int coll_config_rule_files(const struct coll_config *cfg, int (*fn)(const char *path, void *ud),
                           void *ud, struct pl_err *err)
{
    int total = 0;
    for (size_t i = 0; i < cfg->nrule_files; i++) {
        glob_t g;
        int grc = glob(cfg->rule_files[i], 0, NULL, &g);
        if (grc == GLOB_NOMATCH)
            continue;
        if (grc != 0) {
            globfree(&g);
            return pl_err_set(err, PL_ERR_IO, "error retrieving rule files for %s: glob failed",
                              cfg->rule_files[i]);
        }
        for (size_t k = 0; k < g.gl_pathc; k++) {
            int rc = fn ? fn(g.gl_pathv[k], ud) : 0;
            if (rc < 0) {
                globfree(&g);
                return rc;
            }
            total++;
        }
        globfree(&g);
    }
    return total;
}

/* ---- sizes (github.com/alecthomas/units ParseUnit) ---- */

static int parse_unit(const char *orig, int iec, double *out, struct pl_err *err)
{
    const char *s = orig;
    int neg = 0;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    if (!strcmp(s, "0")) {
        *out = 0;
        return 0;
    }
    if (!*s)
        return pl_err_set(err, PL_ERR_INVALID, "units: invalid %s", orig);
    double f = 0;
    while (*s) {
        if (!(*s == '.' || (*s >= '0' && *s <= '9')))
            return pl_err_set(err, PL_ERR_INVALID, "units: invalid %s", orig);
        double g = 0;
        int pre = 0, post = 0;
        while (*s >= '0' && *s <= '9') {
            g = g * 10 + (*s++ - '0');
            pre = 1;
            if (g > 9.3e18)
                return pl_err_set(err, PL_ERR_INVALID, "units: invalid %s", orig);
        }
        if (*s == '.') {
            s++;
            double scale = 1;
            while (*s >= '0' && *s <= '9') {
                scale /= 10;
                g += (*s++ - '0') * scale;
                post = 1;
            }
        }
        if (!pre && !post)
            return pl_err_set(err, PL_ERR_INVALID, "units: invalid %s", orig);
        const char *u = s;
        while (*s && *s != '.' && !(*s >= '0' && *s <= '9'))
            s++;
        size_t ul = (size_t)(s - u);
        static const char pfx[] = "KMGTPE";
        double mult = 0;
        if (ul == 1 && u[0] == 'B') {
            mult = 1;
        } else if (ul == (iec ? 3u : 2u) && strchr(pfx, u[0]) && u[0] &&
                   !strncmp(u + 1, iec ? "iB" : "B", ul - 1)) {
            mult = 1;
            for (const char *p = pfx; *p; p++) {
                mult *= 1024;
                if (*p == u[0])
                    break;
            }
        }
        if (mult == 0)
            return pl_err_set(err, PL_ERR_INVALID, "units: unknown unit %.*s in %s", (int)ul, u,
                              orig);
        f += g * mult;
    }
    if (f > 9.2e18)
        return pl_err_set(err, PL_ERR_INVALID, "units: overflow parsing unit");
    *out = neg ? -f : f;
    return 0;
}

int coll_size_parse(const char *s, uint64_t *out, struct pl_err *err)
{
    double f;
    if (parse_unit(s, 1, &f, err) != 0 && parse_unit(s, 0, &f, err) != 0)
        return PL_ERR_INVALID;
    *out = f <= 0 ? 0 : (uint64_t)f;
    return 0;
}
