/* decode_bench.c: decoding speed with and without the key/value cache (tokens per second and
 * model calls to generate a sequence) for ar, block and diffusion; the block training pass
 * against diffusion's; and the dual cache's deviation from exact decoding on a small model
 * trained here on real text.
 * Usage: decode_bench [--len T] [--reps R] [--threads N] [--text FILE] [--train-steps S] */
#include "bench.h"
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_rng.h>

#include "bench_model.h"

static void die(model *m, int rc, const char *what)
{
    bench_die("decode_bench", m, rc, what);
}

static model *open_model(int V, int d, int L, int H, int T, int mode, int block, int threads,
                         unsigned long seed)
{
    return bench_open_model("decode_bench",
                            (model_config){.vocab = V,
                                           .n_mask = 1,
                                           .d = d,
                                           .layers = L,
                                           .heads = H,
                                           .seq_len = T,
                                           .mode = mode,
                                           .block = block},
                            threads, seed);
}

typedef struct variant {
    const char *name;
    int mode, block, cache;
    model *m;
    double secs[16];
    long calls;
} variant;

/* one generation of T tokens (the first given for ar) */
static double generate(variant *v, int T, unsigned long seed)
{
    const int V = model_get_config(v->m)->vocab;
    int32_t *tok = malloc((size_t)T * sizeof *tok);
    for (int t = 0; t < T; t++)
        tok[t] = V;
    if (v->mode == MODEL_AR)
        tok[0] = 0;
    model_sample_settings s;
    model_default_sample_settings(&s);
    s.steps = T; /* one token per call, for every mode */
    s.cache = v->cache;
    s.temperature = v->mode == MODEL_AR ? 1.0f : 0.0f;
    if (v->mode == MODEL_DIFFUSION) {
        s.strategy = MODEL_SAMPLE_BLOCK;
        s.block_len = 32;
    }
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    long c0 = model_calls(v->m);
    double t0 = now();
    int rc = model_sample(v->m, tok, 1, T, &s, r);
    double dt = now() - t0;
    if (rc)
        die(v->m, rc, v->name);
    v->calls = model_calls(v->m) - c0;
    gsl_rng_free(r);
    free(tok);
    return dt;
}

static void bench_decode(int T, int reps, int threads)
{
    enum { V = 4096, D = 128, L = 4, H = 4 };
    variant vs[] = {
        {"ar, no cache", MODEL_AR, 0, MODEL_CACHE_NONE, NULL, {0}, 0},
        {"ar, cache", MODEL_AR, 0, MODEL_CACHE_EXACT, NULL, {0}, 0},
        {"block 4, no cache", MODEL_BLOCK, 4, MODEL_CACHE_NONE, NULL, {0}, 0},
        {"block 4, cache", MODEL_BLOCK, 4, MODEL_CACHE_EXACT, NULL, {0}, 0},
        {"block 16, no cache", MODEL_BLOCK, 16, MODEL_CACHE_NONE, NULL, {0}, 0},
        {"block 16, cache", MODEL_BLOCK, 16, MODEL_CACHE_EXACT, NULL, {0}, 0},
        {"diffusion (blocks of 32), no cache",
         MODEL_DIFFUSION,
         0,
         MODEL_CACHE_NONE,
         NULL,
         {0},
         0},
        {"diffusion (blocks of 32), dual cache",
         MODEL_DIFFUSION,
         0,
         MODEL_CACHE_DUAL,
         NULL,
         {0},
         0},
    };
    const int nv = (int)(sizeof vs / sizeof *vs);
    for (int i = 0; i < nv; i++)
        vs[i].m = open_model(V, D, L, H, T, vs[i].mode, vs[i].block, threads, 7);
    /* alternate the variants, rep after rep, so a busy moment of the machine spreads */
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < nv; i++)
            vs[i].secs[r] = generate(&vs[i], T, 100 + (unsigned long)r);
    printf("decode: generate %d tokens, V %d d %d L %d H %d seq_len %d, %d threads, median of "
           "%d\n",
           T, V, D, L, H, T, threads, reps);
    double med[16];
    for (int i = 0; i < nv; i++) {
        qsort(vs[i].secs, (size_t)reps, sizeof(double), cmp_double);
        med[i] = vs[i].secs[reps / 2];
        printf("  %-38s %9.1f tokens/s %6ld model calls  (%.2f s)\n", vs[i].name, T / med[i],
               vs[i].calls, med[i]);
    }
    for (int i = 0; i < nv; i += 2)
        printf("  speed-up of the cache, %-24s %6.1fx\n", vs[i].name, med[i] / med[i + 1]);
    for (int i = 0; i < nv; i++)
        model_close(&vs[i].m);
}

