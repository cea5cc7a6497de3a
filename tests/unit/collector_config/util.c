/* util.c - helpers shared by the test_collector_config groups. */
#define _XOPEN_SOURCE 700
#include "tests.h"

#include <ftw.h>
#include <unistd.h>

#include "common/buf.h"

struct coll_config *cfg_ok(const char *yaml)
{
    struct coll_config *cfg = NULL;
    struct pl_err err;
    pl_err_clear(&err);
    int rc = coll_config_parse(yaml, strlen(yaml), "t.yml", "/cfgdir", &cfg, &err);
    if (rc != 0)
        fail_msg("unexpected config error: %s\n--- yaml:\n%s", err.msg, yaml);
    return cfg;
}

const char *cfg_err(const char *yaml)
{
    static char msg[PL_ERR_MSG_MAX];
    struct coll_config *cfg = NULL;
    struct pl_err err;
    pl_err_clear(&err);
    int rc = coll_config_parse(yaml, strlen(yaml), "t.yml", "/cfgdir", &cfg, &err);
    if (rc == 0) {
        coll_config_free(cfg);
        fail_msg("config unexpectedly valid:\n%s", yaml);
    }
    assert_int_equal(rc, err.code);
    snprintf(msg, sizeof(msg), "%s", err.msg);
    return msg;
}

const char *ls_str(const struct pl_labels *ls)
{
    static char out[4][4096];
    static int slot;
    char *o = out[slot++ & 3];
    struct pl_buf b;
    pl_buf_init(&b, sizeof(out[0]) - 1);
    pl_labels_format(ls, &b);
    snprintf(o, sizeof(out[0]), "%s", pl_buf_cstr(&b));
    pl_buf_fini(&b);
    return o;
}

struct pl_labels *ls_parse(const char *s)
{
    struct pl_labels *ls = NULL;
    struct pl_err err;
    if (pl_labels_parse(s, strlen(s), &ls, &err) != 0)
        fail_msg("bad label set %s: %s", s, err.msg);
    return ls;
}

char *tmpdir_new(void)
{
    const char *t = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/collector-XXXXXX", t && *t ? t : "/tmp");
    char *d = mkdtemp(path);
    assert_non_null(d);
    return strdup(d);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

void tmpdir_rm(char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

void write_file(const char *dir, const char *name, const char *text)
{
    char path[1024], tmp[1100];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    /* Atomic replace, as users are told to do for file_sd. */
    assert_int_equal(rename(tmp, path), 0);
}
