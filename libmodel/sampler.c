/* sampler.c: iterative unmasking: ancestral random order (MDLM/MD4), LLaDA's low-confidence
 * remasking, its semi-autoregressive block form, and the coarse-to-fine chain samplers
 * (ancestral and by confidence), all from the model's SUBS (restricted) logits. */
#include "model_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const strategy_names[MODEL_SAMPLE_COUNT] = {
    [MODEL_SAMPLE_RANDOM] = "random",
    [MODEL_SAMPLE_CONFIDENCE] = "confidence",
    [MODEL_SAMPLE_BLOCK] = "block",
    [MODEL_SAMPLE_CHAIN] = "chain",
    [MODEL_SAMPLE_CHAIN_CONFIDENCE] = "chain-confidence",
    [MODEL_SAMPLE_MARGIN] = "margin",
    [MODEL_SAMPLE_ENTROPY] = "entropy",
    [MODEL_SAMPLE_THRESHOLD] = "threshold",
    [MODEL_SAMPLE_REMDM] = "remdm",
};

static const char *const remdm_names[MODEL_REMDM_COUNT] = {
    [MODEL_REMDM_CAP] = "cap",
    [MODEL_REMDM_RESCALE] = "rescale",
    [MODEL_REMDM_CONF] = "conf",
    [MODEL_REMDM_LOOP] = "loop",
};

const char *model_remdm_schedule_name(int schedule)
{
    return schedule >= 0 && schedule < MODEL_REMDM_COUNT ? remdm_names[schedule] : NULL;
}

const char *model_strategy_name(model_strategy s)
{
    return (int)s >= 0 && (int)s < MODEL_SAMPLE_COUNT ? strategy_names[s] : NULL;
}

int model_strategy_parse(const char *name, model_strategy *out, char *err, size_t errlen)
{
    for (int i = 0; name && i < MODEL_SAMPLE_COUNT; i++)
        if (!strcmp(name, strategy_names[i])) {
            *out = (model_strategy)i;
            return MODEL_OK;
        }
    char list[128] = "";
    for (int i = 0; i < MODEL_SAMPLE_COUNT; i++) {
        if (i)
            strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, strategy_names[i], sizeof list - strlen(list) - 1);
    }
    if (err && errlen > 0)
        snprintf(err, errlen, "unknown strategy '%s' (%s)", name ? name : "(null)", list);
    return MODEL_EINVAL;
}

/* Draws from softmax(logits / temp) by inverse CDF: an index into l[0..V). */
int32_t model_sample_draw(const float *l, int V, float temp, gsl_rng *rng)
{
    float mx = -INFINITY;
    for (int j = 0; j < V; j++)
        mx = l[j] > mx ? l[j] : mx;
    double sum = 0.0;
    for (int j = 0; j < V; j++)
        sum += exp((double)(l[j] - mx) / temp);
    double u = gsl_rng_uniform(rng) * sum, acc = 0.0;
    int last = 0;
    for (int j = 0; j < V; j++) {
        double e = exp((double)(l[j] - mx) / temp);
        if (e > 0.0)
            last = j;
        acc += e;
        if (u < acc)
            return j;
    }
    return last;
}

/* The proposal of a masked row: argmax of logits + temp * Gumbel noise (an index into
 * l[0..V)); *conf = its probability under the (untempered) softmax, as in LLaDA. */
int32_t model_sample_propose(const float *l, int V, float temp, gsl_rng *rng, double *conf)
{
    int best = 0;
    double bestv = -INFINITY, mx = -INFINITY;
    for (int j = 0; j < V; j++) {
        double v = l[j];
        mx = v > mx ? v : mx;
        if (temp > 0.0f && v > -INFINITY) {
            double u = gsl_rng_uniform_pos(rng);
            v -= temp * log(-log(u));
        }
        if (v > bestv) {
            bestv = v;
            best = j;
        }
    }
    if (conf) {
        double sum = 0.0;
        for (int j = 0; j < V; j++)
            sum += exp(l[j] - mx);
        *conf = exp(l[best] - mx) / sum;
    }
    return best;
}

