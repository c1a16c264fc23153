/* gemm.c: matrix products on the pool: OpenBLAS single-threaded, big products cut into
 * slices of C taken by the pool's threads, weight gradients split along the tokens; direct
 * kernels (AVX-512, AVX2) for the attention's per-head products and, on CPUs without
 * AVX-512, the classifier's product in panels. */
#include "layers.h"

#include <cblas.h>
#include <string.h>

/* OpenBLAS runs single-threaded: its own pthread pool would busy-wait in sched_yield
 * against ours on a small machine. A product is cut into chunks of C's rows (or columns,
 * when C is wide), each its own sgemm call, which the pool's threads take in turn: a
 * chunk's result does not depend on which thread computes it. */

/* OpenBLAS's pthread build starts its threads when it is loaded, and one set to a single
 * thread keeps them, each spinning in sched_yield before it sleeps: blas_thread_shutdown_
 * (exported by that build; weak, so another BLAS links too) stops them. OpenBLAS starts
 * them again should a caller ask it for more threads. */
extern int blas_thread_shutdown_(void) __attribute__((weak));

/* model_avx2_mode's setting: -1 each CPU's own choice, 0 no panels, 1 the AVX2 kernels
 * wherever the CPU has AVX2 */
static int avx2_mode = -1;

void model_init_blas(void)
{
    if (openblas_get_num_threads() != 1) {
        openblas_set_num_threads(1);
        if (blas_thread_shutdown_)
            blas_thread_shutdown_();
    }
}

typedef struct gemm_ctx {
    int ta, tb, M, N, K, lda, ldb, ldc;
    float alpha, beta;
    const float *A, *B;
    float *C;
    int by_cols;
    size_t chunk; /* rows (or columns) of C per work item, a multiple of 16 */
    long nchunks;
    atomic_long next;
    float *partial;              /* K split: (nth - 1) x M x N partial products */
    const model_gemm_rows *rows; /* row work around each row slice, or NULL */
} gemm_ctx;

/* The K-split form, for weight gradients (M, N small, K the tokens): K cut into KSLICES
 * fixed slices taken by the threads, slice 0 into C, the others into partials added to C
 * in slice order: nothing is packed twice, and the bits do not depend on the threads. */
#define KSLICES 4

static void gemm_ksplit_part(void *arg, int tid, int nth)
{
    gemm_ctx *g = arg;
    (void)tid;
    (void)nth;
    for (long s; (s = model_pool_next(&g->next, KSLICES)) >= 0;) {
        size_t lo, hi;
        model_pool_range((size_t)g->K, (int)s, KSLICES, &lo, &hi);
        const float *A = g->A + (g->ta ? lo * (size_t)g->lda : lo);
        const float *B = g->B + (g->tb ? lo : lo * (size_t)g->ldb);
        float *C = s == 0 ? g->C : g->partial + (size_t)(s - 1) * g->M * g->N;
        cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                    g->tb ? CblasTrans : CblasNoTrans, g->M, g->N, (int)(hi - lo), g->alpha, A,
                    g->lda, B, g->ldb, s == 0 ? g->beta : 0.0f, C, s == 0 ? g->ldc : g->N);
    }
}

static void gemm_reduce_part(void *arg, int tid, int nth)
{
    gemm_ctx *g = arg;
    const size_t MN = (size_t)g->M * g->N, N = (size_t)g->N;
    size_t lo, hi;
    (void)tid;
    while (model_pool_chunk(&g->next, (size_t)g->M, nth, 1, &lo, &hi))
        for (size_t i = lo; i < hi; i++) {
            float *restrict c = g->C + i * g->ldc;
            for (int t = 1; t < KSLICES; t++) {
                const float *restrict s = g->partial + (t - 1) * MN + i * N;
                for (size_t j = 0; j < N; j++)
                    c[j] += s[j];
            }
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
    const model_gemm_rows *rw = g->by_cols ? NULL : g->rows;
    if (rw && rw->pre)
        rw->pre(rw->ctx, lo, hi);
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                g->tb ? CblasTrans : CblasNoTrans, M, N, g->K, g->alpha, A, g->lda, B, g->ldb,
                g->beta, C, g->ldc);
    if (rw && rw->post)
        rw->post(rw->ctx, lo, hi);
}

