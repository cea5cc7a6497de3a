/*
 * map_release.h - giving back the resident pages of the LMDB map.
 *
 * The data file is mapped shared (MDB_WRITEMAP): every page a commit or a
 * query touched stays in the process's resident set (RssFile) until the
 * kernel reclaims it, so a server that appends steadily shows its written
 * file as memory. The pages live in the page cache either way; dropping
 * this process's mappings of them costs a minor fault when one is touched
 * again, and writes nothing.
 */
#ifndef TSDB_MAP_RELEASE_H
#define TSDB_MAP_RELEASE_H

#include "common/err.h"
#include "tsdb/tsdb.h"

/*
 * Unmaps every page of db's data file from this process (madvise MADV_DONTNEED
 * on the shared mapping: dirty pages stay dirty in the page cache and are
 * written as before; the next access maps the same page again). Holds the
 * map's reader lock, so it never races a map resize. Safe while other
 * threads append or query. Returns 0, or -errno when madvise fails.
 */
int tsdb_map_release(struct tsdb *db);

#endif
