/* test_coarsen.c: the coarsening maps. prefix:N against the pieces of real encodings of whole
 * corpora; cluster:C against planted groups, an independent PPMI and k-means objective,
 * determinism for a seed and any thread count, its rules for rowless ids, its errors. */
#include "test_tok.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- prefix:N ---- */

/* The map's invariants at (level k, piece level N) for every id of level k. */
static void check_prefix_invariants(const tok *t, int k, int N, const int32_t *map, int trained,
                                    const char *what)
{
    int32_t V = tok_vocab_size(t, k), D = tok_vocab_size(t, N);
    uint8_t *seen = calloc((size_t)D, 1);
    int32_t distinct = 0, bad = 0;
    for (int32_t id = 0; id < V && bad < 3; id++) {
        int32_t d = map[id];
        size_t tl, pl;
        const uint8_t *tb = tok_token_bytes(t, id, &tl);
        const uint8_t *pb = d >= 0 && d < D ? tok_prefix_piece_bytes(t, N, d, &pl) : NULL;
        int ok = pb && pl <= tl && !memcmp(pb, tb, pl);
        if (ok && N > 0)
            ok = tok_token_level(t, d) <= N;
        /* a trained pyramid's level-N tokens are the ids below D: their own pieces */
        if (ok && trained && id < D)
            ok = d == id;
        if (!ok) {
            CHECK(0, "%s: prefix:%d of level %d sends token %d ('%.*s') to %d ('%.*s')", what,
                  N, k, id, (int)tl, (const char *)tb, d, pb ? (int)pl : 0,
                  pb ? (const char *)pb : "");
            bad++;
            continue;
        }
        distinct += !seen[d];
        seen[d] = 1;
    }
    CHECK(distinct <= D && D < V, "%s: prefix:%d of level %d: %d descriptions of %d tokens",
          what, N, k, distinct, V);
    free(seen);
}

/* The map equals the first level-N token of every level-k token of the text, in context.
 * The text is encoded in pieces of 512 KB (cut anywhere: the property holds for any text), at
 * all levels at once; a level-k token's first level-N token is the one holding its first
 * byte. */
static void check_prefix_in_context(const tok *t, blob text, const char *what)
{
    enum { PIECE = 512 * 1024 };
    int L = tok_nlevels(t);
    tok_encoder *e;
    CHECK_INT(0, tok_encoder_open(&e, t));
    int32_t *maps[TOK_MAX_LEVELS + 1][TOK_MAX_LEVELS + 1] = {{0}};
    for (int k = 1; k <= L; k++)
        for (int N = 0; N < k; N++) {
            tok_err err = {0};
            maps[k][N] = malloc((size_t)tok_vocab_size(t, k) * sizeof(int32_t));
            CHECK_OK(tok_prefix_map(t, k, N, maps[k][N], &err), err);
            check_prefix_invariants(t, k, N, maps[k][N], 1, what);
        }
    size_t wrong = 0, checked = 0;
    for (size_t off = 0; off < text.n && wrong < 5; off += PIECE) {
        size_t len = text.n - off < PIECE ? text.n - off : PIECE;
        tok_align a;
        int rc = tok_encode_aligned(e, 0, L, text.p + off, len, &a);
        CHECK_INT(0, rc);
        if (rc)
            break;
        for (int k = 1; k <= L; k++)
            for (size_t u = 0; u < a.n[k]; u++) {
                size_t b = a.first[k][u]; /* the token's first byte, a level-0 token */
                for (int N = 0; N < k; N++) {
                    size_t i = N ? a.unit[N][b] : b;
                    size_t blen;
                    int32_t piece = a.ids[N][i];
                    /* level 0: the description is the byte, the encoding gives its token */
                    if (N == 0)
                        piece = tok_token_bytes(t, piece, &blen)[0];
                    checked++;
                    if (a.start[N][i] != a.start[k][u] || maps[k][N][a.ids[k][u]] != piece) {
                        if (wrong++ < 5)
                            CHECK(0,
                                  "%s: byte %zu: level-%d token %d starts with level-%d token "
                                  "%d at byte %zu; prefix:%d gives %d",
                                  what, off + a.start[k][u], k, a.ids[k][u], N, piece,
                                  off + a.start[N][i], N, maps[k][N][a.ids[k][u]]);
                    }
                }
            }
        tok_align_free(&a);
    }
    CHECK(checked > text.n / 2, "%s: %zu tokens checked in %zu bytes", what, checked, text.n);
    for (int k = 1; k <= L; k++)
        for (int N = 0; N < k; N++)
            free(maps[k][N]);
    tok_encoder_close(&e);
}

