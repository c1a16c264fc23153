/* transformer.c: the whole-model passes: activations sized per (B, T), the predicted rows
 * of a batch, the forward to the SUBS log-probs and weighted loss, the backward, and the
 * scoring entry. */
#include "model_internal.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"

/* Where each tensor's pointer lives in its table, by name. */
static const size_t act_offset[NUM_ACT_TENSORS] = {
    [A_ENCODED] = offsetof(act_tensors, encoded),
    [A_LN1] = offsetof(act_tensors, ln1),
    [A_LN1_MEAN] = offsetof(act_tensors, ln1_mean),
    [A_LN1_RSTD] = offsetof(act_tensors, ln1_rstd),
    [A_QKV] = offsetof(act_tensors, qkv),
    [A_ATTY] = offsetof(act_tensors, atty),
    [A_ATT] = offsetof(act_tensors, att),
    [A_RESIDUAL2] = offsetof(act_tensors, residual2),
    [A_LN2] = offsetof(act_tensors, ln2),
    [A_LN2_MEAN] = offsetof(act_tensors, ln2_mean),
    [A_LN2_RSTD] = offsetof(act_tensors, ln2_rstd),
    [A_FCH] = offsetof(act_tensors, fch),
    [A_FCH_GELU] = offsetof(act_tensors, fch_gelu),
    [A_RESIDUAL3] = offsetof(act_tensors, residual3),
    [A_LNF] = offsetof(act_tensors, lnf),
    [A_LNF_MEAN] = offsetof(act_tensors, lnf_mean),
    [A_LNF_RSTD] = offsetof(act_tensors, lnf_rstd),
    [A_H] = offsetof(act_tensors, h),
    [A_LOGITS] = offsetof(act_tensors, logits),
    [A_LSE] = offsetof(act_tensors, lse),
};

static const size_t scratch_offset[NUM_GRAD_SCRATCH] = {
    [S_DRES] = offsetof(grad_scratch, dres),   [S_DLN] = offsetof(grad_scratch, dln),
    [S_DATTY] = offsetof(grad_scratch, datty), [S_DQKV] = offsetof(grad_scratch, dqkv),
    [S_DFCH] = offsetof(grad_scratch, dfch),   [S_DATT] = offsetof(grad_scratch, datt),
};

static float **act_slot(act_tensors *a, int i)
{
    return (float **)((char *)a + act_offset[i]);
}

static float **scratch_slot(grad_scratch *g, int i)
{
    return (float **)((char *)g + scratch_offset[i]);
}

/* 1 for the activations that hold one slice per layer */
static int act_is_layered(int i)
{
    return i >= A_LN1 && i <= A_RESIDUAL3;
}