double model_sample_rank(const float *l, int n, int strategy, double conf)
{
    if (strategy != MODEL_SAMPLE_MARGIN && strategy != MODEL_SAMPLE_ENTROPY)
        return conf;
    /* one exp per entry and no log per entry: with e_j = exp(l_j - mx) and Z = sum e_j,
     * the margin is (e_1 - e_2) / Z over the two largest logits and the entropy is
     * log Z - sum e_j (l_j - mx) / Z */
    double mx = -INFINITY, l2 = -INFINITY;
    for (int j = 0; j < n; j++) {
        double v = l[j];
        if (v > mx) {
            l2 = mx;
            mx = v;
        } else if (v > l2) {
            l2 = v;
        }
    }
    if (strategy == MODEL_SAMPLE_MARGIN) {
        double z = 0.0;
        for (int j = 0; j < n; j++)
            z += exp((double)l[j] - mx);
        return (1.0 - (n > 1 ? exp(l2 - mx) : 0.0)) / z;
    }
    double z = 0.0, el = 0.0;
    for (int j = 0; j < n; j++) {
        double d = (double)l[j] - mx, e = exp(d);
        z += e;
        if (e > 0.0)
            el += e * d;
    }
    return -(log(z) - el / z);
}

/* A predicted row's distribution: logits l[0..n) over the token ids ids[0..n) (NULL: the
 * ids 0..n-1, a mask row), from the last forward. */
typedef struct row_dist {
    const float *l;
    const int32_t *ids;
    int n;
    float lse; /* log-sum-exp of l */
} row_dist;

static row_dist dist_of(const model *m, int r)
{
    row_dist d = {
        .l = m->acts.logits + m->row_off[r], .n = m->cfg.vocab, .lse = m->acts.lse[r]};
    if (r >= m->Mf) {
        d.ids = model_members(m, m->inputs[m->rows[r]], &d.n);
    } else if (m->cfg.n_edit) { /* the tokens only: renormalised without the edit classes */
        float mx = -INFINITY;
        for (int j = 0; j < d.n; j++)
            mx = d.l[j] > mx ? d.l[j] : mx;
        double z = 0;
        for (int j = 0; j < d.n; j++)
            z += exp((double)d.l[j] - mx);
        d.lse = mx + (float)log(z);
    }
    return d;
}

static int32_t id_at(const row_dist *d, int k)
{
    return d->ids ? d->ids[k] : k;
}

typedef struct cand {
    double conf;
    int pos;
    int32_t tok;
    int forced;
} cand;

static int cand_cmp(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->forced != y->forced)
        return x->forced > y->forced ? -1 : 1;
    if (x->conf != y->conf)
        return x->conf > y->conf ? -1 : 1;
    return x->pos - y->pos;
}

/* One forward on the current tokens; rows/logits of the predicted positions follow. */
static int run(model *m, const int32_t *tokens, int B, int T)
{
    int rc = model_run_forward(m, tokens, NULL, NULL, B, T, 0);
    if (rc)
        return rc;
    for (int r = 0; r < m->M; r++)
        if (isnan(m->acts.lse[r]) || !isfinite(m->acts.lse[r]))
            return model_fail(m, MODEL_ENONFINITE, "sample: logits are not finite");
    return MODEL_OK;
}

static int sample_random(model *m, int32_t *tok, int B, int T, const model_sample_settings *s,
                         gsl_rng *rng)
{
    const int V = m->cfg.vocab;
    float temp = s->temperature > 0.0f ? s->temperature : 1.0f;
    int dirty = 1;
    for (int i = s->steps; i >= 1; i--) {
        if (dirty) { /* the logits only change when a token did */
            int rc = run(m, tok, B, T);
            if (rc)
                return rc;
            dirty = 0;
        }
        /* from t = i/N to s = (i-1)/N a masked token is revealed with prob (t-s)/t = 1/i */
        for (int n = 0; n < B * T; n++) {
            int r = m->row_of[n];
            if (r < 0 || tok[n] < V)
                continue;
            if (i == 1 || gsl_rng_uniform(rng) * i < 1.0) {
                row_dist d = dist_of(m, r);
                tok[n] = id_at(&d, model_sample_draw(d.l, d.n, temp, rng));
                dirty = 1;
            }
        }
        if (s->on_step)
            s->on_step(s->on_step_arg, s->steps - i + 1, s->steps, tok);
    }
    return MODEL_OK;
}

/* How many of the nc sorted candidates a THRESHOLD step commits: those above the
 * threshold, or the factor rule's prefix; at least one. */
static int threshold_count(const cand *c, int nc, const model_sample_settings *s)
{
    int k = 1;
    if (s->factor > 0.0f)
        while (k < nc && (k + 2) * (1.0 - c[k].conf) < s->factor)
            k++;
    else
        while (k < nc && c[k].conf > s->threshold)
            k++;
    return nc < k ? nc : k;
}

