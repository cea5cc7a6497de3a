/*
 * db.c - opening, closing and housekeeping of the storage engine: the LMDB
 * environment (lmdb.h: one writer, MVCC readers, a memory map grown on
 * demand), metadata, durability policies, statistics and snapshots.
 */
#include "tsdb/tsdb_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/timeutil.h"

#define INITIAL_MAPSIZE ((size_t)64 << 20)

int tsdb_is_stale_nan(double v)
{
    uint64_t b;
    memcpy(&b, &v, 8);
    return b == TSDB_STALE_NAN_BITS;
}

double tsdb_stale_nan(void)
{
    uint64_t b = TSDB_STALE_NAN_BITS;
    double v;
    memcpy(&v, &b, 8);
    return v;
}

void tsdb_options_init(struct tsdb_options *o)
{
    memset(o, 0, sizeof(*o));
    o->path = "data/";
    o->retention_ms = 15 * PL_MS_PER_DAY;
    o->sync = TSDB_SYNC_BATCH;
    o->sync_interval_ms = 1000;
}

int tsdb_sync_parse(const char *s, enum tsdb_sync *out)
{
    if (strcmp(s, "batch") == 0)
        *out = TSDB_SYNC_BATCH;
    else if (strcmp(s, "interval") == 0)
        *out = TSDB_SYNC_INTERVAL;
    else if (strcmp(s, "none") == 0)
        *out = TSDB_SYNC_NONE;
    else
        return PL_ERR_INVALID;
    return 0;
}

/* One int carries both kinds of codes: the bands must not meet. */
_Static_assert(PL_ERR_LAST <= MDB_KEYEXIST || PL_ERR_BASE > MDB_LAST_ERRCODE,
               "PL_ERR_* codes overlap LMDB's error codes");

int tsdb__mdb_err(struct pl_err *err, int rc, const char *what)
{
    if (rc == MDB_MAP_FULL)
        return pl_err_set(err, PL_ERR_LIMIT, "%s: database map full", what);
    if (rc == ENOSPC || rc == -ENOSPC)
        return pl_err_set(err, -ENOSPC, "%s: disk full (no space left on device)", what);
    if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID || rc == PL_ERR_CORRUPT)
        return pl_err_set(err, PL_ERR_CORRUPT, "%s: database is corrupt (%s)", what,
                          rc == PL_ERR_CORRUPT ? "bad record" : mdb_strerror(rc));
    if (rc >= PL_ERR_BASE && rc < PL_ERR_LAST)
        return pl_err_set(err, rc, "%s: %s", what, pl_err_str(rc));
    if (rc > 0 && rc < 1000)
        return pl_err_set(err, -rc, "%s: %s", what, strerror(rc));
    if (rc < 0 && rc > -1000)
        return pl_err_set(err, rc, "%s: %s", what, strerror(-rc));
    return pl_err_set(err, PL_ERR_IO, "%s: %s", what, mdb_strerror(rc));
}

int tsdb__rtxn_begin(struct tsdb *db, MDB_txn **txn)
{
    pthread_rwlock_rdlock(&db->env_lock);
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, txn);
    if (rc == MDB_MAP_RESIZED) {
        /* Another process grew the map: adopt its size. */
        mdb_env_set_mapsize(db->env, 0);
        atomic_fetch_add(&db->map_gen, 1);
        rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, txn);
    }
    if (rc)
        pthread_rwlock_unlock(&db->env_lock);
    return rc;
}

void tsdb__rtxn_end(struct tsdb *db, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&db->env_lock);
}

int tsdb__map_grow(struct tsdb *db, size_t min_size)
{
    size_t ns = db->mapsize * 2;
    if (ns < min_size)
        ns = min_size;
    ns = (ns + ((size_t)1 << 20) - 1) & ~(((size_t)1 << 20) - 1);
    /* Readers must be out of the map; wait for them, but not forever. */
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 10;
    if (pthread_rwlock_timedwrlock(&db->env_lock, &dl) != 0)
        return PL_ERR_TIMEOUT;
    int rc = mdb_env_set_mapsize(db->env, ns);
    atomic_fetch_add(&db->map_gen, 1);
    if (rc == 0) {
        MDB_envinfo info;
        mdb_env_info(db->env, &info);
        db->mapsize = info.me_mapsize;
    }
    pthread_rwlock_unlock(&db->env_lock);
    if (rc == 0) {
        char sz[32];
        snprintf(sz, sizeof(sz), "%zu", db->mapsize);
        pl_log(PL_LOG_DEBUG, "tsdb", "grew the database map", "bytes", sz, NULL);
    }
    return rc;
}

