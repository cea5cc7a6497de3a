#include "tests.h"

#include "common/arena.h"

#include <stdalign.h>
#include <string.h>

static void test_arena_allocations_are_aligned_and_distinct(void **state)
{
    struct pl_arena a;
    pl_arena_init(&a, 256);
    char *prev = NULL;
    for (int i = 1; i < 200; i++) {
        char *p = pl_arena_alloc(&a, (size_t)i);
        assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
        memset(p, i & 0xff, (size_t)i);
        assert_ptr_not_equal(p, prev);
        prev = p;
    }
    char *big = pl_arena_alloc(&a, 10000); /* larger than a block */
    memset(big, 1, 10000);
    char *s = pl_arena_strndup(&a, "hello world", 5);
    assert_string_equal(s, "hello");
    pl_arena_fini(&a);
}

static void test_arena_reset_reuses_blocks(void **state)
{
    struct pl_arena a;
    pl_arena_init(&a, 4096);
    void *first = pl_arena_alloc(&a, 100);
    pl_arena_reset(&a);
    assert_int_equal(a.used_total, 0);
    void *again = pl_arena_alloc(&a, 100);
    assert_ptr_equal(first, again);
    int *z = pl_arena_calloc(&a, 64 * sizeof(int));
    for (int i = 0; i < 64; i++)
        assert_int_equal(z[i], 0);
    pl_arena_fini(&a);
}

int test_arena_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_allocations_are_aligned_and_distinct),
        cmocka_unit_test(test_arena_reset_reuses_blocks),
    };
    return cmocka_run_group_tests_name("arena", tests, NULL, NULL);
}