/* LLaDA: blocks of block_len; in block j, steps_j forwards, each revealing the planned
 * number of masks of every sequence: those with the best-ranked proposals (confidence,
 * margin or entropy). THRESHOLD: as many forwards per block as it takes, each committing
 * threshold_count of them. */
static int sample_confidence(model *m, int32_t *tok, int B, int T, int block_len,
                             const model_sample_settings *s, gsl_rng *rng)
{
    const int steps = s->steps;
    const float temp = s->temperature;
    int done = 0;
    const int V = m->cfg.vocab;
    int nblocks = (T + block_len - 1) / block_len;
    const int thr = s->strategy == MODEL_SAMPLE_THRESHOLD;
    const int own_rank =
        s->strategy == MODEL_SAMPLE_MARGIN || s->strategy == MODEL_SAMPLE_ENTROPY;
    if (steps < nblocks && !thr)
        return model_fail(m, MODEL_EINVAL, "%d steps for %d blocks: need one per block", steps,
                          nblocks);
    cand *cands = malloc((size_t)T * sizeof *cands);
    int *plan = malloc((size_t)B * sizeof *plan);
    int32_t *prop = malloc((size_t)B * T * sizeof *prop);
    double *conf = malloc((size_t)B * T * sizeof *conf);
    if (!cands || !plan || !prop || !conf) {
        free(cands);
        free(plan);
        free(prop);
        free(conf);
        return model_fail(m, MODEL_ENOMEM, "out of memory");
    }
    int rc = MODEL_OK;
    for (int j = 0; j < nblocks && !rc; j++) {
        int lo = j * block_len, hi = lo + block_len < T ? lo + block_len : T;
        int sj = thr ? hi - lo : steps / nblocks + (j < steps % nblocks);
        for (int b = 0; b < B; b++) {
            plan[b] = 0;
            for (int t = lo; t < hi; t++)
                plan[b] += tok[(size_t)b * T + t] >= V;
        }
        for (int i = 0; i < sj && !rc; i++) {
            int any = 0;
            for (int b = 0; b < B; b++)
                any |= plan[b] > 0;
            if (!any)
                break;
            rc = run(m, tok, B, T);
            if (rc)
                break;
            for (int n = 0; n < B * T; n++) {
                int r = m->row_of[n], t = n % T;
                if (r < 0 || t < lo || t >= hi)
                    continue;
                row_dist d = dist_of(m, r);
                conf[n] = 0.0; /* margin and entropy rank without the proposal's probability */
                prop[n] = id_at(
                    &d, model_sample_propose(d.l, d.n, temp, rng, own_rank ? NULL : &conf[n]));
                conf[n] = model_sample_rank(d.l, d.n, s->strategy, conf[n]);
            }
            for (int b = 0; b < B; b++) {
                /* LLaDA's get_num_transfer_tokens: base + 1 for the first (remainder) steps */
                int left = sj - i;
                int k = plan[b] / left + (plan[b] % left ? 1 : 0);
                int nc = 0;
                for (int t = lo; t < hi; t++) {
                    size_t n = (size_t)b * T + t;
                    if (tok[n] >= V)
                        cands[nc++] = (cand){conf[n], t, prop[n], 0};
                }
                qsort(cands, (size_t)nc, sizeof *cands, cand_cmp);
                if (thr)
                    k = threshold_count(cands, nc, s);
                if (k > nc)
                    k = nc;
                for (int c = 0; c < k; c++)
                    tok[(size_t)b * T + cands[c].pos] = cands[c].tok;
                plan[b] -= k;
            }
            if (s->on_step)
                s->on_step(s->on_step_arg, ++done, thr ? 0 : steps, tok);
        }
    }
    free(cands);
    free(plan);
    free(prop);
    free(conf);
    return rc;
}

/* ---- ReMDM ---- */

/* The schedule alpha at time t: 1 - t, or LOOP's three pieces. */
static double remdm_alpha(const model_sample_settings *s, double t)
{
    if (s->remdm_schedule != MODEL_REMDM_LOOP)
        return 1.0 - t;
    const double on = s->t_on, off = s->t_off, a = s->alpha_on;
    if (t >= on)
        return a * (1.0 - t) / (1.0 - on);
    if (t >= off)
        return a;
    return a + (1.0 - a) * (off - t) / off;
}

/* ReMDM's sampler (model.h): at step i of N, from t = i/N to s = (i-1)/N, every mask is
 * revealed with probability (alpha_s - (1 - sigma) alpha_t) / (1 - alpha_t) and every
 * generated token remasked (to its original mask id) with probability sigma. Each position
 * decides from the state at the step's start. With sigma = 0 the random numbers are drawn
 * as sample_random draws them. */
