/*
 * coll_disk.c - block devices and filesystems: diskstats (/proc/diskstats,
 * Documentation/admin-guide/iostats.rst; udev properties from
 * /run/udev/data/b<major>:<minor> for node_disk_info) and filesystem
 * (/proc/1/mounts, falling back to /proc/self/mounts, fstab(5) octal escapes,
 * statvfs(3) on each mount point below --path.rootfs).
 *
 * statvfs on a network filesystem whose server is gone can block for a very
 * long time. As node_exporter does, such calls run on a helper thread and the
 * collector waits at most --collector.filesystem.mount-timeout; a mount that
 * times out is reported with node_filesystem_device_error 1 and remembered as
 * stuck (skipped, and logged) until its pending call returns. Local
 * filesystems are queried directly: they do not hang, and a thread per call
 * would cost every scrape.
 */
#include "exporter/node/node_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <sys/statvfs.h>

#include "common/log.h"

#define PATH_OR_FAIL(buf, base, rel)                                                               \
    do {                                                                                           \
        if (node__path(buf, sizeof(buf), base, rel))                                               \
            return pl_err_set(err, PL_ERR_LIMIT, "path too long: %s/%s", base, rel);               \
    } while (0)

/* ------------------------------------------------------------------ diskstats */

struct disk {
    char name[64], major[16], minor[16];
    double v[17];
    int nv;
};

/* Families in node_exporter's (sorted) order: column, scale, minimum columns, type. */
static const struct {
    const char *name, *help;
    int col;
    double scale;
    enum exp_type type;
} disk_fams[] = {
    {"node_disk_discard_time_seconds_total",
     "This is the total number of seconds spent by all discards.", 14, 0.001, EXP_COUNTER},
    {"node_disk_discarded_sectors_total", "The total number of sectors discarded successfully.", 13,
     1, EXP_COUNTER},
    {"node_disk_discards_completed_total", "The total number of discards completed successfully.",
     11, 1, EXP_COUNTER},
    {"node_disk_discards_merged_total", "The total number of discards merged.", 12, 1, EXP_COUNTER},
    {"node_disk_flush_requests_time_seconds_total",
     "This is the total number of seconds spent by all flush requests.", 16, 0.001, EXP_COUNTER},
    {"node_disk_flush_requests_total", "The total number of flush requests completed successfully",
     15, 1, EXP_COUNTER},
    {"node_disk_info", NULL, -1, 1, EXP_GAUGE},
    {"node_disk_io_now", "The number of I/Os currently in progress.", 8, 1, EXP_GAUGE},
    {"node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.", 9, 0.001, EXP_COUNTER},
    {"node_disk_io_time_weighted_seconds_total", "The weighted # of seconds spent doing I/Os.", 10,
     0.001, EXP_COUNTER},
    {"node_disk_read_bytes_total", "The total number of bytes read successfully.", 2, 512,
     EXP_COUNTER},
    {"node_disk_read_time_seconds_total", "The total number of seconds spent by all reads.", 3,
     0.001, EXP_COUNTER},
    {"node_disk_reads_completed_total", "The total number of reads completed successfully.", 0, 1,
     EXP_COUNTER},
    {"node_disk_reads_merged_total", "The total number of reads merged.", 1, 1, EXP_COUNTER},
    {"node_disk_write_time_seconds_total",
     "This is the total number of seconds spent by all writes.", 7, 0.001, EXP_COUNTER},
    {"node_disk_writes_completed_total", "The total number of writes completed successfully.", 4, 1,
     EXP_COUNTER},
    {"node_disk_writes_merged_total", "The number of writes merged.", 5, 1, EXP_COUNTER},
    {"node_disk_written_bytes_total", "The total number of bytes written successfully.", 6, 512,
     EXP_COUNTER},
};

/* Copies the value of "E:<key>=" from a udev database file into out ("" if absent). */
static void udev_prop(const char *db, const char *key, char *out, size_t cap)
{
    out[0] = '\0';
    size_t kl = strlen(key);
    for (const char *l = db; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (l[0] == 'E' && l[1] == ':' && strncmp(l + 2, key, kl) == 0 && l[2 + kl] == '=') {
            const char *v = l + 3 + kl;
            size_t n = strcspn(v, "\n");
            if (n >= cap)
                n = cap - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return;
        }
    }
}

