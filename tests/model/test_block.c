/* test_block.c: the block-diffusion mode on one set of weights: block = T is diffusion,
 * block = 1 is the slow per-position computation, the 2T pass equals one recomputation per
 * block (log-probs and gradients), checkpoints keep the mode, and its errors. */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model_internal.h"

/* a model of this mode and block whose parameters are those of `like` (or fresh at seed) */
static model *mode_model(int V, int K, int d, int L, int H, int T, int mode, int block,
                         const model *like, unsigned long seed)
{
    model *m = test_model_config((model_config){.vocab = V,
                                                .n_mask = K,
                                                .d = d,
                                                .layers = L,
                                                .heads = H,
                                                .seq_len = T,
                                                .mode = mode,
                                                .block = block},
                                 2, seed);
    if (like)
        memcpy(m->params_mem, like->params_mem, m->num_params * sizeof(float));
    else
        test_scale_params(m, 0.3, seed + 1);
    return m;
}

/* ||a - b|| / max(||a||, ||b||) */
static double rel_err(const float *a, const float *b, size_t n)
{
    double d2 = 0, a2 = 0, b2 = 0;
    for (size_t i = 0; i < n; i++) {
        d2 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        a2 += (double)a[i] * a[i];
        b2 += (double)b[i] * b[i];
    }
    double s = sqrt(a2 > b2 ? a2 : b2);
    return s > 0 ? sqrt(d2) / s : sqrt(d2);
}

/* a batch: clean x0, noisy xt (each position masked with probability 0.5, at least one
 * per sequence), targets = x0, weights in [0.5, 2.5) */
typedef struct batch {
    int B, T;
    int32_t *x0, *xt;
    float *w;
} batch;

static batch make_batch(int V, int K, int B, int T, unsigned long seed)
{
    batch b = {.B = B,
               .T = T,
               .x0 = malloc((size_t)B * T * 4),
               .xt = malloc((size_t)B * T * 4),
               .w = malloc((size_t)B * T * 4)};
    gsl_rng *r = test_rng(seed);
    for (int n = 0; n < B * T; n++) {
        b.x0[n] = (int32_t)gsl_rng_uniform_int(r, V);
        int masked = gsl_rng_uniform(r) < 0.5 || n % T == 3;
        b.xt[n] = masked ? V + (int32_t)gsl_rng_uniform_int(r, K) : b.x0[n];
        b.w[n] = (float)(0.5 + 2 * gsl_rng_uniform(r));
    }
    gsl_rng_free(r);
    return b;
}

static void free_batch(batch *b)
{
    free(b->x0);
    free(b->xt);
    free(b->w);
}

/* block = T: the 2T pass is the diffusion pass (loss, log-probs, gradients), and the clean
 * half, which nobody may see, changes nothing */
static void check_block_is_diffusion(void)
{
    enum { V = 17, K = 2, D = 16, L = 2, H = 2, B = 3, T = 8 };
    model *dif = mode_model(V, K, D, L, H, T, MODEL_DIFFUSION, 0, NULL, 71);
    model *blk = mode_model(V, K, D, L, H, T, MODEL_BLOCK, T, dif, 0);
    batch b = make_batch(V, K, B, T, 72);
    float ld, lb, lpd[B * T], lpb[B * T];
    const size_t P = dif->num_params;
    model_zero_grad(dif);
    CHECK_RC(dif, model_forward(dif, b.xt, b.x0, b.w, B, T, &ld, lpd), MODEL_OK);
    CHECK_RC(dif, model_backward(dif), MODEL_OK);
    model_zero_grad(blk);
    CHECK_RC(blk, model_forward_block(blk, b.xt, b.x0, b.x0, b.w, B, T, &lb, lpb), MODEL_OK);
    CHECK_RC(blk, model_backward(blk), MODEL_OK);
    CHECK(fabs(ld - lb) <= 1e-5 * fabs(ld), "block = T: loss %.9g, diffusion %.9g", (double)lb,
          (double)ld);
    double e = rel_err(lpb, lpd, B * T);
    CHECK(e <= 1e-5, "block = T: log-probs differ from diffusion's by %.3g", e);
    e = rel_err(blk->grads_mem, dif->grads_mem, P);
    CHECK(e <= 1e-5, "block = T: gradients differ from diffusion's by %.3g", e);
    /* another clean half: the same numbers */
    float *g = malloc(P * sizeof *g), lb2, lpb2[B * T];
    memcpy(g, blk->grads_mem, P * sizeof *g);
    int32_t other[B * T];
    for (int n = 0; n < B * T; n++)
        other[n] = (b.x0[n] + 5) % V;
    model_zero_grad(blk);
    CHECK_RC(blk, model_forward_block(blk, b.xt, other, b.x0, b.w, B, T, &lb2, lpb2), MODEL_OK);
    CHECK_RC(blk, model_backward(blk), MODEL_OK);
    CHECK(lb2 == lb && !memcmp(lpb, lpb2, sizeof lpb),
          "block = T: another clean half changed the loss %.9g -> %.9g", (double)lb,
          (double)lb2);
    e = rel_err(blk->grads_mem, g, P);
    CHECK(e == 0, "block = T: another clean half changed the gradients by %.3g", e);
    free(g);
    free_batch(&b);
    model_close(&dif);
    model_close(&blk);
}

