/* coarsen_cluster.c: the cluster:C coarsening map: ids embedded by the PPMI of their left and
 * right neighbours in a corpus, then k-means (greedy k-means++ seeding, Lloyd iterations). */
#include "tok_impl.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_THREADS = 64 };
/* Multiply-adds below which a loop runs on the calling thread alone. */
#define MIN_THREAD_WORK 4e6

void tok_default_cluster_settings(tok_cluster_settings *s)
{
    *s = (tok_cluster_settings){.features = 512, .max_iter = 100, .nthreads = 1};
}

/* ---- the embedding ---- */

/* The k-means points: the ids with a non-zero row, ascending, as sparse rows (CSR). */
typedef struct embedding {
    int32_t m, dim; /* points; columns = 2F (left block, then right block) */
    int32_t *id;    /* (m) the point's alphabet id */
    size_t *row;    /* (m + 1) offsets into col, val */
    int32_t *col;   /* (nnz) ascending within a row */
    double *val;    /* (nnz) L2-normalised PPMI, > 0 */
    double *norm2;  /* (m) squared norm of each row as stored (1 up to rounding) */
    size_t nnz, cap;
} embedding;

static void embedding_free(embedding *e)
{
    free(e->id);
    free(e->row);
    free(e->col);
    free(e->val);
    free(e->norm2);
    memset(e, 0, sizeof *e);
}

/* An id with its corpus count, for ordering the contexts. */
typedef struct id_count {
    int64_t count;
    int32_t id;
} id_count;

