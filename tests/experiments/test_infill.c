/* test_infill.c: the held-out infill's code length (samples_span_bits) is a distribution
 * over the span's contents: on a small random model, 2^-bits summed over every filling of a
 * span of 1, 2 and 3 tokens is 1 (the chain rule left to right, each conditional normalised),
 * and at most 1 for a model with [expand]/[delete] classes (their mass is not the span's). */
#include "../check.h"
#include "samples.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int check_count, check_failures;

enum { V = 5, T = 8 };

/* The sum of 2^-bits over the V^L fillings of win[a..a+L). */
static double total(model *m, int32_t *win, int a, int L)
{
    int32_t ids[T];
    float lp[T];
    double sum = 0;
    long n = 1;
    for (int i = 0; i < L; i++)
        n *= V;
    for (long c = 0; c < n; c++) {
        long k = c;
        for (int i = 0; i < L; i++, k /= V)
            win[a + i] = (int32_t)(k % V);
        double bits;
        CHECK_INT(0, samples_span_bits(m, win, T, a, L, ids, lp, &bits));
        sum += exp2(-bits);
    }
    return sum;
}

int main(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    for (int n_edit = 0; n_edit <= 2; n_edit += 2) {
        gsl_rng_set(r, 5);
        model_settings ms;
        model_default_settings(&ms);
        ms.config.vocab = V;
        ms.config.n_mask = 1;
        ms.config.d = 16;
        ms.config.layers = 1;
        ms.config.heads = 2;
        ms.config.seq_len = T;
        ms.config.n_edit = n_edit;
        model *m = NULL;
        CHECK_INT(0, model_open(&m, &ms, r));
        if (!m)
            break;
        /* a few steps on one pattern, half of it masked at random: conditionals far from
         * uniform and dependent on the revealed tokens */
        model_optim opt;
        model_default_optim(&opt);
        opt.lr = 0.05f;
        opt.warmup_steps = 0;
        opt.total_steps = 40;
        const int32_t pattern[T] = {0, 1, 2, 3, 4, 3, 2, 1};
        for (int step = 0; step < 40; step++) {
            int32_t in[4 * T], tg[4 * T];
            float w[4 * T];
            for (int i = 0; i < 4 * T; i++) {
                int masked = gsl_rng_uniform(r) < 0.5;
                tg[i] = (pattern[i % T] + i / T) % V;
                in[i] = masked ? V : tg[i];
                w[i] = (float)masked;
            }
            float loss;
            CHECK_INT(0, model_zero_grad(m));
            CHECK_INT(0, model_forward(m, in, tg, w, 4, T, &loss, NULL));
            CHECK_INT(0, model_backward(m));
            CHECK_INT(0, model_update(m, &opt, NULL));
        }
        int32_t win[T] = {1, 4, 2, 0, 3, 3, 1, 2};
        for (int L = 1; L <= 3; L++) {
            double s = total(m, win, 2, L);
            if (n_edit)
                CHECK(s < 1 - 1e-4 && s > 0.05, "edit model, span of %d: total %.6f", L, s);
            else
                CHECK(fabs(s - 1) < 1e-4, "span of %d: total %.6f, not 1", L, s);
            printf("n_edit %d, span %d: sum of 2^-bits = %.6f\n", n_edit, L, s);
        }
        model_close(&m);
    }
    gsl_rng_free(r);
    printf("%s: infill code length\n", check_failures ? "FAIL" : "ok");
    return check_failures != 0;
}
