/*
 * relabel.c - relabeling rules and their application, following Prometheus
 * 2.42 pkg/relabel/relabel.go (Config.Validate, relabel()) rule for rule.
 *
 * Spec: https://prometheus.io/docs/prometheus/latest/configuration/configuration/#relabel_config
 *
 * Work happens on a pl_labels_builder with per-thread scratch buffers, so a
 * steady stream of label sets (metric_relabel_configs on every sample) does
 * not allocate. The builder's bytes are append-only until it is reset, so a
 * snapshot of its pair offsets stays readable while rules add labels.
 */
#include "collector/relabel.h"

#include <locale.h>
#include <pthread.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <wctype.h>

#include "common/mem.h"

static const char *const action_names[] = {
    [COLL_RELABEL_REPLACE] = "replace",     [COLL_RELABEL_KEEP] = "keep",
    [COLL_RELABEL_DROP] = "drop",           [COLL_RELABEL_KEEPEQUAL] = "keepequal",
    [COLL_RELABEL_DROPEQUAL] = "dropequal", [COLL_RELABEL_HASHMOD] = "hashmod",
    [COLL_RELABEL_LABELMAP] = "labelmap",   [COLL_RELABEL_LABELDROP] = "labeldrop",
    [COLL_RELABEL_LABELKEEP] = "labelkeep", [COLL_RELABEL_LOWERCASE] = "lowercase",
    [COLL_RELABEL_UPPERCASE] = "uppercase",
};

int coll_relabel_action_parse(const char *s, enum coll_relabel_action *out)
{
    for (size_t i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++) {
        if (strcasecmp(s, action_names[i]) == 0) {
            *out = (enum coll_relabel_action)i;
            return 0;
        }
    }
    return PL_ERR_INVALID;
}

const char *coll_relabel_action_name(enum coll_relabel_action a)
{
    return action_names[a];
}

void coll_relabel_rule_init(struct coll_relabel_rule *r)
{
    memset(r, 0, sizeof(*r));
    r->separator = ";";
    r->target_label = "";
    r->replacement = "$1";
    r->action = COLL_RELABEL_REPLACE;
    struct pl_err e;
    if (tsdb_regex_capture_new("(.*)", &r->regex, &e) != 0)
        abort(); /* the default pattern is valid */
}

void coll_relabel_rule_fini(struct coll_relabel_rule *r)
{
    tsdb_regex_capture_free(r->regex);
    r->regex = NULL;
}

int coll_relabel_rule_set_regex(struct coll_relabel_rule *r, const char *pattern,
                                struct pl_err *err)
{
    struct tsdb_regex_capture *re;
    int rc = tsdb_regex_capture_new(pattern, &re, err);
    if (rc)
        return rc;
    tsdb_regex_capture_free(r->regex);
    r->regex = re;
    r->regex_set = 1;
    return 0;
}

static int word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/*
 * Prometheus's relabelTarget: ^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$ -- a
 * label name in which `$1`, `${name}` references may stand for parts.
 */
static int relabel_target_valid(const char *s)
{
    size_t n = strlen(s), i = 0;
    if (n == 0)
        return 0;
    while (i < n) {
        char c = s[i];
        if (c == '$') {
            i++;
            if (i < n && s[i] == '{') {
                size_t st = ++i;
                while (i < n && word_char(s[i]))
                    i++;
                if (i == st || i >= n || s[i] != '}')
                    return 0;
                i++;
            } else {
                size_t st = i;
                while (i < n && word_char(s[i]))
                    i++;
                if (i == st)
                    return 0;
            }
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
            i++;
        } else if (c >= '0' && c <= '9' && i > 0) {
            i++;
        } else {
            return 0;
        }
    }
    return 1;
}