static void test_prefix_errors(const tok *t)
{
    int L = tok_nlevels(t);
    int32_t *map = malloc((size_t)tok_vocab_size(t, L) * sizeof *map);
    tok_err e = {0};
    CHECK_INT(TOK_ERANGE, tok_prefix_map(t, 0, 0, map, &e));
    CHECK(e.code == TOK_ERANGE && e.msg[0], "level 0: '%s'", e.msg);
    CHECK_INT(TOK_ERANGE, tok_prefix_map(t, L + 1, 0, map, &e));
    CHECK_INT(TOK_EINVAL, tok_prefix_map(t, 2, 2, map, &e));
    CHECK(strstr(e.msg, "prefix:2 of level 2") != NULL, "message '%s'", e.msg);
    CHECK_INT(TOK_EINVAL, tok_prefix_map(t, 2, -1, map, &e));
    CHECK_INT(TOK_EINVAL, tok_prefix_map(t, 2, 0, NULL, &e));
    CHECK_INT(0, tok_prefix_map(t, 2, 1, map, &e));
    CHECK(e.code == 0 && !e.msg[0], "a success clears the record ('%s')", e.msg);
    size_t len;
    CHECK(tok_prefix_piece_bytes(t, 1, tok_vocab_size(t, 1), &len) == NULL,
          "piece out of range");
    CHECK(tok_prefix_piece_bytes(t, 0, 256, &len) == NULL, "byte 256");
    CHECK(tok_prefix_piece_bytes(t, L + 1, 0, &len) == NULL, "level L + 1");
    const uint8_t *b = tok_prefix_piece_bytes(t, 0, 200, &len);
    CHECK(b && len == 1 && b[0] == 200, "byte 200");
    free(map);
}

/* An imported tiktoken pyramid: prefix:0 is the first byte (its byte tokens are not ids
 * 0..255), nothing finer is defined. */
static void test_prefix_tiktoken(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tiktoken/cl100k_subset.tiktoken", fixture_dir);
    tok *t = NULL;
    tok_err e = {0};
    int rc = tok_import_tiktoken(&t, path, NULL, &e);
    CHECK_OK(rc, e);
    if (rc)
        return;
    int32_t V = tok_vocab_size(t, 1);
    int32_t *map = malloc((size_t)V * sizeof *map);
    CHECK_OK(tok_prefix_map(t, 1, 0, map, &e), e);
    check_prefix_invariants(t, 1, 0, map, 0, "tiktoken");
    snprintf(path, sizeof path, "%s/tiktoken/text.txt", fixture_dir);
    blob text = read_blob(path);
    tok_encoder *enc;
    tok_encoder_open(&enc, t);
    tok_align a;
    CHECK_INT(0, tok_encode_aligned(enc, 0, 1, text.p, text.n, &a));
    size_t wrong = 0;
    for (size_t u = 0; u < a.n[1]; u++) {
        size_t len;
        wrong += map[a.ids[1][u]] != tok_token_bytes(t, a.ids[0][a.first[1][u]], &len)[0];
    }
    CHECK(wrong == 0 && a.n[1] > 100, "tiktoken: prefix:0 wrong at %zu of %zu tokens", wrong,
          a.n[1]);
    CHECK_INT(TOK_EINVAL, tok_prefix_map(t, 1, 1, map, &e));
    CHECK(strstr(e.msg, "tiktoken") && strstr(e.msg, "prefix:0"), "message '%s'", e.msg);
    tok_align_free(&a);
    tok_encoder_close(&enc);
    free_blob(&text);
    free(map);
    tok_close(&t);
}

