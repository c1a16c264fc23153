/* pool.c: the fixed pthread pool behind libmodel's parallel loops. Between jobs a worker
 * first spins on the job counter for a while (a few tens of microseconds), then blocks on a
 * condition variable; the caller waits for the workers the same way. A wake-up through the
 * kernel costs tens of microseconds on a virtual machine (an interrupt to the other core),
 * and a training step runs hundreds of jobs with little serial work between them; the spin
 * is bounded so that an idle pool leaves the cores to other work. */
#include "pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* How long to spin before blocking: 50 microseconds, read from the clock every 64 pauses (a
 * pause takes from 10 to 140 cycles depending on the core, so counting them is no clock). */
#define SPIN_NS 50000L

static long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* One pause of a bounded spin (i and t0 start at 0): false once SPIN_NS have passed. */
static bool spin_more(unsigned *i, long *t0)
{
    cpu_relax();
    if (++*i % 64)
        return true;
    long t = now_ns();
    if (!*t0)
        *t0 = t;
    return t - *t0 <= SPIN_NS;
}

struct pool {
    int n;              /* threads, the caller included */
    pthread_t *threads; /* n - 1 workers */
    pthread_mutex_t mu;
    pthread_cond_t wake; /* a new job or shutdown */
    pthread_cond_t done; /* the last worker finished */
    atomic_ulong gen;    /* job generation: changed (with fn, ctx set) under mu */
    atomic_int pending;  /* workers still running the job */
    atomic_int stop;
    pool_fn fn;
    void *ctx;
    float *scratch;
    size_t scratch_cap;
};

typedef struct worker_arg {
    pool *p;
    int tid;
} worker_arg;

static void *worker_main(void *arg)
{
    worker_arg *w = arg;
    pool *p = w->p;
    int tid = w->tid;
    free(w);
    unsigned long seen = 0;
    for (;;) {
        unsigned i = 0;
        long t0 = 0;
        while (atomic_load_explicit(&p->gen, memory_order_acquire) == seen &&
               !atomic_load_explicit(&p->stop, memory_order_relaxed) && spin_more(&i, &t0))
            ;
        pthread_mutex_lock(&p->mu);
        while (!atomic_load(&p->stop) && atomic_load(&p->gen) == seen)
            pthread_cond_wait(&p->wake, &p->mu);
        if (atomic_load(&p->stop)) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = atomic_load(&p->gen);
        pool_fn fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);

        fn(ctx, tid, p->n);

        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu); /* a caller past its spin waits under mu */
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

int model_pool_open(pool **out, int nthreads)
{
    *out = NULL;
    if (nthreads < 1)
        nthreads = 1;
    pool *p = calloc(1, sizeof *p);
    if (!p)
        return -1;
    p->n = nthreads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    p->threads = calloc((size_t)nthreads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return -1;
    }
    for (int i = 1; i < nthreads; i++) {
        worker_arg *w = malloc(sizeof *w);
        if (w) {
            w->p = p;
            w->tid = i;
        }
        if (!w || pthread_create(&p->threads[i - 1], NULL, worker_main, w) != 0) {
            free(w);
            p->n = i; /* the workers started so far */
            model_pool_close(&p);
            return -1;
        }
    }
    *out = p;
    return 0;
}

void model_pool_close(pool **pp)
{
    if (!pp || !*pp)
        return;
    pool *p = *pp;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++)
        pthread_join(p->threads[i - 1], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->scratch);
    free(p->threads);
    free(p);
    *pp = NULL;
}

float *model_pool_scratch(pool *p, size_t n)
{
    if (!p)
        return NULL;
    if (n > p->scratch_cap) {
        free(p->scratch);
        p->scratch = malloc(n * sizeof(float));
        p->scratch_cap = p->scratch ? n : 0;
    }
    return p->scratch;
}

int model_pool_size(const pool *p)
{
    return p ? p->n : 1;
}

void model_pool_run(pool *p, pool_fn fn, void *ctx)
{
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->pending, p->n - 1);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);

    fn(ctx, 0, p->n);

    unsigned i = 0;
    long t0 = 0;
    while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0 && spin_more(&i, &t0))
        ;
    if (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->pending) > 0)
            pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}
