/* bench_encode.c: encode throughput of a pyramid on one file at one level with N threads,
 * best of RUNS, in MB/s (the pyramid loaded and the file read before the clock starts; the
 * output is allocated afresh in every run, its page faults counted).
 * Usage: bench_encode PYR FILE LEVEL THREADS [RUNS]   (LEVEL -1: the top level) */
#include "tok.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_encode PYR FILE LEVEL THREADS [RUNS]\n");
        return 2;
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
    int level = atoi(argv[3]), nt = atoi(argv[4]), runs = argc > 5 ? atoi(argv[5]) : 3;
    if (level < 0)
        level = tok_nlevels(t);
    tok_ids ids = {0};
    double best = 1e30;
    for (int r = 0; r < runs; r++) {
        tok_ids_free(&ids); /* every run writes fresh memory, as one encoding of a file does */
        double t0 = now();
        if (tok_encode_parallel(t, level, buf, n, nt, &ids))
            return 1;
        double s = now() - t0;
        if (s < best)
            best = s;
    }
    printf("pyramask level %d, %d thread%s: %zu tokens, %.2f MB/s\n", level, nt,
           nt > 1 ? "s" : "", ids.n, (double)n / 1e6 / best);
    tok_ids_free(&ids);
    free(buf);
    tok_close(&t);
    return 0;
}