/* ---- cluster:C ---- */

static unsigned long long rng_next(unsigned long long *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Two groups of ids in disjoint contexts: sentences of one group's ids (Zipf-like within
 * the group), separated by boundaries. Group of v: v % 3 == 0 (A) or not (B). */
static int32_t *planted_corpus(size_t n, int32_t V, unsigned long long seed)
{
    int32_t *ids = malloc(n * sizeof *ids);
    unsigned long long s = seed * 0x9e3779b97f4a7c15ULL + 1;
    size_t i = 0;
    while (i < n) {
        int group = (int)(rng_next(&s) % 2);
        size_t len = 3 + rng_next(&s) % 15;
        for (size_t j = 0; j < len && i < n; j++) {
            int32_t v;
            do {
                /* smaller ids more often: the smaller of two draws */
                int32_t a = (int32_t)(rng_next(&s) % (unsigned)V);
                int32_t b = (int32_t)(rng_next(&s) % (unsigned)V);
                v = a < b ? a : b;
            } while ((v % 3 == 0) != (group == 0));
            ids[i++] = v;
        }
        if (i < n)
            ids[i++] = -1;
    }
    return ids;
}

static void test_planted(void)
{
    const int32_t V = 40;
    const size_t n = 20000;
    int32_t *ids = planted_corpus(n, V, 7), map[46];
    tok_cluster_settings s;
    tok_default_cluster_settings(&s);
    for (uint64_t seed = 1; seed <= 8; seed++) {
        s.nthreads = (int)(seed % 3) + 1;
        tok_err e = {0};
        tok_cluster_stats st;
        /* ids 40..45 never occur: they join the larger group, B */
        CHECK_OK(tok_cluster_map(ids, n, V + 6, 2, seed, &s, map, &st, &e), e);
        int32_t wrong = 0;
        for (int32_t v = 0; v < V + 6; v++)
            wrong += map[v] != (v >= V || v % 3 != 0); /* cluster 0 holds id 0: group A */
        CHECK(wrong == 0, "seed %d: %d of %d ids outside their planted group", (int)seed, wrong,
              V + 6);
        CHECK(st.converged && st.embedded == V && st.present == V,
              "seed %d: converged %d, %d embedded of %d present", (int)seed, st.converged,
              st.embedded, st.present);
    }
    free(ids);
}

/* A corpus of a random sparse Markov chain over ids 0..49 (ids 50..59 never occur), with
 * boundaries, for the independent recomputation. */
static int32_t *markov_corpus(size_t n, int32_t *V)
{
    enum { NV = 60, NP = 50, NS = 4 };
    static int32_t succ[NP][NS];
    unsigned long long s = 12345;
    for (int v = 0; v < NP; v++)
        for (int j = 0; j < NS; j++)
            succ[v][j] = (int32_t)(rng_next(&s) % NP);
    int32_t *ids = malloc(n * sizeof *ids);
    int32_t cur = 0;
    for (size_t i = 0; i < n; i++) {
        if (rng_next(&s) % 40 == 0) {
            ids[i] = -1;
            cur = (int32_t)(rng_next(&s) % NP);
            continue;
        }
        unsigned long long r = rng_next(&s) % 10; /* successors 0..3 with weights 4, 3, 2, 1 */
        int j = r < 4 ? 0 : r < 7 ? 1 : r < 9 ? 2 : 3;
        if (rng_next(&s) % 7 == 0) /* and some noise */
            cur = (int32_t)(rng_next(&s) % NP);
        else
            cur = succ[cur][j];
        ids[i] = cur;
    }
    *V = NV;
    return ids;
}

