/* libmask tests: mask-type policies (single, level, class, length, importance) against
 * brute-force definitions, their names, and the priors (rows are distributions, counts exact). */
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "check.h"
#include "fixture.h"

enum { V = 300 };

typedef struct run {
    mask *m;
    int32_t *ids;
    uint8_t *masked;
    float *weight;
    int8_t *type;
    mask_out out;
} run;

static int run_open(run *x, const mask_settings *s, int n)
{
    memset(x, 0, sizeof *x);
    if (!(x->m = open_checked(s)))
        return 0;
    x->ids = malloc((size_t)n * sizeof *x->ids);
    x->masked = malloc((size_t)n);
    x->weight = malloc((size_t)n * sizeof *x->weight);
    x->type = malloc((size_t)n);
    x->out = (mask_out){x->ids, x->masked, x->weight, x->type, 0, NULL, NULL};
    return 1;
}

static void run_close(run *x)
{
    mask_close(&x->m);
    free(x->ids), free(x->masked), free(x->weight), free(x->type);
}

static void base(mask_settings *s, mask_type_policy p)
{
    mask_default_settings(s);
    s->vocab_size = V;
    s->types = p;
    s->n_levels = 2;
}

static void check_names(const mask *m, const char *const *want, int k)
{
    CHECK_INT(k, mask_n_types(m));
    for (int i = 0; i < k; i++)
        CHECK(mask_type_name(m, i) && strcmp(mask_type_name(m, i), want[i]) == 0,
              "type %d: expected '%s', got '%s'", i, want[i], mask_type_name(m, i));
    CHECK(mask_type_name(m, k) == NULL, "type %d past K has a name", k);
}

static void check_single_and_level(const fixture *f, gsl_rng *r)
{
    mask_settings s;
    run x;
    base(&s, MASK_TYPES_SINGLE);
    if (run_open(&x, &s, f->n)) {
        check_names(x.m, (const char *const[]){"mask"}, 1);
        CHECK_INT(0, mask_corrupt(x.m, &f->seq, 0.5, r, &x.out));
        int bad = 0;
        for (int i = 0; i < f->n; i++)
            bad += x.masked[i] ? x.ids[i] != V || x.type[i] != 0 : x.type[i] != -1;
        CHECK_INT(0, bad);
        run_close(&x);
    }
    base(&s, MASK_TYPES_LEVEL);
    if (!run_open(&x, &s, f->n))
        return;
    check_names(x.m, (const char *const[]){"L0", "L1", "L2"}, 3);
    int bad = 0, seen[3] = {0};
    for (int k = 0; k < 20; k++) {
        CHECK_INT(0, mask_corrupt(x.m, &f->seq, 0.8, r, &x.out));
        for (int i = 0; i < f->n; i++) {
            if (!x.masked[i]) {
                bad += x.type[i] != -1;
                continue;
            }
            int want = 0;
            for (int l = 1; l <= 2; l++) { /* is the level-l unit around i wholly masked? */
                const int32_t *u = f->unit_of[l - 1];
                int a = i, b = i, whole = 1;
                while (a > 0 && u[a - 1] == u[i])
                    a--;
                while (b + 1 < f->n && u[b + 1] == u[i])
                    b++;
                for (int j = a; j <= b; j++)
                    whole &= x.masked[j];
                if (whole)
                    want = l;
            }
            bad += x.type[i] != want || x.ids[i] != V + want;
            seen[want]++;
        }
    }
    CHECK_INT(0, bad);
    CHECK(seen[0] && seen[1] && seen[2], "levels seen %d %d %d", seen[0], seen[1], seen[2]);
    run_close(&x);
}

static int expected_class(int kind)
{
    switch (kind) {
    case KIND_SPACE:
        return 1;
    case KIND_NUMBER:
        return 2;
    case KIND_IDENT:
        return 3;
    case KIND_WORD:
        return 4;
    default:
        return 5;
    }
}

