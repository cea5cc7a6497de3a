/*
 * fsutil.c - reading procfs and sysfs files for the collectors: whole files
 * into one reusable, bounded scratch buffer (no allocation per scrape once it
 * has grown), small one-line files onto the stack, and in-place tokenising.
 */
#include "exporter/node/node_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int node__path(char *out, size_t cap, const char *base, const char *rel)
{
    size_t bl = strlen(base);
    while (bl > 1 && base[bl - 1] == '/')
        bl--;
    while (*rel == '/')
        rel++;
    if (bl == 1 && base[0] == '/')
        bl = 0; /* "/" + "etc" = "/etc", not "//etc" */
    int n = snprintf(out, cap, "%.*s/%s", (int)bl, base, rel);
    return n < 0 || (size_t)n >= cap ? PL_ERR_LIMIT : 0;
}

int node__read(struct node_exporter *e, const char *path, char **data, size_t *len,
               struct pl_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        return pl_err_set(err, rc, "open %s: %s", path, pl_err_str(rc));
    }
    size_t n = 0;
    for (;;) {
        if (e->cap - n < 4096 + 1) {
            size_t ncap = e->cap ? e->cap * 2 : 65536;
            if (ncap > NODE_FILE_MAX + 1) {
                close(fd);
                return pl_err_set(err, PL_ERR_LIMIT, "read %s: larger than %u bytes", path,
                                  NODE_FILE_MAX);
            }
            char *nb = realloc(e->buf, ncap);
            if (!nb) {
                close(fd);
                return pl_err_set(err, PL_ERR_NOMEM, "read %s: out of memory", path);
            }
            e->buf = nb;
            e->cap = ncap;
        }
        ssize_t k = read(fd, e->buf + n, e->cap - 1 - n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            int rc = -errno;
            close(fd);
            return pl_err_set(err, rc, "read %s: %s", path, pl_err_str(rc));
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    e->buf[n] = '\0';
    *data = e->buf;
    *len = n;
    return 0;
}

int node__read_all(const char *path, char *out, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t k = read(fd, out + n, cap - 1 - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int rc = -errno;
            close(fd);
            return rc;
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    out[n] = '\0';
    return 0;
}

int node__read_small(const char *path, char *out, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t k;
    do
        k = read(fd, out, cap - 1);
    while (k < 0 && errno == EINTR);
    int rc = k < 0 ? -errno : 0;
    close(fd);
    if (rc)
        return rc;
    out[k] = '\0';
    char *nl = strchr(out, '\n');
    if (nl)
        *nl = '\0';
    return 0;
}

int node__read_double(const char *path, double *out)
{
    char buf[128], *end;
    int rc = node__read_small(path, buf, sizeof(buf));
    if (rc)
        return rc;
    double v = strtod(buf, &end);
    if (end == buf)
        return PL_ERR_INVALID;
    *out = v;
    return 0;
}

int node__has(const struct node_exporter *e, enum node_re which)
{
    return e->re[which] != NULL;
}

int node__match(struct node_exporter *e, enum node_re which, const char *s)
{
    if (!e->re[which])
        return 0;
    return pcre2_match(e->re[which], (PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, 0, 0, e->md, NULL) >= 0;
}

char *node__field(char **p)
{
    char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s || *s == '\n') {
        *p = s;
        return NULL;
    }
    char *start = s;
    while (*s && *s != ' ' && *s != '\t' && *s != '\n')
        s++;
    if (*s == ' ' || *s == '\t') {
        *s++ = '\0';
    } else if (*s == '\n') {
        /* Leave the newline visible to the line splitter by not consuming it. */
        *s = '\0';
        *p = s; /* next call sees '\0' and returns NULL */
        return start;
    }
    *p = s;
    return start;
}

char *node__line(char **p)
{
    char *s = *p;
    if (!s || !*s)
        return NULL;
    char *nl = strchr(s, '\n');
    if (nl) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = s + strlen(s);
    }
    return s;
}

int node__family(struct exp_writer *w, const char *name, const char *help, enum exp_type type)
{
    /* Names built from file contents: a malformed or repeated key must cost
     * that one family, never the scrape (the writer's errors are sticky). */
    if (!exp__valid_metric_name(name) || exp__writer_has_family(w, name))
        return -1;
    return exp_writer_family(w, name, help, type) == 0 ? 0 : -1;
}
