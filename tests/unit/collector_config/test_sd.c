/* test_sd.c - file_sd (JSON, YAML, globs, inotify updates) and DNS answers. */
#include "tests.h"

#include <arpa/nameser.h>
#include <unistd.h>

#include "collector/sd.h"
#include "common/timeutil.h"

static void test_sd_file_json_groups_get_source_and_filepath(void **state)
{
    (void)state;
    const char *text = "[{\"targets\": [\"a:1\", \"b:2\"], \"labels\": {\"env\": \"prod\"}},"
                       " {\"targets\": [\"c:3\"]}]";
    struct coll_target_group *g;
    size_t n;
    struct pl_err err;
    assert_int_equal(coll_file_sd_parse("/sd/x.json", text, strlen(text), &g, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(g[0].source, "/sd/x.json:0");
    assert_string_equal(g[1].source, "/sd/x.json:1");
    assert_int_equal(g[0].ntargets, 2);
    assert_string_equal(ls_str(g[0].targets[1]), "{__address__=\"b:2\"}");
    assert_string_equal(ls_str(g[0].labels), "{__meta_filepath=\"/sd/x.json\", env=\"prod\"}");
    assert_string_equal(ls_str(g[1].labels), "{__meta_filepath=\"/sd/x.json\"}");
    coll_target_groups_free(g, n);
}

static void test_sd_file_yaml_groups_parse(void **state)
{
    (void)state;
    const char *text = "- targets: ['a:1']\n  labels:\n    env: dev\n- targets: []\n";
    struct coll_target_group *g;
    size_t n;
    struct pl_err err;
    assert_int_equal(coll_file_sd_parse("/sd/y.yml", text, strlen(text), &g, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ls_str(g[0].labels), "{__meta_filepath=\"/sd/y.yml\", env=\"dev\"}");
    assert_int_equal(g[1].ntargets, 0);
    coll_target_groups_free(g, n);
    assert_int_equal(coll_file_sd_parse("/sd/e.yaml", "", 0, &g, &n, &err), 0);
    assert_int_equal(n, 0);
    coll_target_groups_free(g, n);
}

static void test_sd_file_rejects_bad_content(void **state)
{
    (void)state;
    static const struct {
        const char *path, *text, *msg;
    } cases[] = {
        {"/x.json", "[{\"targets\": [1]}]", "/x.json: group 0: target 0 must be a string"},
        {"/x.json", "{}",
         "/x.json: json: cannot unmarshal into []*targetgroup.Group: not an array"},
        {"/x.json", "[null]", "/x.json: nil target group item found"},
        {"/x.json", "[{\"labels\": {\"a-b\": \"x\"}}]",
         "/x.json: \"a-b\" is not a valid label name"},
        {"/x.json", "[{", NULL},
        {"/x.yml", "- targets: [a]\n  lables: {}\n",
         "/x.yml:2: field lables not found in type targetgroup.Group"},
        {"/x.yml", "- [a]\n", "/x.yml:1: a target group must be a mapping"},
        {"/x.yml", "a: [\n", NULL},
        {"/x.yml", "- targets: [\xff]\n", "/x.yml: file is not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct coll_target_group *g = NULL;
        size_t n = 0;
        struct pl_err err;
        pl_err_clear(&err);
        int rc =
            coll_file_sd_parse(cases[i].path, cases[i].text, strlen(cases[i].text), &g, &n, &err);
        if (rc == 0)
            fail_msg("case %zu accepted: %s", i, cases[i].text);
        if (cases[i].msg && strcmp(err.msg, cases[i].msg) != 0)
            fail_msg("case %zu: want %s\ngot  %s", i, cases[i].msg, err.msg);
        assert_true(err.msg[0] != '\0');
    }
}

struct count {
    size_t groups, targets;
    char last_addr[64];
};

static void count_group(const struct coll_target_group *g, void *ud)
{
    struct count *c = ud;
    c->groups++;
    c->targets += g->ntargets;
    if (g->ntargets)
        snprintf(c->last_addr, sizeof(c->last_addr), "%s",
                 pl_labels_value(g->targets[g->ntargets - 1], "__address__"));
}

static struct count count_all(const struct coll_sd *sd)
{
    struct count c;
    memset(&c, 0, sizeof(c));
    coll_sd_foreach(sd, count_group, &c);
    return c;
}

/* Polls until a change shows (inotify delivers asynchronously), at most ~2 s. */
static int poll_until_changed(struct coll_sd *sd, int64_t now)
{
    for (int i = 0; i < 200; i++) {
        if (coll_sd_poll(sd, now))
            return 1;
        usleep(10000);
    }
    return 0;
}

static void test_sd_file_updates_follow_inotify(void **state)
{
    (void)state;
    char *dir = tmpdir_new();
    write_file(dir, "a.json", "[{\"targets\": [\"a:1\"]}]");
    char glob[600];
    snprintf(glob, sizeof(glob), "%s/*.json", dir);
    const char *files[] = {glob};
    /* A refresh interval far away: only inotify can trigger the rereads below. */
    struct coll_file_sd_config fc = {.files = files, .nfiles = 1, .refresh_ms = PL_MS_PER_HOUR};
    struct coll_static_config st = {.targets = NULL, .ntargets = 0, .labels = NULL};
    struct coll_sd *sd;
    struct pl_err err;
    assert_int_equal(coll_sd_new(&st, 1, &fc, 1, NULL, 0, &sd, &err), 0);
    int fds[4];
    assert_int_equal(coll_sd_fds(sd, fds, 4), 1);
    int64_t now = 1000;
    assert_int_equal(coll_sd_poll(sd, now), 1);
    struct count c = count_all(sd);
    assert_int_equal(c.groups, 2); /* the static group and a.json:0 */
    assert_int_equal(c.targets, 1);
    assert_int_equal(coll_sd_poll(sd, now), 0);
    assert_int_equal(coll_sd_next_due(sd), now + PL_MS_PER_HOUR);

    /* A new file matching the glob. */
    write_file(dir, "b.json", "[{\"targets\": [\"b:1\", \"b:2\"]}]");
    assert_true(poll_until_changed(sd, now));
    c = count_all(sd);
    assert_int_equal(c.targets, 3);

    /* A broken rewrite keeps the previous groups of that file. */
    uint64_t failures = coll_sd_failures(sd);
    write_file(dir, "b.json", "[{\"targets\": ");
    poll_until_changed(sd, now);
    assert_true(coll_sd_failures(sd) > failures);
    c = count_all(sd);
    assert_int_equal(c.targets, 3);

    /* A fixed rewrite replaces them. */
    write_file(dir, "b.json", "[{\"targets\": [\"b:9\"]}]");
    assert_true(poll_until_changed(sd, now));
    c = count_all(sd);
    assert_int_equal(c.targets, 2);

    /* A removed file loses its targets. */
    char path[700];
    snprintf(path, sizeof(path), "%s/b.json", dir);
    assert_int_equal(unlink(path), 0);
    assert_true(poll_until_changed(sd, now));
    c = count_all(sd);
    assert_int_equal(c.targets, 1);
    assert_string_equal(c.last_addr, "a:1");
    coll_sd_free(sd);
    tmpdir_rm(dir);
}

static void test_sd_file_refresh_interval_rereads(void **state)
{
    (void)state;
    char *dir = tmpdir_new();
    write_file(dir, "a.yml", "- targets: ['a:1']\n");
    char glob[600];
    snprintf(glob, sizeof(glob), "%s/a.yml", dir);
    const char *files[] = {glob};
    struct coll_file_sd_config fc = {.files = files, .nfiles = 1, .refresh_ms = 5000};
    struct coll_sd *sd;
    struct pl_err err;
    assert_int_equal(coll_sd_new(NULL, 0, &fc, 1, NULL, 0, &sd, &err), 0);
    assert_int_equal(coll_sd_poll(sd, 0), 1);
    assert_int_equal(coll_sd_next_due(sd), 5000);
    /* Due: rereads even with no file event. */
    assert_int_equal(coll_sd_poll(sd, 5000), 1);
    assert_int_equal(coll_sd_next_due(sd), 10000);
    coll_sd_free(sd);
    tmpdir_rm(dir);
}

/* ---- DNS answers built by hand (RFC 1035 section 4) ---- */

struct pkt {
    unsigned char b[512];
    size_t n;
};

static void put16(struct pkt *p, unsigned v)
{
    p->b[p->n++] = (unsigned char)(v >> 8);
    p->b[p->n++] = (unsigned char)v;
}

static void put_name(struct pkt *p, const char *name)
{
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        p->b[p->n++] = (unsigned char)l;
        memcpy(p->b + p->n, name, l);
        p->n += l;
        name += l + (dot ? 1 : 0);
    }
    p->b[p->n++] = 0;
}

static void begin(struct pkt *p, const char *qname, unsigned qtype, unsigned ancount)
{
    p->n = 0;
    put16(p, 0x1234);
    put16(p, 0x8180);
    put16(p, 1);
    put16(p, ancount);
    put16(p, 0);
    put16(p, 0);
    put_name(p, qname);
    put16(p, qtype);
    put16(p, 1);
}

static void answer_hdr(struct pkt *p, unsigned type, unsigned rdlen)
{
    put16(p, 0xC00C); /* pointer to the question name */
    put16(p, type);
    put16(p, 1);
    put16(p, 0);
    put16(p, 30);
    put16(p, rdlen);
}

static void test_sd_dns_srv_answer_gives_targets_and_meta(void **state)
{
    (void)state;
    struct pkt p;
    begin(&p, "_node._tcp.example.org", ns_t_srv, 2);
    const char *tg[2] = {"node1.example.org", "node2.example.org"};
    for (int i = 0; i < 2; i++) {
        answer_hdr(&p, ns_t_srv, 6 + (unsigned)strlen(tg[i]) + 2);
        put16(&p, 10);
        put16(&p, 5);
        put16(&p, 9100 + (unsigned)i);
        put_name(&p, tg[i]);
    }
    struct coll_target_group g;
    struct pl_err err;
    assert_int_equal(
        coll_dns_sd_parse(p.b, p.n, "_node._tcp.example.org", COLL_DNS_SRV, 0, &g, &err), 0);
    assert_string_equal(g.source, "_node._tcp.example.org");
    assert_int_equal(g.ntargets, 2);
    assert_string_equal(ls_str(g.targets[1]),
                        "{__address__=\"node2.example.org:9101\", "
                        "__meta_dns_name=\"_node._tcp.example.org\", "
                        "__meta_dns_srv_record_port=\"9101\", "
                        "__meta_dns_srv_record_target=\"node2.example.org.\"}");
    coll_target_group_fini(&g);
}

static void test_sd_dns_a_and_aaaa_answers_use_config_port(void **state)
{
    (void)state;
    struct pkt p;
    begin(&p, "web.example.org", ns_t_a, 2);
    /* A CNAME first, as resolvers return for aliases: skipped. */
    answer_hdr(&p, ns_t_cname, 2);
    put16(&p, 0xC00C);
    answer_hdr(&p, ns_t_a, 4);
    p.b[p.n++] = 10;
    p.b[p.n++] = 0;
    p.b[p.n++] = 0;
    p.b[p.n++] = 7;
    struct coll_target_group g;
    struct pl_err err;
    assert_int_equal(coll_dns_sd_parse(p.b, p.n, "web.example.org", COLL_DNS_A, 9100, &g, &err), 0);
    assert_int_equal(g.ntargets, 1);
    assert_string_equal(ls_str(g.targets[0]),
                        "{__address__=\"10.0.0.7:9100\", __meta_dns_name=\"web.example.org\"}");
    coll_target_group_fini(&g);

    begin(&p, "web.example.org", ns_t_aaaa, 1);
    answer_hdr(&p, ns_t_aaaa, 16);
    unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    memcpy(p.b + p.n, v6, 16);
    p.n += 16;
    assert_int_equal(coll_dns_sd_parse(p.b, p.n, "web.example.org", COLL_DNS_AAAA, 9100, &g, &err),
                     0);
    assert_string_equal(pl_labels_value(g.targets[0], "__address__"), "[2001:db8::1]:9100");
    coll_target_group_fini(&g);
}

static void test_sd_dns_rejects_truncated_answers(void **state)
{
    (void)state;
    struct pkt p;
    begin(&p, "_x._tcp.example.org", ns_t_srv, 1);
    answer_hdr(&p, ns_t_srv, 20);
    put16(&p, 1);
    struct coll_target_group g;
    struct pl_err err;
    /* Every prefix of a packet is either parsed or rejected, never read past. */
    for (size_t cut = 0; cut <= p.n; cut++) {
        unsigned char *copy = malloc(cut ? cut : 1);
        memcpy(copy, p.b, cut);
        if (coll_dns_sd_parse(copy, cut, "_x._tcp.example.org", COLL_DNS_SRV, 0, &g, &err) == 0)
            coll_target_group_fini(&g);
        free(copy);
    }
    assert_int_not_equal(
        coll_dns_sd_parse(p.b, p.n, "_x._tcp.example.org", COLL_DNS_SRV, 0, &g, &err), 0);
}

int test_sd_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sd_file_json_groups_get_source_and_filepath),
        cmocka_unit_test(test_sd_file_yaml_groups_parse),
        cmocka_unit_test(test_sd_file_rejects_bad_content),
        cmocka_unit_test(test_sd_file_updates_follow_inotify),
        cmocka_unit_test(test_sd_file_refresh_interval_rereads),
        cmocka_unit_test(test_sd_dns_srv_answer_gives_targets_and_meta),
        cmocka_unit_test(test_sd_dns_a_and_aaaa_answers_use_config_port),
        cmocka_unit_test(test_sd_dns_rejects_truncated_answers),
    };
    return cmocka_run_group_tests_name("sd", tests, NULL, NULL);
}
