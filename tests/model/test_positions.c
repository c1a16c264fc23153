/* test_positions.c: the relative positions in closed form, without a peer: the RoPE angles
 * theta_i = 10000^(-2i/hs) in the table and in the rotation, and the ALiBi slopes 2^(1-h)
 * in the attention probabilities. */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "model_internal.h"

/* theta_i of a head of size hs, written out from its definition */
static double theta(int i, int hs)
{
    return pow(10000.0, -2.0 * i / hs);
}

/* rope (maxT, hs/2, 2) must hold cos and sin of t * theta_i */
static void check_table(const char *what, const float *rope, int maxT, int hs)
{
    double worst = 0;
    int wt = 0, wi = 0;
    for (int t = 0; t < maxT; t++)
        for (int i = 0; i < hs / 2; i++) {
            double a = t * theta(i, hs);
            const float *cs = rope + ((size_t)t * (hs / 2) + i) * 2;
            double e = fmax(fabs(cs[0] - cos(a)), fabs(cs[1] - sin(a)));
            if (e > worst) {
                worst = e;
                wt = t;
                wi = i;
            }
        }
    CHECK(worst < 1e-6, "%s: cos/sin of t * 10000^(-2i/%d) off by %g at t %d, i %d", what, hs,
          worst, wt, wi);
}

static void check_rope(void)
{
    /* the table alone, for even and odd head sizes */
    const int sizes[] = {2, 6, 7, 8, 64};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int hs = sizes[k], maxT = 40;
        float *rope = malloc(((size_t)maxT * (hs / 2) * 2 + 1) * sizeof *rope);
        model_rope_table(rope, maxT, hs);
        char what[32];
        snprintf(what, sizeof what, "table hs %d", hs);
        check_table(what, rope, maxT, hs);
        free(rope);
    }
    /* the model's table is built for its head size d/H, not for d */
    model *m = test_model(7, 1, 16, 1, 2, 12, 0, 1, 3);
    check_table("model d 16, 2 heads", m->rope, 12, 8);
    model_close(&m);

    /* the rotation: pair i of every q and k head at position t turns by t * theta_i */
    enum { B = 2, T = 5, C = 12, H = 2, hs = C / H, P = hs / 2 };
    float rope[T * P * 2], qkv[B * T * 3 * C];
    model_rope_table(rope, T, hs);
    for (int n = 0; n < B * T; n++)
        for (int c = 0; c < 3 * C; c++) /* q pairs (1, 0), k pairs (0, 1), v = c */
            qkv[n * 3 * C + c] = c < C ? (c % 2 == 0) : c < 2 * C ? (c % 2 == 1) : (float)c;
    model_rope_forward(qkv, rope, B, T, C, H, NULL);
    double worst = 0;
    for (int n = 0; n < B * T; n++) {
        int t = n % T;
        const float *row = qkv + n * 3 * C;
        for (int h = 0; h < H; h++)
            for (int i = 0; i < P; i++) {
                double a = t * theta(i, hs), c = cos(a), s = sin(a);
                const float *q = row + h * hs + 2 * i, *k = row + C + h * hs + 2 * i;
                /* (1, 0) -> (cos, sin); (0, 1) -> (-sin, cos) */
                worst = fmax(worst, fmax(fabs(q[0] - c), fabs(q[1] - s)));
                worst = fmax(worst, fmax(fabs(k[0] + s), fabs(k[1] - c)));
            }
        for (int c = 2 * C; c < 3 * C; c++)
            CHECK(row[c] == (float)c, "v at position %d column %d changed", t, c);
    }
    CHECK(worst < 1e-6, "rotated pairs differ from (cos, sin)(t * theta_i) by %g", worst);
}

static void check_alibi(void)
{
    const float want[] = {2.0f, 1.0f, 0.5f, 0.25f, 0.125f};
    for (int h = 0; h < 5; h++)
        CHECK(model_alibi_slope(h) == want[h], "slope of head %d: expected %g, got %g", h,
              (double)want[h], (double)model_alibi_slope(h));
    for (int h = 0; h < 16; h++)
        CHECK(model_alibi_slope(h) == (float)ldexp(1.0, 1 - h), "slope of head %d is %g", h,
              (double)model_alibi_slope(h));

    /* with q = k = 0 the scores are the bias alone: att[h][t][j] = exp(-s_h |t - j|) / Z_t,
     * s_h = 2^(1-h), over j in 0..T-1 (causal: j <= t) */
    enum { B = 1, T = 7, C = 8, H = 4 };
    float *qkv = calloc(B * T * 3 * C, sizeof *qkv), *out = malloc(B * T * C * sizeof *out);
    float *att = malloc(B * H * T * T * sizeof *att);
    for (int causal = 0; causal <= 1; causal++) {
        model_attention_forward(out, att, qkv, B, T, C, H, causal, 1, NULL);
        double worst = 0;
        for (int h = 0; h < H; h++) {
            double s = ldexp(1.0, 1 - h);
            for (int t = 0; t < T; t++) {
                int n = causal ? t + 1 : T;
                double z = 0;
                for (int j = 0; j < n; j++)
                    z += exp(-s * abs(t - j));
                for (int j = 0; j < T; j++) {
                    double p = j < n ? exp(-s * abs(t - j)) / z : 0.0;
                    worst = fmax(worst, fabs(att[((size_t)h * T + t) * T + j] - p));
                }
            }
        }
        CHECK(worst < 1e-6,
              "%s attention with zero q, k: probabilities differ from the ALiBi closed form "
              "exp(-2^(1-h) |t-j|) / Z by %g",
              causal ? "causal" : "bidirectional", worst);
    }
    free(qkv);
    free(out);
    free(att);
}

void test_positions(void)
{
    model_init_blas();
    check_rope();
    check_alibi();
}
