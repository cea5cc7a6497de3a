/*
 * options.c - the one place `promlite server` flags become storage and
 * engine options (flags.h). Kept apart from flags.c because it links the
 * storage and query libraries.
 */
#include "server/flags.h"

void srv_flags_tsdb_options(const struct srv_flags *f, struct tsdb_options *o)
{
    tsdb_options_init(o);
    o->path = f->tsdb_path;
    o->retention_ms = f->retention_ms;
    o->retention_bytes = f->retention_bytes;
    o->sync = f->sync;
    /*
     * Each connection has a thread that may hold a read transaction (series,
     * labels, a query's); the rest is for queries' own and the server's
     * readers (scrapes, rules, checkpoints).
     */
    o->max_readers = (unsigned)f->max_connections + 512;
}

void srv_flags_query_opts(const struct srv_flags *f, struct query_engine_opts *o)
{
    query_engine_opts_init(o);
    o->lookback_ms = f->lookback_ms;
    o->timeout_ms = f->query_timeout_ms;
    o->max_samples = f->max_samples;
    o->max_concurrency = f->max_concurrency;
}