/* one forward and backward over a (B, T) batch, diffusion against block's 2T pass */
static void bench_train(int threads)
{
    enum { V = 4096, D = 128, L = 4, H = 4, B = 8, T = 256, REPS = 5 };
    const int blocks[] = {0, 4, 16, 64};
    int32_t *x0 = malloc(B * T * 4), *xt = malloc(B * T * 4);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    for (int n = 0; n < B * T; n++) {
        x0[n] = (int32_t)gsl_rng_uniform_int(r, V);
        xt[n] = gsl_rng_uniform(r) < 0.5 ? V : x0[n];
    }
    gsl_rng_free(r);
    printf("training pass: forward + backward of %d x %d, %d threads, median of %d\n", B, T,
           threads, REPS);
    double base = 0;
    for (size_t i = 0; i < sizeof blocks / sizeof *blocks; i++) {
        int blk = blocks[i];
        model *m =
            open_model(V, D, L, H, T, blk ? MODEL_BLOCK : MODEL_DIFFUSION, blk, threads, 9);
        double secs[REPS];
        for (int k = 0; k < REPS; k++) {
            float loss;
            double t0 = now();
            int rc = blk ? model_forward_block(m, xt, x0, x0, NULL, B, T, &loss, NULL)
                         : model_forward(m, xt, x0, NULL, B, T, &loss, NULL);
            if (!rc)
                rc = model_zero_grad(m);
            if (!rc)
                rc = model_backward(m);
            if (rc)
                die(m, rc, "training pass");
            secs[k] = now() - t0;
        }
        qsort(secs, REPS, sizeof(double), cmp_double);
        if (!blk)
            base = secs[REPS / 2];
        char name[48] = "diffusion (T rows)";
        if (blk)
            snprintf(name, sizeof name, "block %d (2T rows)", blk);
        printf("  %-22s %7.1f ms  %.2fx diffusion\n", name, secs[REPS / 2] * 1e3,
               secs[REPS / 2] / base);
        model_close(&m);
    }
    free(x0);
    free(xt);
}

/* ---- the dual cache's deviation from exact decoding ---- */

static unsigned char *read_text(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len);
    *n = buf ? fread(buf, 1, (size_t)len, f) : 0;
    fclose(f);
    return buf;
}

/* log-softmax of l (V) into out */
static void log_softmax(double *out, const float *l, int V)
{
    double mx = -INFINITY, s = 0;
    for (int j = 0; j < V; j++)
        mx = l[j] > mx ? l[j] : mx;
    for (int j = 0; j < V; j++)
        s += exp(l[j] - mx);
    for (int j = 0; j < V; j++)
        out[j] = l[j] - mx - log(s);
}

static int argmax(const float *l, int V)
{
    int b = 0;
    for (int j = 1; j < V; j++)
        b = l[j] > l[b] ? j : b;
    return b;
}

/* Byte-level diffusion model trained on the text, then block decoding by confidence of
 * sequences whose first half is given: at every dual-cache step the proposals' log-probs
 * against an exact recomputation on the same ids, and whole decodings compared. */
