/* bench_encode.c: encode throughput of a pyramid on one file at one level, best of RUNS, in
 * MB/s (the pyramid loaded and the file read before the clock starts; the output is
 * allocated afresh in every run, its page faults counted). Also printed: the median run, and
 * MB per second of the process's CPU time (all threads), which other work on the machine
 * moves less than the wall clock: 2 threads that use as much CPU as 1 do no extra work; and
 * how busy the threads were (CPU seconds over wall seconds times threads; the rest they
 * waited), the median over the runs.
 * THREADS may list several counts (1,2): the runs then alternate them, round after round,
 * and a last line gives each count's throughput over the first's as the median of the
 * rounds' ratios, so that a host whose speed drifts moves both sides of every ratio alike.
 * A count written Kx (2x) is the host's reference for K threads: K one-thread encodings of
 * the whole file at once, each by its own thread with its own output, started together and
 * sharing nothing but the pyramid; their throughput counts every copy's bytes. Beside it,
 * K threads on one encoding show what the parallel encoding itself costs (its cut, its
 * glue, its copy into the output, the pieces each thread merges anew), apart from what two
 * busy cores cost each other on the host (a shared cache, memory, the clock).
 * Usage: bench_encode PYR FILE LEVEL THREADS[x][,THREADS[x]...] [RUNS]   (LEVEL -1: the top) */
#include "bench.h"
#include "tok.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_COUNTS = 8 };

/* One of K independent encodings run at once (the Kx reference). */
struct copy {
    const tok *t;
    int level;
    const char *buf;
    size_t n;
    pthread_barrier_t *go;
    tok_ids ids;
    int rc;
};

static void *copy_run(void *arg)
{
    struct copy *c = arg;
    pthread_barrier_wait(c->go);
    c->rc = tok_encode_parallel(c->t, c->level, c->buf, c->n, 1, &c->ids);
    return NULL;
}

/* K one-thread encodings of buf at once, each on its own thread, into fresh outputs; the
 * tokens of one (all must agree) in *ntok. 0 on success. */
static int encode_copies(const tok *t, int level, const char *buf, size_t n, int k,
                         size_t *ntok)
{
    struct copy c[256];
    pthread_t th[256];
    pthread_barrier_t go;
    if (pthread_barrier_init(&go, NULL, (unsigned)k))
        return -1;
    int started = 0, rc = 0;
    for (; started < k - 1; started++) {
        c[started] = (struct copy){t, level, buf, n, &go, {0}, 0};
        if (pthread_create(&th[started], NULL, copy_run, &c[started])) {
            fprintf(stderr, "bench_encode: cannot start a thread\n");
            exit(1); /* the started ones wait at the barrier for ever */
        }
    }
    c[k - 1] = (struct copy){t, level, buf, n, &go, {0}, 0};
    copy_run(&c[k - 1]);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    *ntok = c[0].ids.n;
    for (int i = 0; i < k; i++) {
        if (c[i].rc || c[i].ids.n != *ntok)
            rc = -1;
        tok_ids_free(&c[i].ids);
    }
    return rc;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr,
                "usage: bench_encode PYR FILE LEVEL THREADS[x][,THREADS[x]...] [RUNS]\n");
        return 2;
    }
    int nts[MAX_COUNTS], copies[MAX_COUNTS], nc = 0;
    for (char *p = argv[4], *end; *p; p = *end ? end + 1 : end) {
        long v = strtol(p, &end, 10);
        int x = end != p && *end == 'x';
        end += x;
        if (end == p || (*end && *end != ',') || v < 1 || v > 256 || nc == MAX_COUNTS) {
            fprintf(stderr,
                    "bench_encode: THREADS: '%s' is not a list of 1 to %d counts "
                    "in 1..256, each maybe with an x\n",
                    argv[4], MAX_COUNTS);
            return 2;
        }
        copies[nc] = x;
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
            if (copies[c] ? encode_copies(t, level, buf, n, nts[c], &ntok[c])
                          : tok_encode_parallel(t, level, buf, n, nts[c], &ids)) {
                fprintf(stderr, "bench_encode: the encoding failed\n");
                return 1;
            }
            /* a reference's seconds are per copy of the file: throughput is K times */
            cpus[c * runs + r] = (cpu() - c0) / (copies[c] ? nts[c] : 1);
            wall[c * runs + r] = (now() - t0) / (copies[c] ? nts[c] : 1);
            if (!copies[c])
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
        /* the share of the threads' time they were busy, run by run: the rest is waiting */
        for (int r = 0; r < runs; r++)
            ratio[r] = u[r] / (w[r] * nts[c]);
        double busy = median(ratio, runs);
        double mw = median(w, runs), mu = median(u, runs); /* sorted: w[0] is the best */
        /* the best run's figure stays the last number of the line (run.sh reads it there) */
        char what[64];
        if (copies[c])
            snprintf(what, sizeof what, "%d independent one-thread encodings", nts[c]);
        else
            snprintf(what, sizeof what, "%d thread%s", nts[c], nts[c] > 1 ? "s" : "");
        printf("pyramask level %d, %s: %zu tokens, median %.2f, per CPU second %.2f "
               "(busy %.1f%%), best %.2f MB/s\n",
               level, what, ntok[c], mb / mw, mb / mu, 100 * busy, mb / w[0]);
    }
    for (int c = 1; c < nc; c++)
        printf("pyramask level %d, %d %s / %d: x%.2f, the median of %d alternated rounds "
               "(%.2f to %.2f)\n",
               level, nts[c], copies[c] ? "independent encodings" : "threads", nts[0], rmed[c],
               runs, rlo[c], rhi[c]);
    free(wall);
    free(cpus);
    free(ratio);
    tok_ids_free(&ids);
    free(buf);
    tok_close(&t);
    return 0;
}