/* Lays the activation and scratch tables out for (B, T), growing the buffers if needed. */
static int size_activations(model *m, int B, int T)
{
    if (m->B == B && m->T == T)
        return MODEL_OK;
    const size_t L = (size_t)m->cfg.layers, C = (size_t)m->cfg.d, H = (size_t)m->cfg.heads;
    const size_t V = (size_t)model_out_classes(m), N = (size_t)B * T;
    /* the largest tensors, estimated in double so that absurd shapes cannot wrap size_t */
    double est = (double)L * N * (16.0 * C + (double)H * T) + (double)N * V;
    if (est > (double)((size_t)1 << 40))
        return model_fail(m, MODEL_ENOMEM, "activations for B=%d T=%d would need %.3g floats",
                          B, T, est);
    const size_t as[NUM_ACT_TENSORS] = {
        [A_ENCODED] = N * C,
        [A_LN1] = L * N * C,
        [A_LN1_MEAN] = L * N,
        [A_LN1_RSTD] = L * N,
        [A_QKV] = L * N * 3 * C,
        [A_ATTY] = L * N * C,
        [A_ATT] = L * N * H * T,
        [A_RESIDUAL2] = L * N * C,
        [A_LN2] = L * N * C,
        [A_LN2_MEAN] = L * N,
        [A_LN2_RSTD] = L * N,
        [A_FCH] = L * N * 4 * C,
        [A_FCH_GELU] = L * N * 4 * C,
        [A_RESIDUAL3] = L * N * C,
        [A_LNF] = N * C,
        [A_LNF_MEAN] = N,
        [A_LNF_RSTD] = N,
        [A_H] = N * C,
        [A_LOGITS] = N * V,
        [A_LSE] = N,
    };
    const size_t ss[NUM_GRAD_SCRATCH] = {
        [S_DRES] = N * C,     [S_DLN] = N * C,      [S_DATTY] = N * C,
        [S_DQKV] = N * 3 * C, [S_DFCH] = N * 4 * C, [S_DATT] = (size_t)m->threads * T * T,
    };
    size_t atotal = 0, stotal = 0;
    for (int i = 0; i < NUM_ACT_TENSORS; i++)
        atotal += as[i];
    for (int i = 0; i < NUM_GRAD_SCRATCH; i++)
        stotal += ss[i];
    if (atotal > m->acts_cap) {
        free(m->acts_mem);
        m->acts_mem = model_alloc_floats(atotal);
        m->acts_cap = m->acts_mem ? atotal : 0;
    }
    if (stotal > m->scratch_cap) {
        free(m->scratch_mem);
        m->scratch_mem = model_alloc_floats(stotal);
        m->scratch_cap = m->scratch_mem ? stotal : 0;
    }
    if (N > m->rows_cap) {
        free(m->inputs);
        free(m->targets);
        free(m->scale);
        free(m->dscale);
        free(m->rows);
        free(m->row_of);
        free(m->row_off);
        free(m->tlse);
        free(m->row_amax);
        free(m->grp_desc);
        free(m->grp_first);
        m->inputs = malloc(N * sizeof *m->inputs);
        m->targets = malloc(N * sizeof *m->targets);
        m->scale = malloc(N * sizeof *m->scale);
        m->dscale = malloc(N * sizeof *m->dscale);
        m->rows = malloc(N * sizeof *m->rows);
        m->row_of = malloc(N * sizeof *m->row_of);
        m->row_off = malloc(N * sizeof *m->row_off);
        m->tlse = malloc(N * sizeof *m->tlse);
        m->row_amax = malloc(N * sizeof *m->row_amax);
        m->grp_desc = malloc(N * sizeof *m->grp_desc);
        m->grp_first = malloc((N + 1) * sizeof *m->grp_first);
        m->rows_cap =
            (m->inputs && m->targets && m->scale && m->dscale && m->rows && m->row_of &&
             m->row_off && m->tlse && m->row_amax && m->grp_desc && m->grp_first)
                ? N
                : 0;
    }
    if (!m->acts_mem || !m->scratch_mem || !m->rows_cap) {
        m->B = m->T = 0;
        return model_fail(m, MODEL_ENOMEM, "cannot allocate activations for B=%d T=%d", B, T);
    }
    float *p = m->acts_mem;
    for (int i = 0; i < NUM_ACT_TENSORS; i++) {
        *act_slot(&m->acts, i) = p;
        m->act_sizes[i] = as[i];
        p += as[i];
    }
    p = m->scratch_mem;
    for (int i = 0; i < NUM_GRAD_SCRATCH; i++) {
        *scratch_slot(&m->gs, i) = p;
        m->scratch_sizes[i] = ss[i];
        p += ss[i];
    }
    m->B = B;
    m->T = T;
    return MODEL_OK;
}

/* Checks the batch and copies it (block mode with clean: per sequence the T noisy rows,
 * then the T clean rows, targets the same with the clean tokens as their own targets);
 * builds the list of predicted rows: the positions holding a mask id (every position in AR
 * mode), then those holding a description, grouped by description in the layout's
 * (colour, id) order; sets the attention pattern. */
