/* bench_encode.c: encode throughput of a pyramid on one file at one level, best of RUNS, in
 * MB/s (the pyramid loaded and the file read before the clock starts; the output is
 * allocated afresh in every run, its page faults counted). Also printed: the median run, and
 * MB per second of the process's CPU time (all threads), which other work on the machine
 * moves less than the wall clock: 2 threads that use as much CPU as 1 do no extra work.
 * THREADS may list several counts (1,2): the runs then alternate them, round after round,
 * and a last line gives each count's throughput over the first's as the median of the
 * rounds' ratios, so that a host whose speed drifts moves both sides of every ratio alike.
 * Usage: bench_encode PYR FILE LEVEL THREADS[,THREADS...] [RUNS]   (LEVEL -1: the top) */
#include "bench.h"
#include "tok.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_COUNTS = 8 };

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_encode PYR FILE LEVEL THREADS[,THREADS...] [RUNS]\n");
        return 2;
    }
    int nts[MAX_COUNTS], nc = 0;
    for (char *p = argv[4], *end; *p; p = *end ? end + 1 : end) {
        long v = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || v < 1 || v > 256 || nc == MAX_COUNTS) {
            fprintf(stderr,
                    "bench_encode: THREADS: '%s' is not a list of 1 to %d counts "
                    "in 1..256\n",
                    argv[4], MAX_COUNTS);
            return 2;
        }
        nts[nc++] = (int)v;
    }
    tok *t;
    tok_err e = {0};
    if (tok_open(&t, argv[1], &e)) {
        fprintf(stderr, "bench_encode: %s\n", e.msg);
        return 2;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(n ? n : 1);
    if (!buf || fread(buf, 1, n, f) != n)
        return 1;
    fclose(f);
    int level = atoi(argv[3]), runs = argc > 5 ? atoi(argv[5]) : 3;
    if (level < 0)
        level = tok_nlevels(t);
    if (runs < 1)
        runs = 1;
    tok_ids ids = {0};
    size_t ntok[MAX_COUNTS] = {0};
    double *wall = malloc((size_t)(nc * runs) * sizeof *wall),
           *cpus = malloc((size_t)(nc * runs) * sizeof *cpus),
           *ratio = malloc((size_t)runs * sizeof *ratio);
    if (!wall || !cpus || !ratio)
        return 1;
    for (int r = 0; r < runs; r++)
        for (int c = 0; c < nc; c++) {
            tok_ids_free(
                &ids); /* every run writes fresh memory, as one encoding of a file does */
            double t0 = now(), c0 = cpu();
            if (tok_encode_parallel(t, level, buf, n, nts[c], &ids))
                return 1;
            cpus[c * runs + r] = cpu() - c0;
            wall[c * runs + r] = now() - t0;
            ntok[c] = ids.n;
        }
    /* each count over the first, round by round, before the sorts below reorder the runs */
    double rmed[MAX_COUNTS], rlo[MAX_COUNTS], rhi[MAX_COUNTS];
    for (int c = 1; c < nc; c++) {
        for (int r = 0; r < runs; r++)
            ratio[r] = wall[r] / wall[c * runs + r];
        rmed[c] = median(ratio, runs); /* sorted: the range is its ends */
        rlo[c] = ratio[0];
        rhi[c] = ratio[runs - 1];
    }
    double mb = (double)n / 1e6;
    for (int c = 0; c < nc; c++) {
        double *w = wall + c * runs, *u = cpus + c * runs;
        double mw = median(w, runs), mu = median(u, runs); /* sorted: w[0] is the best */
        /* the best run's figure stays the last number of the line (run.sh reads it there) */
        printf("pyramask level %d, %d thread%s: %zu tokens, median %.2f, per CPU second %.2f, "
               "best %.2f MB/s\n",
               level, nts[c], nts[c] > 1 ? "s" : "", ntok[c], mb / mw, mb / mu, mb / w[0]);
    }
    for (int c = 1; c < nc; c++)
        printf("pyramask level %d, %d threads / %d: x%.2f, the median of %d alternated rounds "
               "(%.2f to %.2f)\n",
               level, nts[c], nts[0], rmed[c], runs, rlo[c], rhi[c]);
    free(wall);
    free(cpus);
    free(ratio);
    tok_ids_free(&ids);
    free(buf);
    tok_close(&t);
    return 0;
}
