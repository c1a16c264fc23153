/* test_edit_train.c: a tiny model with edit classes trained on libmask's DreamOn pairs fills
 * holes of unknown length at the right length (model_varlen_sample), far above chance. */
#include "../check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "mask.h"
#include "model.h"

int check_count, check_failures;

/* The task: texts of N tokens from a cycle of A letters, letter v repeated run(v) times
 * (1, 2, 3, 1, 2, 3), then v+1 (mod A): "0 1 1 2 2 2 3 4 4 5 5 5 0 ...", starting at a random
 * letter and a random place in its run. A hole is one whole run inside the text; its
 * neighbours v-1 and v+1 say which letter fills it and how many times, so the right length
 * is learnable from context. Ids: letters 0..A-1, the end of text EOT = A (padding after the
 * text), the mask V = A+1, [expand] V+1 and [delete] V+2 (libmask's convention). */
enum { A = 6, V = A + 1, EOT = A, MASK = V, N = 16, T = 24 };

static int run_of(int v)
{
    return 1 + v % 3;
}

/* a text of N letters; *first, *len: its first whole run after position 0 whose end is
 * before N - 1 and that starts after position 1 (NULL: not wanted) */
static void make_text(int32_t *x, gsl_rng *r, int *hole_at, int *hole_len)
{
    int v = (int)gsl_rng_uniform_int(r, A);
    int left = 1 + (int)gsl_rng_uniform_int(r, (unsigned long)run_of(v));
    int starts[N], lens[N], n_runs = 0;
    for (int i = 0; i < N; i++) {
        x[i] = v;
        if (--left == 0) {
            v = (v + 1) % A;
            left = run_of(v);
            if (i + 1 < N) {
                starts[n_runs] = i + 1;
                lens[n_runs++] = run_of(v);
            }
        }
    }
    if (hole_at) { /* a whole run, not touching either end */
        int ok[N], k = 0;
        for (int j = 0; j < n_runs; j++)
            if (starts[j] >= 2 && starts[j] + lens[j] <= N - 2)
                ok[k++] = j;
        int j = ok[gsl_rng_uniform_int(r, (unsigned long)k)];
        *hole_at = starts[j];
        *hole_len = lens[j];
    }
}

typedef struct study {
    double len_acc;    /* hidden length: holes filled at the right length */
    double exact_hid;  /* hidden length: holes filled exactly (length and letters) */
    double exact_giv;  /* given length: holes filled exactly */
    double len_chance; /* the most frequent true length's share */
    double final_loss;
    int filled[4][6]; /* [true length 1..3][length filled 0..4, 5 = more] */
} study;

/* Trains a model (steps of batch B) at seed, then fills `holes` held-out holes with their
 * length hidden (one mask, model_varlen_sample) and given (the right number of masks,
 * model_sample by confidence). */
