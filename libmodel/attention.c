/* attention.c: multi-head self-attention on the packed qkv tensor with its relative
 * positions (rotary q and k, ALiBi distance bias), forward and backward, on the pool. */
#include "layers.h"

#include "fastmath.h"

#include <cblas.h>
#include <stdint.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct att_ctx {
    float *out, *att, *dqkv, *scratch, *x;
    const float *qkv, *dout, *catt, *rope;
    const int *rows; /* query rows (model_attention_rows_forward), M of them */
    int B, T, C, H, causal, keep, M;
    float sign;       /* rope: +1 rotates forward, -1 back (the transpose, for gradients) */
    atomic_long next; /* (batch, head) pairs are taken dynamically: each is independent */
} att_ctx;

void model_rope_table(float *rope, int maxT, int hs)
{
    const int P = hs / 2;
    for (int t = 0; t < maxT; t++)
        for (int i = 0; i < P; i++) {
            double a = t * pow(ROPE_BASE, -2.0 * i / hs);
            rope[((size_t)t * P + i) * 2] = (float)cos(a);
            rope[((size_t)t * P + i) * 2 + 1] = (float)sin(a);
        }
}

/* rotates the q and k pairs of rows [lo, hi) of x (N, 3C) by sign * t * theta_i, t = n % T */
static inline __attribute__((always_inline)) void rope_rows_at(float *xs, const float *rope,
                                                               int T, int C, int H, float sign,
                                                               size_t lo, size_t hi)
{
    const int hs = C / H, P = hs / 2;
    for (size_t n = lo; n < hi; n++) {
        const float *restrict cs = rope + (n % (size_t)T) * P * 2;
        float *row = xs + n * 3 * C;
        for (int part = 0; part < 2 * H; part++) { /* H q heads, then H k heads */
            float *restrict x = row + (size_t)part * hs;
            for (int i = 0; i < P; i++) {
                float co = cs[2 * i], si = sign * cs[2 * i + 1];
                float x0 = x[2 * i], x1 = x[2 * i + 1];
                x[2 * i] = x0 * co - x1 * si;
                x[2 * i + 1] = x0 * si + x1 * co;
            }
        }
    }
}

KERNEL_BODY rope_part_body(void *arg, int tid, int nth)
{
    att_ctx *c = arg;
    size_t lo, hi;
    (void)tid;
    while (model_pool_chunk(&c->next, (size_t)c->B * c->T, nth, 1, &lo, &hi))
        rope_rows_at(c->x, c->rope, c->T, c->C, c->H, c->sign, lo, hi);
}
MODEL_KERNEL_AVX2(rope_part)

static inline __attribute__((always_inline)) void rope_rows_body(void *arg, size_t lo,
                                                                 size_t hi)
{
    const model_rope_ctx *c = arg;
    rope_rows_at(c->x, c->rope, c->T, c->C, c->H, c->sign, lo, hi);
}
MODEL_ROWS_KERNEL_AVX2(rope_rows)

#if defined(__x86_64__) && defined(__GNUC__)
/* The rotation in AVX-512, written out: the compiler's own vectorization of the pairs is
 * slow, and at AVX-512 it fuses them (see MODEL_KERNEL_AVX2). Sixteen floats at a time,
 * (x0 c - x1 s, x1 c + x0 s) as x * c -/+ swap(x) * s: the same products and sums as the
 * plain loop, so the same bits (test model-isa). hs a multiple of 16. */
__attribute__((target("avx512f"))) static void rope_rows_avx512(void *arg, size_t lo, size_t hi)
{
    const model_rope_ctx *c = arg;
    const int C = c->C, H = c->H, hs = C / H, P = hs / 2;
    const __m512 sign = _mm512_set1_ps(c->sign);
    for (size_t n = lo; n < hi; n++) {
        const float *cs = c->rope + (n % (size_t)c->T) * P * 2;
        float *row = c->x + n * 3 * C;
        for (int i = 0; i < hs; i += 16) {
            __m512 t = _mm512_loadu_ps(cs + i);
            __m512 co = _mm512_moveldup_ps(t);
            __m512 si = _mm512_mul_ps(sign, _mm512_movehdup_ps(t));
            for (int part = 0; part < 2 * H; part++) { /* H q heads, then H k heads */
                float *x = row + (size_t)part * hs + i;
                __m512 v = _mm512_loadu_ps(x);
                __m512 a = _mm512_mul_ps(v, co);
                __m512 b = _mm512_mul_ps(_mm512_permute_ps(v, 0xB1), si);
                _mm512_storeu_ps(x, _mm512_mask_add_ps(_mm512_sub_ps(a, b), 0xAAAA, a, b));
            }
        }
    }
}
#endif

