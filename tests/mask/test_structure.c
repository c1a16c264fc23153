/* libmask tests: structures. Units are masked whole, the masked fraction matches
 * 1 - alpha(t) (5 sigma from the binomial variance), the prompt and earlier blocks stay clean,
 * weights are the ELBO weights, and a seed reproduces a batch exactly. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "check.h"
#include "fixture.h"

enum { V = 512 };

typedef struct outbuf {
    int32_t *ids;
    uint8_t *masked;
    float *weight;
    int8_t *type;
    mask_out out;
} outbuf;

static void outbuf_init(outbuf *o, int n)
{
    o->ids = calloc((size_t)n, sizeof *o->ids);
    o->masked = calloc((size_t)n, 1);
    o->weight = calloc((size_t)n, sizeof *o->weight);
    o->type = calloc((size_t)n, 1);
    o->out = (mask_out){o->ids, o->masked, o->weight, o->type, 0, NULL, NULL};
}

static void outbuf_free(outbuf *o)
{
    free(o->ids), free(o->masked), free(o->weight), free(o->type);
}

/* R corruptions at time t: units whole, tokens outside units as the structure says, weights,
 * and the masked count over units against p * (tokens in units) with variance
 * p (1 - p) sum_u L_u^2 per corruption (units are independent given the partition). */
static void check_structure(const char *label, const mask_settings *s, const fixture *f,
                            double t, int R)
{
    mask *m = open_checked(s);
    if (!m)
        return;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 1234);
    int n = f->n, *us = malloc((size_t)(n + 1) * sizeof *us), nu = 0;
    outbuf o;
    outbuf_init(&o, n);
    const mask_schedule *sch = mask_get_schedule(m);
    double p = mask_schedule_mask_prob(sch, t), w = mask_schedule_weight(sch, t);
    double masked = 0, mean = 0, var = 0;
    int bad_whole = 0, bad_outside = 0, bad_weight = 0;
    for (int k = 0; k < R; k++) {
        gsl_rng *clone = gsl_rng_clone(r);
        int rc = mask_corrupt(m, &f->seq, t, r, &o.out);
        CHECK(rc == 0, "%s: mask_corrupt: %s", label, mask_errmsg(m));
        rc = mask_units(m, &f->seq, clone, us, &nu);
        CHECK(rc == 0, "%s: mask_units: %s", label, mask_errmsg(m));
        gsl_rng_free(clone);
        int nb =
            s->structure == MASK_STRUCT_BLOCK ? (n + s->block_size - 1) / s->block_size : 1;
        for (int u = 0; u < nu; u++) {
            int a = us[u], b = us[u + 1], c = 0;
            for (int i = a; i < b; i++)
                c += o.masked[i];
            bad_whole += c != 0 && c != b - a;
            masked += c;
            mean += p * (b - a);
            var += p * (1 - p) * (double)(b - a) * (b - a);
            for (int i = a; i < b; i++) {
                float want = o.masked[i] ? (float)(w * nb) : 0.0f;
                bad_weight += o.weight[i] != want;
                bad_weight += o.masked[i] ? o.ids[i] != V + o.type[i] : o.ids[i] != f->ids[i];
            }
        }
        for (int i = 0; i < us[0]; i++)
            bad_outside += o.masked[i] != 0; /* prompt, earlier */
        for (int i = us[nu]; i < n; i++)     /* later blocks: masked, no loss */
            bad_outside += !o.masked[i] || o.weight[i] != 0.0f;
    }
    CHECK_INT(0, bad_whole);
    CHECK_INT(0, bad_outside);
    CHECK_INT(0, bad_weight);
    char what[128];
    snprintf(what, sizeof what, "%s at t = %g: masked tokens", label, t);
    CHECK_5SIGMA(what, masked, mean, var);
    outbuf_free(&o);
    free(us);
    gsl_rng_free(r);
    mask_close(&m);
}

/* The regex "words" units computed independently: runs of ASCII letters join the tokens
 * they touch (the fixture's text has no other letters). */
static void check_regex_partition(const fixture *f)
{
    mask_settings s;
    mask_default_settings(&s);
    s.vocab_size = V;
    s.structure = MASK_STRUCT_REGEX;
    s.regex = "words";
    mask *m = open_checked(&s);
    if (!m)
        return;
    int n = f->n, *us = malloc((size_t)(n + 1) * sizeof *us), nu = 0;
    int *begins = malloc((size_t)n * sizeof *begins);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    CHECK_INT(0, mask_units(m, &f->seq, r, us, &nu));
    for (int i = 0; i < n; i++)
        begins[i] = 1;
    int tok = 0;
    for (size_t b = 0; b < f->text_len;) {
        if (!isalpha((unsigned char)f->text[b])) {
            b++;
            continue;
        }
        size_t e = b;
        while (e < f->text_len && isalpha((unsigned char)f->text[e]))
            e++;
        while (tok + 1 < n && (size_t)f->offsets[tok + 1] <= b)
            tok++;
        for (int j = tok + 1; j < n && (size_t)f->offsets[j] < e; j++)
            begins[j] = 0;
        b = e;
    }
    int expect_nu = 0, same = 1;
    for (int i = 0; i < n; i++)
        if (begins[i])
            same &= expect_nu < nu && us[expect_nu++] == i;
    CHECK_INT(expect_nu, nu);
    CHECK(same, "regex 'words' units differ from the letter runs");
    free(begins);
    free(us);
    gsl_rng_free(r);
    mask_close(&m);
}

/* Span lengths: Geo(0.2) truncated to [1, 10]; the mean of all spans but the last (cut by
 * the end) against the exact mean, with the exact variance over the number of spans. */