static void disk_info(struct node_exporter *e, struct exp_writer *w, const struct disk *d)
{
    char rel[64], path[512], db[8192];
    db[0] = '\0';
    snprintf(rel, sizeof(rel), "b%s:%s", d->major, d->minor);
    if (node__path(path, sizeof(path), e->udev, rel) == 0)
        node__read_all(path, db, sizeof(db));
    char model[256], idpath[256], rev[256], serial[256], wwn[256];
    udev_prop(db, "ID_MODEL", model, sizeof(model));
    udev_prop(db, "ID_PATH", idpath, sizeof(idpath));
    udev_prop(db, "ID_REVISION", rev, sizeof(rev));
    udev_prop(db, "ID_SERIAL_SHORT", serial, sizeof(serial));
    udev_prop(db, "ID_WWN", wwn, sizeof(wwn));
    exp_writer_samplef(w, 1, 8, "device", d->name, "major", d->major, "minor", d->minor, "model",
                       model, "path", idpath, "revision", rev, "serial", serial, "wwn", wwn);
}

int node__collect_diskstats(struct node_exporter *e, struct exp_writer *w, struct pl_err *err)
{
    char path[512], *data, *p;
    size_t len;
    PATH_OR_FAIL(path, e->procfs, "diskstats");
    int rc = node__read(e, path, &data, &len, err);
    if (rc)
        return rc;
    size_t cap = 1;
    for (const char *q = data; *q; q++)
        cap += *q == '\n';
    struct disk *disks = calloc(cap, sizeof(*disks));
    if (!disks)
        return pl_err_set(err, PL_ERR_NOMEM, "out of memory");
    size_t n = 0;
    p = data;
    for (char *line; (line = node__line(&p)) != NULL;) {
        char *maj = node__field(&line), *min = node__field(&line), *name = node__field(&line);
        if (!maj)
            continue;
        if (!min || !name || strlen(name) >= sizeof(disks[0].name) || strlen(maj) >= 16 ||
            strlen(min) >= 16) {
            free(disks);
            return pl_err_set(err, PL_ERR_INVALID, "%s: malformed line", path);
        }
        if (node__match(e, NODE_RE_DISK_EXCLUDE, name))
            continue;
        struct disk *d = &disks[n];
        strcpy(d->name, name);
        strcpy(d->major, maj);
        strcpy(d->minor, min);
        for (char *f; d->nv < 17 && (f = node__field(&line)) != NULL; d->nv++)
            d->v[d->nv] = strtod(f, NULL);
        if (d->nv < 11) {
            int nv = d->nv;
            free(disks);
            return pl_err_set(err, PL_ERR_INVALID, "%s: %s has %d fields, want >= 11", path, name,
                              nv);
        }
        n++;
    }
    for (size_t f = 0; f < sizeof(disk_fams) / sizeof(disk_fams[0]); f++) {
        exp_writer_family(w, disk_fams[f].name,
                          disk_fams[f].help ? disk_fams[f].help
                                            : "Info of /sys/block/<block_device>.",
                          disk_fams[f].type);
        for (size_t i = 0; i < n; i++) {
            if (disk_fams[f].col < 0)
                disk_info(e, w, &disks[i]);
            else if (disk_fams[f].col < disks[i].nv)
                exp_writer_samplef(w, disks[i].v[disk_fams[f].col] * disk_fams[f].scale, 1,
                                   "device", disks[i].name);
        }
    }
    free(disks);
    return 0;
}

/* ------------------------------------------------------------------ filesystem */

int (*node__statvfs)(const char *path, struct statvfs *st) = statvfs;

/* Mount points whose statvfs has not returned yet (process-wide: a pending
 * helper thread may outlive the exporter that started it). */
#define STUCK_MAX 64
static pthread_mutex_t stuck_mu = PTHREAD_MUTEX_INITIALIZER;
static char *stuck[STUCK_MAX];

static int stuck_has(const char *path)
{
    int yes = 0;
    pthread_mutex_lock(&stuck_mu);
    for (int i = 0; i < STUCK_MAX && !yes; i++)
        yes = stuck[i] && strcmp(stuck[i], path) == 0;
    pthread_mutex_unlock(&stuck_mu);
    return yes;
}

static void stuck_set(const char *path, int on)
{
    pthread_mutex_lock(&stuck_mu);
    for (int i = 0; i < STUCK_MAX; i++) {
        if (on && !stuck[i]) {
            stuck[i] = strdup(path); /* NULL on OOM: then simply not remembered */
            break;
        }
        if (!on && stuck[i] && strcmp(stuck[i], path) == 0) {
            free(stuck[i]);
            stuck[i] = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&stuck_mu);
}

struct statfs_job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs, done, abandoned, err;
    int (*fn)(const char *, struct statvfs *); /* read on the calling thread */
    struct statvfs st;
    char path[];
};

