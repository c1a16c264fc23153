/* test_varlen.c: DreamOn's training pairs: every clean token accounted for, lengths, padding,
 * determinism, overflow at the window's end, and merge/insert rates against their
 * probabilities. */
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "check.h"
#include "mask.h"

enum { DV = 20, DN = 24, DT = 40, EXP = DV + 2, DEL = DV + 3 };

/* checks one pair against its inputs; returns the masked elements (tokens and expands) */
static int check_pair(const int32_t *x, const int32_t *ids, const uint8_t *msk, const float *w,
                      int n, int T, const mask_dreamon_out *o, int *runs2)
{
    int next = 0, elements = 0, merged = 0, inserted = 0, shrink = 0;
    *runs2 = 0;
    for (int k = 0; k < o->length; k++) {
        if (o->target[k] == DEL) {
            CHECK(o->src[k] == -1 && o->span[k] == 0 && o->ids[k] >= DV && k > 0 &&
                      o->ids[k - 1] >= DV,
                  "position %d: a delete must follow a masked element", k);
            inserted++;
            continue;
        }
        CHECK(o->src[k] == next, "position %d stands for clean %d, expected %d", k, o->src[k],
              next);
        int j = o->src[k];
        if (j < 0 || j >= n)
            return 0;
        CHECK(o->ids[k] == ids[j] && o->weight[k] == w[j], "position %d: input or weight", k);
        if (o->target[k] == EXP) {
            CHECK(o->span[k] >= 2 && msk[j], "position %d: expand of span %d", k, o->span[k]);
            for (int i = j; i < j + o->span[k]; i++)
                CHECK(i < n && msk[i], "expand at %d covers unmasked %d", k, i);
            CHECK(j + o->span[k] == n || !msk[j + o->span[k]], "expand at %d: not a whole run",
                  k);
            merged++;
            shrink += o->span[k] - 1;
        } else {
            CHECK(o->span[k] == 1 && o->target[k] == x[j], "position %d: target %d, clean %d",
                  k, o->target[k], x[j]);
        }
        elements += msk[j] != 0;
        next += o->span[k];
    }
    CHECK(next == n, "the pair accounts for %d of %d clean tokens", next, n);
    CHECK(merged == o->merged && inserted == o->inserted, "counts %d/%d vs %d/%d", merged,
          inserted, o->merged, o->inserted);
    CHECK(o->length == n - shrink + inserted && o->length <= T, "length %d", o->length);
    for (int k = o->length; k < T; k++)
        CHECK(o->ids[k] == 0 && o->target[k] == 0 && o->weight[k] == 0 && o->src[k] == -1,
              "padding at %d", k);
    *runs2 = 0;
    for (int i = 0; i < n; i++)
        *runs2 += msk[i] && (i == 0 || !msk[i - 1]) && i + 1 < n && msk[i + 1];
    return elements;
}