static int sample_remdm(model *m, int32_t *tok, int B, int T, const model_sample_settings *s,
                        gsl_rng *rng)
{
    const int V = m->cfg.vocab, N = s->steps;
    const size_t BT = (size_t)B * T;
    const float temp = s->temperature > 0.0f ? s->temperature : 1.0f;
    int32_t *orig = malloc(BT * sizeof *orig);
    double *psi = malloc(BT * sizeof *psi), *w = malloc(BT * sizeof *w);
    if (!orig || !psi || !w) {
        free(orig);
        free(psi);
        free(w);
        return model_fail(m, MODEL_ENOMEM, "out of memory");
    }
    memcpy(orig, tok, BT * sizeof *orig);
    int rc = MODEL_OK, dirty = 1;
    for (int i = N; i >= 1 && !rc; i--) {
        const double t = (double)i / N, sp = (double)(i - 1) / N;
        const double at = remdm_alpha(s, t), as = remdm_alpha(s, sp);
        double smax = at > 0.0 ? fmin(1.0, (1.0 - as) / at) : 0.0;
        double sigma = 0.0;
        switch (s->remdm_schedule) {
        case MODEL_REMDM_CAP:
            sigma = fmin(s->eta, smax);
            break;
        case MODEL_REMDM_RESCALE:
        case MODEL_REMDM_CONF:
            sigma = s->eta * smax;
            break;
        case MODEL_REMDM_LOOP:
            sigma = t <= s->t_on + 1e-12 && sp >= s->t_off - 1e-12 ? fmin(s->eta, smax) : 0.0;
            break;
        }
        /* CONF: each generated token's share of sigma, softmax(-psi) over the sequence */
        for (int b = 0; b < B; b++) {
            double z = 0.0;
            for (int u = 0; u < T; u++) {
                size_t n = (size_t)b * T + u;
                int gen = orig[n] >= V && tok[n] < V;
                w[n] = !gen ? 0.0 : s->remdm_schedule == MODEL_REMDM_CONF ? exp(-psi[n]) : 1.0;
                z += s->remdm_schedule == MODEL_REMDM_CONF ? w[n] : 0.0;
            }
            for (int u = 0; u < T && z > 0.0; u++)
                w[(size_t)b * T + u] /= z;
        }
        if (dirty) { /* the logits only change when a token did */
            if ((rc = run(m, tok, B, T)))
                break;
            dirty = 0;
        }
        for (size_t n = 0; n < BT; n++) {
            if (tok[n] < V) {
                double sg = sigma * w[n];
                if (sg > 0.0 && gsl_rng_uniform(rng) < sg) {
                    tok[n] = orig[n];
                    dirty = 1;
                }
                continue;
            }
            int r = m->row_of[n];
            if (r < 0)
                continue;
            double pu = at < 1.0 ? (as - (1.0 - sigma) * at) / (1.0 - at) : 1.0;
            if (pu >= 1.0 || gsl_rng_uniform(rng) < pu) {
                row_dist d = dist_of(m, r);
                int k = model_sample_draw(d.l, d.n, temp, rng);
                tok[n] = id_at(&d, k);
                psi[n] = exp((double)d.l[k] - d.lse);
                dirty = 1;
            }
        }
        if (s->on_step)
            s->on_step(s->on_step_arg, N - i + 1, N, tok);
    }
    free(orig);
    free(psi);
    free(w);
    return rc;
}