static int take_batch(model *m, const int32_t *inputs, const int32_t *clean,
                      const int32_t *targets, int B, int T)
{
    const model_config *c = &m->cfg;
    if (!inputs || B < 1 || T < 1)
        return model_fail(m, MODEL_EINVAL, "empty batch (B=%d, T=%d)", B, T);
    if (T > c->seq_len)
        return model_fail(m, MODEL_EINVAL, "sequence length %d exceeds the model's %d", T,
                          c->seq_len);
    if ((size_t)B * T > (size_t)1 << 27)
        return model_fail(m, MODEL_EINVAL, "batch B=%d T=%d is too large", B, T);
    if (clean && c->mode != MODEL_BLOCK)
        return model_fail(m, MODEL_EINVAL,
                          "a clean sequence is for the block mode; the model's mode is %s",
                          model_mode_name(c->mode));
    if (c->mode == MODEL_BLOCK && T % c->block != 0)
        return model_fail(m, MODEL_EINVAL, "sequence length %d is not a multiple of block %d",
                          T, c->block);
    const int R = clean ? 2 * T : T; /* rows per sequence */
    const int32_t V = c->vocab, VK = c->vocab + c->n_mask, VKD = VK + c->n_desc;
    const int32_t nin = VKD + c->n_edit;
    const size_t N = (size_t)B * T;
    size_t n_desc_in = 0;
    for (size_t n = 0; n < N; n++) {
        if (inputs[n] < 0 || inputs[n] >= nin)
            return model_fail(m, MODEL_ERANGE,
                              "input id %d at batch %zu position %zu is "
                              "outside 0..%d",
                              inputs[n], n / T, n % T, nin - 1);
        if (targets &&
            (targets[n] < 0 || targets[n] >= nin || (targets[n] >= V && targets[n] < VK))) {
            if (c->n_edit)
                return model_fail(m, MODEL_ERANGE,
                                  "target id %d at batch %zu position %zu is neither a token "
                                  "(0..%d) nor an edit id (%d [expand], %d [delete])",
                                  targets[n], n / T, n % T, V - 1, VKD, VKD + 1);
            if (nin == VK)
                return model_fail(m, MODEL_ERANGE,
                                  "target id %d at batch %zu position %zu is "
                                  "outside 0..%d",
                                  targets[n], n / T, n % T, V - 1);
            return model_fail(m, MODEL_ERANGE,
                              "target id %d at batch %zu position %zu is neither a token "
                              "(0..%d) nor a description (%d..%d)",
                              targets[n], n / T, n % T, V - 1, VK, nin - 1);
        }
        int desc_in = inputs[n] >= VK && inputs[n] < VKD;
        int desc_tg = targets && targets[n] >= VK && targets[n] < VKD;
        if ((desc_in || desc_tg) && !m->lay_start)
            return model_fail(m, MODEL_ESTATE,
                              "%s id %d at batch %zu position %zu is a description, and the "
                              "model has no membership layout (model_set_layout)",
                              desc_in ? "input" : "target", desc_in ? inputs[n] : targets[n],
                              n / T, n % T);
        if (desc_in) {
            int e = inputs[n] - VK;
            if (m->lay_start[e + 1] == m->lay_start[e])
                return model_fail(m, MODEL_EINVAL,
                                  "input description %d at batch %zu position %zu has no "
                                  "members",
                                  inputs[n], n / T, n % T);
            n_desc_in++;
        }
    }
    for (size_t n = 0; clean && n < N; n++)
        if (clean[n] < 0 || clean[n] >= V)
            return model_fail(m, MODEL_ERANGE,
                              "clean id %d at batch %zu position %zu is not a token (0..%d)",
                              clean[n], n / T, n % T, V - 1);
    int rc = size_activations(m, B, R);
    if (rc)
        return rc;
    for (int b = 0; b < B; b++) {
        size_t at = (size_t)b * R, from = (size_t)b * T;
        memcpy(m->inputs + at, inputs + from, (size_t)T * sizeof *inputs);
        if (targets)
            memcpy(m->targets + at, targets + from, (size_t)T * sizeof *targets);
        /* an edit id as a target is its output class: V+K+D+j -> V+j */
        for (int t = 0; targets && c->n_edit && t < T; t++)
            if (m->targets[at + t] >= VKD)
                m->targets[at + t] -= VKD - V;
        if (clean) {
            memcpy(m->inputs + at + T, clean + from, (size_t)T * sizeof *clean);
            memcpy(m->targets + at + T, clean + from, (size_t)T * sizeof *clean);
        }
    }
    m->seqT = T;
    m->attn = (model_att_mask){.kind = c->mode == MODEL_AR      ? MODEL_ATT_CAUSAL
                                       : c->mode != MODEL_BLOCK ? MODEL_ATT_FULL
                                       : clean                  ? MODEL_ATT_PAIR
                                                                : MODEL_ATT_BLOCK,
                               .T = T,
                               .blk = c->block};
    inputs = m->inputs;
    const size_t NR = (size_t)B * R;
    const int ar = c->mode == MODEL_AR;
    const size_t W = (size_t)model_out_classes(m);
    int M = 0;
    for (size_t n = 0; n < NR; n++) {
        m->row_of[n] = -1;
        /* mask and edit ids (AR: every position) go through the full product */
        if ((inputs[n] >= V && inputs[n] < VK) || inputs[n] >= VKD || ar) {
            m->row_of[n] = M;
            m->row_off[M] = (size_t)M * W;
            m->rows[M++] = (int)n;
        }
    }
    m->Mf = M;
    m->n_groups = 0;
    if (n_desc_in > 0) {
        /* a counting sort by the description's rank in (colour, id) order */
        const int D = c->n_desc;
        int32_t *first = m->lay_count;
        memset(first, 0, ((size_t)D + 1) * sizeof *first);
        for (size_t n = 0; n < NR; n++)
            if (inputs[n] >= VK && inputs[n] < VKD)
                first[m->lay_rank[inputs[n] - VK] + 1]++;
        int g = 0;
        size_t off = (size_t)M * W;
        for (int r = 0; r < D; r++) {
            int count = first[r + 1];
            first[r + 1] = first[r] + count; /* first[r]: the rank's first row after M */
            if (count == 0)
                continue;
            int e = m->lay_order[r], size = m->lay_start[e + 1] - m->lay_start[e];
            m->grp_desc[g] = e;
            m->grp_first[g] = M + first[r];
            for (int i = 0; i < count; i++) {
                m->row_off[M + first[r] + i] = off;
                off += (size_t)size;
            }
            g++;
        }
        m->grp_first[g] = M + (int)n_desc_in;
        m->n_groups = g;
        for (size_t n = 0; n < NR; n++)
            if (inputs[n] >= VK && inputs[n] < VKD) {
                int r = M + first[m->lay_rank[inputs[n] - VK]]++;
                m->rows[r] = (int)n;
                m->row_of[n] = r;
            }
        M += (int)n_desc_in;
    }
    m->M = M;
    return MODEL_OK;
}