void model_rope_rows(void *ctx, size_t lo, size_t hi)
{
#if defined(__x86_64__) && defined(__GNUC__)
    const model_rope_ctx *c = ctx;
    if (fastmath_isa() == 2 && (c->C / c->H) % 16 == 0) {
        rope_rows_avx512(ctx, lo, hi);
        return;
    }
#endif
    rope_rows()(ctx, lo, hi);
}

void model_rope_forward(float *qkv, const float *rope, int B, int T, int C, int H, pool *p)
{
    att_ctx c = {.x = qkv, .rope = rope, .B = B, .T = T, .C = C, .H = H, .sign = 1.0f};
    model_pool_run(p, rope_part(), &c);
}

void model_rope_backward(float *dqkv, const float *rope, int B, int T, int C, int H, pool *p)
{
    att_ctx c = {.x = dqkv, .rope = rope, .B = B, .T = T, .C = C, .H = H, .sign = -1.0f};
    model_pool_run(p, rope_part(), &c);
}

float model_alibi_slope(int h)
{
    return ldexpf(1.0f, 1 - h);
}

/* dst = src, n floats, with stores that bypass the cache where the ISA has them (SSE,
 * 16-byte aligned dst) */
static inline __attribute__((always_inline)) void stream_copy(float *dst, const float *src,
                                                              size_t n)
{
#if defined(__x86_64__) && defined(__GNUC__)
    size_t i = 0;
    for (; i < n && ((uintptr_t)(dst + i) & 15); i++)
        dst[i] = src[i];
    for (; i + 4 <= n; i += 4)
        _mm_stream_ps(dst + i, _mm_loadu_ps(src + i));
    for (; i < n; i++)
        dst[i] = src[i];
    _mm_sfence();
#else
    memcpy(dst, src, n * sizeof *dst);
#endif
}

/* row t of a head's n scores: the ALiBi bias - slope |t - j|, then exp(score - max) in
 * place (vec_expsum's exponentials) */
static inline __attribute__((always_inline)) void alibi_exp_row(float *row, int n, int t,
                                                                float slope)
{
    for (int j = 0; j < n; j++)
        row[j] -= slope * (float)(j > t ? j - t : t - j);
    float mx = vec_max(row, (size_t)n);
    for (int j = 0; j < n; j++)
        row[j] = fast_expf(row[j] - mx);
}

/* The softmax of nr rows of S (T scores each, ALiBi bias by position) over all T keys:
 * row r at position pos ? pos[r] - base : r. Four rows at a time with their sums in step
 * (vec_sum4), each row the same softmax as alone. */
static inline __attribute__((always_inline)) void
alibi_softmax_rows(float *S, int nr, int T, const int *pos, size_t base, float slope)
{
    int r = 0;
    for (; r + 4 <= nr; r += 4) {
        float *rows[4], sums[4];
        for (int k = 0; k < 4; k++)
            alibi_exp_row(rows[k] = S + (size_t)(r + k) * T, T,
                          pos ? (int)(pos[r + k] - base) : r + k, slope);
        vec_sum4(rows, (size_t)T, sums);
        for (int k = 0; k < 4; k++)
            vec_softmax_scale(rows[k], (size_t)T, 1.0f / sums[k]);
    }
    for (; r < nr; r++) {
        float *row = S + (size_t)r * T;
        alibi_exp_row(row, T, pos ? (int)(pos[r] - base) : r, slope);
        vec_softmax_scale(row, (size_t)T, 1.0f / vec_sum(row, (size_t)T));
    }
}