/* Parameters of the THRESHOLD and REMDM strategies, checked before any work. */
static int check_params(model *m, const model_sample_settings *s)
{
    if (s->strategy == MODEL_SAMPLE_THRESHOLD) {
        if (!(s->factor >= 0.0f) || !isfinite(s->factor))
            return model_fail(m, MODEL_EINVAL, "sample: factor %g must be >= 0",
                              (double)s->factor);
        if (s->factor == 0.0f && !(s->threshold > 0.0f && s->threshold < 1.0f))
            return model_fail(m, MODEL_EINVAL, "sample: threshold %g outside (0, 1)",
                              (double)s->threshold);
    }
    if (s->strategy != MODEL_SAMPLE_REMDM)
        return MODEL_OK;
    if (!model_remdm_schedule_name(s->remdm_schedule))
        return model_fail(m, MODEL_EINVAL, "sample: unknown remdm schedule %d",
                          s->remdm_schedule);
    int unit =
        s->remdm_schedule == MODEL_REMDM_RESCALE || s->remdm_schedule == MODEL_REMDM_CONF;
    if (!(s->eta >= 0.0f) || !isfinite(s->eta) || (unit && s->eta > 1.0f))
        return model_fail(m, MODEL_EINVAL, "sample: eta %g outside [0, %s] for schedule %s",
                          (double)s->eta, unit ? "1" : "inf",
                          model_remdm_schedule_name(s->remdm_schedule));
    if (s->remdm_schedule == MODEL_REMDM_LOOP &&
        !(s->t_off >= 0.0f && s->t_off < s->t_on && s->t_on <= 1.0f && s->alpha_on > 0.0f &&
          s->alpha_on < 1.0f))
        return model_fail(m, MODEL_EINVAL,
                          "sample: loop schedule t_on %g, t_off %g, alpha_on %g: need "
                          "0 <= t_off < t_on <= 1 and 0 < alpha_on < 1",
                          (double)s->t_on, (double)s->t_off, (double)s->alpha_on);
    return MODEL_OK;
}

/* ---- coarse-to-fine chains ---- */

/* The level of input id `id` in chain ch: 0 a token, l a stage-l description, m+1 a mask
 * id; -1 for a description id in no stage. */
static int chain_level(const model *m, const model_chain *ch, int32_t id)
{
    const int32_t V = m->cfg.vocab, VK = V + m->cfg.n_mask;
    if (id < V)
        return 0;
    if (id < VK)
        return ch->length + 1;
    for (int l = 1; l <= ch->length; l++)
        if (id < ch->stage_first[l])
            return id >= ch->stage_first[l - 1] ? l : -1;
    return -1;
}

/* Checks the chain's arrays against the model and the tokens. */
static int check_chain(model *m, const model_chain *ch, const int32_t *tok, int B, int T,
                       const model_sample_settings *s)
{
    const char *name = model_strategy_name(s->strategy);
    if (!ch)
        return model_fail(m, MODEL_EINVAL, "sample: the %s strategy needs settings.chain",
                          name);
    const int mm = ch->length, V = m->cfg.vocab, VK = V + m->cfg.n_mask;
    if (mm < 0 || mm > 64)
        return model_fail(m, MODEL_EINVAL, "sample: chain length %d outside 0..64", mm);
    if (mm > 0) {
        if (!ch->stage_first || !ch->describe)
            return model_fail(m, MODEL_EINVAL,
                              "sample: a chain of %d stages needs stage_first "
                              "and describe",
                              mm);
        if (!m->lay_start)
            return model_fail(m, MODEL_ESTATE,
                              "sample: a chain of %d stages needs the model's membership "
                              "layout (model_set_layout)",
                              mm);
        for (int l = 0; l <= mm; l++)
            if (ch->stage_first[l] < (l ? ch->stage_first[l - 1] : VK) ||
                ch->stage_first[l] > VK + m->cfg.n_desc)
                return model_fail(m, MODEL_EINVAL,
                                  "sample: chain stage_first[%d] = %d: the stages must be "
                                  "in order inside the description ids %d..%d",
                                  l, ch->stage_first[l], VK, VK + m->cfg.n_desc - 1);
        for (int j = 1; j <= mm; j++) {
            if (!ch->describe[j - 1])
                return model_fail(m, MODEL_EINVAL, "sample: chain describe[%d] is NULL", j - 1);
            for (int v = 0; v < V; v++) {
                int32_t d = ch->describe[j - 1][v];
                if (d < ch->stage_first[j - 1] || d >= ch->stage_first[j])
                    return model_fail(m, MODEL_EINVAL,
                                      "sample: token %d's stage-%d description %d is not a "
                                      "stage-%d id (%d..%d)",
                                      v, j, d, j, ch->stage_first[j - 1],
                                      ch->stage_first[j] - 1);
            }
        }
    }
    int top = 0;
    for (size_t n = 0; n < (size_t)B * T; n++) {
        int l = chain_level(m, ch, tok[n]);
        if (l < 0)
            return model_fail(m, MODEL_ERANGE,
                              "sample: description id %d at batch %zu position %zu is in no "
                              "stage of the chain",
                              tok[n], n / T, n % T);
        top = l > top ? l : top;
    }
    if (s->strategy == MODEL_SAMPLE_CHAIN_CONFIDENCE && top > s->steps)
        return model_fail(m, MODEL_EINVAL,
                          "sample: chain-confidence moves a position one level per step: "
                          "%d steps for level %d",
                          s->steps, top);
    if (s->strategy != MODEL_SAMPLE_CHAIN)
        return MODEL_OK;
    if (!ch->kernel)
        return model_fail(m, MODEL_EINVAL, "sample: the chain strategy needs chain.kernel");
    const int W = mm + 2;
    for (int i = 0; i < s->steps; i++)
        for (int l = 0; l < W; l++) {
            const double *row = ch->kernel + ((size_t)i * W + l) * W;
            double sum = 0.0;
            for (int j = 0; j < W; j++) {
                if (!(row[j] >= 0.0 && row[j] <= 1.0 + 1e-9) || (j > l && row[j] > 1e-9))
                    return model_fail(m, MODEL_EINVAL,
                                      "sample: chain kernel step %d, level %d to %d is %g "
                                      "(in [0, 1], 0 above the diagonal)",
                                      i, l, j, row[j]);
                sum += row[j];
            }
            if (fabs(sum - 1.0) > 1e-6)
                return model_fail(m, MODEL_EINVAL,
                                  "sample: chain kernel step %d, level %d sums to %.9g, not 1",
                                  i, l, sum);
        }
    return MODEL_OK;
}