/* The layout and the batch's description rows for the output layers; NULL without a
 * layout. */
static const model_desc_rows *desc_rows(model *m, model_desc_rows *d)
{
    if (!m->lay_start)
        return NULL;
    *d = (model_desc_rows){.first_id = m->cfg.vocab + m->cfg.n_mask,
                           .start = m->lay_start,
                           .members = m->lay_members,
                           .colour = m->lay_colour,
                           .max = m->lay_max,
                           .n_groups = m->n_groups,
                           .grp_desc = m->grp_desc,
                           .grp_first = m->grp_first,
                           .row_off = m->row_off,
                           .scratch = m->lay_scratch,
                           .stride = m->lay_stride};
    return d;
}

/* The backward's loss scale of predicted row i: its weight / (B T), T the caller's positions
 * per sequence (weights NULL: all 1). */
static float row_loss_scale(const model *m, int i, const float *weights, int B, int T)
{
    size_t n = (size_t)m->rows[i], R = (size_t)m->T;
    return (weights ? weights[n / R * (size_t)T + n % R] : 1.0f) / (float)((size_t)B * T);
}

/* model_run_forward; train: a training forward (model_forward's, with its weights), whose
 * classifier leaves the class-target rows' dlogits while they are in cache */
static int run_forward(model *m, const int32_t *inputs, const int32_t *clean,
                       const int32_t *targets, int B, int T, int keep, int train,
                       const float *weights)
{
    const int T0 = T; /* the caller's positions per sequence */
    int rc = take_batch(m, inputs, clean, targets, B, T);
    if (rc)
        return rc;
    m->have_forward = 0;
    m->dl_fused = 0;
    m->calls++;
    T = m->T; /* rows per sequence: 2T with the clean half */
    const int L = m->cfg.layers, C = m->cfg.d, H = m->cfg.heads, V = m->cfg.vocab;
    const int N = B * T;
    const size_t NC = (size_t)N * C;
    param_tensors *w = &m->params;
    act_tensors *a = &m->acts;
    pool *p = m->pool;

    /* without keep (scoring, sampling) every layer reuses slot 0, the residual stream is
     * one buffer (residual3's slot 0) that the embedding starts and each projection adds to
     * in place, and attention works in per-thread scratch: what a backward would need is not
     * kept, nothing is copied, and the working set stays in cache */
    model_encoder_forward(keep ? a->encoded : a->residual3, m->inputs, w->wte, N, C, p);
    const float *res = keep ? a->encoded : a->residual3;
    /* Without keep, the last layer's output is read at the predicted rows only (by the
     * classifier): from its attention on, that layer runs on those rows, gathered in order
     * (their keys and values still come from every row). Each row's softmax and
     * normalisations are its own; the products' bits for a row depend on the rows around
     * it in OpenBLAS's call, so a score agrees with a training forward up to their rounding,
     * not bit for bit (tests model-score-rows, model-subs). Positions in order (no
     * description rows) and full attention only. */
    const int M = m->M, last_rows = !keep && m->attn.kind == MODEL_ATT_FULL &&
                                    m->n_groups == 0 && M > 0 && M < N;
    for (int l = 0; l < L; l++) {
        size_t s = keep ? (size_t)l : 0;
        float *ln1 = a->ln1 + s * NC, *qkv = a->qkv + s * 3 * NC, *atty = a->atty + s * NC;
        float *att = keep ? a->att + s * N * H * T : m->gs.datt;
        float *res2 = keep ? a->residual2 + s * NC : a->residual3;
        float *ln2 = a->ln2 + s * NC, *fch = a->fch + s * 4 * NC;
        float *fchg = a->fch_gelu + s * 4 * NC, *res3 = a->residual3 + s * NC;
        model_layernorm_forward(ln1, a->ln1_mean + s * N, a->ln1_rstd + s * N, res,
                                w->ln1w + l * C, w->ln1b + l * C, N, C, p);
        /* q and k rotated beside the product (twins share positions: T = seqT) */
        model_rope_ctx rc = {
            .x = qkv, .rope = m->rope, .T = m->seqT, .C = C, .H = H, .sign = 1};
        model_matmul_forward_post(qkv, NULL, ln1, w->qkvw + (size_t)l * 3 * C * C,
                                  w->qkvb + l * 3 * C, N, C, 3 * C, model_rope_rows, &rc, p);
        int nr = N; /* the rows from the attention on */
        if (last_rows && l == L - 1) {
            /* without keep res, res2 and res3 are one buffer: its predicted rows gathered
             * in place (rows[i] >= i is read before it is overwritten) */
            model_attention_rows_forward(atty, att, qkv, m->rows, M, B, T, C, H, p);
            for (int i = 0; i < M; i++)
                if (m->rows[i] != i)
                    memcpy(res2 + (size_t)i * C, res2 + (size_t)m->rows[i] * C,
                           (size_t)C * sizeof *res2);
            nr = M;
        } else if (m->attn.kind >= MODEL_ATT_BLOCK) {
            model_attention_blocked_forward(atty, att, qkv, B, T, C, H, &m->attn, keep, p);
        } else {
            model_attention_forward(atty, att, qkv, B, T, C, H,
                                    m->attn.kind == MODEL_ATT_CAUSAL, keep, p);
        }
        model_matmul_forward(res2, res, atty, w->attprojw + (size_t)l * C * C,
                             w->attprojb + l * C, nr, C, C, p);
        model_layernorm_forward(ln2, a->ln2_mean + s * N, a->ln2_rstd + s * N, res2,
                                w->ln2w + l * C, w->ln2b + l * C, nr, C, p);
        model_matmul_gelu_forward(fch, fchg, ln2, w->fcw + (size_t)l * 4 * C * C,
                                  w->fcb + l * 4 * C, nr, C, 4 * C, keep, p);
        model_matmul_forward(res3, res2, fchg, w->fcprojw + (size_t)l * 4 * C * C,
                             w->fcprojb + l * C, nr, 4 * C, C, p);
        res = res3;
    }
    model_layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, res, w->lnfw, w->lnfb,
                            last_rows ? M : N, C, p);
    for (int i = last_rows ? M - 1 : -1; i >= 0; i--) /* each row to its position */
        if (m->rows[i] != i)
            memcpy(a->lnf + (size_t)m->rows[i] * C, a->lnf + (size_t)i * C,
                   (size_t)C * sizeof *a->lnf);
    model_desc_rows dr;
    const float *dscale = NULL; /* a training forward: each full row's loss scale */
    if (keep && train && targets) {
        for (int i = 0; i < m->Mf; i++)
            m->dscale[i] = row_loss_scale(m, i, weights, B, T0);
        dscale = m->dscale;
    }
    model_classifier_forward(a->h, a->logits, a->lse, m->scale, m->tlse,
                             m->want_amax ? m->row_amax : NULL, a->lnf, m->rows, m->inputs,
                             targets ? m->targets : NULL, w->wout, w->bout, m->prior,
                             desc_rows(m, &dr), dscale, keep || !targets, m->M, m->Mf, C, V,
                             m->cfg.n_mask, model_out_classes(m), p);
    m->dl_fused = dscale != NULL;
    return MODEL_OK;
}