/* pre or post over every row, on the pool, for products not cut by rows */
typedef struct rows_pass {
    model_rows_fn fn;
    void *ctx;
    size_t M;
    atomic_long next;
} rows_pass;

static void rows_pass_part(void *arg, int tid, int nth)
{
    rows_pass *r = arg;
    size_t lo, hi;
    (void)tid;
    while (model_pool_chunk(&r->next, r->M, nth, 1, &lo, &hi))
        r->fn(r->ctx, lo, hi);
}

static void rows_run(model_rows_fn fn, void *ctx, int M, pool *p)
{
    if (!fn || M <= 0)
        return;
    rows_pass r = {.fn = fn, .ctx = ctx, .M = (size_t)M};
    model_pool_run(p, rows_pass_part, &r);
}

static void gemm_part(void *arg, int tid, int nth)
{
    gemm_ctx *g = arg;
    (void)tid;
    (void)nth;
    for (long c; (c = model_pool_next(&g->next, g->nchunks)) >= 0;)
        gemm_chunk(g, c);
}

void model_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc, pool *p)
{
    model_gemm_rows_run(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL, p);
}

void model_gemm_rows_run(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                         int lda, const float *B, int ldb, float beta, float *C, int ldc,
                         const model_gemm_rows *rows, pool *p)
{
    gemm_ctx g = {.ta = ta,
                  .tb = tb,
                  .M = M,
                  .N = N,
                  .K = K,
                  .lda = lda,
                  .ldb = ldb,
                  .ldc = ldc,
                  .alpha = alpha,
                  .beta = beta,
                  .A = A,
                  .B = B,
                  .C = C,
                  .rows = rows,
                  .by_cols = N > M};
    size_t n = (size_t)(g.by_cols ? N : M);
    if ((double)M * N * K < 1e6) { /* one call: all of C as one slice of rows */
        g.by_cols = 0;
        g.chunk = (size_t)M;
        g.nchunks = 1;
        gemm_part(&g, 0, 1);
        return;
    }
    /* the work is cut the same way for any number of threads, so results are too */
    int big = M > N ? M : N;
    if (K >= 4 * big && K >= 1024) {
        g.partial = model_pool_scratch(p, (size_t)(KSLICES - 1) * M * N);
        if (g.partial) {
            if (rows)
                rows_run(rows->pre, rows->ctx, M, p);
            model_pool_run(p, gemm_ksplit_part, &g);
            atomic_store(&g.next, 0);
            model_pool_run(p, gemm_reduce_part, &g);
            if (rows)
                rows_run(rows->post, rows->ctx, M, p);
            return;
        }
    }
    if (g.by_cols && rows)
        rows_run(rows->pre, rows->ctx, M, p);
    /* eight items, so a thread the OS delays is covered by the others; edges on multiples
     * of 16, the kernels' register blocking */
    g.chunk = ((n + 7) / 8 + 15) / 16 * 16;
    g.nchunks = (long)((n + g.chunk - 1) / g.chunk);
    model_pool_run(p, gemm_part, &g);
    if (g.by_cols && rows)
        rows_run(rows->post, rows->ctx, M, p);
}

/* ---- the attention's per-head products ---- */

