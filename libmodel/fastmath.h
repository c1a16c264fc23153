/* fastmath.h: branch-free exp and tanh that compilers vectorize (the libm calls do not),
 * and the row loops built on them: max, exp-sum, GELU. Private header. */
#ifndef PYRAMASK_MODEL_FASTMATH_H
#define PYRAMASK_MODEL_FASTMATH_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

/* exp(x) to ~2 ulp for x in [-87, 88]; smaller x gives 0 (and -inf gives 0), larger x
 * saturates at exp(88). Range reduction x = n ln2 + r, |r| <= ln2/2, then a degree-6
 * polynomial for exp(r) and 2^n put into the exponent bits. NaN gives NaN. */
static inline __attribute__((always_inline)) float fast_expf(float x)
{
    const float hi = 88.0f, lo = -87.3f;
    int under = x < lo, nan = x != x;
    float xc = x > hi ? hi : (x < lo ? lo : x);
    xc = nan ? 0.0f : xc; /* keeps the integer conversion below defined */
    /* round to nearest by the 1.5 * 2^23 trick: SSE2 has no vector round */
    float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = xc - n * 0.693145751953125f; /* ln2 split in two for exact reduction */
    r = r - n * 1.428606765330187045e-06f;
    float p = 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t e = (uint32_t)((int32_t)n + 127) << 23; /* n in [-126, 127] */
    float s;
    memcpy(&s, &e, sizeof s);
    float y = p * s;
    y = under ? 0.0f : y;
    return nan ? x : y;
}

/* tanh(x) = 1 - 2 / (exp(2x) + 1), exact at the saturated ends */
static inline __attribute__((always_inline)) float fast_tanhf(float x)
{
    return 1.0f - 2.0f / (fast_expf(2.0f * x) + 1.0f);
}

/* max of x[0..n), n >= 1: running maxima in vectors of eight (GCC's vector extension: the
 * auto-vectorizer leaves this loop scalar), four of them so the compare-and-select chains
 * overlap. The maximum does not depend on the order it is taken in. */
typedef float fastmath_v8f __attribute__((vector_size(32)));
typedef int32_t fastmath_v8i __attribute__((vector_size(32)));
/* the lane-wise maximum of a and b, as `b > a ? b : a` on each lane (a macro: a function
 * returning a vector type warns of its ABI where the baseline ISA has no such registers) */
#define FASTMATH_MAX8(a, b)                                           \
    ((fastmath_v8f)(((fastmath_v8i)((b) > (a)) & (fastmath_v8i)(b)) | \
                    (~(fastmath_v8i)((b) > (a)) & (fastmath_v8i)(a))))

