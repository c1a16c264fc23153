/* sample_bench.c: sampling speed per strategy at the small config (tokens per second, model
 * calls), each against the forward passes it pays for (the same calls of model_score).
 * Usage: sample_bench [--batch B] [--steps N] [--reps R] [--threads N] */
#include "bench.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_rng.h>

#include "bench_model.h"

enum { V = 4096, D = 128, L = 4, H = 4, T = 128, D1 = 1024, D2 = 16, LEVELS = 4 };

static void die(model *m, int rc, const char *what)
{
    bench_die("sample_bench", m, rc, what);
}

static model *open_model(int n_desc, int threads)
{
    return bench_open_model("sample_bench",
                            (model_config){.vocab = V,
                                           .n_mask = 1,
                                           .d = D,
                                           .layers = L,
                                           .heads = H,
                                           .seq_len = T,
                                           .n_desc = n_desc},
                            threads, 7);
}

/* A two-stage chain over the vocabulary (as model_bench's: token -> one of D1 stage-1
 * descriptions, stage 1 -> one of D2 stage-2 ones, at random, every description with a
 * member) and its level-transition tables for `steps` steps uniform in t: a position with
 * uniform u is at level #{l : u < t^(a_l)}, a = 1/4, 1/2, 1 (level 3 the mask), so the
 * chance of level j at time s given level l at time t is the overlap of the two intervals
 * of u over the length of the first. */
struct chain_fixture {
    int32_t stage_first[3], *d1, *d2, *start, *members;
    const int32_t *describe[2];
    double *kernel;
    model_chain chain;
};

static double level_top(int l, double t) /* u < level_top(l, t) puts u at level >= l */
{
    static const double a[LEVELS] = {0, 0.25, 0.5, 1};
    return l == 0 ? 1 : l >= LEVELS ? 0 : pow(t, a[l]);
}

static void chain_build(struct chain_fixture *c, model *m, int steps)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 11);
    int32_t *map1 = malloc((size_t)V * 4), *map2 = malloc((size_t)D1 * 4);
    for (int v = 0; v < V; v++)
        map1[v] = v < D1 ? v : (int32_t)gsl_rng_uniform_int(r, D1);
    for (int e = 0; e < D1; e++)
        map2[e] = e < D2 ? e : (int32_t)gsl_rng_uniform_int(r, D2);
    const int32_t first = V + 1;
    c->stage_first[0] = first;
    c->stage_first[1] = first + D1;
    c->stage_first[2] = first + D1 + D2;
    c->d1 = malloc((size_t)V * 4);
    c->d2 = malloc((size_t)V * 4);
    for (int v = 0; v < V; v++) {
        c->d1[v] = first + map1[v];
        c->d2[v] = first + D1 + map2[map1[v]];
    }
    c->describe[0] = c->d1;
    c->describe[1] = c->d2;
    c->start = malloc((size_t)(D1 + D2 + 1) * 4);
    c->members = malloc((size_t)2 * V * 4);
    int n = 0;
    for (int e = 0; e < D1 + D2; e++) {
        c->start[e] = n;
        for (int v = 0; v < V; v++)
            if (e < D1 ? map1[v] == e : map2[map1[v]] == e - D1)
                c->members[n++] = v;
    }
    c->start[D1 + D2] = n;
    int rc = model_set_layout(m, c->start, c->members);
    if (rc)
        die(m, rc, "model_set_layout");
    c->kernel = calloc((size_t)steps * LEVELS * LEVELS, sizeof *c->kernel);
    for (int i = 0; i < steps; i++) {
        double t = 1 - (double)i / steps, s = 1 - (double)(i + 1) / steps;
        for (int l = 0; l < LEVELS; l++) {
            double lo = level_top(l + 1, t), hi = level_top(l, t);
            for (int j = 0; j <= l; j++) {
                double a = fmax(lo, level_top(j + 1, s)), b = fmin(hi, level_top(j, s));
                double p = hi > lo ? fmax(0, b - a) / (hi - lo) : j == l;
                c->kernel[(i * LEVELS + l) * LEVELS + j] = p;
            }
        }
    }
    c->chain = (model_chain){.length = 2,
                             .stage_first = c->stage_first,
                             .describe = c->describe,
                             .kernel = c->kernel};
    free(map1);
    free(map2);
    gsl_rng_free(r);
}

static void chain_free(struct chain_fixture *c)
{
    free(c->d1);
    free(c->d2);
    free(c->start);
    free(c->members);
    free(c->kernel);
}

typedef struct variant {
    const char *name;
    model_strategy strategy;
    int chain;
    double secs[32], cpus[32];
    long calls;
} variant;

/* one generation of B whole windows from masks */
static void generate(variant *v, model *m, const model_chain *ch, int B, int steps, int rep)
{
    int32_t *tok = malloc((size_t)B * T * sizeof *tok);
    for (int n = 0; n < B * T; n++)
        tok[n] = V;
    model_sample_settings s;
    model_default_sample_settings(&s);
    s.strategy = v->strategy;
    s.steps = steps;
    s.block_len = 32;
    s.chain = v->chain ? ch : NULL;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 100 + (unsigned long)rep);
    long c0 = model_calls(m);
    double t0 = now(), u0 = cpu();
    int rc = model_sample(m, tok, B, T, &s, r);
    v->secs[rep] = now() - t0;
    v->cpus[rep] = cpu() - u0;
    if (rc)
        die(m, rc, v->name);
    v->calls = model_calls(m) - c0;
    gsl_rng_free(r);
    free(tok);
}

