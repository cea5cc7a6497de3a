/* labels.c - sorted label sets and their builder (see labels.h). */
#include "common/labels.h"

#include "common/hash.h"
#include "common/intern.h"
#include "common/mem.h"

#include <stdlib.h>
#include <string.h>

/* GCC 12 cannot see that the stack scratch buffers below are written before the
 * inlined XXH3 reads them, and warns; the warning is a false positive. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

static uint64_t hash_pairs(const struct pl_label *v, uint32_t n)
{
    /* Stream the pairs through XXH3 without building the key: "n\xffv\xff"... */
    unsigned char stackbuf[1024];
    size_t need = 0;
    for (uint32_t i = 0; i < n; i++)
        need += v[i].name_len + v[i].value_len + 2;
    unsigned char *p = need <= sizeof(stackbuf) ? stackbuf : pl_xmalloc(need);
    size_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        memcpy(p + off, v[i].name, v[i].name_len);
        off += v[i].name_len;
        p[off++] = 0xff;
        memcpy(p + off, v[i].value, v[i].value_len);
        off += v[i].value_len;
        p[off++] = 0xff;
    }
    uint64_t h = pl_hash64(p, off, 0);
    if (p != stackbuf)
        free(p);
    return h;
}

/* Builds one allocation from pairs already sorted and unique. */
static struct pl_labels *make(const struct pl_label *src, uint32_t n)
{
    size_t bytes = 0;
    for (uint32_t i = 0; i < n; i++)
        bytes += src[i].value_len + 1;
    struct pl_labels *ls = pl_xmalloc(sizeof(*ls) + n * sizeof(struct pl_label) + bytes);
    char *p = (char *)(ls->v + n);
    ls->n = n;
    for (uint32_t i = 0; i < n; i++) {
        ls->v[i].name = src[i].name;
        ls->v[i].name_len = src[i].name_len;
        memcpy(p, src[i].value, src[i].value_len);
        p[src[i].value_len] = '\0';
        ls->v[i].value = p;
        ls->v[i].value_len = src[i].value_len;
        p += src[i].value_len + 1;
    }
    ls->hash = hash_pairs(ls->v, n);
    return ls;
}

void pl_labels_free(struct pl_labels *ls)
{
    free(ls);
}

struct pl_labels *pl_labels_dup(const struct pl_labels *ls)
{
    return make(ls->v, ls->n);
}

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    size_t m = an < bn ? an : bn;
    int c = memcmp(a, b, m);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