static void bench_dual(const char *path, int train_steps, int threads)
{
    enum { V = 256, D = 64, L = 2, H = 4, T = 128, B = 16, BL = 16, SEQS = 16 };
    size_t n;
    unsigned char *text = read_text(path, &n);
    if (!text || n < 4 * T) {
        printf("dual cache: no text at %s, skipped\n", path);
        free(text);
        return;
    }
    model *m = open_model(V, D, L, H, T, MODEL_DIFFUSION, 0, threads, 11);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 12);
    model_optim o;
    model_default_optim(&o);
    o.total_steps = train_steps;
    o.warmup_steps = train_steps / 10;
    int32_t *x0 = malloc(B * T * 4), *xt = malloc(B * T * 4);
    float *w = malloc(B * T * 4), loss = 0;
    double t0 = now();
    for (int step = 0; step < train_steps; step++) {
        for (int b = 0; b < B; b++) {
            size_t at = gsl_rng_uniform_int(r, n / 2 - T); /* the first half trains */
            double t = gsl_rng_uniform_pos(r);
            for (int i = 0; i < T; i++) {
                x0[b * T + i] = text[at + i];
                int masked = gsl_rng_uniform(r) < t;
                xt[b * T + i] = masked ? V : x0[b * T + i];
                w[b * T + i] = (float)(1.0 / t); /* MDLM's linear-schedule ELBO weight */
            }
        }
        int rc = model_forward(m, xt, x0, w, B, T, &loss, NULL);
        if (!rc)
            rc = model_zero_grad(m);
        if (!rc)
            rc = model_backward(m);
        if (!rc)
            rc = model_update(m, &o, NULL);
        if (rc)
            die(m, rc, "training");
    }
    printf("dual cache: byte-level diffusion model (d %d, L %d, T %d) trained %d steps of %d "
           "sequences on %s in %.0f s, last loss %.3f nats/byte\n",
           D, L, T, train_steps, B, path, now() - t0, (double)loss);

    /* held-out sequences from the second half: the first half given, the rest masked */
    model_cache *dual = NULL, *exact = NULL;
    int rc = model_cache_open(m, &dual, 1);
    if (!rc)
        rc = model_cache_open(m, &exact, 1);
    if (rc)
        die(m, rc, "cache");
    float *ld = malloc((size_t)BL * V * 4), *le = malloc((size_t)BL * V * 4);
    double *pd = malloc(V * sizeof *pd), *pe = malloc(V * sizeof *pe);
    double max_err = 0, kl_sum = 0, err_sum = 0;
    long rows = 0, diff_prop = 0, diff_tok = 0, gen = 0;
    for (int q = 0; q < SEQS; q++) {
        size_t at = n / 2 + gsl_rng_uniform_int(r, n / 2 - T);
        int32_t tok[T], ref[T], win[BL];
        for (int i = 0; i < T; i++)
            tok[i] = i < T / 2 ? text[at + i] : V;
        memcpy(ref, tok, sizeof tok);
        /* the dual-cache decoding, one token per step; at each step the exact logits on the
         * same ids */
        for (int lo = T / 2; lo < T; lo += BL) {
            for (int i = 0; i < BL; i++) {
                if (i == 0) {
                    model_cache_reset(dual);
                    rc = model_cache_step(dual, tok, 0, T, T, lo, BL, ld);
                } else {
                    memcpy(win, tok + lo, sizeof win);
                    rc = model_cache_step(dual, win, lo, BL, BL, 0, BL, ld);
                }
                model_cache_reset(exact);
                if (!rc)
                    rc = model_cache_step(exact, tok, 0, T, 0, lo, BL, le);
                if (rc)
                    die(m, rc, "dual decoding");
                int best = -1;
                double bestp = -INFINITY;
                for (int j = 0; j < BL; j++) {
                    if (tok[lo + j] < V)
                        continue;
                    log_softmax(pd, ld + (size_t)j * V, V);
                    log_softmax(pe, le + (size_t)j * V, V);
                    double kl = 0, e = 0;
                    for (int v = 0; v < V; v++) {
                        kl += exp(pe[v]) * (pe[v] - pd[v]);
                        e = fmax(e, fabs(pe[v] - pd[v]));
                    }
                    kl_sum += kl;
                    err_sum += e;
                    max_err = fmax(max_err, e);
                    int ad = argmax(ld + (size_t)j * V, V), ae = argmax(le + (size_t)j * V, V);
                    diff_prop += ad != ae;
                    rows++;
                    if (pd[ad] > bestp) {
                        bestp = pd[ad];
                        best = j;
                    }
                }
                tok[lo + best] = argmax(ld + (size_t)best * V, V);
            }
        }
        /* the exact decoding of the same sequence, the same rule */
        for (int lo = T / 2; lo < T; lo += BL)
            for (int i = 0; i < BL; i++) {
                model_cache_reset(exact);
                rc = model_cache_step(exact, ref, 0, T, 0, lo, BL, le);
                if (rc)
                    die(m, rc, "exact decoding");
                int best = -1;
                double bestp = -INFINITY;
                for (int j = 0; j < BL; j++) {
                    if (ref[lo + j] < V)
                        continue;
                    log_softmax(pe, le + (size_t)j * V, V);
                    int a = argmax(le + (size_t)j * V, V);
                    if (pe[a] > bestp) {
                        bestp = pe[a];
                        best = j;
                    }
                }
                ref[lo + best] = argmax(le + (size_t)best * V, V);
            }
        for (int i = T / 2; i < T; i++) {
            diff_tok += tok[i] != ref[i];
            gen++;
        }
    }
    printf("dual cache against exact decoding: %d held-out sequences, %d bytes given, %d "
           "generated in blocks of %d by confidence (argmax, one token per step)\n",
           SEQS, T / 2, T / 2, BL);
    printf("  per masked row and step (%ld): KL(exact || dual) mean %.3g nats; max |log-prob "
           "error| mean %.3g, worst %.3g; argmax proposal differs %.2f%%\n",
           rows, kl_sum / rows, err_sum / rows, max_err, 100.0 * diff_prop / rows);
    printf("  decoded bytes that differ from exact decoding: %ld of %ld (%.1f%%)\n", diff_tok,
           gen, 100.0 * diff_tok / gen);
    model_cache_close(&dual);
    model_cache_close(&exact);
    free(ld);
    free(le);
    free(pd);
    free(pe);
    free(x0);
    free(xt);
    free(w);
    free(text);
    gsl_rng_free(r);
    model_close(&m);
}