int main(int argc, char **argv)
{
    int B = 8, steps = 32, reps = 3, threads = 2;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--batch"))
            B = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--steps"))
            steps = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--reps"))
            reps = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--threads"))
            threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: sample_bench [--batch B] [--steps N] [--reps R] "
                            "[--threads N]\n");
            return 2;
        }
    }
    if (B < 1 || steps < 4 || steps > T || reps < 1 || reps > 32 || threads < 0) {
        fprintf(stderr, "sample_bench: need batch >= 1, 4 <= steps <= %d, 1 <= reps <= 32\n",
                T);
        return 2;
    }
    variant vs[] = {
        {"random", MODEL_SAMPLE_RANDOM, 0, {0}, {0}, 0},
        {"confidence", MODEL_SAMPLE_CONFIDENCE, 0, {0}, {0}, 0},
        {"margin", MODEL_SAMPLE_MARGIN, 0, {0}, {0}, 0},
        {"entropy", MODEL_SAMPLE_ENTROPY, 0, {0}, {0}, 0},
        {"block", MODEL_SAMPLE_BLOCK, 0, {0}, {0}, 0},
        {"threshold", MODEL_SAMPLE_THRESHOLD, 0, {0}, {0}, 0},
        {"remdm", MODEL_SAMPLE_REMDM, 0, {0}, {0}, 0},
        {"chain", MODEL_SAMPLE_CHAIN, 1, {0}, {0}, 0},
        {"chain-confidence", MODEL_SAMPLE_CHAIN_CONFIDENCE, 1, {0}, {0}, 0},
    };
    const int nv = (int)(sizeof vs / sizeof *vs);
    model *flat = open_model(0, threads), *chained = open_model(D1 + D2, threads);
    struct chain_fixture cf;
    chain_build(&cf, chained, steps);
    /* the yardstick: one forward pass of the same (B, T) batch, half masked, as scoring
     * runs it (model_score); the best of 3 after one warm-up, per model */
    int32_t *inp = malloc((size_t)B * T * 4), *tgt = malloc((size_t)B * T * 4);
    float *lp = malloc((size_t)B * T * 4);
    for (int n = 0; n < B * T; n++) {
        tgt[n] = (int32_t)((n * 2654435761u) % V);
        inp[n] = n % 2 ? V : tgt[n];
    }
    double fwd[2] = {1e30, 1e30}, fwd_cpu[2] = {1e30, 1e30};
    for (int k = 0; k < 2; k++)
        for (int rep = 0; rep < 4; rep++) {
            model *m = k ? chained : flat;
            double t0 = now(), u0 = cpu();
            int rc = model_score(m, inp, tgt, B, T, lp);
            if (rc)
                die(m, rc, "model_score");
            if (rep > 0 && now() - t0 < fwd[k])
                fwd[k] = now() - t0;
            if (rep > 0 && cpu() - u0 < fwd_cpu[k])
                fwd_cpu[k] = cpu() - u0;
        }
    /* strategies alternate, rep after rep, so a busy moment of the machine spreads; one
     * warm-up generation each first */
    for (int rep = -1; rep < reps; rep++)
        for (int i = 0; i < nv; i++)
            generate(&vs[i], vs[i].chain ? chained : flat, &cf.chain, B, steps,
                     rep < 0 ? 0 : rep);
    printf("sample: %d sequences of %d tokens from masks, V %d d %d L %d H %d, %d steps "
           "(block_len 32; threshold 0.9; remdm cap, eta 0.02; chain: %d and %d descriptions), "
           "%d threads, untrained weights, median of %d\n",
           B, T, V, D, L, H, steps, D1, D2, threads, reps);
    printf("  %-18s %10s %8s %11s %10s %9s %9s\n", "strategy", "tokens/s", "calls", "tok/cpu-s",
           "s/call", "fwd wall", "fwd cpu");
    for (int i = 0; i < nv; i++) {
        qsort(vs[i].secs, (size_t)reps, sizeof(double), cmp_double);
        qsort(vs[i].cpus, (size_t)reps, sizeof(double), cmp_double);
        double sec = vs[i].secs[reps / 2], cs = vs[i].cpus[reps / 2];
        /* the share of the sampler's time (wall) and CPU seconds that the calls' forward
         * passes alone take (model_score's): 1 = nothing but the network */
        double calls = (double)vs[i].calls;
        printf("  %-18s %10.1f %8ld %11.1f %10.4f %9.2f %9.2f\n", vs[i].name, B * T / sec,
               vs[i].calls, B * T / cs, sec / calls, calls * fwd[vs[i].chain] / sec,
               calls * fwd_cpu[vs[i].chain] / cs);
    }
    printf("  one forward pass (model_score, %d x %d, best of 3): %.4f s (%.4f CPU s) flat, "
           "%.4f s (%.4f CPU s) with descriptions\n",
           B, T, fwd[0], fwd_cpu[0], fwd[1], fwd_cpu[1]);
    printf("threshold's calls follow the model's confidence: untrained weights commit one "
           "position per sequence and call (the most calls it can make)\n");
    free(inp);
    free(tgt);
    free(lp);
    chain_free(&cf);
    model_close(&flat);
    model_close(&chained);
    return 0;
}