int coll_relabel_rule_validate(const struct coll_relabel_rule *r, struct pl_err *err)
{
    const char *an = action_names[r->action];
    enum coll_relabel_action a = r->action;
    if (a == COLL_RELABEL_HASHMOD && r->modulus == 0)
        return pl_err_set(err, PL_ERR_INVALID,
                          "relabel configuration for hashmod requires non-zero modulus");
    int needs_target = a == COLL_RELABEL_REPLACE || a == COLL_RELABEL_HASHMOD ||
                       a == COLL_RELABEL_LOWERCASE || a == COLL_RELABEL_UPPERCASE ||
                       a == COLL_RELABEL_KEEPEQUAL || a == COLL_RELABEL_DROPEQUAL;
    if (needs_target && r->target_label[0] == '\0')
        return pl_err_set(err, PL_ERR_INVALID,
                          "relabel configuration for %s action requires 'target_label' value", an);
    if ((a == COLL_RELABEL_REPLACE || a == COLL_RELABEL_LOWERCASE || a == COLL_RELABEL_UPPERCASE) &&
        !relabel_target_valid(r->target_label))
        return pl_err_set(err, PL_ERR_INVALID, "\"%s\" is invalid 'target_label' for %s action",
                          r->target_label, an);
    if ((a == COLL_RELABEL_LOWERCASE || a == COLL_RELABEL_UPPERCASE ||
         a == COLL_RELABEL_KEEPEQUAL || a == COLL_RELABEL_DROPEQUAL) &&
        !pl_label_name_valid(r->target_label, strlen(r->target_label)))
        return pl_err_set(err, PL_ERR_INVALID, "\"%s\" is invalid 'target_label' for %s action",
                          r->target_label, an);
    if ((a == COLL_RELABEL_LOWERCASE || a == COLL_RELABEL_UPPERCASE) &&
        strcmp(r->replacement, "$1") != 0)
        return pl_err_set(err, PL_ERR_INVALID, "'replacement' can not be set for %s action", an);
    if (a == COLL_RELABEL_LABELMAP && !relabel_target_valid(r->replacement))
        return pl_err_set(err, PL_ERR_INVALID, "\"%s\" is invalid 'replacement' for %s action",
                          r->replacement, an);
    if (a == COLL_RELABEL_HASHMOD && !pl_label_name_valid(r->target_label, strlen(r->target_label)))
        return pl_err_set(err, PL_ERR_INVALID, "\"%s\" is invalid 'target_label' for %s action",
                          r->target_label, an);
    if ((a == COLL_RELABEL_KEEPEQUAL || a == COLL_RELABEL_DROPEQUAL) &&
        (r->regex_set || r->modulus != 0 || strcmp(r->separator, ";") != 0 ||
         strcmp(r->replacement, "$1") != 0))
        return pl_err_set(err, PL_ERR_INVALID,
                          "%s action requires only 'source_labels' and `target_label`, and no "
                          "other fields",
                          an);
    if ((a == COLL_RELABEL_LABELDROP || a == COLL_RELABEL_LABELKEEP) &&
        (r->source_set || r->target_label[0] != '\0' || r->modulus != 0 ||
         strcmp(r->separator, ";") != 0 || strcmp(r->replacement, "$1") != 0))
        return pl_err_set(err, PL_ERR_INVALID,
                          "%s action requires only 'regex', and no other fields", an);
    return 0;
}

void coll_relabel_scratch_init(struct coll_relabel_scratch *s)
{
    /* Label values are bounded by the scrape body; 16 MiB is far above any real one. */
    pl_buf_init(&s->val, 16u << 20);
    pl_buf_init(&s->out, 16u << 20);
    pl_buf_init(&s->name, 1u << 20);
    pl_buf_init(&s->names, 64u << 20);
    s->ovec = pl_xcalloc(2 * TSDB_REGEX_CAPTURE_MAX, sizeof(size_t));
}

void coll_relabel_scratch_fini(struct coll_relabel_scratch *s)
{
    pl_buf_fini(&s->val);
    pl_buf_fini(&s->out);
    pl_buf_fini(&s->name);
    pl_buf_fini(&s->names);
    free(s->ovec);
    s->ovec = NULL;
}

/* ---- case mapping as Go's strings.ToLower / ToUpper ---- */

/*
 * One process-wide C.UTF-8 locale: a locale_t is only read by the *_l
 * functions, so threads share it. (A per-thread copy leaked when the scrape
 * and discovery threads exited.) Lives until exit.
 */