/* At T = 256 and heads of 32, OpenBLAS spends most of a head's product packing its
 * operands. The direct kernel below keeps an 8 x 32 tile of C in sixteen AVX-512
 * registers and streams A and B from cache: B is read in place (row-major) or, when
 * transposed, first copied into the caller's pack (K x N floats). Every entry sums over k
 * in order with fused multiply-adds, so its bits do not depend on the thread or the tile
 * it falls in. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

static int head_gemm_avx512(void)
{
    static int has = -1;
    if (has < 0) {
        __builtin_cpu_init();
        has = __builtin_cpu_supports("avx512f") ? 1 : 0;
    }
    return has;
}

/* rows [i, i + R) and columns [j, j + 32) of C (masks m0, m1: the columns that exist) */
__attribute__((target("avx512f"), always_inline)) static inline void
head_tile(int R, int i, int j, __mmask16 m0, __mmask16 m1, int K, float alpha, const float *A,
          size_t ars, size_t acs, const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    __m512 c0[8], c1[8];
    for (int r = 0; r < R; r++) {
        c0[r] = _mm512_setzero_ps();
        c1[r] = _mm512_setzero_ps();
    }
    const float *a = A + (size_t)i * ars, *b = B + j;
    for (int k = 0; k < K; k++) {
        __m512 b0 = _mm512_maskz_loadu_ps(m0, b);
        __m512 b1 = _mm512_maskz_loadu_ps(m1, b + 16);
        for (int r = 0; r < R; r++) {
            __m512 av = _mm512_set1_ps(a[(size_t)r * ars]);
            c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
            c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
        }
        a += acs;
        b += ldb;
    }
    const __m512 al = _mm512_set1_ps(alpha), be = _mm512_set1_ps(beta);
    for (int r = 0; r < R; r++) {
        float *c = C + (size_t)(i + r) * ldc + j;
        __m512 v0 = _mm512_mul_ps(al, c0[r]), v1 = _mm512_mul_ps(al, c1[r]);
        if (beta != 0.0f) {
            v0 = _mm512_fmadd_ps(be, _mm512_maskz_loadu_ps(m0, c), v0);
            v1 = _mm512_fmadd_ps(be, _mm512_maskz_loadu_ps(m1, c + 16), v1);
        }
        _mm512_mask_storeu_ps(c, m0, v0);
        _mm512_mask_storeu_ps(c + 16, m1, v1);
    }
}

/* pack (K, N) = the transpose of B (N rows of K floats, ldb apart): sixteen rows at a
 * time, a gather per column, each pack row written whole */
__attribute__((target("avx512f"))) static void head_transpose(int N, int K, const float *B,
                                                              int ldb, float *pack)
{
    const __m512i rows = _mm512_mullo_epi32(
        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
        _mm512_set1_epi32(ldb));
    int j = 0;
    for (; j + 16 <= N; j += 16)
        for (int k = 0; k < K; k++)
            _mm512_storeu_ps(pack + (size_t)k * N + j,
                             _mm512_i32gather_ps(rows, B + (size_t)j * ldb + k, 4));
    for (; j < N; j++)
        for (int k = 0; k < K; k++)
            pack[(size_t)k * N + j] = B[(size_t)j * ldb + k];
}

__attribute__((target("avx512f"))) static void
head_gemm_direct(int M, int N, int K, float alpha, const float *A, size_t ars, size_t acs,
                 const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    for (int j = 0; j < N; j += 32) {
        int n = N - j;
        __mmask16 m0 = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
        __mmask16 m1 = n >= 32 ? 0xFFFF : n > 16 ? (__mmask16)((1u << (n - 16)) - 1) : 0;
        int i = 0;
        if (n >= 32) /* whole tiles: constant masks, which the compiler turns into plain
                      * loads and stores (a third faster than masked ones here) */
            for (; i + 8 <= M; i += 8)
                head_tile(8, i, j, 0xFFFF, 0xFFFF, K, alpha, A, ars, acs, B, ldb, beta, C, ldc);
        else
            for (; i + 8 <= M; i += 8)
                head_tile(8, i, j, m0, m1, K, alpha, A, ars, acs, B, ldb, beta, C, ldc);
        for (; i < M; i++)
            head_tile(1, i, j, m0, m1, K, alpha, A, ars, acs, B, ldb, beta, C, ldc);
    }
}

/* The same products with AVX2 and FMA, for CPUs without AVX-512: a 6 x 16 tile of C in
 * twelve registers, each entry summed over k in order with fused multiply-adds, then
 * alpha times the sum, plus beta C: the same bits as the AVX-512 kernel. Columns past the
 * last whole 16 are summed one at a time in the same order (fmaf). */
static int head_gemm_avx2(void)
{
    static int has = -1;
    if (has < 0) {
        __builtin_cpu_init();
        has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0;
    }
    return has;
}