int model_run_forward(model *m, const int32_t *inputs, const int32_t *clean,
                      const int32_t *targets, int B, int T, int keep)
{
    return run_forward(m, inputs, clean, targets, B, T, keep, 0, NULL);
}

/* What the non-finite report calls each activation it checks (the others are not
 * checked: means, rstds and the attention output follow from a checked neighbour). */
static const char *const act_report_names[NUM_ACT_TENSORS] = {
    [A_ENCODED] = "embedding output (wte)",
    [A_LN1] = "ln1",
    [A_QKV] = "qkv",
    [A_ATT] = "attention",
    [A_RESIDUAL2] = "attention output",
    [A_LN2] = "ln2",
    [A_FCH] = "fc",
    [A_FCH_GELU] = "gelu",
    [A_RESIDUAL3] = "mlp output",
    [A_LNF] = "final layernorm",
};

/* Names the first activation that holds a NaN or Inf, in the order forward wrote them:
 * the embedding, layer by layer the layered tensors (in table order), the final
 * layernorm, then the logits. */
static int report_nonfinite_forward(model *m, const char *what)
{
    const int L = m->cfg.layers, V = model_out_classes(m);
    act_tensors *a = &m->acts;
    if (model_first_nonfinite(a->encoded, m->act_sizes[A_ENCODED]) >= 0)
        return model_fail(m, MODEL_ENONFINITE, "step %ld: %s: %s is not finite", m->step, what,
                          act_report_names[A_ENCODED]);
    for (int l = 0; l < L; l++)
        for (int i = 0; i < NUM_ACT_TENSORS; i++) {
            if (!act_is_layered(i) || !act_report_names[i])
                continue;
            size_t n = m->act_sizes[i] / (size_t)L, used = n;
            if (i == A_ATT && m->attn.kind >= MODEL_ATT_BLOCK) /* compact: only the allowed */
                used = (size_t)m->B * m->cfg.heads * model_att_head_size(&m->attn, m->T);
            if (model_first_nonfinite(*act_slot(a, i) + (size_t)l * n, used) >= 0)
                return model_fail(m, MODEL_ENONFINITE,
                                  "step %ld: %s: layer %d %s is not finite", m->step, what, l,
                                  act_report_names[i]);
        }
    if (model_first_nonfinite(a->lnf, m->act_sizes[A_LNF]) >= 0)
        return model_fail(m, MODEL_ENONFINITE, "step %ld: %s: %s is not finite", m->step, what,
                          act_report_names[A_LNF]);
    for (int r = 0; r < m->M; r++) {
        const float *row = a->logits + m->row_off[r];
        int n = V;
        if (r >= m->Mf)
            model_members(m, m->inputs[m->rows[r]], &n);
        for (int j = 0; j < n; j++)
            if (isnan(row[j]) || row[j] == INFINITY)
                return model_fail(m, MODEL_ENONFINITE, "step %ld: %s: logits are not finite",
                                  m->step, what);
    }
    return MODEL_OK;
}

