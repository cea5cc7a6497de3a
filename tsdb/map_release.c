/*
 * map_release.c - tsdb_map_release (see map_release.h).
 *
 * LMDB does not expose its map address (mdb_env_info's me_mapaddr is only
 * set for MDB_FIXEDMAP), so the mappings of the data file are found in
 * /proc/self/maps by device and inode: a few dozen lines, read at most
 * every couple of seconds.
 */
#include "tsdb/map_release.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "tsdb/tsdb_int.h"

int tsdb_map_release(struct tsdb *db)
{
    int rc = 0;
    /* env_lock shared: tsdb__map_grow (exclusive) cannot move the map meanwhile. */
    pthread_rwlock_rdlock(&db->env_lock);
    mdb_filehandle_t fd;
    struct stat st;
    FILE *f = NULL;
    if (mdb_env_get_fd(db->env, &fd) != 0 || fstat(fd, &st) != 0) {
        rc = -EBADF;
        goto out;
    }
    f = fopen("/proc/self/maps", "re");
    if (!f) {
        rc = -errno;
        goto out;
    }
    char line[4352];
    while (fgets(line, sizeof(line), f)) {
        uintptr_t lo, hi;
        unsigned maj, min;
        unsigned long long off, ino;
        char perms[8];
        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s %llx %x:%x %llu", &lo, &hi, perms, &off,
                   &maj, &min, &ino) != 7)
            continue;
        if (ino != (unsigned long long)st.st_ino || maj != major(st.st_dev) ||
            min != minor(st.st_dev) || perms[3] != 's')
            continue;
        if (madvise((void *)lo, hi - lo, MADV_DONTNEED) != 0 && rc == 0)
            rc = -errno;
    }
out:
    if (f)
        fclose(f);
    pthread_rwlock_unlock(&db->env_lock);
    return rc;
}