static locale_t utf8_loc;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_locale_init(void)
{
    utf8_loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

static locale_t utf8_locale(void)
{
    pthread_once(&utf8_once, utf8_locale_init);
    return utf8_loc;
}

/* Decodes one UTF-8 rune; invalid input yields U+FFFD with length 1, as Go. */
static uint32_t utf8_decode(const unsigned char *s, size_t n, size_t *len)
{
    unsigned char c = s[0];
    uint32_t r;
    size_t need;
    if (c < 0x80) {
        *len = 1;
        return c;
    } else if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
        r = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        r = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        r = c & 0x07;
    } else {
        *len = 1;
        return 0xFFFD;
    }
    if (n < need) {
        *len = 1;
        return 0xFFFD;
    }
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *len = 1;
            return 0xFFFD;
        }
        r = (r << 6) | (s[i] & 0x3F);
    }
    if ((need == 3 && (r < 0x800 || (r >= 0xD800 && r <= 0xDFFF))) ||
        (need == 4 && (r < 0x10000 || r > 0x10FFFF))) {
        *len = 1;
        return 0xFFFD;
    }
    *len = need;
    return r;
}

static int utf8_encode(struct pl_buf *b, uint32_t r)
{
    char t[4];
    size_t n;
    if (r < 0x80) {
        t[0] = (char)r;
        n = 1;
    } else if (r < 0x800) {
        t[0] = (char)(0xC0 | (r >> 6));
        t[1] = (char)(0x80 | (r & 0x3F));
        n = 2;
    } else if (r < 0x10000) {
        t[0] = (char)(0xE0 | (r >> 12));
        t[1] = (char)(0x80 | ((r >> 6) & 0x3F));
        t[2] = (char)(0x80 | (r & 0x3F));
        n = 3;
    } else {
        t[0] = (char)(0xF0 | (r >> 18));
        t[1] = (char)(0x80 | ((r >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((r >> 6) & 0x3F));
        t[3] = (char)(0x80 | (r & 0x3F));
        n = 4;
    }
    return pl_buf_append(b, t, n);
}

static void case_map(const char *s, size_t n, int upper, struct pl_buf *out)
{
    pl_buf_reset(out);
    locale_t loc = utf8_locale();
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            char m = (char)c;
            if (upper && c >= 'a' && c <= 'z')
                m = (char)(c - 32);
            else if (!upper && c >= 'A' && c <= 'Z')
                m = (char)(c + 32);
            pl_buf_putc(out, m);
            i++;
            continue;
        }
        size_t len;
        uint32_t r = utf8_decode((const unsigned char *)s + i, n - i, &len);
        if (loc != (locale_t)0 && r != 0xFFFD)
            r = (uint32_t)(upper ? towupper_l((wint_t)r, loc) : towlower_l((wint_t)r, loc));
        utf8_encode(out, r);
        i += len;
    }
}

/* Prometheus's sum64(md5.Sum(val)): Go shifts past 63 bits give 0, so only
 * the last 8 digest bytes count, big-endian. */
static uint64_t md5_sum64(const char *s, size_t n)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(s, n, md, &len, EVP_md5(), NULL) != 1 || len != 16)
        abort(); /* MD5 is always available in the default provider */
    uint64_t v = 0;
    for (int i = 8; i < 16; i++)
        v = (v << 8) | md[i];
    return v;
}

static void join_sources(const struct coll_relabel_rule *r, const struct pl_labels_builder *lb,
                         struct pl_buf *val)
{
    pl_buf_reset(val);
    for (size_t i = 0; i < r->nsource; i++) {
        if (i > 0)
            pl_buf_puts(val, r->separator);
        size_t vl = 0;
        const char *v = pl_lb_get(lb, r->source_labels[i], strlen(r->source_labels[i]), &vl);
        if (v)
            pl_buf_append(val, v, vl);
    }
}

static int equal_to_label(const struct pl_labels_builder *lb, const char *name,
                          const struct pl_buf *val)
{
    size_t vl = 0;
    const char *v = pl_lb_get(lb, name, strlen(name), &vl);
    if (!v)
        vl = 0;
    return vl == val->len && (vl == 0 || memcmp(v, val->data, vl) == 0);
}

/* Copies the builder's pair offsets so a rule can walk the labels it started with. */
static size_t snapshot(const struct pl_labels_builder *lb, struct pl_buf *names)
{
    pl_buf_reset(names);
    pl_buf_append(names, lb->v, (size_t)lb->n * sizeof(*lb->v));
    return lb->n;
}