/* The internal row of the caller's position n of (B, T): noisy rows come first in each
 * sequence of R rows. */
static size_t row_index(const model *m, size_t n)
{
    size_t T = (size_t)m->seqT;
    return n / T * (size_t)m->T + n % T;
}

/* model_forward in block mode without the clean sequence: a call for model_forward_block */
static int block_only(model *m, const char *what)
{
    return model_fail(m, MODEL_EINVAL,
                      "%s: a block model (block %d) is trained and scored with "
                      "model_%s_block and the clean sequence",
                      what, m->cfg.block, what);
}

static int forward_impl(model *m, const int32_t *inputs, const int32_t *clean,
                        const int32_t *targets, const float *weights, int B, int T, float *loss,
                        float *logprobs)
{
    if (!targets)
        return model_fail(m, MODEL_EINVAL, "forward needs targets");
    if (weights)
        for (size_t n = 0; n < (size_t)B * T; n++)
            if (!isfinite(weights[n]))
                return model_fail(m, MODEL_EINVAL, "weight at batch %zu position %zu is %g",
                                  n / T, n % T, (double)weights[n]);
    const size_t N = (size_t)B * T;
    int rc = run_forward(m, inputs, clean, targets, B, T, 1, 1, weights);
    if (rc)
        return rc;
    const float *logp_rows = m->scale; /* log p(target) of the predicted rows */
    const int V = m->cfg.vocab, VK = V + m->cfg.n_mask;
    double sum = 0.0;
    long bad = -1; /* the first impossible target that weighs */
    for (size_t n = 0; n < N; n++) {
        int r = m->row_of[row_index(m, n)];
        float lp = r >= 0 ? logp_rows[r] : model_carry_logprob(m, inputs[n], targets[n]);
        if (logprobs)
            logprobs[n] = lp;
        float wgt = weights ? weights[n] : 1.0f;
        if (wgt != 0.0f) {
            sum += (double)wgt * -lp;
            if (lp == -INFINITY && bad < 0)
                bad = (long)n;
        }
    }
    /* the backward's per-row loss scale: weight / N */
    for (int i = 0; i < m->M; i++) /* predicted rows are never clean ones */
        m->scale[i] = row_loss_scale(m, i, weights, B, T);
    float l = (float)(sum / (double)N);
    if (loss)
        *loss = l;
    if (!isfinite(l)) {
        if (bad >= 0 && inputs[bad] < V && m->cfg.mode != MODEL_AR)
            return model_fail(m, MODEL_ENONFINITE,
                              "step %ld: loss: target %d at batch %ld "
                              "position %ld %s its unmasked input %d (log-prob "
                              "-inf under SUBS)",
                              m->step, targets[bad], bad / T, bad % T,
                              targets[bad] < V                 ? "differs from"
                              : model_is_edit(m, targets[bad]) ? "is an edit id at"
                                                               : "is a description without",
                              inputs[bad]);
        if (bad >= 0 && inputs[bad] >= VK && !model_is_edit(m, inputs[bad]))
            return model_fail(m, MODEL_ENONFINITE,
                              "step %ld: loss: target %d at batch %ld position %ld lies "
                              "outside the members of its input description %d (log-prob "
                              "-inf)",
                              m->step, targets[bad], bad / T, bad % T, inputs[bad]);
        rc = report_nonfinite_forward(m, "forward");
        if (rc)
            return rc;
        return model_fail(m, MODEL_ENONFINITE,
                          "step %ld: loss is not finite (a target "
                          "banned by the prior has log-prob -inf)",
                          m->step);
    }
    m->have_forward = 1;
    return MODEL_OK;
}

int model_forward(model *m, const int32_t *inputs, const int32_t *targets, const float *weights,
                  int B, int T, float *loss, float *logprobs)
{
    if (!m)
        return MODEL_EINVAL;
    model_clear_error(m);
    if (m->cfg.mode == MODEL_BLOCK)
        return block_only(m, "forward");
    return forward_impl(m, inputs, NULL, targets, weights, B, T, loss, logprobs);
}