KERNEL_BODY attention_forward_part_body(void *arg, int tid, int nth)
{
    att_ctx *c = arg;
    const int T = c->T, C = c->C, H = c->H, hs = C / H, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
    float *pack = malloc((size_t)hs * T * sizeof(float)); /* k^T; NULL: cblas_sgemm */
    /* with keep, a head's probabilities are made in a scratch that stays in cache and then
     * streamed to att (written once, read by the backward much later) */
    float *own = c->keep && c->scratch ? c->scratch + (size_t)tid * T * T : NULL;
    (void)nth;
    for (long i; (i = model_pool_next(&c->next, (long)c->B * H)) >= 0;) {
        size_t bh = (size_t)i, b = bh / H, h = bh % H;
        const float *q = c->qkv + b * T * C3 + h * hs;
        const float *k = q + C, *v = q + 2 * C;
        float *keep = c->keep ? c->att + bh * T * T : NULL;
        float *S = own ? own : keep ? keep : c->att + (size_t)tid * T * T;
        /* S (T, T) = scale * q k^T; causal rows only need columns 0..t, but one full
         * sgemm is faster than T thin ones at these sizes. */
        model_gemm_head(0, 1, T, T, hs, scale, q, C3, k, C3, 0.0f, S, T, pack);
        const float slope = model_alibi_slope((int)h);
        if (!c->causal)
            alibi_softmax_rows(S, T, T, NULL, 0, slope);
        for (int t = 0; c->causal && t < T; t++) {
            float *row = S + (size_t)t * T;
            alibi_exp_row(row, t + 1, t, slope);
            vec_softmax_scale(row, (size_t)t + 1, 1.0f / vec_sum(row, (size_t)t + 1));
            for (int j = t + 1; j < T; j++)
                row[j] = 0.0f;
        }
        /* y (T, hs) = att v, into the head's columns of out (B, T, C) */
        model_gemm_head(0, 0, T, hs, T, 1.0f, S, T, v, C3, 0.0f, c->out + b * T * C + h * hs, C,
                        NULL);
        if (own)
            stream_copy(keep, own, (size_t)T * T);
    }
    free(pack);
}
MODEL_KERNEL(attention_forward_part)

void model_attention_forward(float *out, float *att, const float *qkv, int B, int T, int C,
                             int H, int causal, int keep, pool *p)
{
    att_ctx c = {.out = out,
                 .att = att,
                 .qkv = qkv,
                 .B = B,
                 .T = T,
                 .C = C,
                 .H = H,
                 .causal = causal,
                 .keep = keep};
    /* NULL (no pool, or no memory): the probabilities are made in att itself */
    if (keep)
        c.scratch = model_pool_scratch(p, (size_t)model_pool_size(p) * T * T);
    model_pool_run(p, attention_forward_part(), &c);
}

/* The first index of rows[lo..hi) (ascending positions) whose position is at least `at`:
 * with at = b T and (b + 1) T, the bounds of sequence b's rows. */