int tsdb__wtxn_begin(struct tsdb *db, size_t need_bytes, MDB_txn **txn)
{
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(db->env, &info);
    mdb_env_stat(db->env, &st);
    if (info.me_mapsize > db->mapsize)
        db->mapsize = info.me_mapsize;
    size_t used = ((size_t)info.me_last_pgno + 1) * st.ms_psize;
    /*
     * LMDB needs free map space for copy-on-write pages; grow well before the
     * map is full so that MDB_MAP_FULL never reaches a transaction that has
     * already changed the head.
     */
    size_t want = used + need_bytes * 3 + ((size_t)8 << 20);
    if (want > db->mapsize - db->mapsize / 8) {
        int rc = tsdb__map_grow(db, want + want / 2);
        if (rc)
            return rc;
    }
    /*
     * With MDB_WRITEMAP the data file is sparse and pages get blocks as they
     * are written: a full disk would fault (SIGBUS) inside a write, so the
     * blocks the transaction may use are allocated first (space.c), and a
     * full disk refuses the transaction, with a clear error, up front.
     */
    int rc = tsdb__space_reserve(db, used + need_bytes * 2 + ((size_t)2 << 20));
    if (rc)
        return rc;
    return mdb_txn_begin(db->env, NULL, 0, txn);
}

int tsdb__meta_put_u64(struct tsdb *db, MDB_txn *txn, const char *key, uint64_t v)
{
    uint8_t b[8];
    tsdb__le64(b, v);
    MDB_val k = {strlen(key), (void *)key}, val = {8, b};
    return mdb_put(txn, db->dbi_meta, &k, &val, 0);
}

int tsdb__meta_get_u64(struct tsdb *db, MDB_txn *txn, const char *key, uint64_t *v)
{
    MDB_val k = {strlen(key), (void *)key}, val;
    int rc = mdb_get(txn, db->dbi_meta, &k, &val);
    if (rc)
        return rc;
    if (val.mv_size != 8)
        return PL_ERR_CORRUPT;
    *v = tsdb__rd_le64(val.mv_data);
    return 0;
}

uint64_t tsdb__used_bytes(struct tsdb *db, MDB_txn *txn)
{
    MDB_dbi dbis[] = {db->dbi_meta,   db->dbi_series, db->dbi_skey, db->dbi_post,
                      db->dbi_chunks, db->dbi_head,   db->dbi_wal,  db->dbi_tomb};
    uint64_t pages = 0;
    unsigned psize = 4096;
    for (size_t i = 0; i < sizeof(dbis) / sizeof(dbis[0]); i++) {
        MDB_stat st;
        if (mdb_stat(txn, dbis[i], &st) == 0) {
            pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
            psize = st.ms_psize;
        }
    }
    return pages * psize;
}

static int mkdirs(const char *path)
{
    char *p = pl_xstrdup(path);
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                rc = -errno;
                break;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    free(p);
    return rc;
}

static void *sync_main(void *arg)
{
    struct tsdb *db = arg;
    pthread_mutex_lock(&db->sync_mu);
    while (db->sync_running) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        int64_t ns = dl.tv_nsec + (db->opt.sync_interval_ms % 1000) * 1000000;
        dl.tv_sec += db->opt.sync_interval_ms / 1000 + ns / 1000000000;
        dl.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&db->sync_cv, &db->sync_mu, &dl);
        if (!db->sync_running)
            break;
        pthread_mutex_unlock(&db->sync_mu);
        mdb_env_sync(db->env, 1);
        pthread_mutex_lock(&db->sync_mu);
    }
    pthread_mutex_unlock(&db->sync_mu);
    return NULL;
}

