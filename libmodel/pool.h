/* pool.h: a small fixed pthread pool for libmodel's parallel loops; between jobs workers
 * spin for a few tens of microseconds, then sleep on a condition variable (OpenBLAS runs
 * single-threaded, so nothing else of ours needs the cores then). Private header: like every
 * external name of libmodel, its functions carry the model_ prefix. */
#ifndef PYRAMASK_MODEL_POOL_H
#define PYRAMASK_MODEL_POOL_H

#include <stdatomic.h>
#include <stddef.h>

typedef struct pool pool;

/* fn runs once on every thread of the pool, tid 0 being the caller, nth the pool size. */
typedef void (*pool_fn)(void *ctx, int tid, int nth);

/* A pool of nthreads threads, the caller included (nthreads - 1 workers). */
int model_pool_open(pool **out, int nthreads);
void model_pool_close(pool **p);
/* Threads in the pool; 1 for NULL. */
int model_pool_size(const pool *p);
/* Runs fn on every thread and returns when all are done. A NULL pool runs fn(ctx, 0, 1). */
void model_pool_run(pool *p, pool_fn fn, void *ctx);

/* A scratch buffer of at least n floats owned by the pool (grown as needed, freed with
 * it); valid until the next call. NULL when out of memory. */
float *model_pool_scratch(pool *p, size_t n);

/* Dynamic scheduling: threads take work items 0, 1, 2, ... from a shared counter (set to 0
 * before model_pool_run) until it passes n; a thread that the OS delays takes fewer. Use it
 * where an item's result does not depend on which thread computes it. Returns -1 when done. */
static inline long model_pool_next(atomic_long *counter, long n)
{
    long i = atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
    return i < n ? i : -1;
}

/* Dynamic chunks of n items: the next [*lo, *hi) of about n / (8 nth) items (a multiple of
 * align) from the shared counter (0 before model_pool_run); 0 when none is left. For loops
 * whose items do not depend on which thread computes them. */
static inline int model_pool_chunk(atomic_long *next, size_t n, int nth, size_t align,
                                   size_t *lo, size_t *hi)
{
    size_t chunk = (n + 8 * (size_t)nth - 1) / (8 * (size_t)nth);
    chunk = (chunk + align - 1) / align * align;
    size_t a = (size_t)atomic_fetch_add_explicit(next, 1, memory_order_relaxed) * chunk;
    if (a >= n)
        return 0;
    *lo = a;
    *hi = a + chunk < n ? a + chunk : n;
    return 1;
}

/* The share [*lo, *hi) of n items that thread tid of nth takes (contiguous, balanced). */
static inline void model_pool_range(size_t n, int tid, int nth, size_t *lo, size_t *hi)
{
    *lo = n * (size_t)tid / (size_t)nth;
    *hi = n * (size_t)(tid + 1) / (size_t)nth;
}

#endif
