/*
 * inspect.h - where the bytes of a database are: pages per LMDB database
 * (branch, leaf and overflow pages, as mdb_stat counts them) and free pages
 * (freed by earlier transactions, reused by later ones; the file never
 * shrinks). For `promlite tsdb stats` and bench/tsdb.
 */
#ifndef TSDB_INSPECT_H
#define TSDB_INSPECT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "tsdb/tsdb.h"

#define TSDB_SPACE_MAX_DBS 16

struct tsdb_space_db {
    char name[32];
    uint64_t pages;          /* branch + leaf + overflow */
    uint64_t overflow_pages; /* values over half a page, one run of pages each */
    uint64_t entries;
};

struct tsdb_space {
    uint32_t page_size;
    uint64_t file_pages; /* pages up to the highest ever used (the file's extent) */
    uint64_t free_pages; /* in the free list */
    uint64_t meta_pages; /* the two LMDB meta pages, the free list's own tree */
    struct tsdb_space_db dbs[TSDB_SPACE_MAX_DBS];
    size_t ndbs;
};

/* Fills *out from one read transaction. */
int tsdb_space_get(struct tsdb *db, struct tsdb_space *out, struct pl_err *err);

#endif
