/*
 * space.c - disk space for the memory-mapped data file.
 *
 * The environment is opened with MDB_WRITEMAP (lmdb.h): LMDB sizes data.mdb
 * to the map with ftruncate, so the file is sparse past the last page in
 * use, and pages are written by storing into the map. A store into a hole
 * needs a new block; on a full disk the kernel cannot provide one and the
 * process gets SIGBUS (mmap(2), "attempted access to a portion of the buffer
 * that does not correspond to the file"; tmpfs and ext4 behave alike).
 *
 * So before a write transaction may touch pages past the last one in use, the
 * blocks it may need are allocated with fallocate(2) (FALLOC_FL_KEEP_SIZE, the
 * file size stays the map size). fallocate fails with ENOSPC up front, which
 * becomes a clear "disk full" error before anything changed, instead of a
 * crash. Pages at or below the last used page were written once and keep
 * their blocks (LMDB reuses them through its free list), so only the tail
 * needs reserving. At close the unused reserve is given back (hole punching),
 * so the data directory's size on disk is what is stored.
 */
#define _GNU_SOURCE /* fallocate(2) and its FALLOC_FL_* flags */
#include "tsdb/tsdb_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/statvfs.h>

/* Reserve this much beyond what a transaction asked for, so most commits reserve nothing. */
#define SPACE_SLACK ((uint64_t)8 << 20)

/* Bytes in use: pages up to and including the last used one. */
static uint64_t used_end(struct tsdb *db)
{
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(db->env, &info);
    mdb_env_stat(db->env, &st);
    return ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
}

/* Free space check for file systems without fallocate: 0 or -ENOSPC. */
static int statvfs_check(struct tsdb *db, uint64_t bytes)
{
    struct statvfs vfs;
    if (statvfs(db->path, &vfs) != 0)
        return 0;
    return (uint64_t)vfs.f_bavail * vfs.f_frsize < bytes ? -ENOSPC : 0;
}

int tsdb__space_reserve(struct tsdb *db, uint64_t end)
{
    if (db->opt.read_only)
        return 0;
    if (end > db->mapsize)
        end = db->mapsize;
    if (end <= db->space_end)
        return 0;
    uint64_t from = used_end(db);
    if (from < db->space_end)
        from = db->space_end;
    if (from >= end)
        return 0;
    uint64_t to = end + SPACE_SLACK > db->mapsize ? db->mapsize : end + SPACE_SLACK;
    int fd;
    if (mdb_env_get_fd(db->env, &fd) != 0)
        return statvfs_check(db, end - from);
    int rc = fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)from, (off_t)(to - from));
    if (rc != 0 && errno == ENOSPC && to > end) {
        /* Not room for the slack: exactly what was asked may still fit. */
        to = end;
        rc = fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)from, (off_t)(to - from));
    }
    if (rc != 0) {
        int e = errno;
        if (e == EOPNOTSUPP || e == ENOSYS)
            return statvfs_check(db, end - from);
        return e == EINTR ? -EINTR : -e;
    }
    db->space_end = to;
    return 0;
}

void tsdb__space_release(struct tsdb *db)
{
    if (db->opt.read_only || db->space_end == 0)
        return;
    int fd;
    if (mdb_env_get_fd(db->env, &fd) != 0)
        return;
    /*
     * Under a write transaction no other process is writing pages past the
     * last used one, so the hole punched there holds nothing.
     */
    MDB_txn *txn;
    if (mdb_txn_begin(db->env, NULL, 0, &txn) != 0)
        return;
    uint64_t from = used_end(db);
    if (db->space_end > from)
        (void)fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)from,
                        (off_t)(db->space_end - from));
    mdb_txn_abort(txn);
    db->space_end = 0;
}

int tsdb__wtxn_err(struct tsdb *db, struct pl_err *err, int rc, const char *what)
{
    if (rc != ENOSPC && rc != -ENOSPC)
        return tsdb__mdb_err(err, rc, what);
    struct statvfs vfs;
    unsigned long long avail = 0, total = 0;
    if (statvfs(db->path, &vfs) == 0) {
        avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
        total = (unsigned long long)vfs.f_blocks * vfs.f_frsize;
    }
    return pl_err_set(err, -ENOSPC,
                      "%s: disk full: no space left on device for %s/data.mdb (%llu of %llu bytes "
                      "free); nothing was written",
                      what, db->path, avail, total);
}