static inline __attribute__((always_inline)) float vec_max(const float *restrict x, size_t n)
{
    float m = x[0];
    size_t i = 0;
    if (n >= 8) {
        fastmath_v8f acc[4], v;
        memcpy(&acc[0], x, sizeof v);
        acc[1] = acc[2] = acc[3] = acc[0];
        for (i = 8; i + 32 <= n; i += 32)
            for (int k = 0; k < 4; k++) {
                memcpy(&v, x + i + 8 * k, sizeof v);
                acc[k] = FASTMATH_MAX8(acc[k], v);
            }
        for (; i + 8 <= n; i += 8) {
            memcpy(&v, x + i, sizeof v);
            acc[0] = FASTMATH_MAX8(acc[0], v);
        }
        acc[0] = FASTMATH_MAX8(acc[0], acc[1]);
        acc[2] = FASTMATH_MAX8(acc[2], acc[3]);
        acc[0] = FASTMATH_MAX8(acc[0], acc[2]);
        m = acc[0][0];
        for (int k = 1; k < 8; k++)
            m = acc[0][k] > m ? acc[0][k] : m;
    }
    for (; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

static inline __attribute__((always_inline)) float vec_sum(const float *restrict x, size_t n);

/* the eight running sums of a vector, added in lane order */
static inline __attribute__((always_inline)) float fastmath_hsum8(const fastmath_v8f *acc)
{
    float s = 0.0f;
    for (int k = 0; k < 8; k++)
        s += (*acc)[k];
    return s;
}

/* sum of exp(x - sub) over x[0..n); with out, also out[i] = exp(x[i] - sub) (out may be x).
 * With out the exponentials are one element-wise loop, which vectorizes at the widest
 * width, and their sum is vec_sum's: the same eight running sums, in the same order, as
 * the fused loop without out. */
static inline __attribute__((always_inline)) float vec_expsum(float *out, const float *x,
                                                              size_t n, float sub)
{
    if (out) {
        for (size_t i = 0; i < n; i++)
            out[i] = fast_expf(x[i] - sub);
        return vec_sum(out, n);
    }
    /* without out: blocks of exponentials in a buffer on the stack, summed as above */
    float buf[256];
    fastmath_v8f acc = {0}, v;
    const size_t n8 = n / 8 * 8;
    for (size_t i = 0; i < n8; i += 256) {
        const size_t m = n8 - i < 256 ? n8 - i : 256;
        for (size_t j = 0; j < m; j++)
            buf[j] = fast_expf(x[i + j] - sub);
        for (size_t j = 0; j < m; j += 8) {
            memcpy(&v, buf + j, sizeof v);
            acc += v;
        }
    }
    float s = fastmath_hsum8(&acc);
    for (size_t i = n8; i < n; i++)
        s += fast_expf(x[i] - sub);
    return s;
}

/* The last step of a softmax row: x[i] = exp(score - max) (at most 1) scaled by inv,
 * 1 / their sum, except that those under 2^-64 become 0. The probabilities dropped change
 * no sum they enter by a rounding step, and they would feed denormal numbers into the
 * products after them (ALiBi's steep heads give e^-88 beyond distance 44), each one a
 * microcode assist that slows the attention's backward several times. */
#define SOFTMAX_CUT 0x1p-64f
static inline __attribute__((always_inline)) void vec_softmax_scale(float *x, size_t n,
                                                                    float inv)
{
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] < SOFTMAX_CUT ? 0.0f : x[i] * inv;
}

/* MODEL_KERNEL(name) turns `static inline void name_body(void *arg, int tid, int nth)`
 * (declared always_inline) into three pool functions, compiled for AVX-512, AVX2 and the
 * baseline ISA, and `name` a pointer-returning selector for this CPU. The C standard mode
 * keeps FP contraction off, so all compute the same bits (test model-isa). */
typedef void (*fastmath_rows_fn)(void *ctx, size_t lo, size_t hi);

#if defined(__x86_64__) && defined(__GNUC__)
/* The element-wise kernels' instruction set: 2 AVX-512 (F, VL, BW, DQ), 1 AVX2, 0 the
 * baseline; the best this CPU has, or less if PYRAMASK_MODEL_ISA (avx512, avx2, base) asks
 * for less (every choice computes the same bits; the tests compare them). */
static inline int fastmath_isa(void)
{
    static int has = -1;
    if (has < 0) {
        __builtin_cpu_init();
        int isa = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                          __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512dq")
                      ? 2
                  : __builtin_cpu_supports("avx2") ? 1
                                                   : 0;
        const char *want = getenv("PYRAMASK_MODEL_ISA");
        int cap = !want ? 2 : !strcmp(want, "avx2") ? 1 : !strcmp(want, "base") ? 0 : 2;
        has = isa < cap ? isa : cap;
    }
    return has;
}
#define MODEL_KERNEL_VARIANTS(name)                                                \
    __attribute__((target("avx2"))) static void name##_avx2(void *a, int t, int n) \
    {                                                                              \
        name##_body(a, t, n);                                                      \
    }                                                                              \
    static void name##_base(void *a, int t, int n)                                 \
    {                                                                              \
        name##_body(a, t, n);                                                      \
    }
#define MODEL_KERNEL(name)                                                                   \
    __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq"))) static void name##_avx512( \
        void *a, int t, int n)                                                               \
    {                                                                                        \
        name##_body(a, t, n);                                                                \
    }                                                                                        \
    MODEL_KERNEL_VARIANTS(name)                                                              \
    static pool_fn name(void)                                                                \
    {                                                                                        \
        int isa = fastmath_isa();                                                            \
        return isa == 2 ? name##_avx512 : isa == 1 ? name##_avx2 : name##_base;              \
    }
/* No AVX-512 build: GCC 12 turns the pairs (a c - b s, a s + b c) of a rotation into
 * vfmaddsub there, a fused multiply-add that FP_CONTRACT off does not stop. */
#define MODEL_KERNEL_AVX2(name)                            \
    MODEL_KERNEL_VARIANTS(name)                            \
    static pool_fn name(void)                              \
    {                                                      \
        return fastmath_isa() ? name##_avx2 : name##_base; \
    }
/* The same for row work done beside a product: `name_body(void *ctx, size_t lo, size_t hi)`
 * (see model_gemm_rows in layers.h). */
#define MODEL_ROWS_KERNEL_VARIANTS(name)                                                   \
    __attribute__((target("avx2"))) static void name##_avx2(void *a, size_t lo, size_t hi) \
    {                                                                                      \
        name##_body(a, lo, hi);                                                            \
    }                                                                                      \
    static void name##_base(void *a, size_t lo, size_t hi)                                 \
    {                                                                                      \
        name##_body(a, lo, hi);                                                            \
    }
#define MODEL_ROWS_KERNEL(name)                                                              \
    __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq"))) static void name##_avx512( \
        void *a, size_t lo, size_t hi)                                                       \
    {                                                                                        \
        name##_body(a, lo, hi);                                                              \
    }                                                                                        \
    MODEL_ROWS_KERNEL_VARIANTS(name)                                                         \
    static fastmath_rows_fn name(void)                                                       \
    {                                                                                        \
        int isa = fastmath_isa();                                                            \
        return isa == 2 ? name##_avx512 : isa == 1 ? name##_avx2 : name##_base;              \
    }
/* ... and without the AVX-512 build, as MODEL_KERNEL_AVX2 */
#define MODEL_ROWS_KERNEL_AVX2(name)                       \
    MODEL_ROWS_KERNEL_VARIANTS(name)                       \
    static fastmath_rows_fn name(void)                     \
    {                                                      \
        return fastmath_isa() ? name##_avx2 : name##_base; \
    }
#else
#define MODEL_KERNEL(name)    \
    static pool_fn name(void) \
    {                         \
        return name##_body;   \
    }
#define MODEL_KERNEL_AVX2(name) MODEL_KERNEL(name)
#define MODEL_ROWS_KERNEL(name)        \
    static fastmath_rows_fn name(void) \
    {                                  \
        return name##_body;            \
    }
#define MODEL_ROWS_KERNEL_AVX2(name) MODEL_ROWS_KERNEL(name)
#endif
#define KERNEL_BODY static inline __attribute__((always_inline)) void

/* sum of x[0..n) and of (x - sub)^2, x * y: eight running sums, lane k of a vector of
 * eight summing the elements at k mod 8 in order, then the eight sums in order, then the
 * tail. Written with GCC's vector extension: the auto-vectorizer turns the same loop over
 * an array of eight sums into scalar shuffles when n is known. */

static inline __attribute__((always_inline)) float vec_sum(const float *restrict x, size_t n)
{
    fastmath_v8f acc = {0}, v;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&v, x + i, sizeof v);
        acc += v;
    }
    float s = fastmath_hsum8(&acc);
    for (; i < n; i++)
        s += x[i];
    return s;
}