/* block = 1: each masked token given the clean prefix before it, the slow way: for every
 * masked position i, an AR model with the same weights on [x0_0 .. x0_{i-1}, mask] (causal
 * attention over i+1 positions is exactly what the block-1 noisy row and its clean prefix
 * see), predicting x0_i at its last position */
static void check_block_one(void)
{
    enum { V = 17, K = 2, D = 16, L = 2, H = 2, B = 2, T = 9 };
    model *blk = mode_model(V, K, D, L, H, T, MODEL_BLOCK, 1, NULL, 81);
    model *ar = mode_model(V, K, D, L, H, T, MODEL_AR, 0, blk, 0);
    batch b = make_batch(V, K, B, T, 82);
    float loss, lp[B * T];
    CHECK_RC(blk, model_forward_block(blk, b.xt, b.x0, b.x0, b.w, B, T, &loss, lp), MODEL_OK);
    double worst = 0, sum = 0;
    int masked = 0;
    for (int s = 0; s < B; s++)
        for (int i = 0; i < T; i++) {
            size_t n = (size_t)s * T + i;
            if (b.xt[n] < V) {
                CHECK(lp[n] == 0.0f, "block = 1: a given token has log-prob %g", (double)lp[n]);
                continue;
            }
            int32_t inp[T], tgt[T];
            float slow[T];
            memcpy(inp, b.x0 + (size_t)s * T, (size_t)i * 4);
            inp[i] = b.xt[n];
            memcpy(tgt, b.x0 + (size_t)s * T, (size_t)(i + 1) * 4);
            CHECK_RC(ar, model_score(ar, inp, tgt, 1, i + 1, slow), MODEL_OK);
            double d = fabs((double)slow[i] - lp[n]);
            worst = d > worst ? d : worst;
            sum += (double)b.w[n] * -slow[i];
            masked++;
        }
    CHECK(masked > 2, "block = 1: only %d masked positions", masked);
    CHECK(worst <= 1e-5, "block = 1: log-probs differ from the per-position ones by %.3g",
          worst);
    CHECK_NEAR(sum / (B * T), loss, 1e-5 * fabs(loss));
    free_batch(&b);
    model_close(&blk);
    model_close(&ar);
}

/* the 2T pass equals one recomputation per block: block k of each sequence scored on its
 * own, the sequence [x0 blocks < k, xt block k] in the one-sequence view (every row sees
 * blocks <= its own), its weights scaled so that the per-block losses add up to the pass's;
 * log-probs, loss and the accumulated gradients */