/* The PPMI rows as tok.h defines them, computed densely: rows[x * 2F + ...]; returns F'. */
static int32_t reference_rows(const int32_t *ids, size_t n, int32_t V, int32_t F, double *rows)
{
    double *cnt = calloc((size_t)V * (size_t)V * 2, sizeof *cnt); /* [x][side][f] */
    double *nl = calloc((size_t)V, sizeof *nl), *nr = calloc((size_t)V, sizeof *nr);
    double *freq = calloc((size_t)V, sizeof *freq), P = 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= 0)
            freq[ids[i]]++;
    for (size_t i = 0; i + 1 < n; i++) {
        int32_t a = ids[i], b = ids[i + 1];
        if (a < 0 || b < 0)
            continue;
        cnt[((size_t)b * 2 + 0) * (size_t)V + (size_t)a]++; /* a is b's left neighbour */
        cnt[((size_t)a * 2 + 1) * (size_t)V + (size_t)b]++; /* b is a's right neighbour */
        nr[a]++;
        nl[b]++;
        P++;
    }
    /* contexts: by count, then by id (selection by repeated maximum) */
    int32_t *ctx = malloc((size_t)V * sizeof *ctx), nf = 0;
    uint8_t *taken = calloc((size_t)V, 1);
    while (nf < F) {
        int32_t best = -1;
        for (int32_t v = 0; v < V; v++)
            if (!taken[v] && freq[v] > 0 && (best < 0 || freq[v] > freq[best]))
                best = v;
        if (best < 0)
            break;
        taken[best] = 1;
        ctx[nf++] = best;
    }
    for (int32_t x = 0; x < V; x++) {
        double *r = rows + (size_t)x * 2 * (size_t)F, ss = 0;
        for (int32_t j = 0; j < 2 * F; j++)
            r[j] = 0;
        for (int side = 0; side < 2; side++)
            for (int32_t i = 0; i < nf; i++) {
                int32_t f = ctx[i];
                double c = cnt[((size_t)x * 2 + (size_t)side) * (size_t)V + (size_t)f];
                if (c == 0)
                    continue;
                double pmi = log(c * P / ((side ? nr[x] : nl[x]) * (side ? nl[f] : nr[f])));
                r[side * F + i] = pmi > 0 ? pmi : 0;
                ss += r[side * F + i] * r[side * F + i];
            }
        for (int32_t j = 0; j < 2 * F && ss > 0; j++)
            r[j] /= sqrt(ss);
    }
    free(cnt);
    free(nl);
    free(nr);
    free(freq);
    free(ctx);
    free(taken);
    return nf;
}

/* The map against an independent recomputation: the embedded ids, the final objective from
 * the map's clusters, each point's nearest cluster mean its own, rowless ids in the largest. */
