/*
 * map_release.c - tsdb_map_release (see map_release.h).
 *
 * LMDB does not expose its map address (mdb_env_info's me_mapaddr is only
 * set for MDB_FIXEDMAP). A key read from the database points into the map,
 * so the mapping of /proc/self/maps holding that address is this
 * environment's (the same file may be mapped by another environment in the
 * process, during an import's repack). The range is cached until LMDB maps
 * the file anew (db->map_gen).
 */
#include "tsdb/map_release.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "tsdb/tsdb_int.h"

/* An address inside this environment's map: the first key of the main database. */
static int map_address(struct tsdb *db, uintptr_t *out)
{
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *c;
    MDB_val k, v;
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return -EIO;
    rc = mdb_dbi_open(txn, NULL, 0, &dbi);
    if (rc == 0)
        rc = mdb_cursor_open(txn, dbi, &c);
    if (rc == 0) {
        rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        mdb_cursor_close(c);
    }
    if (rc == 0)
        *out = (uintptr_t)k.mv_data;
    mdb_txn_abort(txn);
    return rc ? -EIO : 0;
}

/* Finds the mapping holding this environment's map in /proc/self/maps (env_lock held). */
static int find_range(struct tsdb *db)
{
    uintptr_t at;
    mdb_filehandle_t fd;
    struct stat st;
    int rc = map_address(db, &at);
    if (rc)
        return rc;
    if (mdb_env_get_fd(db->env, &fd) != 0 || fstat(fd, &st) != 0)
        return -EBADF;
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return -errno;
    char line[4352];
    rc = -ENOENT;
    while (fgets(line, sizeof(line), f)) {
        uintptr_t lo, hi;
        unsigned maj, min;
        unsigned long long off, ino;
        char perms[8];
        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s %llx %x:%x %llu", &lo, &hi, perms, &off,
                   &maj, &min, &ino) != 7)
            continue;
        if (at < lo || at >= hi)
            continue;
        /* Only a shared mapping of the data file may be dropped; anything else is a bug. */
        if (ino == (unsigned long long)st.st_ino && maj == major(st.st_dev) &&
            min == minor(st.st_dev) && perms[3] == 's') {
            db->mr_lo = lo;
            db->mr_hi = hi;
            rc = 0;
        }
        break;
    }
    fclose(f);
    return rc;
}

int tsdb_map_release(struct tsdb *db)
{
    int rc = 0;
    /* env_lock shared: tsdb__map_grow (exclusive) cannot move the map meanwhile. */
    pthread_rwlock_rdlock(&db->env_lock);
    pthread_mutex_lock(&db->mr_mu);
    /*
     * The ranges stay valid until LMDB maps the file anew (map_gen): reading
     * and parsing /proc/self/maps every time cost more than the madvise.
     */
    unsigned gen = atomic_load(&db->map_gen);
    if (!db->mr_valid || db->mr_gen != gen) {
        db->mr_valid = 0;
        rc = find_range(db);
        if (rc == 0) {
            db->mr_valid = 1;
            db->mr_gen = gen;
        }
    }
    if (rc == 0 && madvise((void *)db->mr_lo, db->mr_hi - db->mr_lo, MADV_DONTNEED) != 0)
        rc = -errno;
    pthread_mutex_unlock(&db->mr_mu);
    pthread_rwlock_unlock(&db->env_lock);
    return rc;
}