static int open_dbis(struct tsdb *db, struct pl_err *err)
{
    MDB_txn *txn;
    unsigned flags = db->opt.read_only ? 0 : MDB_CREATE;
    int rc = mdb_txn_begin(db->env, NULL, db->opt.read_only ? MDB_RDONLY : 0, &txn);
    if (rc)
        return tsdb__mdb_err(err, rc, "opening the database");
    struct {
        const char *name;
        MDB_dbi *dbi;
    } t[] = {{"meta", &db->dbi_meta},       {"series", &db->dbi_series},
             {"series_key", &db->dbi_skey}, {"postings", &db->dbi_post},
             {"chunks", &db->dbi_chunks},   {"head", &db->dbi_head},
             {"wal", &db->dbi_wal},         {"tombstones", &db->dbi_tomb}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]) && rc == 0; i++) {
        rc = mdb_dbi_open(txn, t[i].name, flags, t[i].dbi);
        if (rc == MDB_NOTFOUND && db->opt.read_only) {
            mdb_txn_abort(txn);
            return pl_err_set(err, PL_ERR_NOTFOUND, "%s holds no promlite database", db->path);
        }
    }
    uint64_t v;
    if (rc == 0) {
        int r = tsdb__meta_get_u64(db, txn, "version", &v);
        if (r == MDB_NOTFOUND && !db->opt.read_only) {
            rc = tsdb__meta_put_u64(db, txn, "version", TSDB_FORMAT_VERSION);
        } else if (r == 0 && v != TSDB_FORMAT_VERSION) {
            mdb_txn_abort(txn);
            return pl_err_set(err, PL_ERR_UNSUPPORTED,
                              "%s: database format version %llu, this build reads %d", db->path,
                              (unsigned long long)v, TSDB_FORMAT_VERSION);
        } else if (r && r != MDB_NOTFOUND) {
            rc = r;
        }
    }
    if (rc == 0) {
        db->next_id_persisted = 0;
        if (tsdb__meta_get_u64(db, txn, "next_id", &v) == 0)
            db->next_id_persisted = (uint32_t)v;
        atomic_store(&db->next_id, db->next_id_persisted);
        if (tsdb__meta_get_u64(db, txn, "ckpt_seq", &v) == 0)
            db->ckpt_seq = v;
        if (tsdb__meta_get_u64(db, txn, "max_t", &v) == 0)
            atomic_store(&db->st_max_t, (int64_t)v);
        if (tsdb__meta_get_u64(db, txn, "min_t", &v) == 0)
            atomic_store(&db->st_min_t, (int64_t)v);
        if (tsdb__meta_get_u64(db, txn, "compact_pos", &v) == 0) {
            db->compact_part = (uint32_t)(v >> 32);
            db->compact_id = (uint32_t)v;
        }
        db->wal_seq = db->ckpt_seq;
        MDB_cursor *c;
        if ((rc = mdb_cursor_open(txn, db->dbi_wal, &c)) == 0) {
            MDB_val key, val;
            if (mdb_cursor_get(c, &key, &val, MDB_LAST) == 0 && key.mv_size == 8) {
                uint64_t last = tsdb__rd_be64(key.mv_data);
                if (last > db->wal_seq)
                    db->wal_seq = last;
            }
            mdb_cursor_close(c);
        }
    }
    if (rc == 0)
        rc = tsdb__tomb_load(db, txn);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc)
        return tsdb__mdb_err(err, rc, "opening the database");
    return 0;
}

static void db_free(struct tsdb *db)
{
    for (uint32_t pg = 0; pg < TSDB_ID_PAGES; pg++) {
        struct tsdb__series **page = atomic_load(&db->pages[pg]);
        if (!page)
            continue;
        for (uint32_t i = 0; i < TSDB_ID_PAGE; i++)
            tsdb__series_free(page[i]);
        free(page);
    }
    tsdb__smap_fini(&db->map);
    tsdb__pend_free(atomic_load(&db->pend));
    tsdb__tomb_fini(db);
    tsdb__appender_cache_fini(db);
    tsdb__head_fini(db);
    pthread_mutex_destroy(&db->spare_mu);
    pthread_mutex_destroy(&db->mr_mu);
    if (db->env)
        mdb_env_close(db->env);
    for (size_t i = 0; i < TSDB_STRIPES; i++)
        pthread_mutex_destroy(&db->stripes[i]);
    pthread_rwlock_destroy(&db->env_lock);
    pthread_rwlock_destroy(&db->map_lock);
    pthread_rwlock_destroy(&db->tomb_lock);
    pthread_rwlock_destroy(&db->ghost_lock);
    pthread_mutex_destroy(&db->commit_mu);
    pthread_mutex_destroy(&db->sync_mu);
    pthread_cond_destroy(&db->sync_cv);
    free(db->path);
    free(db);
}

