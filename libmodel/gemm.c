/* gemm.c: matrix products on the pool: OpenBLAS single-threaded, big products cut into
 * slices of C taken by the pool's threads, weight gradients split along the tokens. */
#include "layers.h"

#include <cblas.h>

/* OpenBLAS runs single-threaded: its own pthread pool would busy-wait in sched_yield
 * against ours on a small machine. A product is cut into chunks of C's rows (or columns,
 * when C is wide), each its own sgemm call, which the pool's threads take in turn: a
 * chunk's result does not depend on which thread computes it. */

void layers_init_blas(void)
{
    if (openblas_get_num_threads() != 1)
        openblas_set_num_threads(1);
}

typedef struct gemm_ctx {
    int ta, tb, M, N, K, lda, ldb, ldc;
    float alpha, beta;
    const float *A, *B;
    float *C;
    int by_cols;
    size_t chunk;   /* rows (or columns) of C per work item, a multiple of 16 */
    long nchunks;
    atomic_long next;
    float *partial; /* K split: (nth - 1) x M x N partial products */
} gemm_ctx;

/* The K-split form, for weight gradients (M, N small, K the tokens): thread t multiplies
 * its share of K, thread 0 into C, the others into partials that are then added in
 * thread order (deterministic for a given thread count). Nothing is packed twice. */
static void gemm_ksplit_part(void *arg, int tid, int nth)
{
    gemm_ctx *g = arg;
    size_t lo, hi;
    pool_range((size_t)g->K, tid, nth, &lo, &hi);
    const float *A = g->A + (g->ta ? lo * (size_t)g->lda : lo);
    const float *B = g->B + (g->tb ? lo : lo * (size_t)g->ldb);
    float *C = tid == 0 ? g->C : g->partial + (size_t)(tid - 1) * g->M * g->N;
    int ldc = tid == 0 ? g->ldc : g->N;
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                g->tb ? CblasTrans : CblasNoTrans, g->M, g->N, (int)(hi - lo), g->alpha, A,
                g->lda, B, g->ldb, tid == 0 ? g->beta : 0.0f, C, ldc);
}

static void gemm_reduce_part(void *arg, int tid, int nth)
{
    gemm_ctx *g = arg;
    size_t lo, hi;
    pool_range((size_t)g->M, tid, nth, &lo, &hi);
    const size_t MN = (size_t)g->M * g->N, N = (size_t)g->N;
    for (int t = 1; t < nth; t++)
        for (size_t i = lo; i < hi; i++) {
            float *restrict c = g->C + i * g->ldc;
            const float *restrict s = g->partial + (t - 1) * MN + i * N;
            for (size_t j = 0; j < N; j++)
                c[j] += s[j];
        }
}

/* One work item: the chunk-th slice of C's rows (or columns) as its own sgemm. */
static void gemm_chunk(gemm_ctx *g, long chunk)
{
    size_t n = (size_t)(g->by_cols ? g->N : g->M);
    size_t lo = (size_t)chunk * g->chunk, hi = lo + g->chunk < n ? lo + g->chunk : n;
    const float *A = g->A, *B = g->B;
    float *C = g->C;
    int M = g->M, N = g->N;
    if (g->by_cols) {
        B += g->tb ? lo * (size_t)g->ldb : lo;
        C += lo;
        N = (int)(hi - lo);
    } else {
        A += g->ta ? lo : lo * (size_t)g->lda;
        C += lo * (size_t)g->ldc;
        M = (int)(hi - lo);
    }
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                g->tb ? CblasTrans : CblasNoTrans, M, N, g->K, g->alpha, A, g->lda, B, g->ldb,
                g->beta, C, g->ldc);
}

static void gemm_part(void *arg, int tid, int nth)
{
    gemm_ctx *g = arg;
    (void)tid;
    (void)nth;
    for (long c; (c = pool_next(&g->next, g->nchunks)) >= 0;)
        gemm_chunk(g, c);
}

void layers_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc, pool *p)
{
    gemm_ctx g = {.ta = ta, .tb = tb, .M = M, .N = N, .K = K, .lda = lda, .ldb = ldb,
                  .ldc = ldc, .alpha = alpha, .beta = beta, .A = A, .B = B, .C = C,
                  .by_cols = N > M};
    int nth = pool_size(p);
    size_t n = (size_t)(g.by_cols ? N : M);
    if (nth == 1 || (double)M * N * K < 1e6) {
        g.chunk = n;
        g.nchunks = 1;
        gemm_part(&g, 0, 1);
        return;
    }
    int big = M > N ? M : N;
    if (K >= 4 * big && K >= 1024) {
        g.partial = pool_scratch(p, (size_t)(nth - 1) * M * N);
        if (g.partial) {
            pool_run(p, gemm_ksplit_part, &g);
            pool_run(p, gemm_reduce_part, &g);
            return;
        }
    }
    /* four items per thread, so one the OS delays is covered by the others; edges on
     * multiples of 16, the kernels' register blocking */
    size_t want = (size_t)nth * 4;
    g.chunk = ((n + want - 1) / want + 15) / 16 * 16;
    g.nchunks = (long)((n + g.chunk - 1) / g.chunk);
    pool_run(p, gemm_part, &g);
}