/* rows [0, R) of C (n <= 16 of its columns stored) from R rows of A (ars apart, k acs
 * apart) and 16 columns of B (rows ldb apart) */
__attribute__((target("avx2,fma"), always_inline)) static inline void
tile8(int R, int K, float alpha, const float *a, size_t ars, size_t acs, const float *b,
      size_t ldb, float beta, float *C, size_t ldc, int n)
{
    __m256 c0[6], c1[6];
    for (int r = 0; r < R; r++) {
        c0[r] = _mm256_setzero_ps();
        c1[r] = _mm256_setzero_ps();
    }
    for (int k = 0; k < K; k++) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        for (int r = 0; r < R; r++) {
            __m256 av = _mm256_broadcast_ss(a + (size_t)r * ars);
            c0[r] = _mm256_fmadd_ps(av, b0, c0[r]);
            c1[r] = _mm256_fmadd_ps(av, b1, c1[r]);
        }
        a += acs;
        b += ldb;
    }
    const __m256 al = _mm256_set1_ps(alpha), be = _mm256_set1_ps(beta);
    for (int r = 0; r < R; r++) {
        float *c = C + (size_t)r * ldc;
        __m256 v0 = _mm256_mul_ps(al, c0[r]), v1 = _mm256_mul_ps(al, c1[r]);
        if (n < 16) { /* a panel's last columns (beta 0 there) */
            float t[16];
            _mm256_storeu_ps(t, v0);
            _mm256_storeu_ps(t + 8, v1);
            memcpy(c, t, (size_t)n * sizeof *t);
            continue;
        }
        if (beta != 0.0f) {
            v0 = _mm256_fmadd_ps(be, _mm256_loadu_ps(c), v0);
            v1 = _mm256_fmadd_ps(be, _mm256_loadu_ps(c + 8), v1);
        }
        _mm256_storeu_ps(c, v0);
        _mm256_storeu_ps(c + 8, v1);
    }
}

/* every row of a 16-column strip: six at a time, then the last ones */
__attribute__((target("avx2,fma"), always_inline)) static inline void
strip8(int M, int K, float alpha, const float *A, size_t ars, size_t acs, const float *b,
       size_t ldb, float beta, float *C, size_t ldc, int n)
{
    int i = 0;
    for (; i + 6 <= M; i += 6)
        tile8(6, K, alpha, A + (size_t)i * ars, ars, acs, b, ldb, beta, C + (size_t)i * ldc,
              ldc, n);
    for (; i < M; i++) /* the last rows one at a time, as the AVX-512 kernel does */
        tile8(1, K, alpha, A + (size_t)i * ars, ars, acs, b, ldb, beta, C + (size_t)i * ldc,
              ldc, n);
}

__attribute__((target("avx2,fma"))) static void
head_gemm_direct8(int M, int N, int K, float alpha, const float *A, size_t ars, size_t acs,
                  const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    int j = 0;
    for (; j + 16 <= N; j += 16)
        strip8(M, K, alpha, A, ars, acs, B + j, ldb, beta, C + j, ldc, 16);
    for (; j < N; j++)
        for (int i = 0; i < M; i++) {
            const float *a = A + (size_t)i * ars, *b = B + j;
            float s = 0.0f;
            for (int k = 0; k < K; k++)
                s = __builtin_fmaf(a[(size_t)k * acs], b[(size_t)k * ldb], s);
            float *c = C + (size_t)i * ldc + j, v = alpha * s;
            *c = beta != 0.0f ? __builtin_fmaf(beta, *c, v) : v;
        }
}

/* ---- the classifier's product in panels (AVX2 CPUs) ---- */
_Static_assert(MODEL_PANEL == 16, "tile8 reads and writes 16 columns");

void model_avx2_mode(int mode)
{
    avx2_mode = mode;
}

int model_panels_wanted(void)
{
    if (avx2_mode >= 0)
        return avx2_mode && head_gemm_avx2();
    return !head_gemm_avx512() && head_gemm_avx2();
}