static void check_span_lengths(const fixture *f)
{
    mask_settings s;
    mask_default_settings(&s);
    s.vocab_size = V;
    s.structure = MASK_STRUCT_SPAN;
    mask *m = open_checked(&s);
    if (!m)
        return;
    double p = 0.2, q = 0.8, z = 1 - pow(q, 10), m1 = 0, m2 = 0;
    for (int k = 1; k <= 10; k++) {
        double pk = p * pow(q, k - 1) / z;
        m1 += k * pk;
        m2 += (double)k * k * pk;
    }
    CHECK_NEAR(3.797, m1, 5e-4); /* SpanBERT's mean span length, 3.8 */
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 99);
    int n = f->n, *us = malloc((size_t)(n + 1) * sizeof *us), nu = 0, longest = 0;
    double sum = 0, count = 0;
    for (int k = 0; k < 40; k++) {
        CHECK_INT(0, mask_units(m, &f->seq, r, us, &nu));
        for (int u = 0; u + 1 < nu; u++) {
            int len = us[u + 1] - us[u];
            sum += len, count++;
            longest = len > longest ? len : longest;
        }
    }
    CHECK(longest <= 10, "longest span %d > 10", longest);
    CHECK_5SIGMA("span length sum", sum, m1 * count, (m2 - m1 * m1) * count);
    free(us);
    gsl_rng_free(r);
    mask_close(&m);
}

static void check_determinism(const fixture *f)
{
    mask_settings s;
    mask_default_settings(&s);
    s.vocab_size = V;
    s.structure = MASK_STRUCT_SPAN;
    mask *m = open_checked(&s);
    if (!m)
        return;
    enum { B = 4 };
    mask_seq seqs[B];
    outbuf a[B], b[B];
    for (int i = 0; i < B; i++)
        seqs[i] = f->seq, outbuf_init(&a[i], f->n), outbuf_init(&b[i], f->n);
    mask_out oa[B], ob[B];
    for (int i = 0; i < B; i++)
        oa[i] = a[i].out, ob[i] = b[i].out;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 5);
    CHECK_INT(0, mask_corrupt_batch(m, seqs, B, 0, r, oa));
    gsl_rng_set(r, 5); /* the documented order: the times, then the sequences in order */
    double t[B];
    mask_sample_times(t, B, mask_get_schedule(m), s.sampler, r);
    for (int i = 0; i < B; i++)
        CHECK_INT(0, mask_corrupt(m, &seqs[i], t[i], r, &ob[i]));
    for (int i = 0; i < B; i++) {
        CHECK(oa[i].t == ob[i].t, "t differs: %g %g", oa[i].t, ob[i].t);
        CHECK(memcmp(a[i].ids, b[i].ids, (size_t)f->n * sizeof *a[i].ids) == 0 &&
                  memcmp(a[i].weight, b[i].weight, (size_t)f->n * sizeof *a[i].weight) == 0,
              "sequence %d differs between the batch and the same draws one by one", i);
    }
    mask_close(&m);

    /* a curriculum: at step 0 the times stay in [0, 0.2], at step 50 in [0, 0.6] */
    s.schedule = "linear[0,0.2..1@100]";
    if ((m = open_checked(&s))) {
        for (long step = 0; step <= 50; step += 50) {
            CHECK_INT(0, mask_corrupt_batch(m, seqs, B, step, r, oa));
            double hi = step == 0 ? 0.2 : 0.6;
            CHECK_NEAR(hi, mask_get_schedule(m)->hi, 1e-15);
            for (int i = 0; i < B; i++)
                CHECK(oa[i].t > 0 && oa[i].t <= hi, "step %ld: t = %g", step, oa[i].t);
        }
        mask_close(&m);
    }
    for (int i = 0; i < B; i++)
        outbuf_free(&a[i]), outbuf_free(&b[i]);
    gsl_rng_free(r);
}

void test_structure(void)
{
    fixture f;
    fixture_build(&f, 300, 42, V);
    mask_settings s;
    struct {
        const char *label;
        mask_structure st;
        int unit_level;
        const char *schedule;
        double t;
    } cases[] = {
        {"token", MASK_STRUCT_TOKEN, 0, "linear", 0.3},
        {"token cosine", MASK_STRUCT_TOKEN, 0, "cosine", 0.7},
        {"span", MASK_STRUCT_SPAN, 0, "linear", 0.3},
        {"span of words", MASK_STRUCT_SPAN, 1, "cosine-md4", 0.5},
        {"unit level 1", MASK_STRUCT_UNIT, 1, "linear", 0.3},
        {"unit level 2", MASK_STRUCT_UNIT, 2, "poly:2", 0.8},
        {"regex words", MASK_STRUCT_REGEX, 0, "loglinear", 0.4},
        {"block", MASK_STRUCT_BLOCK, 0, "linear", 0.6},
        {"response", MASK_STRUCT_RESPONSE, 0, "linear", 0.5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mask_default_settings(&s);
        s.vocab_size = V;
        s.structure = cases[i].st;
        s.n_levels = 2;
        s.unit_level = cases[i].unit_level;
        s.schedule = cases[i].schedule;
        s.regex = "words";
        f.seq.prompt_len = cases[i].st == MASK_STRUCT_RESPONSE ? f.n / 3 : 0;
        check_structure(cases[i].label, &s, &f, cases[i].t, 1000);
        check_structure(cases[i].label, &s, &f, 0.0, 2); /* nothing masked */
    }
    f.seq.prompt_len = 0;
    check_regex_partition(&f);
    check_span_lengths(&f);
    check_determinism(&f);
    fixture_free(&f);
}
