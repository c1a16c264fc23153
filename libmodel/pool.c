/* pool.c: the fixed pthread pool behind libmodel's parallel loops. Workers block on a
 * condition variable for the next job and the caller blocks until all have finished. */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

struct pool {
    int n;              /* threads, the caller included */
    pthread_t *threads; /* n - 1 workers */
    pthread_mutex_t mu;
    pthread_cond_t wake; /* a new job or shutdown */
    pthread_cond_t done; /* the last worker finished */
    unsigned long gen;   /* job generation */
    int pending;         /* workers still running the job */
    int stop;
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
        pthread_mutex_lock(&p->mu);
        while (!p->stop && p->gen == seen)
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = p->gen;
        pool_fn fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);

        fn(ctx, tid, p->n);

        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
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
    p->stop = 1;
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
    p->pending = p->n - 1;
    p->gen++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);

    fn(ctx, 0, p->n);

    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
