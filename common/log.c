/* log.c - logfmt logging (see log.h). */
#include "common/log.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/timeutil.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static atomic_int min_level = PL_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void pl_log_set_level(enum pl_log_level lvl)
{
    atomic_store(&min_level, (int)lvl);
}

int pl_log_level_parse(const char *s, enum pl_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum pl_log_level)i;
            return 0;
        }
    }
    return PL_ERR_INVALID;
}

int pl_log_enabled(enum pl_log_level lvl)
{
    return (int)lvl >= atomic_load(&min_level);
}

static void put_value(struct pl_buf *b, const char *v)
{
    int quote = *v == '\0' || strpbrk(v, " \"=\t\n\\") != NULL;
    if (!quote) {
        pl_buf_puts(b, v);
        return;
    }
    pl_buf_putc(b, '"');
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            pl_buf_putc(b, '\\');
        if (*v == '\n') {
            pl_buf_puts(b, "\\n");
            continue;
        }
        pl_buf_putc(b, *v);
    }
    pl_buf_putc(b, '"');
}

/* kv may be NULL: no key/value pairs. */
static void emit(enum pl_log_level lvl, const char *component, const char *msg, va_list *kv)
{
    struct pl_buf b;
    char ts[40];
    pl_buf_init(&b, 64 * 1024);
    pl_time_format_rfc3339(pl_time_now_ms(), ts, sizeof(ts));
    pl_buf_printf(&b, "ts=%s level=%s", ts, level_names[lvl]);
    if (component) {
        pl_buf_puts(&b, " component=");
        put_value(&b, component);
    }
    pl_buf_puts(&b, " msg=");
    put_value(&b, msg);
    if (kv) {
        for (;;) {
            const char *k = va_arg(*kv, const char *);
            if (!k)
                break;
            const char *v = va_arg(*kv, const char *);
            pl_buf_printf(&b, " %s=", k);
            put_value(&b, v ? v : "");
        }
    }
    pl_buf_putc(&b, '\n');
    ssize_t w = write(STDERR_FILENO, b.data, b.len);
    (void)w;
    pl_buf_fini(&b);
}

void pl_log(enum pl_log_level lvl, const char *component, const char *msg, ...)
{
    if (!pl_log_enabled(lvl))
        return;
    va_list ap;
    va_start(ap, msg);
    emit(lvl, component, msg, &ap);
    va_end(ap);
}

void pl_logf(enum pl_log_level lvl, const char *component, const char *fmt, ...)
{
    if (!pl_log_enabled(lvl))
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    emit(lvl, component, msg, NULL);
}
