/*
 * fuzz_wal_record.c - decoders of bytes read back from disk: WAL records
 * (snappy-compressed, tsdb_int.h format), label sets of the `series`
 * database and postings pages. None may crash, hang or read out of bounds,
 * whatever the input; bad input is PL_ERR_CORRUPT.
 */
#include <stdint.h>
#include <stdlib.h>

#include "common/labels.h"
#include "tsdb/tsdb_int.h"

int tsdb__page_decode(uint32_t first, const uint8_t *p, size_t n, uint32_t *ids);

static int sink(void *ctx, const struct tsdb__sample *s)
{
    *(uint64_t *)ctx += s->id + (uint64_t)s->t + s->v;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1 << 16))
        return 0;
    uint64_t acc = 0;
    tsdb__wal_decode(data, size, sink, &acc);
    struct pl_labels *ls;
    if (tsdb__labels_decode(data, size, 0, &ls) == 0)
        pl_labels_free(ls);
    uint32_t ids[TSDB_POSTINGS_PAGE];
    tsdb__page_decode(1, data, size, ids);
    return 0;
}