static void job_unref(struct statfs_job *j)
{
    pthread_mutex_lock(&j->mu);
    int last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (last) {
        pthread_mutex_destroy(&j->mu);
        pthread_cond_destroy(&j->cv);
        free(j);
    }
}

static void *statfs_worker(void *arg)
{
    struct statfs_job *j = arg;
    struct statvfs st;
    int err = j->fn(j->path, &st) != 0 ? errno : 0;
    pthread_mutex_lock(&j->mu);
    j->st = st;
    j->err = err;
    j->done = 1;
    int abandoned = j->abandoned;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    if (abandoned) {
        stuck_set(j->path, 0);
        pl_log(PL_LOG_INFO, "exporter", "mount point responded again", "mountpoint", j->path, NULL);
    }
    job_unref(j);
    return NULL;
}

/* Whether a filesystem type is remote (or user space) and may hang. */
static int may_hang(const char *type)
{
    static const char *pfx[] = {"nfs", "cifs",   "smb",  "ceph",  "glusterfs", "fuse", "9p",
                                "afs", "lustre", "gpfs", "davfs", "sshfs",     "ncpfs"};
    for (size_t i = 0; i < sizeof(pfx) / sizeof(pfx[0]); i++)
        if (strncmp(type, pfx[i], strlen(pfx[i])) == 0)
            return 1;
    return 0;
}

/* statvfs with the stuck-mount protection above. Returns 0 or an errno value. */
static int statvfs_guarded(struct node_exporter *e, const char *path, const char *type,
                           struct statvfs *st)
{
    if (!may_hang(type))
        return node__statvfs(path, st) != 0 ? errno : 0;
    if (stuck_has(path)) {
        pl_log(PL_LOG_DEBUG, "exporter", "mount point is in an unresponsive state, skipping",
               "mountpoint", path, NULL);
        return ETIMEDOUT;
    }
    size_t pl = strlen(path) + 1;
    struct statfs_job *j = calloc(1, sizeof(*j) + pl);
    if (!j)
        return ENOMEM;
    memcpy(j->path, path, pl);
    j->refs = 2;
    j->fn = node__statvfs;
    pthread_mutex_init(&j->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_t t;
    int rc = pthread_create(&t, &attr, statfs_worker, j);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        j->refs = 1;
        job_unref(j);
        return node__statvfs(path, st) != 0 ? errno : 0;
    }
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    double whole = (double)(long)e->mount_timeout;
    dl.tv_sec += (time_t)whole;
    dl.tv_nsec += (long)((e->mount_timeout - whole) * 1e9);
    if (dl.tv_nsec >= 1000000000L)
        dl.tv_sec++, dl.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&j->mu);
    while (!j->done && pthread_cond_timedwait(&j->cv, &j->mu, &dl) != ETIMEDOUT)
        ;
    int err;
    if (j->done) {
        *st = j->st;
        err = j->err;
    } else {
        j->abandoned = 1;
        stuck_set(path, 1);
        err = ETIMEDOUT;
        pl_log(PL_LOG_ERROR, "exporter", "mount point timed out, it is probably stuck",
               "mountpoint", path, NULL);
    }
    pthread_mutex_unlock(&j->mu);
    job_unref(j);
    return err;
}

struct mnt {
    char *dev, *point, *type;
    int ro, error;
    struct statvfs st;
};

/* Decodes the \ooo escapes of /proc/mounts in place. */
static void unescape(char *s)
{
    char *o = s;
    for (char *i = s; *i;) {
        if (i[0] == '\\' && i[1] >= '0' && i[1] <= '3' && i[2] >= '0' && i[2] <= '7' &&
            i[3] >= '0' && i[3] <= '7') {
            *o++ = (char)((i[1] - '0') * 64 + (i[2] - '0') * 8 + (i[3] - '0'));
            i += 4;
        } else {
            *o++ = *i++;
        }
    }
    *o = '\0';
}

static uint64_t hash3(const struct mnt *m)
{
    uint64_t h = 1469598103934665603ULL;
    const char *parts[3] = {m->dev, m->point, m->type};
    for (int k = 0; k < 3; k++) {
        for (const unsigned char *c = (const unsigned char *)parts[k]; *c; c++)
            h = (h ^ *c) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL;
    }
    return h;
}