static void test_reference(void)
{
    int32_t V;
    const size_t n = 30000;
    int32_t *ids = markov_corpus(n, &V);
    const int32_t F = 20, C = 6;
    double *rows = malloc((size_t)V * 2 * F * sizeof *rows);
    int32_t nf = reference_rows(ids, n, V, F, rows);
    int32_t *map = malloc((size_t)V * sizeof *map);
    tok_cluster_settings s;
    tok_default_cluster_settings(&s);
    s.features = F;
    s.max_iter = 1000;
    tok_cluster_stats st;
    tok_err e = {0};
    CHECK_OK(tok_cluster_map(ids, n, V, C, 3, &s, map, &st, &e), e);
    int32_t embedded = 0;
    uint8_t has_row[60];
    for (int32_t x = 0; x < V; x++) {
        double ss = 0;
        for (int32_t j = 0; j < 2 * F; j++)
            ss += rows[x * 2 * F + j] * rows[x * 2 * F + j];
        has_row[x] = ss > 0;
        embedded += has_row[x];
    }
    CHECK_INT(F, nf);
    CHECK_INT(nf, st.features);
    CHECK_INT(50, st.present);
    CHECK_INT(embedded, st.embedded);
    CHECK(st.converged, "no convergence in %d iterations", st.iterations);
    /* means of the clusters' rows, the objective, local optimality */
    double *mean = calloc((size_t)C * 2 * F, sizeof *mean);
    int32_t size[6] = {0};
    for (int32_t x = 0; x < V; x++) {
        CHECK(map[x] >= 0 && map[x] < C, "id %d in cluster %d", x, map[x]);
        if (!has_row[x])
            continue;
        size[map[x]]++;
        for (int32_t j = 0; j < 2 * F; j++)
            mean[map[x] * 2 * F + j] += rows[x * 2 * F + j];
    }
    for (int32_t c = 0; c < C; c++)
        for (int32_t j = 0; j < 2 * F && size[c]; j++)
            mean[c * 2 * F + j] /= size[c];
    double obj = 0;
    int32_t not_nearest = 0;
    for (int32_t x = 0; x < V; x++) {
        if (!has_row[x])
            continue;
        double d[6];
        for (int32_t c = 0; c < C; c++) {
            d[c] = 0;
            for (int32_t j = 0; j < 2 * F; j++) {
                double diff = rows[x * 2 * F + j] - mean[c * 2 * F + j];
                d[c] += diff * diff;
            }
        }
        obj += d[map[x]];
        for (int32_t c = 0; c < C; c++)
            if (size[c] && d[c] < d[map[x]] - 1e-9)
                not_nearest++;
    }
    CHECK_NEAR(obj, st.objective, 1e-9 * obj);
    CHECK_INT(0, not_nearest);
    /* rowless ids: the largest cluster of the embedded ids plus them, lowest on ties */
    int32_t largest = -1, nrowless = 0;
    for (int32_t x = 0; x < V; x++)
        if (!has_row[x]) {
            nrowless++;
            largest = largest < 0 ? map[x] : largest;
            CHECK(map[x] == largest, "rowless id %d in cluster %d, another in %d", x, map[x],
                  largest);
        }
    CHECK(nrowless >= 10, "%d rowless ids", nrowless);
    for (int32_t c = 0; c < C && largest >= 0; c++)
        CHECK(size[c] < size[largest] || (size[c] == size[largest] && c >= largest),
              "rowless ids joined cluster %d (%d ids with rows), cluster %d has %d", largest,
              size[largest], c, size[c]);
    /* clusters numbered by their smallest id */
    int32_t next = 0;
    for (int32_t x = 0; x < V; x++)
        if (map[x] == next)
            next++;
        else
            CHECK(map[x] < next, "id %d opens cluster %d before cluster %d", x, map[x], next);
    CHECK_INT(C, next);
    free(mean);
    free(map);
    free(rows);
    free(ids);
}

/* Few distinct rows: ids 1..4 only ever between two 0s (identical rows); still C non-empty
 * clusters, and with more clusters than rows the documented fill. */
static void test_few_rows(void)
{
    int32_t ids[401];
    size_t n = 0;
    for (int r = 0; r < 50; r++)
        for (int32_t v = 1; v <= 4; v++) {
            ids[n++] = 0;
            ids[n++] = v;
        }
    ids[n++] = 0;
    int32_t map[10];
    tok_err e = {0};
    tok_cluster_stats st;
    for (int32_t C = 1; C <= 10; C++) {
        CHECK_OK(tok_cluster_map(ids, n, 10, C, 5, NULL, map, &st, &e), e);
        CHECK_INT(5, st.embedded);
        int32_t used[10] = {0}, nonempty = 0;
        for (int32_t v = 0; v < 10; v++)
            if (map[v] >= 0 && map[v] < C && !used[map[v]]++)
                nonempty++;
        CHECK(nonempty == C, "C = %d: %d non-empty clusters", C, nonempty);
    }
    /* C = 8: ids 0..4 each a cluster, rowless 5, 6, 7 one each, 8 and 9 in the largest (all
     * of size one: cluster 0) */
    CHECK_OK(tok_cluster_map(ids, n, 10, 8, 5, NULL, map, &st, &e), e);
    static const int32_t want[10] = {0, 1, 2, 3, 4, 5, 6, 7, 0, 0};
    for (int32_t v = 0; v < 10; v++)
        CHECK(map[v] == want[v], "C = 8: id %d in cluster %d, expected %d", v, map[v], want[v]);
    /* a corpus of one id: no pairs, no rows */
    int32_t one = 3;
    CHECK_OK(tok_cluster_map(&one, 1, 10, 2, 5, NULL, map, &st, &e), e);
    CHECK(st.embedded == 0 && map[0] == 0 && map[1] == 1 && map[9] == 0,
          "one id: %d embedded, map %d %d %d", st.embedded, map[0], map[1], map[9]);
}

struct trace {
    double obj[1000];
    int64_t moved[1000];
    int n;
};

