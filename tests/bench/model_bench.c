/* model_bench.c: libmodel's speed: tokens/s of a training step (forward, backward, AdamW)
 * and of scoring for a named config, a chain's training step against flat masking's, and
 * this machine's measured cblas_sgemm peak. */
#include "bench.h"
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_rng.h>

#include "model.h"

/* GFLOPS of n x n x n sgemms at `threads` threads: with sustain 0 the best single product
 * of 20 (a burst of tens of milliseconds); otherwise the best of 3 rounds of back-to-back
 * products lasting `sustain` seconds each, the same kind of figure as a training round's */
static double sgemm_peak(int n, int threads, double sustain)
{
    openblas_set_num_threads(threads);
    float *a = malloc((size_t)n * n * 4), *b = malloc((size_t)n * n * 4);
    float *c = malloc((size_t)n * n * 4);
    for (size_t i = 0; i < (size_t)n * n; i++) {
        a[i] = (float)(i % 7) * 0.1f;
        b[i] = (float)(i % 5) * 0.1f;
    }
    double best = 0;
    for (int rep = 0; rep < (sustain > 0 ? 3 : 20); rep++) {
        double t0 = now(), dt;
        long k = 0;
        do {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n,
                        0.0f, c, n);
            k++;
        } while ((dt = now() - t0) < sustain);
        double g = 2.0 * n * n * n * k / dt / 1e9;
        best = g > best ? g : best;
    }
    free(a);
    free(b);
    free(c);
    return best;
}

static int die(model *m, int rc, const char *what)
{
    fprintf(stderr, "model_bench: %s: %s: %s\n", what, model_strerror(rc), model_errmsg(m));
    exit(1);
}

/* One training step (forward, backward, AdamW). */
static void train_step(model *m, const model_optim *o, const int32_t *inp, const int32_t *tgt,
                       const float *w, int B, int T)
{
    float loss;
    int rc;
    if ((rc = model_forward(m, inp, tgt, w, B, T, &loss, NULL)) || (rc = model_zero_grad(m)) ||
        (rc = model_backward(m)) || (rc = model_update(m, o, NULL)))
        die(m, rc, "train");
}

/* The chain case: the small config trained on a two-stage chain (D1 stage-1 descriptions,
 * D2 stage-2 ones) against the same model trained with flat masking, rounds alternating,
 * best of each. Both batches put sequence b at t = (b + 1/2) / B with one uniform per
 * position (a hash): flat masks it when u < t; the chain puts it at level
 * #{l : u < t^(a_l)}, a = 1/4, 1/2, 1 (libmask's shape 1/2), so the masks are the same and
 * the chain adds descriptions where flat masking has clean tokens. skew: stage-2 sizes
 * ~ 1/k (a class map's few big classes) instead of equal. */