static int run_study(unsigned long seed, int steps, int holes, study *out)
{
    enum { B = 32 };
    model_settings ms;
    model_default_settings(&ms);
    ms.config = (model_config){.vocab = V,
                               .n_mask = 1,
                               .d = 32,
                               .layers = 2,
                               .heads = 2,
                               .seq_len = T,
                               .mode = MODEL_DIFFUSION,
                               .n_edit = 2};
    ms.threads = 1;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    model *m = NULL;
    int rc = model_open(&m, &ms, r);
    CHECK(rc == MODEL_OK, "model_open: %s", model_errmsg(m));
    if (rc) {
        model_close(&m);
        gsl_rng_free(r);
        return rc;
    }
    mask_dreamon_settings ds;
    mask_dreamon_default_settings(&ds);
    ds.vocab = V;
    ds.expand_id = V + 1;
    ds.delete_id = V + 2;
    ds.pad_id = EOT;
    ds.merge_scale = 1.0;
    ds.delete_prob = 0.15;
    model_optim o;
    model_default_optim(&o);
    o.lr = 1e-2f;
    o.min_lr = 1e-3f;
    o.warmup_steps = 20;
    o.total_steps = steps;
    o.weight_decay = 0.0f;
    int32_t x[N], ids[N], in[B * T], tg[B * T];
    uint8_t masked[N];
    float wt[N], w[B * T], loss = 0;
    char err[200];
    double tail = 0;
    for (int step = 0; step < steps && !rc; step++) {
        for (int b = 0; b < B; b++) {
            make_text(x, r, NULL, NULL);
            /* the corruption: half the time one span of 1..5 letters (a hole), else each
             * letter masked at a rate drawn in (0, 1); weight 1 at every masked letter */
            int span = gsl_rng_uniform(r) < 0.5;
            int at = (int)gsl_rng_uniform_int(r, N), len = 1 + (int)gsl_rng_uniform_int(r, 5);
            double rate = 0.05 + 0.9 * gsl_rng_uniform(r);
            int any = 0;
            for (int i = 0; i < N; i++) {
                masked[i] = span ? i >= at && i < at + len : gsl_rng_uniform(r) < rate;
                any |= masked[i];
            }
            if (!any)
                masked[at] = 1;
            for (int i = 0; i < N; i++) {
                ids[i] = masked[i] ? MASK : x[i];
                wt[i] = masked[i] ? 1.0f : 0.0f;
            }
            mask_dreamon_out pair = {
                .ids = in + b * T, .target = tg + b * T, .weight = w + b * T};
            int mrc =
                mask_dreamon_augment(&ds, x, ids, masked, wt, N, T, r, &pair, err, sizeof err);
            CHECK(mrc == MASK_OK, "augment: %s", err);
            if (mrc)
                rc = MODEL_EINVAL;
        }
        if (rc)
            break;
        rc = model_zero_grad(m);
        rc = rc ? rc : model_forward(m, in, tg, w, B, T, &loss, NULL);
        rc = rc ? rc : model_backward(m);
        rc = rc ? rc : model_update(m, &o, NULL);
        CHECK(rc == MODEL_OK, "training step %d: %s", step, model_errmsg(m));
        if (step >= steps - 20)
            tail += loss / 20;
    }
    out->final_loss = tail;

    /* held-out holes (another stream) */
    gsl_rng_set(r, seed + 1000);
    model_varlen_settings vs = {0};
    rc = rc ? rc : model_varlen_use_model(&vs, m);
    vs.pad_id = EOT;
    vs.steps = 8;
    vs.temperature = 0;
    model_sample_settings ss;
    model_default_sample_settings(&ss);
    ss.strategy = MODEL_SAMPLE_CONFIDENCE;
    int right_len = 0, exact_hid = 0, exact_giv = 0, count[4] = {0};
    memset(out->filled, 0, sizeof out->filled);
    for (int h = 0; h < holes && !rc; h++) {
        int at, hl;
        make_text(x, r, &at, &hl);
        count[hl]++;
        /* hidden: one mask where the run was */
        int32_t tok[T];
        int len = N - hl + 1;
        for (int t = 0; t < T; t++)
            tok[t] = t < at ? x[t] : t == at ? MASK : t < len ? x[t + hl - 1] : EOT;
        rc = model_varlen_sample(&vs, tok, &len, 1, T, r, err, sizeof err);
        CHECK(rc == MODEL_OK, "varlen: %s / %s", err, model_errmsg(m));
        int got = len - (N - hl);
        out->filled[hl][got < 0 ? 0 : got > 5 ? 5 : got]++;
        if (len == N) {
            right_len++;
            exact_hid += !memcmp(tok, x, sizeof x);
        }
        /* given: hl masks */
        int32_t giv[N];
        for (int t = 0; t < N; t++)
            giv[t] = t >= at && t < at + hl ? MASK : x[t];
        ss.steps = hl;
        rc = rc ? rc : model_sample(m, giv, 1, N, &ss, r);
        exact_giv += !memcmp(giv, x, sizeof x);
    }
    int most = 0;
    for (int k = 1; k <= 3; k++)
        most = count[k] > most ? count[k] : most;
    out->len_acc = (double)right_len / holes;
    out->exact_hid = (double)exact_hid / holes;
    out->exact_giv = (double)exact_giv / holes;
    out->len_chance = (double)most / holes;
    model_close(&m);
    gsl_rng_free(r);
    return rc;
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "edit-train";
    if (!strcmp(what, "edit-train")) {
        study s;
        int rc = run_study(17, 800, 60, &s);
        CHECK(rc == MODEL_OK, "study failed: %s", model_strerror(rc));
        printf("final loss %.3f; hidden length: right length %.2f (most frequent length "
               "%.2f), exact %.2f; given length: exact %.2f\n",
               s.final_loss, s.len_acc, s.len_chance, s.exact_hid, s.exact_giv);
        CHECK(s.len_acc >= 0.8 && s.len_acc >= 2 * s.len_chance,
              "right length in %.2f of the holes, chance %.2f", s.len_acc, s.len_chance);
        CHECK(s.exact_hid >= 0.7, "exact fills with the length hidden: %.2f", s.exact_hid);
    } else if (!strcmp(what, "edit-measure")) {
        /* three seeds, longer training, more holes: the figures of the length study */
        printf("seed  loss   len_acc  chance  exact_hidden  exact_given\n");
        for (unsigned long seed = 1; seed <= 3; seed++) {
            study s;
            int rc = run_study(seed, 1500, 300, &s);
            CHECK(rc == MODEL_OK, "study failed: %s", model_strerror(rc));
            printf("%4lu  %.3f  %.3f    %.3f   %.3f         %.3f\n", seed, s.final_loss,
                   s.len_acc, s.len_chance, s.exact_hid, s.exact_giv);
            for (int hl = 1; hl <= 3; hl++) {
                printf("      true length %d, filled at 0..4, 5+:", hl);
                for (int k = 0; k < 6; k++)
                    printf(" %d", s.filled[hl][k]);
                printf("\n");
            }
        }
    } else {
        fprintf(stderr, "unknown test '%s' (edit-train, edit-measure)\n", what);
        return 2;
    }
    if (check_failures) {
        fprintf(stderr, "FAIL: %s (%d of %d checks)\n", what, check_failures, check_count);
        return 1;
    }
    printf("ok: %s\n", what);
    return 0;
}