void model_pack_panels(const float *B, int N, int K, int ldb, float *pack, int q0, int q1)
{
    for (int q = q0; q < q1; q++) {
        float *dst = pack + (size_t)q * K * MODEL_PANEL;
        for (int jj = 0; jj < MODEL_PANEL; jj++) {
            int j = q * MODEL_PANEL + jj;
            for (int k = 0; k < K; k++)
                dst[(size_t)k * MODEL_PANEL + jj] = j < N ? B[(size_t)j * ldb + k] : 0.0f;
        }
    }
}

__attribute__((target("avx2,fma"))) void model_gemm_panels(int M, int N, int K, const float *A,
                                                           int lda, const float *pack, float *C,
                                                           int ldc)
{
    for (int q = 0; q * MODEL_PANEL < N; q++) {
        int n = N - q * MODEL_PANEL < MODEL_PANEL ? N - q * MODEL_PANEL : MODEL_PANEL;
        strip8(M, K, 1.0f, A, (size_t)lda, 1, pack + (size_t)q * K * MODEL_PANEL, MODEL_PANEL,
               0.0f, C + (size_t)q * MODEL_PANEL, (size_t)ldc, n);
    }
}

/* pack (K, N) = the transpose of B (N rows of K floats, ldb apart): blocks of 8 x 8 turned
 * in registers, the edges one float at a time */
__attribute__((target("avx2"))) static void head_transpose8(int N, int K, const float *B,
                                                            int ldb, float *pack)
{
    int j = 0;
    for (; j + 8 <= N; j += 8) {
        int k = 0;
        for (; k + 8 <= K; k += 8) {
            __m256 r[8], t[8];
            for (int i = 0; i < 8; i++)
                r[i] = _mm256_loadu_ps(B + (size_t)(j + i) * ldb + k);
            for (int i = 0; i < 8; i += 2) {
                t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
                t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
            }
            for (int i = 0; i < 8; i += 4) {
                r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
                r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
                r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
                r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
            }
            for (int i = 0; i < 4; i++) {
                t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
                t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
            }
            for (int i = 0; i < 8; i++)
                _mm256_storeu_ps(pack + (size_t)(k + i) * N + j, t[i]);
        }
        for (; k < K; k++)
            for (int i = 0; i < 8; i++)
                pack[(size_t)k * N + j + i] = B[(size_t)(j + i) * ldb + k];
    }
    for (; j < N; j++)
        for (int k = 0; k < K; k++)
            pack[(size_t)k * N + j] = B[(size_t)j * ldb + k];
}
#else
void model_avx2_mode(int mode)
{
    avx2_mode = mode;
}
int model_panels_wanted(void)
{
    return 0;
}
void model_pack_panels(const float *B, int N, int K, int ldb, float *pack, int q0, int q1)
{
    (void)B, (void)N, (void)K, (void)ldb, (void)pack, (void)q0, (void)q1;
}
void model_gemm_panels(int M, int N, int K, const float *A, int lda, const float *pack,
                       float *C, int ldc)
{
    (void)M, (void)N, (void)K, (void)A, (void)lda, (void)pack, (void)C, (void)ldc;
}
#endif

void model_gemm_head(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc, float *pack)
{
#if defined(__x86_64__) && defined(__GNUC__)
    int wide = head_gemm_avx512() && avx2_mode != 1;
    if ((wide || head_gemm_avx2()) && (!tb || pack)) {
        if (tb) { /* B^T (N, K) -> pack (K, N) */
            if (wide)
                head_transpose(N, K, B, ldb, pack);
            else
                head_transpose8(N, K, B, ldb, pack);
            B = pack;
            ldb = N;
        }
        size_t ars = ta ? 1 : (size_t)lda, acs = ta ? (size_t)lda : 1;
        if (wide)
            head_gemm_direct(M, N, K, alpha, A, ars, acs, B, (size_t)ldb, beta, C, (size_t)ldc);
        else
            head_gemm_direct8(M, N, K, alpha, A, ars, acs, B, (size_t)ldb, beta, C,
                              (size_t)ldc);
        return;
    }
#endif
    (void)pack;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
