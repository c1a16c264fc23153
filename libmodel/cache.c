/* cache.c: decoding with a key/value cache: each layer's rotated keys and values of the
 * positions already run, and steps that run only new (or window) positions against them. */
#include "model_internal.h"

#include "fastmath.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct model_cache {
    model *m;
    int B, maxT, len;
    float *k, *v; /* (L, B, maxT, C) rotated keys, values */
    /* one step's rows, B * n <= B * maxT of them */
    float *x, *ln, *mean, *rstd, *qkv, *atty, *fch, *fchg, *sel;
    float *scores; /* (threads, maxT, maxT) */
};

int model_cache_open(model *m, model_cache **out, int B)
{
    if (!out)
        return MODEL_EINVAL;
    *out = NULL;
    if (!m)
        return MODEL_EINVAL;
    model_clear_error(m);
    if (B < 1 || B > 1 << 16)
        return model_fail(m, MODEL_EINVAL, "cache: %d sequences", B);
    const model_config *cf = &m->cfg;
    const size_t L = (size_t)cf->layers, C = (size_t)cf->d, T = (size_t)cf->seq_len;
    const size_t NR = (size_t)B * T;
    double est = (double)L * NR * 2 * C + (double)NR * 16 * C + (double)m->threads * T * T;
    if (est > (double)((size_t)1 << 36))
        return model_fail(m, MODEL_ENOMEM,
                          "cache for %d sequences of %zu would need %.3g floats", B, T, est);
    model_cache *c = calloc(1, sizeof *c);
    if (!c)
        return model_fail(m, MODEL_ENOMEM, "out of memory");
    c->m = m;
    c->B = B;
    c->maxT = (int)T;
    c->k = malloc(L * NR * C * sizeof(float));
    c->v = malloc(L * NR * C * sizeof(float));
    c->x = malloc(NR * C * sizeof(float));
    c->ln = malloc(NR * C * sizeof(float));
    c->mean = malloc(NR * sizeof(float));
    c->rstd = malloc(NR * sizeof(float));
    c->qkv = malloc(NR * 3 * C * sizeof(float));
    c->atty = malloc(NR * C * sizeof(float));
    c->fch = malloc(NR * 4 * C * sizeof(float));
    c->fchg = malloc(NR * 4 * C * sizeof(float));
    c->sel = malloc(NR * C * sizeof(float));
    c->scores = malloc((size_t)m->threads * T * T * sizeof(float));
    if (!c->k || !c->v || !c->x || !c->ln || !c->mean || !c->rstd || !c->qkv || !c->atty ||
        !c->fch || !c->fchg || !c->sel || !c->scores) {
        model_cache_close(&c);
        return model_fail(m, MODEL_ENOMEM, "out of memory for the cache");
    }
    *out = c;
    return MODEL_OK;
}

void model_cache_close(model_cache **p)
{
    if (!p || !*p)
        return;
    model_cache *c = *p;
    free(c->k);
    free(c->v);
    free(c->x);
    free(c->ln);
    free(c->mean);
    free(c->rstd);
    free(c->qkv);
    free(c->atty);
    free(c->fch);
    free(c->fchg);
    free(c->sel);
    free(c->scores);
    free(c);
    *p = NULL;
}

int model_cache_len(const model_cache *c)
{
    return c ? c->len : 0;
}

void model_cache_reset(model_cache *c)
{
    if (c)
        c->len = 0;
}

/* The keys row p may see: AR its prefix, block its own block and those before it,
 * diffusion every position held (after the step). */
static int key_end(const model_cache *c, int p, int held)
{
    switch (c->m->cfg.mode) {
    case MODEL_AR:
        return p + 1;
    case MODEL_BLOCK:
        return (p / c->m->cfg.block + 1) * c->m->cfg.block;
    default:
        return held;
    }
}

typedef struct step_ctx {
    model_cache *c;
    int l, pos, n, held;
    atomic_long next;
} step_ctx;