/* The new state of a position whose token x (drawn from its row, whose input is `cur` at
 * level l) moves to level j < l: x's stage-j description, x itself at j = 0. The chain
 * must agree with the layout: x's stage-l description is cur. */
static int chain_state(model *m, const model_chain *ch, int32_t cur, int l, int j, int32_t x,
                       int32_t *out)
{
    if (l <= ch->length && ch->describe[l - 1][x] != cur)
        return model_fail(m, MODEL_EINVAL,
                          "sample: token %d is a member of description %d in the layout, "
                          "and of %d in the chain's stage-%d map",
                          x, cur, ch->describe[l - 1][x], l);
    *out = j ? ch->describe[j - 1][x] : x;
    return MODEL_OK;
}

/* Ancestral: at step i every position at level l >= 1 draws its new level j from
 * kernel[i][l]; moving (j < l), it draws a token x from its restricted distribution and
 * takes x's stage-j state. The last step sends every position to level 0. */
static int sample_chain(model *m, int32_t *tok, int B, int T, const model_sample_settings *s,
                        gsl_rng *rng)
{
    const model_chain *ch = s->chain;
    const int W = ch->length + 2;
    const float temp = s->temperature > 0.0f ? s->temperature : 1.0f;
    int dirty = 1;
    for (int i = 0; i < s->steps; i++) {
        const int last = i == s->steps - 1;
        if (dirty) { /* the logits only change when a state did */
            int rc = run(m, tok, B, T);
            if (rc)
                return rc;
            dirty = 0;
        }
        for (int n = 0; n < B * T; n++) {
            int l = chain_level(m, ch, tok[n]), j = 0;
            if (l == 0)
                continue;
            if (!last) {
                const double *row = ch->kernel + ((size_t)i * W + l) * W;
                double u = gsl_rng_uniform(rng), acc = 0.0;
                for (j = 0; j < l; j++) {
                    acc += row[j];
                    if (u < acc)
                        break;
                }
                if (j == l)
                    continue;
            }
            row_dist d = dist_of(m, m->row_of[n]);
            int32_t x = id_at(&d, model_sample_draw(d.l, d.n, temp, rng));
            int rc = chain_state(m, ch, tok[n], l, j, x, &tok[n]);
            if (rc)
                return rc;
            dirty = 1;
        }
        if (s->on_step)
            s->on_step(s->on_step_arg, i + 1, s->steps, tok);
    }
    return MODEL_OK;
}

/* The proposed stage-j state of a row and its probability: for j = 0 the proposed token
 * (propose); for j >= 1 the stage-j description whose members within the row's state set
 * carry the most probability (with temp > 0, after Gumbel noise of scale temp on the log
 * of the summed probabilities). acc: (stage size) zeros, left zero; touched: room for
 * d->n entries. */