/* The most frequent first; ties: the smaller id. */
static int by_count(const void *a, const void *b)
{
    const id_count *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static int by_int(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The contexts: the F most frequent present ids; feat[v] is v's index among them or -1, and
 * order[i] the i-th context. Returns their number, min(F, present), or -1 out of memory. */
static int32_t pick_features(const int64_t *freq, int32_t V, int32_t F, int32_t *feat,
                             int32_t *order)
{
    id_count *c = malloc((size_t)V * sizeof *c);
    if (!c)
        return -1;
    int32_t np = 0;
    for (int32_t v = 0; v < V; v++) {
        feat[v] = -1;
        if (freq[v] > 0)
            c[np++] = (id_count){freq[v], v};
    }
    qsort(c, (size_t)np, sizeof *c, by_count);
    int32_t nf = F < np ? F : np;
    for (int32_t i = 0; i < nf; i++) {
        order[i] = c[i].id;
        feat[c[i].id] = i;
    }
    free(c);
    return nf;
}

static int embedding_push(embedding *e, int32_t col, double val)
{
    if (e->nnz == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 4096;
        int32_t *c = realloc(e->col, cap * sizeof *c);
        if (c)
            e->col = c;
        double *v = realloc(e->val, cap * sizeof *v);
        if (v)
            e->val = v;
        if (!c || !v)
            return TOK_ENOMEM;
        e->cap = cap;
    }
    e->col[e->nnz] = col;
    e->val[e->nnz++] = val;
    return TOK_OK;
}

/* Builds the embedding of ids[0..n) over the alphabet 0..V-1 (ids checked by the caller).
 * freq[v]: occurrences of v (filled in by the caller). */
static int embed(const int32_t *ids, size_t n, int32_t V, const int64_t *freq, int32_t F,
                 embedding *e, int32_t *nfeat, tok_err *err)
{
    int rc = TOK_ENOMEM;
    memset(e, 0, sizeof *e);
    int32_t *feat = malloc((size_t)V * sizeof *feat),
            *order = malloc((size_t)V * sizeof *order);
    int64_t *nl = calloc((size_t)V, sizeof *nl), *nr = calloc((size_t)V, sizeof *nr);
    size_t *first = malloc(((size_t)V + 1) * sizeof *first), *pos = malloc(n * sizeof *pos);
    int64_t *cnt = NULL;
    int32_t *touched = NULL;
    e->id = malloc((size_t)V * sizeof *e->id);
    e->row = malloc(((size_t)V + 1) * sizeof *e->row);
    e->norm2 = malloc((size_t)V * sizeof *e->norm2);
    if (!feat || !order || !nl || !nr || !first || !pos || !e->id || !e->row || !e->norm2)
        goto done;
    int32_t nf = pick_features(freq, V, F, feat, order);
    if (nf < 0)
        goto done;
    int32_t dim = 2 * nf;
    *nfeat = nf;
    e->dim = dim;
    cnt = calloc((size_t)dim, sizeof *cnt);
    touched = malloc((size_t)dim * sizeof *touched);
    if (!cnt || !touched)
        goto done;
    /* pair marginals: nr[x] pairs with x on the left (x has a right neighbour), nl[x] pairs
     * with x on the right */
    int64_t P = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if (ids[i] >= 0 && ids[i + 1] >= 0) {
            nr[ids[i]]++;
            nl[ids[i + 1]]++;
            P++;
        }
    /* positions bucketed by id (counting sort) */
    first[0] = 0;
    for (int32_t v = 0; v < V; v++)
        first[v + 1] = first[v] + (size_t)freq[v];
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= 0)
            pos[first[ids[i]]++] = i;
    for (int32_t v = V; v > 0; v--) /* first[v] now ends bucket v: shift back */
        first[v] = first[v - 1];
    first[0] = 0;
    e->row[0] = 0;
    double logP = log((double)P);
    for (int32_t x = 0; x < V; x++) {
        int32_t nt = 0;
        for (size_t k = first[x]; k < first[x + 1]; k++) {
            size_t i = pos[k];
            int32_t c[2] = {-1, -1};
            if (i > 0 && ids[i - 1] >= 0 && feat[ids[i - 1]] >= 0)
                c[0] = feat[ids[i - 1]];
            if (i + 1 < n && ids[i + 1] >= 0 && feat[ids[i + 1]] >= 0)
                c[1] = nf + feat[ids[i + 1]];
            for (int s = 0; s < 2; s++)
                if (c[s] >= 0 && cnt[c[s]]++ == 0)
                    touched[nt++] = c[s];
        }
        if (!nt)
            continue;
        qsort(touched, (size_t)nt, sizeof *touched, by_int);
        size_t row0 = e->nnz;
        double ss = 0;
        for (int32_t k = 0; k < nt; k++) {
            int32_t j = touched[k];
            int left = j < nf;
            int32_t f = order[left ? j : j - nf];
            /* x's pairs on its side times f's pairs on the other side */
            double nx = (double)(left ? nl[x] : nr[x]), nfc = (double)(left ? nr[f] : nl[f]);
            double pmi = log((double)cnt[j]) + logP - log(nx) - log(nfc);
            cnt[j] = 0;
            if (pmi > 0) {
                if (embedding_push(e, j, pmi))
                    goto done;
                ss += pmi * pmi;
            }
        }
        if (e->nnz == row0)
            continue;
        double inv = 1 / sqrt(ss), n2 = 0;
        for (size_t k = row0; k < e->nnz; k++) {
            e->val[k] *= inv;
            n2 += e->val[k] * e->val[k];
        }
        e->id[e->m] = x;
        e->norm2[e->m] = n2;
        e->row[++e->m] = e->nnz;
    }
    rc = TOK_OK;
done:
    free(feat);
    free(order);
    free(nl);
    free(nr);
    free(first);
    free(pos);
    free(cnt);
    free(touched);
    if (rc) {
        embedding_free(e);
        return tok_fail(err, rc, "out of memory while embedding %d ids", V);
    }
    return TOK_OK;
}

/* ---- parallel loops over the points ---- */

/* fn(ctx, lo, hi, scratch) over [0, m) in contiguous blocks, one per thread (one thread for
 * less than MIN_THREAD_WORK multiply-adds); each point's result depends on nothing but the
 * point, so the thread count never changes a result. */
typedef void (*range_fn)(void *ctx, int32_t lo, int32_t hi, double *scratch);

struct range_job {
    range_fn fn;
    void *ctx;
    int32_t lo, hi;
    double *scratch;
};

static void *range_run(void *arg)
{
    struct range_job *j = arg;
    j->fn(j->ctx, j->lo, j->hi, j->scratch);
    return NULL;
}

static void parallel_for(range_fn fn, void *ctx, int32_t m, int nt, double work,
                         double *scratch, size_t scratch_per_thread)
{
    struct range_job jobs[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    if (work < MIN_THREAD_WORK) /* a thread costs more than it saves */
        nt = 1;
    if (nt > m)
        nt = m > 0 ? m : 1;
    for (int k = 0; k < nt; k++) {
        jobs[k] = (struct range_job){fn, ctx, (int32_t)((int64_t)m * k / nt),
                                     (int32_t)((int64_t)m * (k + 1) / nt),
                                     scratch + (size_t)k * scratch_per_thread};
        started[k] = k > 0 && !pthread_create(&th[k], NULL, range_run, &jobs[k]);
    }
    range_run(&jobs[0]);
    for (int k = 1; k < nt; k++) {
        if (started[k])
            pthread_join(th[k], NULL);
        else
            range_run(&jobs[k]); /* no thread: the same work inline */
    }
}

/* ---- k-means ---- */

typedef struct kmeans {
    const embedding *e;
    int32_t k, m, dim;
    int nt;
    double *ct;             /* (dim, k) centroids, transposed: ct[j k + c] */
    double *cnorm2;         /* (k) their squared norms */
    int32_t *assign, *next; /* (m) clusters: current, and from the step in progress */
    double *dist;           /* (m) squared distance to the centroid of next[p] */
    int32_t *size;          /* (k) */
    double *scratch;        /* (nt, k) per-thread dot products */
    /* seeding */
    double *dense;      /* (dim) the candidate centre, scattered */
    double cand_norm2;  /* its squared norm */
    double *mind;       /* (m) squared distance to the nearest centre chosen so far */
    double *trial;      /* (m) the same with the candidate added */
    double *best;       /* (m) the same with the best candidate added */
    double *cum;        /* (m) cumulative sums of mind */
    uint8_t *is_centre; /* (m) */
} kmeans;

static void kmeans_free(kmeans *km)
{
    free(km->ct);
    free(km->cnorm2);
    free(km->assign);
    free(km->next);
    free(km->dist);
    free(km->size);
    free(km->scratch);
    free(km->dense);
    free(km->mind);
    free(km->trial);
    free(km->best);
    free(km->cum);
    free(km->is_centre);
}

static int kmeans_alloc(kmeans *km)
{
    size_t m = (size_t)km->m, k = (size_t)km->k, dim = (size_t)km->dim;
    km->ct = calloc(dim * k, sizeof *km->ct);
    km->cnorm2 = calloc(k, sizeof *km->cnorm2);
    km->assign = malloc(m * sizeof *km->assign);
    km->next = malloc(m * sizeof *km->next);
    km->dist = malloc(m * sizeof *km->dist);
    km->size = malloc(k * sizeof *km->size);
    km->scratch = malloc((size_t)km->nt * k * sizeof *km->scratch);
    km->dense = calloc(dim, sizeof *km->dense);
    km->mind = malloc(m * sizeof *km->mind);
    km->trial = malloc(m * sizeof *km->trial);
    km->best = malloc(m * sizeof *km->best);
    km->cum = malloc(m * sizeof *km->cum);
    km->is_centre = calloc(m, 1);
    return km->ct && km->cnorm2 && km->assign && km->next && km->dist && km->size &&
                   km->scratch && km->dense && km->mind && km->trial && km->best && km->cum &&
                   km->is_centre
               ? TOK_OK
               : TOK_ENOMEM;
}

/* Assignment step: each point's nearest centroid (the lowest index on ties) into next[],
 * its squared distance into dist[]. */
static void assign_range(void *ctx, int32_t lo, int32_t hi, double *acc)
{
    kmeans *km = ctx;
    const embedding *e = km->e;
    int32_t k = km->k;
    for (int32_t p = lo; p < hi; p++) {
        memset(acc, 0, (size_t)k * sizeof *acc);
        for (size_t q = e->row[p]; q < e->row[p + 1]; q++) {
            const double *c = km->ct + (size_t)e->col[q] * (size_t)k;
            double v = e->val[q];
            for (int32_t j = 0; j < k; j++)
                acc[j] += v * c[j];
        }
        int32_t best = 0;
        double bd = km->cnorm2[0] - 2 * acc[0];
        for (int32_t j = 1; j < k; j++) {
            double d = km->cnorm2[j] - 2 * acc[j];
            if (d < bd) {
                bd = d;
                best = j;
            }
        }
        double d = e->norm2[p] + bd;
        km->next[p] = best;
        km->dist[p] = d > 0 ? d : 0;
    }
}

/* Seeding: each point's squared distance to the nearest centre if the candidate (scattered
 * in dense) were added, into trial[]. */
static void trial_range(void *ctx, int32_t lo, int32_t hi, double *unused)
{
    (void)unused;
    kmeans *km = ctx;
    const embedding *e = km->e;
    for (int32_t p = lo; p < hi; p++) {
        double dot = 0;
        for (size_t q = e->row[p]; q < e->row[p + 1]; q++)
            dot += e->val[q] * km->dense[e->col[q]];
        double d = e->norm2[p] + km->cand_norm2 - 2 * dot;
        d = d > 0 ? d : 0;
        km->trial[p] = d < km->mind[p] ? d : km->mind[p];
    }
}

/* trial[] for candidate point c; returns the potential (the sum of trial[], in point order
 * so that it does not depend on the thread count). */
static double try_candidate(kmeans *km, int32_t c)
{
    const embedding *e = km->e;
    for (size_t q = e->row[c]; q < e->row[c + 1]; q++)
        km->dense[e->col[q]] = e->val[q];
    km->cand_norm2 = e->norm2[c];
    parallel_for(trial_range, km, km->m, km->nt, (double)km->e->nnz, km->scratch,
                 (size_t)km->k);
    for (size_t q = e->row[c]; q < e->row[c + 1]; q++)
        km->dense[e->col[q]] = 0;
    double pot = 0;
    for (int32_t p = 0; p < km->m; p++)
        pot += km->trial[p];
    return pot;
}

/* Greedy k-means++: the first centre uniform, each next one the best (lowest potential) of
 * 2 + floor(ln k) candidates drawn with probability mind[p] / sum(mind). When every point
 * sits on a centre (fewer distinct rows than k), a point that is no centre yet, uniformly. */
static void seed_centres(kmeans *km, gsl_rng *rng, int32_t *centre)
{
    const embedding *e = km->e;
    int32_t m = km->m, k = km->k;
    int ntrials = 2 + (int)floor(log((double)k));
    for (int32_t p = 0; p < m; p++)
        km->mind[p] = INFINITY;
    for (int32_t c = 0; c < k; c++) {
        int32_t pick = -1;
        double total = 0;
        for (int32_t p = 0; p < m; p++)
            km->cum[p] = total += km->mind[p];
        if (c == 0 || !(total > 0)) {
            unsigned long r = gsl_rng_uniform_int(rng, (unsigned long)(m - c));
            for (pick = 0;; pick++) {
                if (km->is_centre[pick])
                    continue;
                if (r == 0)
                    break;
                r--;
            }
            try_candidate(km, pick);
            double *t = km->best;
            km->best = km->trial, km->trial = t;
        } else {
            double bestpot = INFINITY;
            for (int i = 0; i < ntrials; i++) {
                double u = gsl_rng_uniform(rng) * total;
                int32_t lo = 0, hi = m - 1; /* the first p with cum[p] > u */
                while (lo < hi) {
                    int32_t mid = lo + (hi - lo) / 2;
                    if (km->cum[mid] > u)
                        hi = mid;
                    else
                        lo = mid + 1;
                }
                double pot = try_candidate(km, lo);
                if (pot < bestpot) {
                    bestpot = pot;
                    pick = lo;
                    double *t = km->best;
                    km->best = km->trial, km->trial = t;
                }
            }
        }
        centre[c] = pick;
        km->is_centre[pick] = 1;
        double *t = km->mind;
        km->mind = km->best, km->best = t;
    }
    for (int32_t c = 0; c < k; c++) {
        int32_t p = centre[c];
        for (size_t q = e->row[p]; q < e->row[p + 1]; q++)
            km->ct[(size_t)e->col[q] * (size_t)k + (size_t)c] = e->val[q];
        km->cnorm2[c] = e->norm2[p];
    }
}

/* A cluster left empty by the assignment step takes the point farthest from its centroid
 * among clusters of two or more (the lowest index on ties); its distance becomes 0, its
 * cluster's centroid being itself until the update step. */
static void fill_empty(kmeans *km)
{
    int32_t m = km->m, k = km->k;
    memset(km->size, 0, (size_t)k * sizeof *km->size);
    for (int32_t p = 0; p < m; p++)
        km->size[km->next[p]]++;
    for (int32_t c = 0; c < k; c++) {
        if (km->size[c])
            continue;
        int32_t far = -1;
        for (int32_t p = 0; p < m; p++)
            if (km->size[km->next[p]] > 1 && (far < 0 || km->dist[p] > km->dist[far]))
                far = p;
        km->size[km->next[far]]--;
        km->next[far] = c;
        km->size[c] = 1;
        km->dist[far] = 0;
    }
}

/* Update step: each centroid the mean of its points (sums in point order). */
static void update_centroids(kmeans *km)
{
    const embedding *e = km->e;
    size_t k = (size_t)km->k;
    memset(km->ct, 0, (size_t)km->dim * k * sizeof *km->ct);
    for (int32_t p = 0; p < km->m; p++)
        for (size_t q = e->row[p]; q < e->row[p + 1]; q++)
            km->ct[(size_t)e->col[q] * k + (size_t)km->assign[p]] += e->val[q];
    for (size_t c = 0; c < k; c++) {
        km->cnorm2[c] = 0;
        km->scratch[c] = 1.0 / km->size[c];
    }
    for (size_t j = 0; j < (size_t)km->dim; j++) {
        double *row = km->ct + j * k;
        for (size_t c = 0; c < k; c++) {
            row[c] *= km->scratch[c];
            km->cnorm2[c] += row[c] * row[c];
        }
    }
}

/* k-means of the embedding's points into km->k clusters; the clusters in km->assign. */
static int kmeans_run(kmeans *km, uint64_t seed, const tok_cluster_settings *s,
                      tok_cluster_stats *st)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    int32_t *centre = malloc((size_t)km->k * sizeof *centre);
    if (!rng || !centre || kmeans_alloc(km)) {
        gsl_rng_free(rng);
        free(centre);
        return TOK_ENOMEM;
    }
    gsl_rng_set(rng, (unsigned long)seed);
    seed_centres(km, rng, centre);
    gsl_rng_free(rng);
    free(centre);
    for (int32_t p = 0; p < km->m; p++)
        km->assign[p] = -1;
    for (int it = 1; it <= s->max_iter; it++) {
        parallel_for(assign_range, km, km->m, km->nt, (double)km->e->nnz * km->k, km->scratch,
                     (size_t)km->k);
        fill_empty(km);
        int64_t moved = 0;
        double obj = 0;
        for (int32_t p = 0; p < km->m; p++) {
            moved += km->next[p] != km->assign[p];
            obj += km->dist[p];
        }
        int32_t *t = km->assign;
        km->assign = km->next, km->next = t;
        st->iterations = it;
        st->objective = obj;
        if (s->progress)
            s->progress(s->progress_ctx, it, obj, moved);
        if (!moved) {
            st->converged = 1;
            break;
        }
        if (it < s->max_iter)
            update_centroids(km);
    }
    return TOK_OK;
}

/* ---- the map ---- */

int tok_cluster_map(const int32_t *ids, size_t n, int32_t alphabet, int32_t nclusters,
                    uint64_t seed, const tok_cluster_settings *s, int32_t *map,
                    tok_cluster_stats *stats, tok_err *err)
{
    tok_err_clear(err);
    tok_cluster_settings def;
    tok_cluster_stats st0;
    if (!s) {
        tok_default_cluster_settings(&def);
        s = &def;
    }
    tok_cluster_stats *st = stats ? stats : &st0;
    memset(st, 0, sizeof *st);
    if (!map || (!ids && n))
        return tok_fail(err, TOK_EINVAL, "cluster map: %s is NULL",
                        map ? "the corpus" : "the map");
    if (alphabet < 1)
        return tok_fail(err, TOK_EINVAL, "cluster map: an alphabet of %d ids", alphabet);
    if (nclusters < 1 || nclusters > alphabet)
        return tok_fail(err, TOK_EINVAL,
                        "cluster:%d: the cluster count must be 1..%d (the alphabet's size)",
                        nclusters, alphabet);
    if (s->features < 1 || s->max_iter < 1)
        return tok_fail(err, TOK_EINVAL, "cluster map: %s %d (must be at least 1)",
                        s->features < 1 ? "features" : "max_iter",
                        s->features < 1 ? s->features : s->max_iter);
    int64_t *freq = calloc((size_t)alphabet, sizeof *freq);
    int32_t *raw = malloc((size_t)alphabet * sizeof *raw);
    int64_t *size = calloc((size_t)nclusters, sizeof *size);
    int32_t *label = malloc((size_t)nclusters * sizeof *label);
    embedding e = {0};
    kmeans km = {0};
    int rc = TOK_OK;
    if (!freq || !raw || !size || !label) {
        rc = tok_fail(err, TOK_ENOMEM, "out of memory");
        goto done;
    }
    size_t nids = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] >= alphabet) {
            rc = tok_fail(err, TOK_ERANGE,
                          "cluster map: id %d at position %zu is out of range (alphabet 0..%d)",
                          ids[i], i, alphabet - 1);
            goto done;
        }
        if (ids[i] >= 0) {
            freq[ids[i]]++;
            nids++;
        }
    }
    if (!nids) {
        rc = tok_fail(err, TOK_EINVAL, "cluster map: the corpus has no ids (%zu entries)", n);
        goto done;
    }
    for (int32_t v = 0; v < alphabet; v++)
        st->present += freq[v] > 0;
    if ((rc = embed(ids, n, alphabet, freq, s->features, &e, &st->features, err)))
        goto done;
    st->embedded = e.m;
    st->nonzeros = (int64_t)e.nnz;
    for (int32_t v = 0; v < alphabet; v++)
        raw[v] = -1;
    int32_t k = nclusters < e.m ? nclusters : e.m;
    if (k > 0) {
        km = (kmeans){.e = &e, .k = k, .m = e.m, .dim = e.dim};
        km.nt = s->nthreads < 1 ? 1 : s->nthreads > MAX_THREADS ? MAX_THREADS : s->nthreads;
        if ((rc = kmeans_run(&km, seed, s, st))) {
            rc = tok_fail(err, rc, "out of memory in k-means of %d ids", e.m);
            goto done;
        }
        for (int32_t p = 0; p < e.m; p++)
            raw[e.id[p]] = km.assign[p];
    }
    /* fewer points than clusters: rowless ids make up the rest, one each */
    for (int32_t v = 0; v < alphabet && k < nclusters; v++)
        if (raw[v] < 0)
            raw[v] = k++;
    /* rowless ids join the largest cluster (on ties, the one with the smallest id); then
     * clusters are numbered by their smallest id */
    for (int32_t v = 0; v < alphabet; v++)
        if (raw[v] >= 0)
            size[raw[v]]++;
    int32_t largest = -1;
    for (int32_t v = 0; v < alphabet; v++)
        if (raw[v] >= 0 && (largest < 0 || size[raw[v]] > size[largest]))
            largest = raw[v];
    for (int32_t c = 0; c < nclusters; c++)
        label[c] = -1;
    int32_t nlab = 0;
    for (int32_t v = 0; v < alphabet; v++) {
        int32_t c = raw[v] >= 0 ? raw[v] : largest;
        if (label[c] < 0)
            label[c] = nlab++;
        map[v] = label[c];
    }
done:
    kmeans_free(&km);
    embedding_free(&e);
    free(freq);
    free(raw);
    free(size);
    free(label);
    return rc;
}