static void check_block_naive(int blk_size)
{
    enum { V = 17, K = 2, D = 16, L = 2, H = 2, B = 2, T = 12 };
    model *m = mode_model(V, K, D, L, H, T, MODEL_BLOCK, blk_size, NULL, 91 + blk_size);
    batch b = make_batch(V, K, B, T, 92);
    const size_t P = m->num_params;
    float loss, lp[B * T];
    model_zero_grad(m);
    CHECK_RC(m, model_forward_block(m, b.xt, b.x0, b.x0, b.w, B, T, &loss, lp), MODEL_OK);
    CHECK_RC(m, model_backward(m), MODEL_OK);
    float *g = malloc(P * sizeof *g);
    memcpy(g, m->grads_mem, P * sizeof *g);
    model_zero_grad(m);
    double total = 0, worst = 0;
    for (int s = 0; s < B; s++)
        for (int k = 0; k < T / blk_size; k++) {
            int Tk = (k + 1) * blk_size, lo = k * blk_size;
            int32_t inp[T], tgt[T];
            float w[T], lpk[T], lk;
            const int32_t *x0 = b.x0 + (size_t)s * T, *xt = b.xt + (size_t)s * T;
            for (int t = 0; t < Tk; t++) {
                inp[t] = t < lo ? x0[t] : xt[t];
                tgt[t] = x0[t];
                w[t] = t < lo ? 0.0f : b.w[(size_t)s * T + t] * (float)Tk / (float)(B * T);
            }
            CHECK_RC(m, model_forward_block(m, inp, NULL, tgt, w, 1, Tk, &lk, lpk), MODEL_OK);
            CHECK_RC(m, model_backward(m), MODEL_OK);
            total += lk;
            for (int t = lo; t < Tk; t++) {
                double d = fabs((double)lpk[t] - lp[(size_t)s * T + t]);
                worst = d > worst ? d : worst;
            }
        }
    CHECK(worst <= 1e-5, "block %d: the 2T pass's log-probs differ from per-block ones by %.3g",
          blk_size, worst);
    CHECK(fabs(total - loss) <= 1e-5 * fabs(loss), "block %d: loss %.9g, per block %.9g",
          blk_size, (double)loss, total);
    double e = rel_err(g, m->grads_mem, P);
    CHECK(e <= 1e-5, "block %d: gradients differ from the per-block ones by %.3g", blk_size, e);
    free(g);
    free_batch(&b);
    model_close(&m);
}

void test_block_modes(void)
{
    check_block_is_diffusion();
    check_block_one();
    check_block_naive(2);
    check_block_naive(3);
    check_block_naive(4);
}

static char tmpdir[64];

void test_block_checkpoint(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pyramask-block-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        CHECK(0, "mkdtemp failed");
        return;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/b.ckpt", tmpdir);
    for (int mode = 0; mode < MODEL_MODE_COUNT; mode++) {
        int block = mode == MODEL_BLOCK ? 4 : 0;
        model *a = mode_model(11, 1, 8, 1, 2, 8, mode, block, NULL, 101);
        CHECK_RC(a, model_save(a, path, "meta", 0), MODEL_OK);
        FILE *f = fopen(path, "rb");
        unsigned char head[12] = {0};
        CHECK(f && fread(head, 1, 12, f) == 12, "cannot read %s", path);
        if (f)
            fclose(f);
        /* diffusion and AR stay version 2, the bytes older builds read */
        CHECK_INT(mode == MODEL_BLOCK ? 4 : 2, head[8]);
        model *b = NULL;
        int rc = model_load(&b, path, 2, NULL);
        CHECK_RC(b, rc, MODEL_OK);
        if (rc == MODEL_OK) {
            CHECK(!memcmp(model_get_config(a), model_get_config(b), sizeof(model_config)),
                  "%s: config differs after the round trip", model_mode_name(mode));
            CHECK(!memcmp(a->params_mem, b->params_mem, a->num_params * 4),
                  "%s: parameters differ", model_mode_name(mode));
            CHECK_RC(b, model_expect_mode(b, mode, block), MODEL_OK);
            int other = (mode + 1) % MODEL_MODE_COUNT;
            CHECK_RC(b, model_expect_mode(b, other, other == MODEL_BLOCK ? 4 : 0),
                     MODEL_EINVAL);
            CHECK(strstr(model_errmsg(b), model_mode_name(mode)) &&
                      strstr(model_errmsg(b), model_mode_name(other)),
                  "message: %s", model_errmsg(b));
            if (mode == MODEL_BLOCK) {
                CHECK_RC(b, model_expect_mode(b, MODEL_BLOCK, 2), MODEL_EINVAL);
                CHECK(strstr(model_errmsg(b), "block 4"), "message: %s", model_errmsg(b));
            }
        }
        model_close(&b);
        model_close(&a);
    }
    unlink(path);
    rmdir(tmpdir);
}