static int32_t propose_stage(const model_chain *ch, const row_dist *d, int j, float temp,
                             gsl_rng *rng, double *acc, int32_t *touched, double *conf)
{
    if (j == 0)
        return id_at(d, model_sample_propose(d->l, d->n, temp, rng, conf));
    const int32_t *map = ch->describe[j - 1], base = ch->stage_first[j - 1];
    int nt = 0;
    for (int k = 0; k < d->n; k++) {
        int32_t b = map[id_at(d, k)] - base; /* check_chain: in 0..stage size - 1 */
        double p = exp((double)d->l[k] - d->lse);
        if (acc[b] == 0.0)
            touched[nt++] = b;
        acc[b] += p;
    }
    int32_t best = touched[0];
    double bestv = -INFINITY;
    for (int i = 0; i < nt; i++) {
        int32_t b = touched[i];
        double v = log(acc[b]);
        if (temp > 0.0f && v > -INFINITY)
            v -= temp * log(-log(gsl_rng_uniform_pos(rng)));
        if (v > bestv) {
            bestv = v;
            best = b;
        }
    }
    *conf = acc[best];
    for (int i = 0; i < nt; i++)
        acc[touched[i]] = 0.0;
    return base + best;
}

/* By confidence: each step, in every sequence, the positions whose proposed finer state is
 * most probable move one level finer; ceil(left levels / steps left) of them, and at least
 * every position with as many levels left as steps (so the last step ends clean). */
static int sample_chain_confidence(model *m, int32_t *tok, int B, int T,
                                   const model_sample_settings *s, gsl_rng *rng)
{
    const model_chain *ch = s->chain;
    const size_t N = (size_t)B * T;
    int stage_max = 1;
    for (int j = 1; j <= ch->length; j++) {
        int size = ch->stage_first[j] - ch->stage_first[j - 1];
        stage_max = size > stage_max ? size : stage_max;
    }
    cand *cands = malloc((size_t)T * sizeof *cands);
    long *plan = malloc((size_t)B * sizeof *plan);
    int32_t *prop = malloc(N * sizeof *prop);
    double *conf = malloc(N * sizeof *conf);
    double *acc = calloc((size_t)stage_max, sizeof *acc);
    int32_t *touched = malloc((size_t)m->cfg.vocab * sizeof *touched);
    int rc = MODEL_OK;
    if (!cands || !plan || !prop || !conf || !acc || !touched) {
        rc = model_fail(m, MODEL_ENOMEM, "out of memory");
        goto done;
    }
    for (int b = 0; b < B; b++) {
        plan[b] = 0;
        for (int t = 0; t < T; t++)
            plan[b] += chain_level(m, ch, tok[(size_t)b * T + t]);
    }
    for (int i = 0; i < s->steps; i++) {
        const int left = s->steps - i;
        long any = 0;
        for (int b = 0; b < B; b++)
            any |= plan[b];
        if (!any)
            break;
        if ((rc = run(m, tok, B, T)))
            goto done;
        for (size_t n = 0; n < N; n++) {
            int l = chain_level(m, ch, tok[n]);
            if (l == 0)
                continue;
            row_dist d = dist_of(m, m->row_of[n]);
            int32_t x =
                propose_stage(ch, &d, l - 1, s->temperature, rng, acc, touched, &conf[n]);
            /* a proposed token must lie in the current description (a proposed description
             * is the map of such tokens) */
            if (l == 1 && (rc = chain_state(m, ch, tok[n], 1, 0, x, &x)))
                goto done;
            prop[n] = x;
        }
        for (int b = 0; b < B; b++) {
            int nc = 0, forced = 0;
            for (int t = 0; t < T; t++) {
                size_t n = (size_t)b * T + t;
                int l = chain_level(m, ch, tok[n]);
                if (l == 0)
                    continue;
                cands[nc] = (cand){conf[n], t, prop[n], l >= left};
                forced += cands[nc++].forced;
            }
            long k = plan[b] / left + (plan[b] % left ? 1 : 0);
            k = k < forced ? forced : k;
            k = k > nc ? nc : k;
            qsort(cands, (size_t)nc, sizeof *cands, cand_cmp);
            for (int c = 0; c < k; c++)
                tok[(size_t)b * T + cands[c].pos] = cands[c].tok;
            plan[b] -= k;
        }
        if (s->on_step)
            s->on_step(s->on_step_arg, i + 1, s->steps, tok);
    }
done:
    free(cands);
    free(plan);
    free(prop);
    free(conf);
    free(acc);
    free(touched);
    return rc;
}

static int sample_dispatch(model *m, int32_t *tokens, int B, int T,
                           const model_sample_settings *s, gsl_rng *rng);