int model_forward_block(model *m, const int32_t *inputs, const int32_t *clean,
                        const int32_t *targets, const float *weights, int B, int T, float *loss,
                        float *logprobs)
{
    if (!m)
        return MODEL_EINVAL;
    model_clear_error(m);
    if (m->cfg.mode != MODEL_BLOCK)
        return model_fail(m, MODEL_EINVAL, "forward_block: the model's mode is %s, not block",
                          model_mode_name(m->cfg.mode));
    return forward_impl(m, inputs, clean, targets, weights, B, T, loss, logprobs);
}

typedef struct zero_ctx {
    model *m;
    atomic_long next;
} zero_ctx;

static void zero_grad_part(void *arg, int tid, int nth)
{
    zero_ctx *z = arg;
    model *m = z->m;
    size_t lo, hi;
    (void)tid;
    while (model_pool_chunk(&z->next, m->num_params, nth, 1024, &lo, &hi)) {
        memset(m->grads_mem + lo, 0, (hi - lo) * sizeof(float));
    }
}

int model_zero_grad(model *m)
{
    if (!m)
        return MODEL_EINVAL;
    model_clear_error(m);
    zero_ctx z = {.m = m};
    model_pool_run(m->pool, zero_grad_part, &z);
    return MODEL_OK;
}

int model_backward(model *m)
{
    if (!m)
        return MODEL_EINVAL;
    model_clear_error(m);
    if (!m->have_forward)
        return model_fail(m, MODEL_ESTATE, "backward needs a successful model_forward first");
    m->have_forward = 0;
    const int L = m->cfg.layers, C = m->cfg.d, H = m->cfg.heads, V = m->cfg.vocab;
    const int B = m->B, T = m->T, N = B * T; /* T: rows per sequence */
    const size_t NC = (size_t)N * C;
    param_tensors *w = &m->params, *g = &m->grads;
    act_tensors *a = &m->acts;
    grad_scratch *s = &m->gs;
    pool *p = m->pool;

    /* output layer, then the final layernorm into the residual gradient */
    memset(s->dln, 0, NC * sizeof(float));
    model_desc_rows dr;
    model_classifier_backward(s->dln, g->wout, g->bout, s->datty, a->logits, a->lse, m->tlse,
                              a->h, m->rows, m->targets, m->scale, w->wout, desc_rows(m, &dr),
                              m->dl_fused, m->M, m->Mf, C, V, model_out_classes(m), p);
    memset(s->dres, 0, NC * sizeof(float));
    model_layernorm_backward(s->dres, g->lnfw, g->lnfb, s->dln,
                             a->residual3 + (size_t)(L - 1) * NC, w->lnfw, a->lnf_mean,
                             a->lnf_rstd, N, C, p);
    for (int l = L - 1; l >= 0; l--) {
        const float *res = l == 0 ? a->encoded : a->residual3 + (size_t)(l - 1) * NC;
        const float *ln1 = a->ln1 + l * NC, *qkv = a->qkv + l * 3 * NC;
        const float *atty = a->atty + l * NC, *att = a->att + (size_t)l * N * H * T;
        const float *res2 = a->residual2 + l * NC, *ln2 = a->ln2 + l * NC;
        const float *fch = a->fch + l * 4 * NC, *fchg = a->fch_gelu + l * 4 * NC;
        /* MLP: dres is d(residual3) and flows on unchanged to d(residual2) */
        model_matmul_gelu_backward(
            s->dfch, g->fcb + l * 4 * C, g->fcprojw + (size_t)l * 4 * C * C, g->fcprojb + l * C,
            s->dres, fchg, w->fcprojw + (size_t)l * 4 * C * C, fch, N, 4 * C, C, p);
        model_matmul_backward(s->dln, g->fcw + (size_t)l * 4 * C * C, NULL, s->dfch, ln2,
                              w->fcw + (size_t)l * 4 * C * C, N, C, 4 * C, 0.0f, p);
        model_layernorm_backward(s->dres, g->ln2w + l * C, g->ln2b + l * C, s->dln, res2,
                                 w->ln2w + l * C, a->ln2_mean + (size_t)l * N,
                                 a->ln2_rstd + (size_t)l * N, N, C, p);
        /* attention: dres is now d(residual2) and flows on to d(residual) */
        model_matmul_backward(s->datty, g->attprojw + (size_t)l * C * C, g->attprojb + l * C,
                              s->dres, atty, w->attprojw + (size_t)l * C * C, N, C, C, 0.0f, p);
        if (m->attn.kind >= MODEL_ATT_BLOCK)
            model_attention_blocked_backward(s->dqkv, s->datt, s->datty, qkv, att, B, T, C, H,
                                             &m->attn, p);
        else
            model_attention_backward(s->dqkv, s->datt, s->datty, qkv, att, B, T, C, H, p);
        /* the rotation's gradient on each row slice of dqkv before the product reads it */
        model_rope_ctx rc = {
            .x = s->dqkv, .rope = m->rope, .T = m->seqT, .C = C, .H = H, .sign = -1};
        model_matmul_backward_pre(s->dln, g->qkvw + (size_t)l * 3 * C * C, g->qkvb + l * 3 * C,
                                  s->dqkv, ln1, w->qkvw + (size_t)l * 3 * C * C, N, C, 3 * C,
                                  0.0f, model_rope_rows, &rc, p);
        model_layernorm_backward(s->dres, g->ln1w + l * C, g->ln1b + l * C, s->dln, res,
                                 w->ln1w + l * C, a->ln1_mean + (size_t)l * N,
                                 a->ln1_rstd + (size_t)l * N, N, C, p);
    }
    model_encoder_backward(g->wte, s->dres, m->inputs, N, C, p);
    return MODEL_OK;
}