static int rows_from(const int *rows, int lo, int hi, size_t at)
{
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if ((size_t)rows[mid] < at)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

KERNEL_BODY attention_rows_part_body(void *arg, int tid, int nth)
{
    att_ctx *c = arg;
    const int T = c->T, C = c->C, H = c->H, hs = C / H, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
    float *pack = malloc((size_t)hs * T * sizeof(float)); /* k^T; NULL: cblas_sgemm */
    float *S = c->scratch + (size_t)tid * T * T;
    (void)nth;
    for (long i; (i = model_pool_next(&c->next, (long)c->B * H)) >= 0;) {
        size_t bh = (size_t)i, b = bh / H, h = bh % H;
        int r0 = rows_from(c->rows, 0, c->M, b * T);
        int nq = rows_from(c->rows, r0, c->M, (b + 1) * T) - r0;
        if (!nq)
            continue;
        const float *q = c->qkv + b * T * C3 + h * hs;
        const float *k = q + C, *v = q + 2 * C;
        /* the head's output columns of the sequence's rows first hold their queries: the
         * product's A, read before the output is written */
        float *y = c->out + (size_t)r0 * C + h * hs;
        for (int r = 0; r < nq; r++)
            memcpy(y + (size_t)r * C, q + (c->rows[r0 + r] - b * T) * C3,
                   (size_t)hs * sizeof *y);
        model_gemm_head(0, 1, nq, T, hs, scale, y, C, k, C3, 0.0f, S, T, pack);
        alibi_softmax_rows(S, nq, T, c->rows + r0, b * T, model_alibi_slope((int)h));
        model_gemm_head(0, 0, nq, hs, T, 1.0f, S, T, v, C3, 0.0f, y, C, NULL);
    }
    free(pack);
}
MODEL_KERNEL(attention_rows_part)

void model_attention_rows_forward(float *out, float *scratch, const float *qkv, const int *rows,
                                  int M, int B, int T, int C, int H, pool *p)
{
    att_ctx c = {.out = out,
                 .scratch = scratch,
                 .qkv = qkv,
                 .rows = rows,
                 .M = M,
                 .B = B,
                 .T = T,
                 .C = C,
                 .H = H};
    model_pool_run(p, attention_rows_part(), &c);
}

KERNEL_BODY attention_backward_part_body(void *arg, int tid, int nth)
{
    att_ctx *c = arg;
    const int T = c->T, C = c->C, H = c->H, hs = C / H, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
    float *dS = c->scratch + (size_t)tid * T * T;
    float *pack = malloc((size_t)hs * T * sizeof(float)); /* v^T; NULL: cblas_sgemm */
    (void)nth;
    for (long i; (i = model_pool_next(&c->next, (long)c->B * H)) >= 0;) {
        size_t bh = (size_t)i, b = bh / H, h = bh % H;
        size_t off = b * T * C3 + h * hs;
        const float *q = c->qkv + off, *k = q + C, *v = q + 2 * C;
        float *dq = c->dqkv + off, *dk = dq + C, *dv = dq + 2 * C;
        const float *A = c->catt + bh * T * T;
        const float *dy = c->dout + b * T * C + h * hs;
        /* datt (T, T) = dy v^T */
        model_gemm_head(0, 1, T, T, hs, 1.0f, dy, C, v, C3, 0.0f, dS, T, pack);
        /* softmax backward: dS = att * (datt - sum_j att datt) * scale (zero where att is);
         * it reads att row by row, which brings it from memory faster than a transposed
         * walk, and leaves it in cache for dv */
        for (int t = 0; t < T; t++) {
            const float *a = A + (size_t)t * T;
            float *g = dS + (size_t)t * T;
            float dot = vec_dot(a, g, (size_t)T);
            for (int j = 0; j < T; j++)
                g[j] = a[j] * (g[j] - dot) * scale;
        }
        /* dv = att^T dy; dq = dS k; dk = dS^T q */
        model_gemm_head(1, 0, T, hs, T, 1.0f, A, T, dy, C, 0.0f, dv, C3, NULL);
        model_gemm_head(0, 0, T, hs, T, 1.0f, dS, T, k, C3, 0.0f, dq, C3, NULL);
        model_gemm_head(1, 0, T, hs, T, 1.0f, dS, T, q, C3, 0.0f, dk, C3, NULL);
    }
    free(pack);
}
MODEL_KERNEL(attention_backward_part)

void model_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                              const float *att, int B, int T, int C, int H, pool *p)
{
    att_ctx c = {.dqkv = dqkv,
                 .scratch = scratch,
                 .dout = dout,
                 .qkv = qkv,
                 .catt = att,
                 .B = B,
                 .T = T,
                 .C = C,
                 .H = H};
    model_pool_run(p, attention_backward_part(), &c);
}

/* ---- block-sparse attention (block mode) ---- */

size_t model_att_head_size(const model_att_mask *mk, int R)
{
    switch (mk->kind) {
    case MODEL_ATT_BLOCK:
        return (size_t)mk->T * (mk->T + mk->blk) / 2;
    case MODEL_ATT_PAIR:
        return (size_t)mk->T * (mk->T + mk->blk);
    default:
        return (size_t)R * R;
    }
}

int model_att_groups(const model_att_mask *mk)
{
    int nb = mk->T / mk->blk;
    return mk->kind == MODEL_ATT_PAIR ? 2 * nb : nb;
}