void test_varlen(void)
{
    mask_dreamon_settings s;
    mask_dreamon_default_settings(&s);
    s.vocab = DV;
    s.expand_id = EXP;
    s.delete_id = DEL;
    s.pad_id = 0;
    s.merge_scale = 0.8;
    s.delete_prob = 0.3;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    int32_t x[DN], ids[DN], oi[DT], ot[DT], os[DT], osp[DT];
    float w[DN], ow[DT];
    uint8_t msk[DN];
    mask_dreamon_out o = {.ids = oi, .target = ot, .weight = ow, .src = os, .span = osp};
    char err[160];
    /* fixed masked count 12 of 24: p_merge = 0.8 * (1 - 1/2) = 0.4 */
    long runs = 0, merges = 0, elements = 0, inserts = 0;
    for (int it = 0; it < 3000; it++) {
        int perm[DN];
        for (int i = 0; i < DN; i++)
            perm[i] = i;
        for (int i = DN - 1; i > 0; i--) {
            int j = (int)gsl_rng_uniform_int(r, i + 1), tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
        memset(msk, 0, sizeof msk);
        for (int i = 0; i < 12; i++)
            msk[perm[i]] = 1;
        for (int i = 0; i < DN; i++) {
            x[i] = (int32_t)gsl_rng_uniform_int(r, DV);
            ids[i] = msk[i] ? DV + (int32_t)gsl_rng_uniform_int(r, 2) : x[i];
            w[i] = msk[i] ? 2.0f : 0.0f;
        }
        int rc = mask_dreamon_augment(&s, x, ids, msk, w, DN, DT, r, &o, err, sizeof err);
        CHECK(rc == MASK_OK, "augment: %d %s", rc, err);
        int runs2;
        int el = check_pair(x, ids, msk, w, DN, DT, &o, &runs2);
        CHECK(o.dropped == 0, "dropped %d in a window of room", o.dropped);
        runs += runs2;
        merges += o.merged;
        elements += el;
        inserts += o.inserted;
        if (check_failures)
            break;
    }
    CHECK_5SIGMA("merges per run", (double)merges, runs * 0.4, runs * 0.4 * 0.6);
    CHECK_5SIGMA("inserts per masked element", (double)inserts, elements * 0.3,
                 elements * 0.3 * 0.7);

    /* deterministic for a seed, and the same pair for any window with room */
    int32_t a[DT], b[DT + 8], at[DT], bt[DT + 8], as[DT], bs[DT + 8], asp[DT], bsp[DT + 8];
    float aw[DT], bw[DT + 8];
    mask_dreamon_out oa = {.ids = a, .target = at, .weight = aw, .src = as, .span = asp};
    mask_dreamon_out ob = {.ids = b, .target = bt, .weight = bw, .src = bs, .span = bsp};
    gsl_rng_set(r, 7);
    mask_dreamon_augment(&s, x, ids, msk, w, DN, DT, r, &oa, NULL, 0);
    gsl_rng_set(r, 7);
    mask_dreamon_augment(&s, x, ids, msk, w, DN, DT + 8, r, &ob, NULL, 0);
    CHECK(oa.length == ob.length && !memcmp(a, b, sizeof(int32_t) * oa.length) &&
              !memcmp(at, bt, sizeof(int32_t) * oa.length),
          "the same seed gave another pair");

    /* a full window: every insertion that would push a clean token out is dropped */
    s.delete_prob = 1.0;
    s.merge_scale = 0.0;
    int32_t fo[DN], ft[DN], fs[DN], fsp[DN];
    float fw[DN];
    mask_dreamon_out of = {.ids = fo, .target = ft, .weight = fw, .src = fs, .span = fsp};
    CHECK(mask_dreamon_augment(&s, x, ids, msk, w, DN, DN, r, &of, err, sizeof err) == MASK_OK,
          "%s", err);
    int runs2;
    check_pair(x, ids, msk, w, DN, DN, &of, &runs2);
    CHECK(of.length == DN && of.inserted == 0 && of.dropped == 12, "full window: %d %d %d",
          of.length, of.inserted, of.dropped);

    /* bad input */
    CHECK(mask_dreamon_augment(&s, x, ids, msk, w, DN, DN - 1, r, &of, err, sizeof err) ==
                  MASK_E_ARG &&
              strstr(err, "longer than the window"),
          "%s", err);
    CHECK(mask_dreamon_augment(&s, x, ids, msk, w, 0, DN, r, &of, err, sizeof err) ==
              MASK_E_ARG,
          "empty");
    s.expand_id = DV - 1;
    CHECK(mask_dreamon_augment(&s, x, ids, msk, w, DN, DN, r, &of, err, sizeof err) ==
              MASK_E_RANGE,
          "expand inside the vocabulary");
    s.expand_id = EXP;
    x[3] = DV;
    CHECK(mask_dreamon_augment(&s, x, ids, msk, w, DN, DN, r, &of, err, sizeof err) ==
                  MASK_E_INPUT &&
              strstr(err, "position 3"),
          "%s", err);
    x[3] = 0;
    ids[3] = msk[3] ? 0 : DV;
    CHECK(mask_dreamon_augment(&s, x, ids, msk, w, DN, DN, r, &of, err, sizeof err) ==
              MASK_E_INPUT,
          "a masked flag that disagrees");
    gsl_rng_free(r);
}