static int score_impl(model *m, const int32_t *inputs, const int32_t *clean,
                      const int32_t *targets, int B, int T, float *logprobs)
{
    if (!targets || !logprobs)
        return model_fail(m, MODEL_EINVAL, "score needs targets and logprobs");
    int rc = model_run_forward(m, inputs, clean, targets, B, T, 0);
    if (rc)
        return rc;
    for (size_t n = 0; n < (size_t)B * T; n++) {
        int r = m->row_of[row_index(m, n)];
        logprobs[n] = r >= 0 ? m->scale[r] : model_carry_logprob(m, inputs[n], targets[n]);
    }
    for (int i = 0; i < m->M; i++)
        if (isnan(m->scale[i]) || m->scale[i] == INFINITY) {
            /* again, keeping every layer's activations, to say where it went wrong */
            rc = model_run_forward(m, inputs, clean, targets, B, T, 1);
            return rc ? rc : report_nonfinite_forward(m, "score");
        }
    return MODEL_OK;
}

int model_score(model *m, const int32_t *inputs, const int32_t *targets, int B, int T,
                float *logprobs)
{
    if (!m)
        return MODEL_EINVAL;
    model_clear_error(m);
    if (m->cfg.mode == MODEL_BLOCK)
        return block_only(m, "score");
    return score_impl(m, inputs, NULL, targets, B, T, logprobs);
}

/* The first index of the largest of l[0..n) (model_sample_propose's choice at temperature
 * 0). */
static int first_argmax(const float *l, int n)
{
    /* the largest value with eight running maxima (the loop vectorizes), then its first
     * index: the same index as a scan keeping the first strict improvement (finite logits) */
    float acc[8];
    int j = 0;
    for (int k = 0; k < 8; k++)
        acc[k] = l[0];
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++)
            acc[k] = l[j + k] > acc[k] ? l[j + k] : acc[k];
    float best = acc[0];
    for (int k = 1; k < 8; k++)
        best = acc[k] > best ? acc[k] : best;
    for (; j < n; j++)
        best = l[j] > best ? l[j] : best;
    for (j = 0; j < n - 1 && l[j] != best; j++)
        ;
    return j;
}

int model_score_argmax(model *m, const int32_t *inputs, const int32_t *targets, int B, int T,
                       float *logprobs, int32_t *argmax)
{
    if (!m)
        return MODEL_EINVAL;
    model_clear_error(m);
    if (m->cfg.mode == MODEL_BLOCK)
        return block_only(m, "score");
    if (!argmax)
        return model_fail(m, MODEL_EINVAL, "score_argmax needs argmax");
    m->want_amax = 1;
    int rc = score_impl(m, inputs, NULL, targets, B, T, logprobs);
    m->want_amax = 0;
    if (rc)
        return rc;
    for (size_t n = 0; n < (size_t)B * T; n++) {
        int r = m->row_of[row_index(m, n)];
        if (r < 0) {
            argmax[n] = inputs[n];
            continue;
        }
        const float *l = m->acts.logits + m->row_off[r];
        if (r < m->Mf) {
            argmax[n] = m->row_amax[r]; /* found by the classifier's softmax pass */
        } else {                        /* a restricted row: logits over its members only */
            int k;
            const int32_t *ids = model_members(m, m->inputs[m->rows[r]], &k);
            argmax[n] = ids[first_argmax(l, k)];
        }
    }
    return MODEL_OK;
}

int model_score_block(model *m, const int32_t *inputs, const int32_t *clean,
                      const int32_t *targets, int B, int T, float *logprobs)
{
    if (!m)
        return MODEL_EINVAL;
    model_clear_error(m);
    if (m->cfg.mode != MODEL_BLOCK)
        return model_fail(m, MODEL_EINVAL, "score_block: the model's mode is %s, not block",
                          model_mode_name(m->cfg.mode));
    return score_impl(m, inputs, clean, targets, B, T, logprobs);
}