model_att_group model_att_group_of(const model_att_mask *mk, int g)
{
    const int T = mk->T, Bk = mk->blk, nb = T / Bk, k = g % nb;
    /* the groups before block k of a half hold Bk rows of (i+1) Bk keys each, i < k */
    const size_t tri = (size_t)Bk * Bk * k * (k + 1) / 2;
    model_att_group a = {.r0 = k * Bk, .nr = Bk, .nrange = 1, .off = tri};
    if (mk->kind == MODEL_ATT_BLOCK) {
        a.k0[0] = 0; /* its own block and every block before it */
        a.nk[0] = (k + 1) * Bk;
    } else if (g < nb) { /* a noisy block: the clean blocks before it, then itself */
        a.nrange = 2;
        a.k0[0] = T;
        a.nk[0] = k * Bk;
        a.k0[1] = k * Bk;
        a.nk[1] = Bk;
    } else { /* a clean block: the clean blocks up to and including it */
        a.r0 = T + k * Bk;
        a.k0[0] = T;
        a.nk[0] = (k + 1) * Bk;
        a.off = (size_t)T * (T + Bk) / 2 + tri;
    }
    return a;
}

typedef struct blk_ctx {
    float *out, *att, *dqkv, *scratch;
    const float *qkv, *dout, *catt;
    const model_att_mask *mk;
    int B, R, C, H, keep;
    size_t head; /* floats of att per (batch, head) */
    atomic_long next;
} blk_ctx;

/* ALiBi and the softmax on the rows of S (nr, w) of group a: column j of range r is key
 * row k0[r] + j, its position that row modulo T (a clean row shares its noisy twin's) */
static void blk_softmax(float *S, const model_att_group *a, int T, float slope)
{
    const int w = a->nk[0] + a->nk[1];
    for (int i = 0; i < a->nr; i++) {
        float *row = S + (size_t)i * w;
        int qp = (a->r0 + i) % T, col = 0;
        for (int r = 0; r < a->nrange; r++)
            for (int j = 0; j < a->nk[r]; j++) {
                int kp = (a->k0[r] + j) % T;
                row[col++] -= slope * (float)(kp > qp ? kp - qp : qp - kp);
            }
        float mx = vec_max(row, (size_t)w);
        vec_softmax_scale(row, (size_t)w, 1.0f / vec_expsum(row, row, (size_t)w, mx));
    }
}

KERNEL_BODY blk_forward_part_body(void *arg, int tid, int nth)
{
    blk_ctx *c = arg;
    const int R = c->R, C = c->C, H = c->H, hs = C / H, C3 = 3 * C, T = c->mk->T;
    const int ng = model_att_groups(c->mk);
    const float scale = 1.0f / sqrtf((float)hs);
    (void)nth;
    for (long i; (i = model_pool_next(&c->next, (long)c->B * H)) >= 0;) {
        size_t bh = (size_t)i, b = bh / H, h = bh % H;
        const float *q = c->qkv + b * R * C3 + h * hs, *k = q + C, *v = q + 2 * C;
        const float slope = model_alibi_slope((int)h);
        for (int g = 0; g < ng; g++) {
            model_att_group a = model_att_group_of(c->mk, g);
            const int w = a.nk[0] + a.nk[1];
            float *S =
                c->keep ? c->att + bh * c->head + a.off : c->scratch + (size_t)tid * R * R;
            /* only the allowed keys: scores of each key range, side by side in S (nr, w) */
            for (int r = 0, col = 0; r < a.nrange; col += a.nk[r], r++)
                if (a.nk[r] > 0)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, a.nr, a.nk[r], hs,
                                scale, q + (size_t)a.r0 * C3, C3, k + (size_t)a.k0[r] * C3, C3,
                                0.0f, S + col, w);
            blk_softmax(S, &a, T, slope);
            float *y = c->out + (b * R + a.r0) * C + h * hs;
            float beta = 0.0f;
            for (int r = 0, col = 0; r < a.nrange; col += a.nk[r], r++)
                if (a.nk[r] > 0) {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, a.nr, hs, a.nk[r],
                                1.0f, S + col, w, v + (size_t)a.k0[r] * C3, C3, beta, y, C);
                    beta = 1.0f;
                }
        }
    }
}
MODEL_KERNEL(blk_forward_part)

