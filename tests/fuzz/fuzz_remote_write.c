/*
 * fuzz_remote_write.c - remote write 1.0 bodies (server/remote.c).
 *
 * The first byte picks the path: snappy-compressed (as on the wire) or the
 * raw protobuf (reaching the protobuf decoder without needing valid snappy).
 * Every decoded label and sample is read back, so a bad offset shows under
 * ASan. Inputs are capped at 1 MiB.
 */
#include "server/remote.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20))
        return 0;
    struct srv_rw_request r;
    srv_rw_request_init(&r);
    struct pl_err err;
    int rc = data[0] & 1 ? srv_rw_decode_snappy(&r, data + 1, size - 1, &err)
                         : srv_rw_decode(&r, data + 1, size - 1, &err);
    if (rc == 0) {
        volatile size_t sink = 0;
        for (size_t i = 0; i < r.nseries; i++) {
            for (size_t j = r.lab_off[i]; j < r.lab_off[i + 1]; j++) {
                const struct srv_rw_label *l = &r.labels[j];
                for (uint32_t k = 0; k < l->name_len; k++)
                    sink += (unsigned char)l->name[k];
                for (uint32_t k = 0; k < l->value_len; k++)
                    sink += (unsigned char)l->value[k];
            }
            for (size_t j = r.smp_off[i]; j < r.smp_off[i + 1]; j++)
                sink += (size_t)r.t[j] + (r.v[j] == r.v[j]);
        }
        (void)sink;
    }
    srv_rw_request_fini(&r);
    return 0;
}
