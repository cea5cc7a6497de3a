/*
 * arena.h - bump allocator for hot paths.
 *
 * Parsing a scrape or evaluating a query allocates many small objects that all
 * die together; an arena makes each allocation a pointer bump and the release
 * one reset. Blocks are kept across resets, so a steady workload stops calling
 * malloc altogether.
 */
#ifndef COMMON_ARENA_H
#define COMMON_ARENA_H

#include <stddef.h>

struct pl_arena_block;

struct pl_arena {
    struct pl_arena_block *head;  /* block being filled */
    struct pl_arena_block *spare; /* blocks kept by pl_arena_reset */
    size_t block_size;
    size_t used_total; /* bytes handed out since the last reset */
};

void pl_arena_init(struct pl_arena *a, size_t block_size);
void pl_arena_fini(struct pl_arena *a);
/* Releases every allocation at once, keeping the memory for reuse. */
void pl_arena_reset(struct pl_arena *a);
/* Memory aligned for any type, valid until the next reset or fini. */
void *pl_arena_alloc(struct pl_arena *a, size_t n);
void *pl_arena_calloc(struct pl_arena *a, size_t n);
char *pl_arena_strndup(struct pl_arena *a, const char *s, size_t n);

#endif
