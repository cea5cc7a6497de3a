#include "tests.h"

int main(void)
{
    int failed = 0;
    printf("test_tsdb_chunk: seed %llu (set TEST_SEED to change)\n",
           (unsigned long long)test_seed());
    failed += test_chunk_gorilla_run();
    failed += test_chunk_packed_run();
    failed += test_chunk_stream_run();
    failed += test_chunk_seal_run();
    return failed ? 1 : 0;
}