int tsdb_open(const struct tsdb_options *o, struct tsdb **out, struct pl_err *err)
{
    if (!o->path || !*o->path)
        return pl_err_set(err, PL_ERR_INVALID, "no storage path given");
    if (o->out_of_order_window_ms != 0)
        return pl_err_set(err, PL_ERR_UNSUPPORTED,
                          "an out-of-order window is not supported by this storage engine");
    if (o->sync == TSDB_SYNC_INTERVAL && o->sync_interval_ms <= 0)
        return pl_err_set(err, PL_ERR_INVALID, "sync interval must be positive");
    if (!o->read_only) {
        int rc = mkdirs(o->path);
        if (rc)
            return pl_err_set(err, rc, "creating %s: %s", o->path, strerror(-rc));
    }
    struct tsdb *db = pl_xcalloc(1, sizeof(*db));
    db->opt = *o;
    db->path = pl_xstrdup(o->path);
    db->opt.path = db->path;
    db->ckpt_bytes = o->checkpoint_bytes ? o->checkpoint_bytes : 4u << 20;
    pthread_rwlock_init(&db->env_lock, NULL);
    pthread_rwlock_init(&db->map_lock, NULL);
    pthread_rwlock_init(&db->tomb_lock, NULL);
    pthread_rwlock_init(&db->ghost_lock, NULL);
    pthread_mutex_init(&db->commit_mu, NULL);
    pthread_mutex_init(&db->sync_mu, NULL);
    pthread_mutex_init(&db->spare_mu, NULL);
    pthread_mutex_init(&db->mr_mu, NULL);
    pl_buf_init(&db->cs_rec, (size_t)1 << 31);
    pl_buf_init(&db->cs_comp, (size_t)1 << 31);
    pl_buf_init(&db->cs_scratch, 1 << 24);
    pthread_cond_init(&db->sync_cv, NULL);
    for (size_t i = 0; i < TSDB_STRIPES; i++)
        pthread_mutex_init(&db->stripes[i], NULL);
    tsdb__head_init(db);
    atomic_store(&db->st_max_t, INT64_MIN);
    atomic_store(&db->st_min_t, INT64_MAX);
    db->gc_cut = db->gc_done = INT64_MIN;

    int rc = mdb_env_create(&db->env);
    if (rc) {
        db->env = NULL;
        db_free(db);
        return tsdb__mdb_err(err, rc, "creating the LMDB environment");
    }
    mdb_env_set_maxdbs(db->env, 16);
    mdb_env_set_maxreaders(db->env, db->opt.max_readers ? db->opt.max_readers : 512);
    /*
     * Start small; the map grows on demand (tsdb__wtxn_begin). An existing
     * database keeps the map size recorded in it.
     */
    char file[4096];
    snprintf(file, sizeof(file), "%s/data.mdb", db->path);
    struct stat sb;
    if (stat(file, &sb) != 0)
        mdb_env_set_mapsize(db->env, o->map_initial_bytes ? o->map_initial_bytes : INITIAL_MAPSIZE);
    unsigned flags = MDB_NOTLS | MDB_NORDAHEAD | MDB_WRITEMAP;
    if (o->read_only)
        flags |= MDB_RDONLY;
    else if (o->sync != TSDB_SYNC_BATCH)
        flags |= MDB_NOSYNC;
    rc = mdb_env_open(db->env, db->path, flags, 0644);
    if (rc) {
        int e = tsdb__mdb_err(err, rc, "opening the database");
        pl_err_prefix(err, "%s: ", db->path);
        db_free(db);
        return e;
    }
    /* Free reader slots left by processes that died (kill -9). */
    int dead = 0;
    mdb_reader_check(db->env, &dead);
    MDB_envinfo info;
    mdb_env_info(db->env, &info);
    db->mapsize = info.me_mapsize;
    if ((rc = open_dbis(db, err)) != 0) {
        db_free(db);
        return rc;
    }
    if ((rc = tsdb__wal_replay(db, err)) != 0) {
        db_free(db);
        return rc;
    }
    if (!o->read_only && (o->retention_ms > 0 || o->retention_bytes > 0)) {
        pthread_mutex_lock(&db->commit_mu);
        rc = tsdb__retention_apply(db, err);
        pthread_mutex_unlock(&db->commit_mu);
        if (rc == -ENOSPC) {
            pl_log(PL_LOG_WARN, "tsdb", "retention at open failed", "err", err->msg, NULL);
            rc = 0;
        }
        if (rc) {
            db_free(db);
            return rc;
        }
    }
    if (!o->read_only && o->sync == TSDB_SYNC_INTERVAL) {
        db->sync_running = 1;
        if (pthread_create(&db->sync_thread, NULL, sync_main, db) != 0)
            db->sync_running = 0;
    }
    tsdb__head_gc_start(db);
    *out = db;
    return 0;
}

void tsdb_close(struct tsdb *db)
{
    if (!db)
        return;
    tsdb__head_gc_stop(db);
    if (db->sync_running) {
        pthread_mutex_lock(&db->sync_mu);
        db->sync_running = 0;
        pthread_cond_signal(&db->sync_cv);
        pthread_mutex_unlock(&db->sync_mu);
        pthread_join(db->sync_thread, NULL);
    }
    if (!db->opt.read_only && !db->failed) {
        struct pl_err e;
        pthread_mutex_lock(&db->commit_mu);
        /*
         * With samples of a lazy replay still pending, the WAL holds
         * everything since the checkpoint: leave it for the next open rather
         * than load every such series now.
         */
        if ((db->wal_seq != db->ckpt_seq || db->opt.bulk_load) &&
            (!atomic_load(&db->pend) || db->opt.bulk_load) && tsdb__head_checkpoint(db, &e) != 0)
            pl_log(PL_LOG_WARN, "tsdb", "checkpoint at close failed", "err", e.msg, NULL);
        pthread_mutex_unlock(&db->commit_mu);
        mdb_env_sync(db->env, 1);
    }
    tsdb__space_release(db);
    db_free(db);
}