void test_block_errors(void)
{
    model_settings s;
    model_default_settings(&s);
    s.config.vocab = 11;
    s.config.seq_len = 8;
    s.config.mode = MODEL_BLOCK;
    s.config.block = 3; /* does not divide 8 */
    s.threads = 1;
    gsl_rng *r = test_rng(111);
    model *m = NULL;
    CHECK_RC(m, model_open(&m, &s, r), MODEL_EINVAL);
    CHECK(strstr(model_errmsg(m), "block 3"), "message: %s", model_errmsg(m));
    model_close(&m);
    s.config.block = 0;
    CHECK_RC(m, model_open(&m, &s, r), MODEL_EINVAL);
    model_close(&m);
    s.config.mode = MODEL_AR;
    s.config.block = 4; /* blocks mean nothing to AR */
    CHECK_RC(m, model_open(&m, &s, r), MODEL_EINVAL);
    CHECK(strstr(model_errmsg(m), "block 4"), "message: %s", model_errmsg(m));
    model_close(&m);
    s.config.mode = 7;
    s.config.block = 0;
    CHECK_RC(m, model_open(&m, &s, r), MODEL_EINVAL);
    model_close(&m);
    gsl_rng_free(r);

    int mode = -1;
    CHECK_RC(NULL, model_mode_parse("block", &mode, NULL, 0), MODEL_OK);
    CHECK_INT(MODEL_BLOCK, mode);
    char err[96];
    CHECK_RC(NULL, model_mode_parse("causal", &mode, err, sizeof err), MODEL_EINVAL);
    CHECK_STR("unknown mode 'causal' (diffusion, ar, block)", err);
    CHECK(model_mode_name(MODEL_MODE_COUNT) == NULL, "a name past the modes");

    m = mode_model(11, 1, 8, 1, 2, 8, MODEL_BLOCK, 4, NULL, 112);
    model *d = mode_model(11, 1, 8, 1, 2, 8, MODEL_DIFFUSION, 0, NULL, 113);
    int32_t x[8] = {1, 2, 11, 3, 4, 11, 5, 6}, y[8] = {1, 2, 3, 3, 4, 5, 5, 6};
    float lp[8], loss;
    CHECK_RC(m, model_forward(m, x, y, NULL, 1, 8, &loss, NULL), MODEL_EINVAL);
    CHECK(strstr(model_errmsg(m), "model_forward_block"), "message: %s", model_errmsg(m));
    CHECK_RC(m, model_score(m, x, y, 1, 8, lp), MODEL_EINVAL);
    CHECK_RC(d, model_forward_block(d, x, y, y, NULL, 1, 8, &loss, NULL), MODEL_EINVAL);
    CHECK_RC(d, model_score_block(d, x, y, y, 1, 8, lp), MODEL_EINVAL);
    CHECK_RC(m, model_forward_block(m, x, y, y, NULL, 1, 6, &loss, NULL), MODEL_EINVAL);
    CHECK(strstr(model_errmsg(m), "multiple of block 4"), "message: %s", model_errmsg(m));
    CHECK_RC(m, model_forward_block(m, x, x, y, NULL, 1, 8, &loss, NULL), MODEL_ERANGE);
    CHECK(strstr(model_errmsg(m), "clean id 11"), "message: %s", model_errmsg(m));
    CHECK_RC(m, model_forward_block(m, x, y, y, NULL, 1, 8, &loss, NULL), MODEL_OK);
    CHECK_RC(m, model_score_block(m, x, y, y, 1, 8, lp), MODEL_OK);
    model_close(&m);
    model_close(&d);
}