const struct pl_label *pl_labels_get(const struct pl_labels *ls, const char *name)
{
    size_t nlen = strlen(name);
    uint32_t lo = 0, hi = ls->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = cmp_bytes(ls->v[mid].name, ls->v[mid].name_len, name, nlen);
        if (c == 0)
            return &ls->v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *pl_labels_value(const struct pl_labels *ls, const char *name)
{
    const struct pl_label *l = pl_labels_get(ls, name);
    return l ? l->value : "";
}

int pl_labels_cmp(const struct pl_labels *a, const struct pl_labels *b)
{
    uint32_t n = a->n < b->n ? a->n : b->n;
    for (uint32_t i = 0; i < n; i++) {
        int c = cmp_bytes(a->v[i].name, a->v[i].name_len, b->v[i].name, b->v[i].name_len);
        if (c)
            return c;
        c = cmp_bytes(a->v[i].value, a->v[i].value_len, b->v[i].value, b->v[i].value_len);
        if (c)
            return c;
    }
    return a->n < b->n ? -1 : a->n > b->n;
}

int pl_labels_equal(const struct pl_labels *a, const struct pl_labels *b)
{
    if (a->n != b->n || a->hash != b->hash)
        return 0;
    return pl_labels_cmp(a, b) == 0;
}

static int in_names(const char *name, const char *const *names, size_t nnames)
{
    for (size_t i = 0; i < nnames; i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return 0;
}

uint64_t pl_labels_hash_subset(const struct pl_labels *ls, const char *const *names, size_t nnames,
                               int include)
{
    struct pl_label stackv[64];
    struct pl_label *v = ls->n <= 64 ? stackv : pl_xmalloc(ls->n * sizeof(*v));
    uint32_t k = 0;
    for (uint32_t i = 0; i < ls->n; i++)
        if (in_names(ls->v[i].name, names, nnames) == include)
            v[k++] = ls->v[i];
    uint64_t h = hash_pairs(v, k);
    if (v != stackv)
        free(v);
    return h;
}

int pl_escape_label_value(struct pl_buf *out, const char *v, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = NULL;
        if (v[i] == '\\')
            rep = "\\\\";
        else if (v[i] == '"')
            rep = "\\\"";
        else if (v[i] == '\n')
            rep = "\\n";
        if (!rep)
            continue;
        int rc = pl_buf_append(out, v + start, i - start);
        if (!rc)
            rc = pl_buf_puts(out, rep);
        if (rc)
            return rc;
        start = i + 1;
    }
    return pl_buf_append(out, v + start, n - start);
}

int pl_labels_format(const struct pl_labels *ls, struct pl_buf *out)
{
    const struct pl_label *name = pl_labels_get(ls, PL_METRIC_NAME);
    int rc = 0;
    if (name)
        rc = pl_buf_append(out, name->value, name->value_len);
    if (!rc)
        rc = pl_buf_putc(out, '{');
    int first = 1;
    for (uint32_t i = 0; i < ls->n && !rc; i++) {
        if (&ls->v[i] == name)
            continue;
        if (!first)
            rc = pl_buf_puts(out, ", ");
        first = 0;
        if (!rc)
            rc = pl_buf_append(out, ls->v[i].name, ls->v[i].name_len);
        if (!rc)
            rc = pl_buf_puts(out, "=\"");
        if (!rc)
            rc = pl_escape_label_value(out, ls->v[i].value, ls->v[i].value_len);
        if (!rc)
            rc = pl_buf_putc(out, '"');
    }
    if (!rc)
        rc = pl_buf_putc(out, '}');
    return rc;
}

int pl_label_name_valid(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

int pl_metric_name_valid(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                 (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

int pl_labels_parse(const char *s, size_t n, struct pl_labels **out, struct pl_err *err)
{
    struct pl_labels_builder b;
    pl_lb_init(&b);
    struct pl_buf val;
    pl_buf_init(&val, n + 1);
    size_t i = 0;
    int rc = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    size_t st = i;
    while (i < n && s[i] != '{' && s[i] != ' ')
        i++;
    if (i > st) {
        if (!pl_metric_name_valid(s + st, i - st)) {
            rc = pl_err_set(err, PL_ERR_INVALID, "invalid metric name \"%.*s\"", (int)(i - st),
                            s + st);
            goto out;
        }
        pl_lb_set(&b, PL_METRIC_NAME, 8, s + st, i - st);
    }
    while (i < n && s[i] == ' ')
        i++;
    if (i < n && s[i] == '{') {
        i++;
        for (;;) {
            while (i < n && (s[i] == ' ' || s[i] == ','))
                i++;
            if (i < n && s[i] == '}') {
                i++;
                break;
            }
            size_t ns = i;
            while (i < n && s[i] != '=' && s[i] != ' ')
                i++;
            size_t ne = i;
            while (i < n && s[i] == ' ')
                i++;
            if (i >= n || s[i] != '=' || !pl_label_name_valid(s + ns, ne - ns)) {
                rc = pl_err_set(err, PL_ERR_INVALID, "invalid label at offset %zu", ns);
                goto out;
            }
            i++;
            while (i < n && s[i] == ' ')
                i++;
            if (i >= n || s[i] != '"') {
                rc = pl_err_set(err, PL_ERR_INVALID, "expected '\"' at offset %zu", i);
                goto out;
            }
            i++;
            pl_buf_reset(&val);
            while (i < n && s[i] != '"') {
                char c = s[i];
                if (c == '\\' && i + 1 < n) {
                    i++;
                    c = s[i] == 'n' ? '\n' : s[i];
                }
                pl_buf_putc(&val, c);
                i++;
            }
            if (i >= n) {
                rc = pl_err_set(err, PL_ERR_INVALID, "unterminated label value");
                goto out;
            }
            i++;
            pl_lb_set(&b, s + ns, ne - ns, pl_buf_cstr(&val), val.len);
        }
    }
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n'))
        i++;
    if (i != n) {
        rc = pl_err_set(err, PL_ERR_INVALID, "unexpected \"%.*s\" at offset %zu", (int)(n - i),
                        s + i, i);
        goto out;
    }
    *out = pl_lb_labels(&b);
out:
    pl_buf_fini(&val);
    pl_lb_fini(&b);
    return rc;
}

/* ---- builder ---- */

void pl_lb_init(struct pl_labels_builder *b)
{
    b->v = NULL;
    b->n = b->cap = 0;
    pl_buf_init(&b->bytes, (size_t)UINT32_MAX);
}

void pl_lb_fini(struct pl_labels_builder *b)
{
    free(b->v);
    pl_buf_fini(&b->bytes);
    b->v = NULL;
    b->n = b->cap = 0;
}

void pl_lb_reset(struct pl_labels_builder *b)
{
    b->n = 0;
    pl_buf_reset(&b->bytes);
}

static int find(const struct pl_labels_builder *b, const char *name, size_t nlen)
{
    for (uint32_t i = 0; i < b->n; i++)
        if (b->v[i].nlen == nlen && memcmp(b->bytes.data + b->v[i].noff, name, nlen) == 0)
            return (int)i;
    return -1;
}

void pl_lb_del(struct pl_labels_builder *b, const char *name, size_t nlen)
{
    int i = find(b, name, nlen);
    if (i < 0)
        return;
    b->v[i] = b->v[--b->n];
}

void pl_lb_set(struct pl_labels_builder *b, const char *name, size_t nlen, const char *value,
               size_t vlen)
{
    if (vlen == 0) {
        pl_lb_del(b, name, nlen);
        return;
    }
    /* name/value may point into our own bytes (copied from another pair), so
     * append through offsets that survive a reallocation. */
    int self_n = b->bytes.data && name >= b->bytes.data && name < b->bytes.data + b->bytes.len;
    int self_v = b->bytes.data && value >= b->bytes.data && value < b->bytes.data + b->bytes.len;
    size_t ns = self_n ? (size_t)(name - b->bytes.data) : 0;
    size_t vs = self_v ? (size_t)(value - b->bytes.data) : 0;
    pl_buf_reserve(&b->bytes, nlen + vlen + 2);
    if (self_n)
        name = b->bytes.data + ns;
    if (self_v)
        value = b->bytes.data + vs;
    struct pl_lb_pair p;
    p.noff = (uint32_t)b->bytes.len;
    p.nlen = (uint32_t)nlen;
    pl_buf_append(&b->bytes, name, nlen);
    if (self_v)
        value = b->bytes.data + vs;
    p.voff = (uint32_t)b->bytes.len;
    p.vlen = (uint32_t)vlen;
    pl_buf_append(&b->bytes, value, vlen);
    int i = find(b, name, nlen);
    if (i >= 0) {
        b->v[i] = p;
        return;
    }
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->v = pl_xreallocarray(b->v, b->cap, sizeof(*b->v));
    }
    b->v[b->n++] = p;
}

void pl_lb_setz(struct pl_labels_builder *b, const char *name, const char *value)
{
    pl_lb_set(b, name, strlen(name), value, strlen(value));
}

void pl_lb_reset_from(struct pl_labels_builder *b, const struct pl_labels *ls)
{
    pl_lb_reset(b);
    for (uint32_t i = 0; i < ls->n; i++)
        pl_lb_set(b, ls->v[i].name, ls->v[i].name_len, ls->v[i].value, ls->v[i].value_len);
}

const char *pl_lb_get(const struct pl_labels_builder *b, const char *name, size_t nlen,
                      size_t *vlen)
{
    int i = find(b, name, nlen);
    if (i < 0)
        return NULL;
    if (vlen)
        *vlen = b->v[i].vlen;
    return b->bytes.data + b->v[i].voff;
}

static int cmp_label(const void *pa, const void *pb)
{
    const struct pl_label *a = pa, *b = pb;
    return cmp_bytes(a->name, a->name_len, b->name, b->name_len);
}

struct pl_labels *pl_lb_labels(struct pl_labels_builder *b)
{
    struct pl_label stackv[64];
    struct pl_label *v = b->n <= 64 ? stackv : pl_xmalloc(b->n * sizeof(*v));
    for (uint32_t i = 0; i < b->n; i++) {
        v[i].name = pl_intern(b->bytes.data + b->v[i].noff, b->v[i].nlen);
        v[i].name_len = b->v[i].nlen;
        v[i].value = b->bytes.data + b->v[i].voff;
        v[i].value_len = b->v[i].vlen;
    }
    qsort(v, b->n, sizeof(*v), cmp_label);
    struct pl_labels *ls = make(v, b->n);
    if (v != stackv)
        free(v);
    return ls;
}