void tsdb_stats_get(struct tsdb *db, struct tsdb_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->head_series = atomic_load(&db->st_head_series);
    out->head_evicted = atomic_load(&db->hg.evicted);
    out->samples_appended = atomic_load(&db->st_samples);
    out->out_of_order_rejected = atomic_load(&db->st_ooo);
    out->duplicate_rejected = atomic_load(&db->st_dup);
    out->wal_records = atomic_load(&db->st_wal_records);
    out->wal_bytes = atomic_load(&db->st_wal_bytes);
    out->checkpoints = atomic_load(&db->st_ckpts);
    out->checkpoint_bytes = atomic_load(&db->st_ckpt_bytes);
    out->checkpoint_ns = atomic_load(&db->st_ckpt_ns);
    pthread_mutex_lock(&db->commit_mu);
    out->wal_tail_bytes = db->wal_bytes_since_ckpt;
    out->wal_tail_limit = tsdb__ckpt_limit(db);
    struct tsdb__pend *pend = atomic_load(&db->pend);
    out->pending_series = pend ? pend->left : 0;
    pthread_mutex_unlock(&db->commit_mu);
    out->sealed_chunks = atomic_load(&db->st_sealed);
    out->min_time = atomic_load(&db->st_min_t);
    out->max_time = atomic_load(&db->st_max_t);
    for (uint32_t pg = 0; pg < TSDB_ID_PAGES; pg++) {
        struct tsdb__series **page = atomic_load(&db->pages[pg]);
        if (!page)
            continue;
        for (uint32_t i = 0; i < TSDB_ID_PAGE; i++) {
            if (!__atomic_load_n(&page[i], __ATOMIC_ACQUIRE))
                continue;
            /* Eviction frees series under their stripe lock: read the slot under it. */
            pthread_mutex_t *mu = tsdb__stripe(db, pg << TSDB_ID_PAGE_BITS | i);
            pthread_mutex_lock(mu);
            struct tsdb__series *s = __atomic_load_n(&page[i], __ATOMIC_ACQUIRE);
            out->head_chunks += s && s->enc.n > 0;
            pthread_mutex_unlock(mu);
        }
    }
    MDB_txn *txn;
    if (tsdb__rtxn_begin(db, &txn) == 0) {
        MDB_stat st;
        if (mdb_stat(txn, db->dbi_series, &st) == 0)
            out->series = st.ms_entries;
        /* Map size and pages in use, read while the reader pins the environment. */
        MDB_envinfo info;
        MDB_stat est;
        if (mdb_env_info(db->env, &info) == 0 && mdb_env_stat(db->env, &est) == 0) {
            out->map_bytes = info.me_mapsize;
            out->used_bytes = ((uint64_t)info.me_last_pgno + 1) * est.ms_psize;
        }
        tsdb__rtxn_end(db, txn);
    }
    char file[4096];
    snprintf(file, sizeof(file), "%s/data.mdb", db->path);
    struct stat sb;
    if (stat(file, &sb) == 0)
        out->disk_bytes = (uint64_t)sb.st_blocks * 512;
}

int tsdb_snapshot(struct tsdb *db, const char *dir, struct pl_err *err)
{
    int rc = mkdirs(dir);
    if (rc)
        return pl_err_set(err, rc, "creating %s: %s", dir, strerror(-rc));
    char file[4096];
    snprintf(file, sizeof(file), "%s/data.mdb", dir);
    if (access(file, F_OK) == 0)
        return pl_err_set(err, PL_ERR_EXISTS, "%s already holds a database", dir);
    /*
     * The copy is one LMDB read transaction: the WAL records after the last
     * checkpoint are part of it, so opening the snapshot replays them and
     * sees every sample committed before the copy started.
     */
    pthread_rwlock_rdlock(&db->env_lock);
    rc = mdb_env_copy2(db->env, dir, MDB_CP_COMPACT);
    pthread_rwlock_unlock(&db->env_lock);
    if (rc)
        return tsdb__mdb_err(err, rc, "writing the snapshot");
    return 0;
}