int model_sample(model *m, int32_t *tokens, int B, int T, const model_sample_settings *s,
                 gsl_rng *rng)
{
    if (!m)
        return MODEL_EINVAL;
    model_clear_error(m);
    if (!tokens || !s || !rng || B < 1 || T < 1)
        return model_fail(m, MODEL_EINVAL, "sample: missing tokens, settings or rng");
    if (s->eot < -1 || s->eot >= m->cfg.vocab)
        return model_fail(m, MODEL_EINVAL, "sample: end-of-text id %d outside 0..%d (-1: none)",
                          (int)s->eot, m->cfg.vocab - 1);
    int rc = sample_dispatch(m, tokens, B, T, s, rng);
    if (rc == MODEL_OK && s->eot >= 0)
        model_cut_at_eot(tokens, B, T, s->eot, s->lengths);
    else if (rc == MODEL_OK && s->lengths)
        for (int b = 0; b < B; b++)
            s->lengths[b] = T;
    return rc;
}

static int sample_dispatch(model *m, int32_t *tokens, int B, int T,
                           const model_sample_settings *s, gsl_rng *rng)
{
    if (s->steps < 1)
        return model_fail(m, MODEL_EINVAL, "sample: steps must be >= 1, not %d", s->steps);
    if (!(s->temperature >= 0.0f) || !isfinite(s->temperature))
        return model_fail(m, MODEL_EINVAL, "sample: bad temperature %g",
                          (double)s->temperature);
    const int32_t nin = m->cfg.vocab + m->cfg.n_mask + m->cfg.n_desc;
    for (size_t n = 0; n < (size_t)B * T; n++)
        if (tokens[n] < 0 || tokens[n] >= nin)
            return model_fail(m, MODEL_ERANGE,
                              "sample: id %d at batch %zu position %zu is "
                              "outside 0..%d",
                              tokens[n], n / T, n % T, nin - 1);
    if (s->cache < MODEL_CACHE_NONE || s->cache > MODEL_CACHE_DUAL)
        return model_fail(m, MODEL_EINVAL, "sample: unknown cache %d", s->cache);
    int prc = check_params(m, s);
    if (prc)
        return prc;
    if (m->cfg.mode == MODEL_AR)
        return model_decode_ar(m, tokens, B, T, s, rng);
    if (m->cfg.mode == MODEL_BLOCK)
        return model_decode_block(m, tokens, B, T, s, rng);
    if (s->cache == MODEL_CACHE_DUAL) {
        if (s->strategy != MODEL_SAMPLE_BLOCK)
            return model_fail(
                m, MODEL_EINVAL,
                "sample: the dual cache decodes by blocks (strategy block), not %s",
                model_strategy_name(s->strategy) ? model_strategy_name(s->strategy) : "?");
        if (s->block_len < 1)
            return model_fail(m, MODEL_EINVAL, "sample: block_len must be >= 1, not %d",
                              s->block_len);
        return model_decode_dual(m, tokens, B, T, s, rng);
    }
    switch (s->strategy) {
    case MODEL_SAMPLE_RANDOM:
        return sample_random(m, tokens, B, T, s, rng);
    case MODEL_SAMPLE_CONFIDENCE:
    case MODEL_SAMPLE_MARGIN:
    case MODEL_SAMPLE_ENTROPY:
        return sample_confidence(m, tokens, B, T, T, s, rng);
    case MODEL_SAMPLE_THRESHOLD:
        return sample_confidence(
            m, tokens, B, T, s->block_len >= 1 && s->block_len < T ? s->block_len : T, s, rng);
    case MODEL_SAMPLE_REMDM:
        for (size_t n = 0; n < (size_t)B * T; n++)
            if (tokens[n] >= m->cfg.vocab + m->cfg.n_mask)
                return model_fail(m, MODEL_EINVAL,
                                  "sample: remdm takes tokens and mask ids only, not "
                                  "description id %d",
                                  tokens[n]);
        return sample_remdm(m, tokens, B, T, s, rng);
    case MODEL_SAMPLE_BLOCK:
        if (s->block_len < 1)
            return model_fail(m, MODEL_EINVAL, "sample: block_len must be >= 1, not %d",
                              s->block_len);
        return sample_confidence(m, tokens, B, T, s->block_len, s, rng);
    case MODEL_SAMPLE_CHAIN:
    case MODEL_SAMPLE_CHAIN_CONFIDENCE: {
        int rc = check_chain(m, s->chain, tokens, B, T, s);
        if (rc)
            return rc;
        return s->strategy == MODEL_SAMPLE_CHAIN
                   ? sample_chain(m, tokens, B, T, s, rng)
                   : sample_chain_confidence(m, tokens, B, T, s, rng);
    }
    default:
        return model_fail(m, MODEL_EINVAL, "sample: unknown strategy %d", (int)s->strategy);
    }
}