KERNEL_BODY step_attention_part_body(void *arg, int tid, int nth)
{
    step_ctx *s = arg;
    model_cache *c = s->c;
    const model *m = c->m;
    const int C = m->cfg.d, H = m->cfg.heads, hs = C / H, C3 = 3 * C, n = s->n, pos = s->pos;
    const float scale = 1.0f / sqrtf((float)hs);
    const int kmax = key_end(c, pos + n - 1, s->held); /* the widest row's keys */
    float *S = c->scores + (size_t)tid * c->maxT * c->maxT;
    (void)nth;
    for (long i; (i = model_pool_next(&s->next, (long)c->B * H)) >= 0;) {
        size_t b = (size_t)i / H, h = (size_t)i % H;
        const float *q = c->qkv + b * n * C3 + h * hs;
        size_t kv = (((size_t)s->l * c->B + b) * c->maxT) * C + h * hs;
        const float *K = c->k + kv, *Vv = c->v + kv;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, kmax, hs, scale, q, C3, K, C,
                    0.0f, S, kmax);
        const float slope = model_alibi_slope((int)h);
        for (int r = 0; r < n; r++) {
            float *row = S + (size_t)r * kmax;
            int p = pos + r, e = key_end(c, p, s->held);
            for (int j = 0; j < e; j++)
                row[j] -= slope * (float)(j > p ? j - p : p - j);
            float mx = vec_max(row, (size_t)e);
            vec_softmax_scale(row, (size_t)e, 1.0f / vec_expsum(row, row, (size_t)e, mx));
            for (int j = e; j < kmax; j++)
                row[j] = 0.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hs, kmax, 1.0f, S, kmax, Vv,
                    C, 0.0f, c->atty + b * n * C + h * hs, C);
    }
}
MODEL_KERNEL(step_attention_part)

/* rotates the q and k heads of the step's rows by their positions, then keeps k and v */
static void rope_and_keep(model_cache *c, int l, int pos, int n)
{
    const model *m = c->m;
    const int C = m->cfg.d, H = m->cfg.heads, hs = C / H, P = hs / 2, C3 = 3 * C;
    for (int b = 0; b < c->B; b++)
        for (int r = 0; r < n; r++) {
            float *row = c->qkv + ((size_t)b * n + r) * C3;
            const float *cs = m->rope + (size_t)(pos + r) * P * 2;
            for (int part = 0; part < 2 * H; part++) {
                float *x = row + (size_t)part * hs;
                for (int i = 0; i < P; i++) {
                    float co = cs[2 * i], si = cs[2 * i + 1], x0 = x[2 * i], x1 = x[2 * i + 1];
                    x[2 * i] = x0 * co - x1 * si;
                    x[2 * i + 1] = x0 * si + x1 * co;
                }
            }
            size_t at = (((size_t)l * c->B + b) * c->maxT + pos + r) * C;
            memcpy(c->k + at, row + C, (size_t)C * sizeof(float));
            memcpy(c->v + at, row + 2 * C, (size_t)C * sizeof(float));
        }
}