static void check_class_and_prior(const fixture *f, gsl_rng *r)
{
    mask_settings s;
    run x;
    base(&s, MASK_TYPES_CLASS);
    if (!run_open(&x, &s, f->n))
        return;
    check_names(
        x.m, (const char *const[]){"other", "space", "number", "identifier", "word", "punct"},
        6);
    CHECK_INT(0, mask_corrupt(x.m, &f->seq, 1.0, r, &x.out));
    int bad = 0;
    for (int i = 0; i < f->n; i++) {
        int want = expected_class(f->kind[i]);
        if (x.type[i] != want && bad++ < 5)
            fprintf(stderr, "token %d '%.*s': class %d, expected %d\n", i,
                    (i + 1 < f->n ? f->offsets[i + 1] : (int)f->text_len) - f->offsets[i],
                    f->text + f->offsets[i], x.type[i], want);
    }
    CHECK_INT(0, bad);

    /* priors: every token counts once in its class; rows are distributions */
    double *count = calloc((size_t)6 * V, sizeof *count), total[6] = {0};
    for (int i = 0; i < f->n; i++) {
        int k = expected_class(f->kind[i]);
        count[k * V + f->ids[i]]++, total[k]++;
    }
    CHECK_INT(0, mask_prior_add(x.m, &f->seq, NULL));
    run y; /* the same census under spans: the type is fixed, no generator is needed */
    s.structure = MASK_STRUCT_SPAN;
    if (run_open(&y, &s, f->n)) {
        CHECK_INT(0, mask_prior_add(y.m, &f->seq, NULL));
        float *lp = malloc((size_t)6 * V * sizeof *lp),
              *lq = malloc((size_t)6 * V * sizeof *lq);
        CHECK_INT(0, mask_prior_export(x.m, lp));
        CHECK_INT(0, mask_prior_export(y.m, lq));
        CHECK(memcmp(lp, lq, (size_t)6 * V * sizeof *lp) == 0, "span census differs");
        free(lp), free(lq);
        run_close(&y);
    }
    float *logp = malloc((size_t)6 * V * sizeof *logp);
    CHECK_INT(0, mask_prior_export(x.m, logp));
    double worst = 0, worst_sum = 0;
    for (int k = 0; k < 6; k++) {
        double sum = 0;
        for (int v = 0; v < V; v++) {
            double want = log((count[k * V + v] + 0.5) / (total[k] + 0.5 * V));
            worst = fmax(worst, fabs(logp[k * V + v] - want));
            sum += exp((double)logp[k * V + v]);
        }
        worst_sum = fmax(worst_sum, fabs(sum - 1));
    }
    CHECK(worst < 1e-5, "log-prior differs from the smoothed counts by %g", worst);
    CHECK(worst_sum < 1e-5, "a prior row sums to 1 +- %g", worst_sum);
    free(logp);
    free(count);
    run_close(&x);
}

static void check_length(const fixture *f, gsl_rng *r)
{
    mask_settings s;
    run x;
    base(&s, MASK_TYPES_LENGTH);
    s.structure = MASK_STRUCT_UNIT;
    s.unit_level = 2;
    if (!run_open(&x, &s, f->n))
        return;
    check_names(x.m, (const char *const[]){"len1", "len2-3", "len4-7", "len8+"}, 4);
    CHECK_INT(0, mask_corrupt(x.m, &f->seq, 1.0, r, &x.out));
    int bad = 0;
    for (int a = 0, b; a < f->n; a = b) {
        for (b = a; b < f->n && f->lvl2[b] == f->lvl2[a]; b++) {
        }
        int len = b - a, want = len >= 8 ? 3 : len >= 4 ? 2 : len >= 2 ? 1 : 0;
        for (int i = a; i < b; i++)
            bad += x.type[i] != want;
    }
    CHECK_INT(0, bad);
    /* priors by corruption: rows still sum to one */
    for (int k = 0; k < 5; k++)
        CHECK_INT(0, mask_prior_add(x.m, &f->seq, r));
    float *logp = malloc((size_t)4 * V * sizeof *logp);
    CHECK_INT(0, mask_prior_export(x.m, logp));
    for (int k = 0; k < 4; k++) {
        double sum = 0;
        for (int v = 0; v < V; v++)
            sum += exp((double)logp[k * V + v]);
        CHECK_NEAR(1.0, sum, 1e-5);
    }
    free(logp);
    run_close(&x);
}

static void check_importance_buckets(fixture *f, gsl_rng *r)
{
    mask_settings s;
    run x;
    base(&s, MASK_TYPES_IMPORTANCE);
    s.importance = MASK_IMPORTANCE_LOSS;
    if (!run_open(&x, &s, f->n))
        return;
    check_names(x.m, (const char *const[]){"imp<0.5", "imp0.5-1", "imp1-2", "imp>=2"}, 4);
    float *a = malloc((size_t)f->n * sizeof *a);
    double mean = 0;
    for (int i = 0; i < f->n; i++)
        mean += a[i] = (float)(i % 7) * 0.5f;
    mean /= f->n;
    f->seq.importance = a;
    CHECK_INT(0, mask_corrupt(x.m, &f->seq, 1.0, r, &x.out));
    int bad = 0;
    for (int i = 0; i < f->n; i++) {
        double ratio = a[i] / mean;
        int want = (ratio >= 0.5) + (ratio >= 1) + (ratio >= 2);
        bad += x.type[i] != want;
    }
    CHECK_INT(0, bad);
    f->seq.importance = NULL;
    free(a);
    run_close(&x);
}

void test_types(void)
{
    fixture f;
    fixture_build(&f, 200, 3, V);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 11);
    check_single_and_level(&f, r);
    check_class_and_prior(&f, r);
    check_length(&f, r);
    check_importance_buckets(&f, r);
    gsl_rng_free(r);
    fixture_free(&f);
}
