/*
 * log.h - logfmt logging to stderr, as Prometheus's go-kit logger prints:
 *   ts=2026-11-23T08:50:03.123Z level=info component=tsdb msg="WAL replayed" records=12
 * Thread-safe: one write(2) per line.
 */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

enum pl_log_level { PL_LOG_DEBUG, PL_LOG_INFO, PL_LOG_WARN, PL_LOG_ERROR };

/* Sets the lowest level printed (default info). */
void pl_log_set_level(enum pl_log_level lvl);
/* Parses "debug|info|warn|error"; returns 0 or PL_ERR_INVALID. */
int pl_log_level_parse(const char *s, enum pl_log_level *out);
int pl_log_enabled(enum pl_log_level lvl);

/*
 * Logs `msg` from `component` with key/value string pairs, NULL-terminated:
 *   pl_log(PL_LOG_INFO, "scrape", "target down", "target", url, "err", e, NULL);
 * Values are quoted when they hold spaces, quotes, '=' or are empty.
 */
void pl_log(enum pl_log_level lvl, const char *component, const char *msg, ...);

/* printf-style message with no extra keys. */
void pl_logf(enum pl_log_level lvl, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