int model_cache_step(model_cache *c, const int32_t *tokens, int pos, int n, int keep, int out,
                     int nout, float *logits)
{
    if (!c)
        return MODEL_EINVAL;
    model *m = c->m;
    model_clear_error(m);
    const model_config *cf = &m->cfg;
    const int B = c->B, L = cf->layers, C = cf->d, V = cf->vocab, VK = V + cf->n_mask;
    if (!tokens || n < 1 || pos < 0 || pos + n > c->maxT || keep < 0 || keep > n || out < 0 ||
        nout < 0 || out + nout > n || (nout > 0 && !logits))
        return model_fail(m, MODEL_EINVAL,
                          "cache step: positions %d..%d (cache of %d), keep %d, logits of rows "
                          "%d..%d",
                          pos, pos + n - 1, c->maxT, keep, out, out + nout - 1);
    if (cf->mode != MODEL_DIFFUSION && pos != c->len)
        return model_fail(m, MODEL_EINVAL,
                          "cache step at position %d: the cache holds %d positions, a %s step "
                          "continues there",
                          pos, c->len, model_mode_name(cf->mode));
    if (cf->mode == MODEL_DIFFUSION && pos > c->len)
        return model_fail(m, MODEL_EINVAL,
                          "cache step at position %d leaves a gap after the %d positions held",
                          pos, c->len);
    if (cf->mode == MODEL_BLOCK && (pos % cf->block || n % cf->block || keep % cf->block))
        return model_fail(m, MODEL_EINVAL,
                          "cache step: positions %d..%d, keep %d: whole blocks of %d only", pos,
                          pos + n - 1, keep, cf->block);
    for (size_t i = 0; i < (size_t)B * n; i++)
        if (tokens[i] < 0 || tokens[i] >= VK)
            return model_fail(m, MODEL_ERANGE,
                              "cache step: id %d at batch %zu row %zu is neither a token nor a "
                              "mask id (0..%d)",
                              tokens[i], i / n, i % n, VK - 1);
    m->calls++;
    const int N = B * n, held = pos + n > c->len ? pos + n : c->len;
    const param_tensors *w = &m->params;
    /* a step of a few rows (AR's one token) runs on the calling thread: waking the pool
     * for each of its ~15 small kernels per layer costs more than the work */
    pool *p = N <= 4 ? NULL : m->pool;
    model_encoder_forward(c->x, tokens, w->wte, N, C, p);
    for (int l = 0; l < L; l++) {
        model_layernorm_forward(c->ln, c->mean, c->rstd, c->x, w->ln1w + l * C, w->ln1b + l * C,
                                N, C, p);
        model_matmul_forward(c->qkv, NULL, c->ln, w->qkvw + (size_t)l * 3 * C * C,
                             w->qkvb + l * 3 * C, N, C, 3 * C, p);
        rope_and_keep(c, l, pos, n);
        step_ctx s = {.c = c, .l = l, .pos = pos, .n = n, .held = held};
        model_pool_run(p, step_attention_part(), &s);
        model_matmul_forward(c->x, c->x, c->atty, w->attprojw + (size_t)l * C * C,
                             w->attprojb + l * C, N, C, C, p);
        model_layernorm_forward(c->ln, c->mean, c->rstd, c->x, w->ln2w + l * C, w->ln2b + l * C,
                                N, C, p);
        model_matmul_forward(c->fch, NULL, c->ln, w->fcw + (size_t)l * 4 * C * C,
                             w->fcb + l * 4 * C, N, C, 4 * C, p);
        model_gelu_forward(c->fchg, c->fch, (size_t)N * 4 * C, p);
        model_matmul_forward(c->x, c->x, c->fchg, w->fcprojw + (size_t)l * 4 * C * C,
                             w->fcprojb + l * C, N, 4 * C, C, p);
    }
    if (cf->mode == MODEL_DIFFUSION)
        c->len = pos + keep > c->len ? pos + keep : c->len;
    else
        c->len = pos + keep;
    if (nout == 0)
        return MODEL_OK;
    /* the output rows [out, out + nout) of every sequence */
    const int NO = B * nout;
    for (int b = 0; b < B; b++)
        memcpy(c->sel + (size_t)b * nout * C, c->x + ((size_t)b * n + out) * C,
               (size_t)nout * C * sizeof(float));
    model_layernorm_forward(c->ln, c->mean, c->rstd, c->sel, w->lnfw, w->lnfb, NO, C, p);
    model_matmul_forward(logits, NULL, c->ln, w->wout, w->bout, NO, C, V, p);
    for (int b = 0; b < B; b++)
        for (int r = 0; r < nout; r++) {
            int32_t id = tokens[(size_t)b * n + out + r];
            float *row = logits + ((size_t)b * nout + r) * V;
            if (m->prior && id >= V)
                for (int j = 0; j < V; j++)
                    row[j] += m->prior[(size_t)(id - V) * V + j];
            for (int j = 0; j < V; j++)
                if (isnan(row[j]) || row[j] == INFINITY)
                    return model_fail(m, MODEL_ENONFINITE, "cache step: logits are not finite");
        }
    return MODEL_OK;
}