static int bench_chain(int steps, int rounds, int threads, int D1, int D2, int skew)
{
    const int V = 4096, K = 1, B = 32, T = 128, N = B * T, D = D1 + D2, VK = V + K;
    model_settings s;
    model_default_settings(&s);
    s.config = (model_config){
        .vocab = V, .n_mask = K, .d = 128, .layers = 4, .heads = 4, .seq_len = T};
    s.threads = threads;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    model *flat = NULL, *ch = NULL;
    int rc = model_open(&flat, &s, r);
    if (rc)
        die(flat, rc, "open");
    s.config.n_desc = D;
    if ((rc = model_open(&ch, &s, r)))
        die(ch, rc, "open");
    /* maps: token -> stage 1 uniform at random, stage 1 -> stage 2 uniform or ~ 1/k */
    int32_t *map1 = malloc((size_t)V * 4), *map2 = malloc((size_t)D1 * 4);
    double *cum = malloc((size_t)D2 * sizeof *cum), tot = 0;
    for (int k = 0; k < D2; k++)
        cum[k] = (tot += skew ? 1.0 / (k + 1) : 1.0);
    for (int e = 0; e < D1; e++) {
        double u = gsl_rng_uniform(r) * tot;
        int k = 0;
        while (k < D2 - 1 && u >= cum[k])
            k++;
        map2[e] = e < D2 ? e : k; /* every stage-2 description has a member */
    }
    for (int v = 0; v < V; v++)
        map1[v] = v < D1 ? v : (int32_t)gsl_rng_uniform_int(r, (unsigned long)D1);
    int32_t *start = malloc((size_t)(D + 1) * 4), *members = malloc((size_t)2 * V * 4);
    int n = 0, big = 0;
    for (int e = 0; e < D; e++) {
        start[e] = n;
        for (int v = 0; v < V; v++)
            if (e < D1 ? map1[v] == e : map2[map1[v]] == e - D1)
                members[n++] = v;
        big = n - start[e] > big ? n - start[e] : big;
    }
    start[D] = n;
    if ((rc = model_set_layout(ch, start, members)))
        die(ch, rc, "layout");
    int32_t *fin = malloc((size_t)N * 4), *cin = malloc((size_t)N * 4);
    int32_t *ftg = malloc((size_t)N * 4), *ctg = malloc((size_t)N * 4);
    float *w = malloc((size_t)N * 4);
    long at[4] = {0};
    for (int b = 0; b < B; b++) {
        double t = (b + 0.5) / B;
        for (int i = 0; i < T; i++) {
            int p = b * T + i;
            int32_t x = (int32_t)gsl_rng_uniform_int(r, V);
            uint32_t h = (uint32_t)i * 2654435761u + (uint32_t)b * 40503u;
            double u = h / 4294967296.0;
            int level = (u < pow(t, 0.25)) + (u < pow(t, 0.5)) + (u < t);
            int32_t states[4] = {x, VK + map1[x], VK + D1 + map2[map1[x]], V};
            fin[p] = u < t ? V : x;
            ftg[p] = x;
            cin[p] = states[level];
            ctg[p] = states[level ? level - 1 : 0];
            w[p] = (float)(1.0 / t);
            at[level]++;
        }
    }
    model_optim o;
    model_default_optim(&o);
    double best[2] = {1e30, 1e30}, best_cpu[2] = {1e30, 1e30};
    for (int round = -1; round < rounds; round++)
        for (int which = 0; which < 2; which++) {
            model *m = which ? ch : flat;
            int nsteps = round < 0 ? 2 : steps;
            double t0 = now(), c0 = cpu();
            for (int i = 0; i < nsteps; i++)
                train_step(m, &o, which ? cin : fin, which ? ctg : ftg, w, B, T);
            double dt = (now() - t0) / nsteps, dc = (cpu() - c0) / nsteps;
            if (round >= 0 && dt < best[which])
                best[which] = dt;
            if (round >= 0 && dc < best_cpu[which])
                best_cpu[which] = dc;
        }
    /* ratio: wall time per step, chain over flat; cpu_ratio: CPU seconds (what the work
     * costs, whatever else the machine runs) */
    printf("config=chain D1=%d D2=%d skew=%d largest=%d flat_train_tok_s=%.1f "
           "chain_train_tok_s=%.1f ratio=%.3f cpu_ratio=%.3f tokens=%.3f stage1=%.3f "
           "stage2=%.3f mask=%.3f\n",
           D1, D2, skew, big, N / best[0], N / best[1], best[1] / best[0],
           best_cpu[1] / best_cpu[0], (double)at[0] / N, (double)at[1] / N, (double)at[2] / N,
           (double)at[3] / N);
    free(map1);
    free(map2);
    free(cum);
    free(start);
    free(members);
    free(fin);
    free(cin);
    free(ftg);
    free(ctg);
    free(w);
    model_close(&flat);
    model_close(&ch);
    gsl_rng_free(r);
    return 0;
}