static void record(void *ctx, int iteration, double objective, int64_t moved)
{
    struct trace *t = ctx;
    if (t->n < 1000 && iteration == t->n + 1) {
        t->obj[t->n] = objective;
        t->moved[t->n++] = moved;
    }
}

/* On a real level: C non-empty clusters, a non-increasing objective, the same map for a seed
 * and any thread count, another seed another map, max_iter a bound. */
static void test_real(void)
{
    enum { NC = 160 }; /* enough work per step for threads to be used */
    const tok *t = prose_pyramid();
    blob text = prose_text();
    tok_ids ids = {0};
    CHECK_INT(0, tok_encode_parallel(t, 3, text.p, text.n, 2, &ids));
    int32_t V = tok_vocab_size(t, 3);
    int32_t *map = malloc((size_t)V * sizeof *map), *other = malloc((size_t)V * sizeof *other);
    tok_cluster_settings s;
    tok_default_cluster_settings(&s);
    struct trace *tr = calloc(3, sizeof *tr);
    tok_cluster_stats st, st2;
    tok_err e = {0};
    for (int nt = 1; nt <= 3; nt++) {
        s.nthreads = nt;
        s.progress = record;
        s.progress_ctx = &tr[nt - 1];
        CHECK_OK(tok_cluster_map(ids.ids, ids.n, V, NC, 11, &s, nt == 1 ? map : other,
                                 nt == 1 ? &st : &st2, &e),
                 e);
        if (nt > 1) {
            CHECK(!memcmp(map, other, (size_t)V * sizeof *map), "%d threads: another map", nt);
            CHECK(tr[nt - 1].n == tr[0].n &&
                      !memcmp(tr[0].obj, tr[nt - 1].obj, (size_t)tr[0].n * sizeof(double)),
                  "%d threads: another objective trace", nt);
        }
    }
    int32_t used[NC] = {0}, nonempty = 0;
    for (int32_t v = 0; v < V; v++)
        if (map[v] >= 0 && map[v] < NC && !used[map[v]]++)
            nonempty++;
    CHECK_INT(NC, nonempty);
    /* coarsen_cluster.c runs a step on one thread below 4e6 multiply-adds (nnz x C) */
    CHECK((double)st.nonzeros * NC >= 4e6, "%lld non-zeros: the steps run on one thread",
          (long long)st.nonzeros);
    CHECK(st.embedded > V / 2 && st.converged && tr[0].n == st.iterations && tr[0].n >= 3,
          "%d embedded of %d, converged %d after %d steps, %d reported", st.embedded, V,
          st.converged, st.iterations, tr[0].n);
    int rose = 0;
    for (int i = 1; i < tr[0].n && !rose; i++)
        if (tr[0].obj[i] > tr[0].obj[i - 1] * (1 + 1e-12))
            rose = i;
    CHECK(!rose, "the objective rose from %.12g to %.12g at step %d", tr[0].obj[rose - 1],
          tr[0].obj[rose], rose + 1);
    CHECK(tr[0].obj[tr[0].n - 1] < tr[0].obj[0] && tr[0].moved[tr[0].n - 1] == 0 &&
              tr[0].obj[tr[0].n - 1] == st.objective,
          "objective %.6g -> %.6g (stats %.6g), last step moved %lld", tr[0].obj[0],
          tr[0].obj[tr[0].n - 1], st.objective, (long long)tr[0].moved[tr[0].n - 1]);
    /* seeds */
    s.nthreads = 2;
    s.progress = NULL;
    CHECK_OK(tok_cluster_map(ids.ids, ids.n, V, NC, 11, &s, other, NULL, &e), e);
    CHECK(!memcmp(map, other, (size_t)V * sizeof *map), "seed 11 twice: two maps");
    int differ = 0;
    for (uint64_t seed = 12; seed < 15; seed++) {
        CHECK_OK(tok_cluster_map(ids.ids, ids.n, V, NC, seed, &s, other, NULL, &e), e);
        differ += memcmp(map, other, (size_t)V * sizeof *map) != 0;
    }
    CHECK(differ > 0, "seeds 12..14 all give seed 11's map");
    /* one cluster; the iteration bound */
    CHECK_OK(tok_cluster_map(ids.ids, ids.n, V, 1, 1, &s, other, &st2, &e), e);
    int32_t nonzero = 0;
    for (int32_t v = 0; v < V; v++)
        nonzero += other[v] != 0;
    CHECK_INT(0, nonzero);
    s.max_iter = 2;
    CHECK_OK(tok_cluster_map(ids.ids, ids.n, V, NC, 11, &s, other, &st2, &e), e);
    CHECK(st2.iterations == 2 && !st2.converged && st2.objective >= st.objective,
          "max_iter 2: %d steps, converged %d, objective %g (converged: %g)", st2.iterations,
          st2.converged, st2.objective, st.objective);
    /* the pieces of a prefix map as an alphabet: level-1 ids clustered from level 1 */
    s.max_iter = 100;
    CHECK_INT(0, tok_encode_parallel(t, 1, text.p, text.n, 2, &ids));
    CHECK_OK(tok_cluster_map(ids.ids, ids.n, tok_vocab_size(t, 1), 16, 1, &s, other, &st2, &e),
             e);
    CHECK(st2.embedded > 100 && st2.embedded >= st2.present * 9 / 10,
          "level 1: %d embedded of %d present", st2.embedded, st2.present);
    free(tr);
    free(map);
    free(other);
    tok_ids_free(&ids);
}