/* vec_sum of four rows x[k] in step, s[k] each the same sum as alone: four chains of
 * additions overlap where one would wait on the last one */
static inline __attribute__((always_inline)) void vec_sum4(float *const x[4], size_t n,
                                                           float s[4])
{
    fastmath_v8f acc[4] = {{0}}, v;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 4; k++) {
            memcpy(&v, x[k] + i, sizeof v);
            acc[k] += v;
        }
    for (int k = 0; k < 4; k++) {
        s[k] = fastmath_hsum8(&acc[k]);
        for (size_t j = i; j < n; j++)
            s[k] += x[k][j];
    }
}

static inline __attribute__((always_inline)) float vec_sqdev(const float *restrict x, size_t n,
                                                             float sub)
{
    fastmath_v8f acc = {0}, v;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&v, x + i, sizeof v);
        v -= sub;
        acc += v * v;
    }
    float s = fastmath_hsum8(&acc);
    for (; i < n; i++)
        s += (x[i] - sub) * (x[i] - sub);
    return s;
}

static inline __attribute__((always_inline)) float vec_dot(const float *restrict x,
                                                           const float *restrict y, size_t n)
{
    fastmath_v8f acc = {0}, v, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&v, x + i, sizeof v);
        memcpy(&w, y + i, sizeof w);
        acc += v * w;
    }
    float s = fastmath_hsum8(&acc);
    for (; i < n; i++)
        s += x[i] * y[i];
    return s;
}

#define GELU_SCALE 0.7978845608028654f /* sqrt(2/pi) */

/* out = GELU(x), tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
static inline __attribute__((always_inline)) void vec_gelu(float *restrict out,
                                                           const float *restrict x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float u = GELU_SCALE * (v + 0.044715f * v * v * v);
        out[i] = 0.5f * v * (1.0f + fast_tanhf(u));
    }
}

/* out = GELU(x) and dg = GELU'(x), from one tanh; dg may be x (in place). The same bits
 * as vec_gelu and the derivative vec_gelu_backward multiplies by. */
static inline __attribute__((always_inline)) void vec_gelu_grad(float *restrict out, float *dg,
                                                                const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float u = GELU_SCALE * (v + 0.044715f * v * v * v);
        float th = fast_tanhf(u);
        out[i] = 0.5f * v * (1.0f + th);
        dg[i] = 0.5f * (1.0f + th) +
                0.5f * v * (1.0f - th * th) * GELU_SCALE * (1.0f + 3.0f * 0.044715f * v * v);
    }
}

/* dx = GELU'(x) * dout; dx may be dout */
static inline __attribute__((always_inline)) void
vec_gelu_backward(float *dx, const float *restrict x, const float *dout, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float u = GELU_SCALE * (v + 0.044715f * v * v * v);
        float th = fast_tanhf(u);
        float g = 0.5f * (1.0f + th) +
                  0.5f * v * (1.0f - th * th) * GELU_SCALE * (1.0f + 3.0f * 0.044715f * v * v);
        dx[i] = g * dout[i];
    }
}

#endif