int main(int argc, char **argv)
{
    model_config c = {
        .vocab = 4096, .n_mask = 1, .d = 128, .layers = 4, .heads = 4, .seq_len = 128};
    int B = 32, steps = 5, rounds = 3, threads = 2, do_train = 1, do_score = 1;
    int chain = 0, D1 = 1024, D2 = 16, skew = 0;
    const char *name = "small";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "small"))
            ;
        else if (!strcmp(argv[i], "medium")) {
            c = (model_config){
                .vocab = 8192, .n_mask = 1, .d = 256, .layers = 6, .heads = 8, .seq_len = 256};
            B = 16;
            name = "medium";
        } else if (!strcmp(argv[i], "peak")) {
            printf("sgemm_peak_1t=%.1f sgemm_peak_2t=%.1f sgemm_sustained_2t=%.1f\n",
                   sgemm_peak(1536, 1, 0), sgemm_peak(1536, 2, 0), sgemm_peak(1536, 2, 1.0));
            return 0;
        } else if (!strcmp(argv[i], "chain"))
            chain = 1;
        else if (!strncmp(argv[i], "--d1=", 5))
            D1 = atoi(argv[i] + 5);
        else if (!strncmp(argv[i], "--d2=", 5))
            D2 = atoi(argv[i] + 5);
        else if (!strcmp(argv[i], "--skew"))
            skew = 1;
        else if (!strncmp(argv[i], "--steps=", 8))
            steps = atoi(argv[i] + 8);
        else if (!strcmp(argv[i], "--train-only"))
            do_score = 0;
        else if (!strcmp(argv[i], "--score-only"))
            do_train = 0;
        else if (!strncmp(argv[i], "--rounds=", 9))
            rounds = atoi(argv[i] + 9);
        else if (!strncmp(argv[i], "--threads=", 10))
            threads = atoi(argv[i] + 10);
        else {
            fprintf(stderr,
                    "usage: model_bench small|medium|peak|chain [--steps=N] [--rounds=N] "
                    "[--threads=N] [--train-only|--score-only] [--d1=N] [--d2=N] "
                    "[--skew]\n");
            return 2;
        }
    }
    if (chain) {
        if (D1 < D2 || D2 < 1 || D1 > 4096) {
            fprintf(stderr, "model_bench: chain: need 1 <= d2 <= d1 <= 4096\n");
            return 2;
        }
        return bench_chain(steps, rounds, threads, D1, D2, skew);
    }
    const int T = c.seq_len, N = B * T, V = c.vocab;
    model_settings s;
    model_default_settings(&s);
    s.config = c;
    s.threads = threads;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    model *m = NULL;
    int rc = model_open(&m, &s, r);
    if (rc)
        die(m, rc, "open");
    /* a training batch as the harness makes them: sequence b at t = (b + 1/2) / B, each
     * position masked with probability t (by a hash both peers share, so they mask the
     * same positions), ELBO weights 1/t */
    int32_t *inp = malloc((size_t)N * 4), *tgt = malloc((size_t)N * 4);
    float *w = malloc((size_t)N * 4), *lp = malloc((size_t)N * 4);
    long masked = 0;
    for (int b = 0; b < B; b++) {
        double t = (b + 0.5) / B;
        for (int i = 0; i < T; i++) {
            int n = b * T + i;
            tgt[n] = (int32_t)gsl_rng_uniform_int(r, V);
            uint32_t h = (uint32_t)i * 2654435761u + (uint32_t)b * 40503u;
            int mk = h / 4294967296.0 < t;
            inp[n] = mk ? V : tgt[n];
            w[n] = (float)(1.0 / t);
            masked += mk;
        }
    }
    /* best of `rounds` rounds of `steps` steps each (after 2 warm-up steps): the machine
     * is shared, the best round is the one least disturbed; the peer is timed the same way */
    model_optim o;
    model_default_optim(&o);
    float loss;
    double t_train = 1e30, t_score = 1e30, c_train = 1e30, c_score = 1e30;
    for (int round = -1; round < rounds && do_train; round++) {
        int n = round < 0 ? 2 : steps;
        double t0 = now(), c0 = cpu();
        for (int i = 0; i < n; i++)
            if ((rc = model_forward(m, inp, tgt, w, B, T, &loss, NULL)) ||
                (rc = model_zero_grad(m)) || (rc = model_backward(m)) ||
                (rc = model_update(m, &o, NULL)))
                die(m, rc, "train");
        if (round >= 0 && now() - t0 < t_train) {
            t_train = now() - t0;
            c_train = cpu() - c0;
        }
    }
    for (int round = -1; round < rounds && do_score; round++) {
        int n = round < 0 ? 2 : steps;
        double t0 = now(), c0 = cpu();
        for (int i = 0; i < n; i++)
            if ((rc = model_score(m, inp, tgt, B, T, lp)))
                die(m, rc, "score");
        if (round >= 0 && now() - t0 < t_score) {
            t_score = now() - t0;
            c_score = cpu() - c0;
        }
    }
    /* a score with its masked-token accuracy: a second forward for the argmax (model_sample,
     * confidence, one step, temperature 0) against the score's own forward
     * (model_score_argmax), rounds alternated */
    double t_acc2 = 1e30, t_acc1 = 1e30;
    int32_t *pred = malloc((size_t)N * 4);
    model_sample_settings ss;
    model_default_sample_settings(&ss);
    ss.strategy = MODEL_SAMPLE_CONFIDENCE;
    ss.steps = 1;
    ss.temperature = 0;
    for (int round = -1; round < rounds && do_score; round++) {
        int n = round < 0 ? 1 : steps;
        double t0 = now();
        for (int i = 0; i < n; i++) {
            memcpy(pred, inp, (size_t)N * 4);
            if ((rc = model_score(m, inp, tgt, B, T, lp)) ||
                (rc = model_sample(m, pred, B, T, &ss, r)))
                die(m, rc, "score and sample");
        }
        if (round >= 0 && now() - t0 < t_acc2)
            t_acc2 = now() - t0;
        t0 = now();
        for (int i = 0; i < n; i++)
            if ((rc = model_score_argmax(m, inp, tgt, B, T, lp, pred)))
                die(m, rc, "score_argmax");
        if (round >= 0 && now() - t0 < t_acc1)
            t_acc1 = now() - t0;
    }
    free(pred);
    /* tokens per CPU-second: what the work costs, whatever else the machine is doing */
    printf("config=%s train_tok_s=%.1f score_tok_s=%.1f masked=%.3f train_tok_cpu_s=%.1f "
           "score_tok_cpu_s=%.1f score_acc_two_pass_tok_s=%.1f score_acc_one_pass_tok_s=%.1f\n",
           name, (double)N * steps / t_train, (double)N * steps / t_score, (double)masked / N,
           (double)N * steps / c_train, (double)N * steps / c_score, (double)N * steps / t_acc2,
           (double)N * steps / t_acc1);
    free(inp);
    free(tgt);
    free(w);
    free(lp);
    gsl_rng_free(r);
    model_close(&m);
    return 0;
}