static int apply_one(const struct coll_relabel_rule *r, struct pl_labels_builder *lb,
                     struct coll_relabel_scratch *s)
{
    join_sources(r, lb, &s->val);
    const char *val = pl_buf_cstr(&s->val);
    size_t vlen = s->val.len;
    switch (r->action) {
    case COLL_RELABEL_DROP:
        return !tsdb_regex_capture_match(r->regex, val, vlen, NULL);
    case COLL_RELABEL_KEEP:
        return tsdb_regex_capture_match(r->regex, val, vlen, NULL);
    case COLL_RELABEL_DROPEQUAL:
        return !equal_to_label(lb, r->target_label, &s->val);
    case COLL_RELABEL_KEEPEQUAL:
        return equal_to_label(lb, r->target_label, &s->val);
    case COLL_RELABEL_REPLACE: {
        if (!tsdb_regex_capture_match(r->regex, val, vlen, s->ovec))
            return 1;
        const char *target = r->target_label;
        size_t tlen = strlen(target);
        if (memchr(target, '$', tlen)) {
            pl_buf_reset(&s->name);
            tsdb_regex_capture_expand(r->regex, target, tlen, val, s->ovec, &s->name);
            target = pl_buf_cstr(&s->name);
            tlen = s->name.len;
        }
        if (!pl_label_name_valid(target, tlen)) {
            pl_lb_del(lb, r->target_label, strlen(r->target_label));
            return 1;
        }
        pl_buf_reset(&s->out);
        tsdb_regex_capture_expand(r->regex, r->replacement, strlen(r->replacement), val, s->ovec,
                                  &s->out);
        /* An empty result deletes the label (pl_lb_set does that). */
        pl_lb_set(lb, target, tlen, pl_buf_cstr(&s->out), s->out.len);
        return 1;
    }
    case COLL_RELABEL_LOWERCASE:
    case COLL_RELABEL_UPPERCASE:
        case_map(val, vlen, r->action == COLL_RELABEL_UPPERCASE, &s->out);
        pl_lb_set(lb, r->target_label, strlen(r->target_label), pl_buf_cstr(&s->out), s->out.len);
        return 1;
    case COLL_RELABEL_HASHMOD: {
        char num[24];
        int nn = snprintf(num, sizeof(num), "%llu",
                          (unsigned long long)(md5_sum64(val, vlen) % r->modulus));
        pl_lb_set(lb, r->target_label, strlen(r->target_label), num, (size_t)nn);
        return 1;
    }
    case COLL_RELABEL_LABELMAP: {
        size_t n = snapshot(lb, &s->names);
        for (size_t i = 0; i < n; i++) {
            const struct pl_lb_pair *p = (const struct pl_lb_pair *)s->names.data + i;
            const char *name = lb->bytes.data + p->noff;
            if (!tsdb_regex_capture_match(r->regex, name, p->nlen, s->ovec))
                continue;
            pl_buf_reset(&s->out);
            tsdb_regex_capture_expand(r->regex, r->replacement, strlen(r->replacement), name,
                                      s->ovec, &s->out);
            /* pl_lb_set copies safely from its own bytes, even across a realloc. */
            pl_lb_set(lb, pl_buf_cstr(&s->out), s->out.len, lb->bytes.data + p->voff, p->vlen);
        }
        return 1;
    }
    case COLL_RELABEL_LABELDROP:
    case COLL_RELABEL_LABELKEEP: {
        int drop_matching = r->action == COLL_RELABEL_LABELDROP;
        /* Downwards: deleting pair i moves the last pair, already visited, into i. */
        for (uint32_t i = lb->n; i-- > 0;) {
            const struct pl_lb_pair p = lb->v[i];
            const char *name = lb->bytes.data + p.noff;
            int m = tsdb_regex_capture_match(r->regex, name, p.nlen, NULL);
            if (m == drop_matching)
                pl_lb_del(lb, name, p.nlen);
        }
        return 1;
    }
    }
    return 1;
}

int coll_relabel_apply(const struct coll_relabel_rule *rules, size_t n,
                       struct pl_labels_builder *lb, struct coll_relabel_scratch *s)
{
    for (size_t i = 0; i < n; i++)
        if (!apply_one(&rules[i], lb, s))
            return 0;
    return 1;
}
