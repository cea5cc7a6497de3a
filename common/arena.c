/* arena.c - bump allocator (see arena.h). */
#include "common/arena.h"

#include "common/mem.h"

#include <stdalign.h>
#include <stdint.h>
#include <string.h>

struct pl_arena_block {
    struct pl_arena_block *next;
    size_t size;
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

#define ALIGN_UP(n) (((n) + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1))

void pl_arena_init(struct pl_arena *a, size_t block_size)
{
    a->head = NULL;
    a->spare = NULL;
    a->block_size = block_size ? block_size : 64 * 1024;
    a->used_total = 0;
}

static void free_list(struct pl_arena_block *b)
{
    while (b) {
        struct pl_arena_block *n = b->next;
        free(b);
        b = n;
    }
}

void pl_arena_fini(struct pl_arena *a)
{
    free_list(a->head);
    free_list(a->spare);
    a->head = a->spare = NULL;
}

void pl_arena_reset(struct pl_arena *a)
{
    while (a->head) {
        struct pl_arena_block *n = a->head->next;
        /* Oversized one-off blocks are returned to the system. */
        if (a->head->size > a->block_size) {
            free(a->head);
        } else {
            a->head->used = 0;
            a->head->next = a->spare;
            a->spare = a->head;
        }
        a->head = n;
    }
    a->used_total = 0;
}

void *pl_arena_alloc(struct pl_arena *a, size_t n)
{
    n = ALIGN_UP(n ? n : 1);
    struct pl_arena_block *b = a->head;
    if (!b || b->size - b->used < n) {
        if (n <= a->block_size && a->spare) {
            b = a->spare;
            a->spare = b->next;
        } else {
            size_t size = n > a->block_size ? n : a->block_size;
            b = pl_xmalloc(sizeof(*b) + size);
            b->size = size;
        }
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    a->used_total += n;
    return p;
}

void *pl_arena_calloc(struct pl_arena *a, size_t n)
{
    void *p = pl_arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *pl_arena_strndup(struct pl_arena *a, const char *s, size_t n)
{
    char *d = pl_arena_alloc(a, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}