void model_attention_blocked_forward(float *out, float *att, const float *qkv, int B, int R,
                                     int C, int H, const model_att_mask *mk, int keep, pool *p)
{
    blk_ctx c = {.out = out,
                 .att = att,
                 .scratch = att,
                 .qkv = qkv,
                 .mk = mk,
                 .B = B,
                 .R = R,
                 .C = C,
                 .H = H,
                 .keep = keep,
                 .head = model_att_head_size(mk, R)};
    model_pool_run(p, blk_forward_part(), &c);
}

KERNEL_BODY blk_backward_part_body(void *arg, int tid, int nth)
{
    blk_ctx *c = arg;
    const int R = c->R, C = c->C, H = c->H, hs = C / H, C3 = 3 * C;
    const int ng = model_att_groups(c->mk);
    const float scale = 1.0f / sqrtf((float)hs);
    float *dS = c->scratch + (size_t)tid * R * R;
    (void)nth;
    for (long i; (i = model_pool_next(&c->next, (long)c->B * H)) >= 0;) {
        size_t bh = (size_t)i, b = bh / H, h = bh % H;
        size_t base = b * R * C3 + h * hs;
        const float *q = c->qkv + base, *k = q + C, *v = q + 2 * C;
        float *dq = c->dqkv + base, *dk = dq + C, *dv = dq + 2 * C;
        for (int t = 0; t < R; t++) /* the groups accumulate into the head's dq, dk, dv */
            for (int part = 0; part < 3; part++)
                memset(dq + (size_t)t * C3 + (size_t)part * C, 0, (size_t)hs * sizeof(float));
        for (int g = 0; g < ng; g++) {
            model_att_group a = model_att_group_of(c->mk, g);
            const int w = a.nk[0] + a.nk[1];
            const float *A = c->catt + bh * c->head + a.off;
            const float *dy = c->dout + (b * R + a.r0) * C + h * hs;
            const size_t qo = (size_t)a.r0 * C3;
            /* datt = dy v^T; dv += att^T dy, per key range */
            for (int r = 0, col = 0; r < a.nrange; col += a.nk[r], r++)
                if (a.nk[r] > 0) {
                    size_t ko = (size_t)a.k0[r] * C3;
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, a.nr, a.nk[r], hs,
                                1.0f, dy, C, v + ko, C3, 0.0f, dS + col, w);
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, a.nk[r], hs, a.nr,
                                1.0f, A + col, w, dy, C, 1.0f, dv + ko, C3);
                }
            for (int t = 0; t < a.nr; t++) {
                const float *at = A + (size_t)t * w;
                float *gr = dS + (size_t)t * w;
                float dot = vec_dot(at, gr, (size_t)w);
                for (int j = 0; j < w; j++)
                    gr[j] = at[j] * (gr[j] - dot) * scale;
            }
            /* dq += dS k; dk += dS^T q */
            for (int r = 0, col = 0; r < a.nrange; col += a.nk[r], r++)
                if (a.nk[r] > 0) {
                    size_t ko = (size_t)a.k0[r] * C3;
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, a.nr, hs, a.nk[r],
                                1.0f, dS + col, w, k + ko, C3, 1.0f, dq + qo, C3);
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, a.nk[r], hs, a.nr,
                                1.0f, dS + col, w, q + qo, C3, 1.0f, dk + ko, C3);
                }
        }
    }
}
MODEL_KERNEL(blk_backward_part)

void model_attention_blocked_backward(float *dqkv, float *scratch, const float *dout,
                                      const float *qkv, const float *att, int B, int R, int C,
                                      int H, const model_att_mask *mk, pool *p)
{
    blk_ctx c = {.dqkv = dqkv,
                 .scratch = scratch,
                 .dout = dout,
                 .qkv = qkv,
                 .catt = att,
                 .mk = mk,
                 .B = B,
                 .R = R,
                 .C = C,
                 .H = H,
                 .head = model_att_head_size(mk, R)};
    model_pool_run(p, blk_backward_part(), &c);
}