static int same3(const struct mnt *a, const struct mnt *b)
{
    return !strcmp(a->dev, b->dev) && !strcmp(a->point, b->point) && !strcmp(a->type, b->type);
}

int node__collect_filesystem(struct node_exporter *e, struct exp_writer *w, struct pl_err *err)
{
    char path[512], *data, *p;
    size_t len;
    PATH_OR_FAIL(path, e->procfs, "1/mounts");
    int rc = node__read(e, path, &data, &len, err);
    if (rc == -ENOENT || rc == -EACCES) {
        PATH_OR_FAIL(path, e->procfs, "self/mounts");
        rc = node__read(e, path, &data, &len, err);
    }
    if (rc)
        return rc;
    pl_err_clear(err);
    size_t cap = 1;
    for (const char *q = data; *q; q++)
        cap += *q == '\n';
    /* One block: the mounts and an open-addressing set (2*cap slots) for duplicates. */
    size_t slots = 2 * cap;
    struct mnt *m = calloc(cap, sizeof(*m));
    int32_t *set = malloc(slots * sizeof(*set));
    if (!m || !set) {
        free(m);
        free(set);
        return pl_err_set(err, PL_ERR_NOMEM, "out of memory");
    }
    memset(set, 0xff, slots * sizeof(*set));
    size_t n = 0;
    p = data;
    for (char *line; (line = node__line(&p)) != NULL;) {
        char *dev = node__field(&line), *pt = node__field(&line), *type = node__field(&line),
             *opts = node__field(&line);
        if (!dev || !pt || !type || !opts)
            continue;
        unescape(dev);
        unescape(pt);
        if (node__match(e, NODE_RE_MOUNT_EXCLUDE, pt) ||
            node__match(e, NODE_RE_FSTYPE_EXCLUDE, type))
            continue;
        struct mnt *c = &m[n];
        c->dev = dev;
        c->point = pt;
        c->type = type;
        size_t h = hash3(c) % slots;
        int dup = 0;
        for (; set[h] >= 0; h = (h + 1) % slots)
            if (same3(&m[set[h]], c)) {
                dup = 1;
                break;
            }
        if (dup)
            continue;
        set[h] = (int32_t)n;
        for (char *o = opts, *tok; (tok = strsep(&o, ",")) != NULL;)
            if (strcmp(tok, "ro") == 0)
                c->ro = 1;
        char full[4096];
        int serr = node__path(full, sizeof(full), e->rootfs, pt)
                       ? ENAMETOOLONG
                       : statvfs_guarded(e, full, type, &c->st);
        if (serr) {
            c->error = 1;
            char es[64];
            snprintf(es, sizeof(es), "%s", strerror(serr));
            pl_log(PL_LOG_DEBUG, "exporter", "statfs failed", "mountpoint", pt, "err", es, NULL);
        }
        n++;
    }
    free(set);
    static const char *fams[][2] = {
        {"node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes."},
        {"node_filesystem_device_error",
         "Whether an error occurred while getting statistics for the given device."},
        {"node_filesystem_files", "Filesystem total file nodes."},
        {"node_filesystem_files_free", "Filesystem total free file nodes."},
        {"node_filesystem_free_bytes", "Filesystem free space in bytes."},
        {"node_filesystem_readonly", "Filesystem read-only status."},
        {"node_filesystem_size_bytes", "Filesystem size in bytes."},
    };
    for (int f = 0; f < 7; f++) {
        exp_writer_family(w, fams[f][0], fams[f][1], EXP_GAUGE);
        for (size_t i = 0; i < n; i++) {
            const struct mnt *c = &m[i];
            double bs = (double)c->st.f_bsize; /* node_exporter multiplies by Bsize */
            double v;
            if (f == 1)
                v = c->error;
            else if (f == 5)
                v = c->ro;
            else if (c->error)
                continue;
            else if (f == 0)
                v = (double)c->st.f_bavail * bs;
            else if (f == 2)
                v = (double)c->st.f_files;
            else if (f == 3)
                v = (double)c->st.f_ffree;
            else if (f == 4)
                v = (double)c->st.f_bfree * bs;
            else
                v = (double)c->st.f_blocks * bs;
            exp_writer_samplef(w, v, 3, "device", c->dev, "fstype", c->type, "mountpoint",
                               c->point);
        }
    }
    free(m);
    return 0;
}