int main(int argc, char **argv)
{
    int T = 1024, reps = 3, threads = 2, train_steps = 600;
    const char *text = NULL;
    static const struct option opts[] = {
        {"len", required_argument, NULL, 'l'},         {"reps", required_argument, NULL, 'r'},
        {"threads", required_argument, NULL, 't'},     {"text", required_argument, NULL, 'x'},
        {"train-steps", required_argument, NULL, 's'}, {NULL, 0, NULL, 0}};
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'l':
            T = atoi(optarg);
            break;
        case 'r':
            reps = atoi(optarg);
            break;
        case 't':
            threads = atoi(optarg);
            break;
        case 'x':
            text = optarg;
            break;
        case 's':
            train_steps = atoi(optarg);
            break;
        default:
            fprintf(stderr, "usage: decode_bench [--len T] [--reps R] [--threads N] "
                            "[--text FILE] [--train-steps S]\n");
            return 2;
        }
    }
    if (T < 64 || T % 64 || reps < 1 || reps > 16 || threads < 1 || train_steps < 1) {
        fprintf(stderr, "decode_bench: --len a multiple of 64, --reps 1..16, --threads >= 1\n");
        return 2;
    }
    bench_decode(T, reps, threads);
    bench_train(threads);
    if (text)
        bench_dual(text, train_steps, threads);
    return 0;
}
