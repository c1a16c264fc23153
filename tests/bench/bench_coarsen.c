/* bench_coarsen.c: the cost of libtok's coarsening maps on a corpus: a pyramid trained on it
 * (one level of SIZE tokens), the corpus encoded, then prefix:0 and cluster:C timed.
 * Usage: bench_coarsen FILE SIZE THREADS C... (prints one line per map; C: cluster counts) */
#include "bench.h"
#include "tok.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_coarsen FILE SIZE THREADS C...\n");
        return 2;
    }
    tok_train_settings s;
    tok_default_train_settings(&s);
    s.levels[0] = atoi(argv[2]);
    s.nthreads = atoi(argv[3]);
    const char *paths[] = {argv[1]};
    tok *t;
    tok_err e = {0};
    if (tok_train_files(&t, &s, paths, 1, &e)) {
        fprintf(stderr, "bench_coarsen: %s\n", tok_errmsg(&e));
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(n ? n : 1);
    if (!buf || fread(buf, 1, n, f) != n)
        return 1;
    fclose(f);
    tok_ids ids = {0};
    if (tok_encode_parallel(t, 1, buf, n, s.nthreads, &ids))
        return 1;
    int32_t V = tok_vocab_size(t, 1);
    int32_t *map = malloc((size_t)V * sizeof *map);
    double t0 = now();
    if (tok_prefix_map(t, 1, 0, map, &e))
        return 1;
    printf("prefix:0 of %d tokens: %.4f s\n", V, now() - t0);
    for (int a = 4; a < argc; a++) {
        int32_t C = atoi(argv[a]);
        tok_cluster_settings cs;
        tok_default_cluster_settings(&cs);
        cs.nthreads = s.nthreads;
        tok_cluster_stats st;
        t0 = now();
        if (tok_cluster_map(ids.ids, ids.n, V, C, 1, &cs, map, &st, &e)) {
            fprintf(stderr, "bench_coarsen: %s\n", tok_errmsg(&e));
            return 1;
        }
        printf("cluster:%d of %d tokens, %zu ids, %d thread%s: %.2f s (%d iterations%s, "
               "%d embedded, %lld non-zeros, objective %.2f)\n",
               C, V, ids.n, s.nthreads, s.nthreads > 1 ? "s" : "", now() - t0, st.iterations,
               st.converged ? ", converged" : "", st.embedded, (long long)st.nonzeros,
               st.objective);
    }
    free(map);
    free(buf);
    tok_ids_free(&ids);
    tok_close(&t);
    return 0;
}
