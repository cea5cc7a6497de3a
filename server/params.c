/*
 * params.c - URL query strings and form bodies (params.h).
 *
 * Decoding follows the WHATWG application/x-www-form-urlencoded parser,
 * except that a bad %-escape is an error, as in Go's url.ParseQuery, which
 * Prometheus uses: the request then fails with 400 instead of guessing.
 */
#include "server/params.h"

#include "common/mem.h"

#include <string.h>

void srv_params_init(struct srv_params *p, size_t limit)
{
    p->v = NULL;
    p->n = p->cap = 0;
    p->limit = limit;
}

void srv_params_fini(struct srv_params *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].key);
        free(p->v[i].value);
    }
    free(p->v);
    p->v = NULL;
    p->n = p->cap = 0;
}

int srv_params_add(struct srv_params *p, const char *key, size_t klen, const char *value,
                   size_t vlen)
{
    if (p->n >= p->limit)
        return PL_ERR_LIMIT;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->v = pl_xreallocarray(p->v, p->cap, sizeof(*p->v));
    }
    struct srv_param *e = &p->v[p->n++];
    e->key = pl_xstrndup(key, klen);
    e->value = pl_xmalloc(vlen + 1);
    memcpy(e->value, value, vlen);
    e->value[vlen] = '\0';
    e->vlen = vlen;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes s[0..n) into out (room for n bytes). Returns the length or -1 on a bad escape at *bad. */
static long decode(const char *s, size_t n, char *out, size_t *bad)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            out[o++] = ' ';
        } else if (c == '%') {
            int hi = i + 1 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                *bad = i;
                return -1;
            }
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = c;
        }
    }
    return (long)o;
}

int srv_params_parse_urlencoded(struct srv_params *p, const char *s, size_t n, struct pl_err *err)
{
    size_t start_n = p->n;
    char *kbuf = NULL, *vbuf = NULL;
    size_t pos = 0;
    int rc = 0;
    while (pos < n) {
        const char *pair = s + pos;
        const char *amp = memchr(pair, '&', n - pos);
        size_t plen = amp ? (size_t)(amp - pair) : n - pos;
        pos += plen + 1;
        if (plen == 0)
            continue;
        const char *eq = memchr(pair, '=', plen);
        size_t klen = eq ? (size_t)(eq - pair) : plen;
        const char *val = eq ? eq + 1 : pair + plen;
        size_t vlen = eq ? plen - klen - 1 : 0;
        kbuf = pl_xrealloc(kbuf, klen + 1);
        vbuf = pl_xrealloc(vbuf, vlen + 1);
        size_t bad = 0;
        long kl = decode(pair, klen, kbuf, &bad);
        long vl = kl < 0 ? -1 : decode(val, vlen, vbuf, &bad);
        if (kl < 0 || vl < 0) {
            const char *base = kl < 0 ? pair : val;
            size_t avail = (kl < 0 ? klen : vlen) - bad;
            rc = pl_err_set(err, PL_ERR_INVALID, "invalid URL escape \"%.*s\"",
                            (int)(avail < 3 ? avail : 3), base + bad);
            break;
        }
        rc = srv_params_add(p, kbuf, (size_t)kl, vbuf, (size_t)vl);
        if (rc) {
            pl_err_set(err, rc, "too many parameters (more than %zu)", p->limit);
            break;
        }
    }
    free(kbuf);
    free(vbuf);
    if (rc) {
        /* All or nothing: drop what this call added. */
        while (p->n > start_n) {
            p->n--;
            free(p->v[p->n].key);
            free(p->v[p->n].value);
        }
    }
    return rc;
}

const struct srv_param *srv_params_get(const struct srv_params *p, const char *key)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->v[i].key, key) == 0)
            return &p->v[i];
    return NULL;
}

const char *srv_params_value(const struct srv_params *p, const char *key)
{
    const struct srv_param *e = srv_params_get(p, key);
    return e ? e->value : "";
}

size_t srv_params_count(const struct srv_params *p, const char *key)
{
    size_t c = 0;
    for (size_t i = 0; i < p->n; i++)
        c += strcmp(p->v[i].key, key) == 0;
    return c;
}
