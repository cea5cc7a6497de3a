/* intern.c - open-addressing table of interned strings (see intern.h). */
#include "common/intern.h"

#include "common/hash.h"
#include "common/mem.h"

#include <pthread.h>
#include <string.h>

struct entry {
    const char *s;
    size_t n;
    uint64_t h;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *table;
static size_t cap, count;

static void grow(void)
{
    size_t ncap = cap ? cap * 2 : 1024;
    struct entry *nt = pl_xcalloc(ncap, sizeof(*nt));
    for (size_t i = 0; i < cap; i++) {
        if (!table[i].s)
            continue;
        size_t j = table[i].h & (ncap - 1);
        while (nt[j].s)
            j = (j + 1) & (ncap - 1);
        nt[j] = table[i];
    }
    free(table);
    table = nt;
    cap = ncap;
}

const char *pl_intern(const char *s, size_t n)
{
    uint64_t h = pl_hash64(s, n, 0);
    pthread_mutex_lock(&lock);
    if ((count + 1) * 2 > cap)
        grow();
    size_t j = h & (cap - 1);
    while (table[j].s) {
        if (table[j].h == h && table[j].n == n && memcmp(table[j].s, s, n) == 0) {
            const char *r = table[j].s;
            pthread_mutex_unlock(&lock);
            return r;
        }
        j = (j + 1) & (cap - 1);
    }
    char *copy = pl_xstrndup(s, n);
    table[j].s = copy;
    table[j].n = n;
    table[j].h = h;
    count++;
    pthread_mutex_unlock(&lock);
    return copy;
}

size_t pl_intern_count(void)
{
    pthread_mutex_lock(&lock);
    size_t c = count;
    pthread_mutex_unlock(&lock);
    return c;
}
