/*
 * fuzz_http_params.c - urlencoded query strings and form bodies
 * (server/params.c) and the API's time and duration parameters they feed
 * (common/timeutil.c via the same values), and the JSON float formatter:
 * every value that reads as a number, and the input's first 8 bytes as a
 * double, are formatted by the fast path and by the reference, which must
 * agree. Inputs are capped at 64 KiB.
 */
#include "common/timeutil.h"
#include "server/json.h"
#include "server/params.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_float(double v)
{
    char fast[SRV_FLOAT_MAX], exact[SRV_FLOAT_MAX];
    srv_json_format_float(v, fast);
    srv_json_format_float_exact(v, exact);
    if (strcmp(fast, exact) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (64u << 10))
        return 0;
    if (size >= 8) {
        double v;
        memcpy(&v, data, sizeof(v));
        check_float(v);
    }
    struct srv_params p;
    srv_params_init(&p, 1000);
    struct pl_err err;
    if (srv_params_parse_urlencoded(&p, (const char *)data, size, &err) == 0) {
        struct pl_buf b;
        pl_buf_init(&b, 1u << 22);
        for (size_t i = 0; i < p.n; i++) {
            int64_t ms;
            if (pl_time_parse(p.v[i].value, p.v[i].vlen, &ms, &err) == 0)
                srv_json_time(&b, ms);
            pl_duration_or_seconds_parse(p.v[i].value, p.v[i].vlen, &ms, &err);
            srv_json_str(&b, p.v[i].value, p.v[i].vlen);
            char *end;
            double v = strtod(p.v[i].value, &end);
            if (end != p.v[i].value)
                check_float(v);
            srv_json_strz(&b, p.v[i].key);
            pl_buf_reset(&b);
        }
        (void)srv_params_value(&p, "query");
        (void)srv_params_count(&p, "match[]");
        pl_buf_fini(&b);
    }
    srv_params_fini(&p);
    return 0;
}