static void test_cluster_errors(void)
{
    int32_t ids[] = {0, 1, 2, -1, 1, 0}, map[4];
    tok_err e = {0};
    tok_cluster_settings s;
    tok_default_cluster_settings(&s);
    static const struct {
        int32_t alphabet, C;
        size_t n;
        int features, max_iter, want;
        const char *says;
    } cases[] = {
        {4, 0, 6, 512, 100, TOK_EINVAL, "cluster:0"},
        {4, 5, 6, 512, 100, TOK_EINVAL, "cluster:5"},
        {4, 2, 0, 512, 100, TOK_EINVAL, "no ids"},
        {4, 2, 6, 0, 100, TOK_EINVAL, "features 0"},
        {4, 2, 6, 512, 0, TOK_EINVAL, "max_iter 0"},
        {2, 2, 6, 512, 100, TOK_ERANGE, "id 2 at position 2"},
        {0, 1, 6, 512, 100, TOK_EINVAL, "alphabet of 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        s.features = cases[i].features;
        s.max_iter = cases[i].max_iter;
        int rc = tok_cluster_map(ids, cases[i].n, cases[i].alphabet, cases[i].C, 1, &s, map,
                                 NULL, &e);
        CHECK(rc == cases[i].want && e.code == rc && strstr(e.msg, cases[i].says),
              "case %zu: expected %s saying '%s', got %s: '%s'", i, tok_strerror(cases[i].want),
              cases[i].says, tok_strerror(rc), e.msg);
    }
    int32_t bounds[] = {-1, -1, -1};
    CHECK_INT(TOK_EINVAL, tok_cluster_map(bounds, 3, 4, 2, 1, NULL, map, NULL, &e));
    CHECK_INT(TOK_EINVAL, tok_cluster_map(ids, 6, 4, 2, 1, NULL, NULL, NULL, &e));
    CHECK_INT(0, tok_cluster_map(ids, 6, 4, 2, 1, NULL, map, NULL, &e));
    CHECK(e.code == 0 && !e.msg[0], "a success clears the record ('%s')", e.msg);
}

void test_coarsen(void)
{
    const tok *prose = prose_pyramid(), *code = code_pyramid();
    /* whole corpora, not the slices the pyramids were trained on */
    blob kjv = data_file("prose/kjv.txt"), py = data_file("code/python-stdlib.txt");
    check_prefix_in_context(prose, kjv, "prose");
    check_prefix_in_context(code, py, "code");
    free_blob(&kjv);
    free_blob(&py);
    test_prefix_errors(prose);
    test_prefix_tiktoken();
    test_planted();
    test_reference();
    test_few_rows();
    test_real();
    test_cluster_errors();
}
