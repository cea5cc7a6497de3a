/*
 * fuzz_sd.c - libFuzzer target for discovery input: file_sd files (JSON and
 * YAML) and DNS answer messages. The first byte picks the parser; the rest
 * is the input. Capped at 64 KiB; everything is freed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/sd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 64 * 1024)
        return 0;
    unsigned sel = data[0] % 5;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    struct pl_err err;
    if (sel <= 1) {
        struct coll_target_group *g = NULL;
        size_t n = 0;
        if (coll_file_sd_parse(sel == 0 ? "/sd/f.json" : "/sd/f.yml", text, len, &g, &n, &err) == 0)
            coll_target_groups_free(g, n);
        return 0;
    }
    static const enum coll_dns_type types[3] = {COLL_DNS_SRV, COLL_DNS_A, COLL_DNS_AAAA};
    struct coll_target_group g;
    if (coll_dns_sd_parse((const unsigned char *)text, len, "_x._tcp.example.org", types[sel - 2],
                          9100, &g, &err) == 0)
        coll_target_group_fini(&g);
    return 0;
}
