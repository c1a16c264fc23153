/* model_internal.h: the model handle, its parameter and activation tables, shared by
 * libmodel's files (lifecycle, forward/backward, optimizer, checkpoints, samplers). */
#ifndef PYRAMASK_MODEL_INTERNAL_H
#define PYRAMASK_MODEL_INTERNAL_H

#include "layers.h"
#include "model.h"
#include "pool.h"

/* The parameter tensors in their order in the buffer (param_tensors, model_param_names and
 * model_param_layout follow it). */
enum param_index {
    P_WTE,
    P_LN1W,
    P_LN1B,
    P_QKVW,
    P_QKVB,
    P_ATTPROJW,
    P_ATTPROJB,
    P_LN2W,
    P_LN2B,
    P_FCW,
    P_FCB,
    P_FCPROJW,
    P_FCPROJB,
    P_LNFW,
    P_LNFB,
    P_WOUT,
    P_BOUT,
    NUM_PARAM_TENSORS
};

/* One contiguous buffer, these pointers into it; gradients and AdamW moments reuse the
 * layout. L = layers, C = d, V = vocab, K = mask ids, maxT = seq_len. */
typedef struct param_tensors {
    float *wte;      /* (V+K+D+E, C) */
    float *ln1w;     /* (L, C) */
    float *ln1b;     /* (L, C) */
    float *qkvw;     /* (L, 3C, C) */
    float *qkvb;     /* (L, 3C) */
    float *attprojw; /* (L, C, C) */
    float *attprojb; /* (L, C) */
    float *ln2w;     /* (L, C) */
    float *ln2b;     /* (L, C) */
    float *fcw;      /* (L, 4C, C) */
    float *fcb;      /* (L, 4C) */
    float *fcprojw;  /* (L, C, 4C) */
    float *fcprojb;  /* (L, C) */
    float *lnfw;     /* (C) */
    float *lnfb;     /* (C) */
    float *wout;     /* (V+E, C): E = n_edit extra output classes */
    float *bout;     /* (V+E) */
} param_tensors;

/* The activation tensors in their order in the buffer (act_tensors, the size and pointer
 * tables of transformer.c and its non-finite report follow it). A_LN1..A_RESIDUAL3 hold one
 * slice per layer. */
enum act_index {
    A_ENCODED,
    A_LN1,
    A_LN1_MEAN,
    A_LN1_RSTD,
    A_QKV,
    A_ATTY,
    A_ATT,
    A_RESIDUAL2,
    A_LN2,
    A_LN2_MEAN,
    A_LN2_RSTD,
    A_FCH,
    A_FCH_GELU,
    A_RESIDUAL3,
    A_LNF,
    A_LNF_MEAN,
    A_LNF_RSTD,
    A_H,
    A_LOGITS,
    A_LSE,
    NUM_ACT_TENSORS
};

/* Sized once per (B, T), N = B*T; M <= N masked rows use the h and logits buffers. */
typedef struct act_tensors {
    float *encoded;   /* (N, C) */
    float *ln1;       /* (L, N, C) */
    float *ln1_mean;  /* (L, N) */
    float *ln1_rstd;  /* (L, N) */
    float *qkv;       /* (L, N, 3C) */
    float *atty;      /* (L, N, C) */
    float *att;       /* (L, B, H, T, T) */
    float *residual2; /* (L, N, C) */
    float *ln2;       /* (L, N, C) */
    float *ln2_mean;  /* (L, N) */
    float *ln2_rstd;  /* (L, N) */
    float *fch;       /* (L, N, 4C): GELU' of the MLP's hidden pre-activation */
    float *fch_gelu;  /* (L, N, 4C) */
    float *residual3; /* (L, N, C) */
    float *lnf;       /* (N, C) */
    float *lnf_mean;  /* (N) */
    float *lnf_rstd;  /* (N) */
    float *h;         /* (N, C) the predicted rows of lnf (rows, below) */
    float *logits; /* (N, W) the full rows 0..Mf-1 (Mf, W), W = V+E, then the description rows'
                       * restricted logits, |members| each (row_off); dlogits after
                       * backward */
    float *lse;    /* (N) per row: log-sum-exp over its state set */
} act_tensors;

/* The backward scratch buffers in their order in the scratch buffer (grad_scratch and the
 * tables of transformer.c follow it). */
enum scratch_index { S_DRES, S_DLN, S_DATTY, S_DQKV, S_DFCH, S_DATT, NUM_GRAD_SCRATCH };

/* Backward scratch, sized with the activations. */
typedef struct grad_scratch {
    float *dres;  /* (N, C) gradient of the residual stream */
    float *dln;   /* (N, C) */
    float *datty; /* (N, C) */
    float *dqkv;  /* (N, 3C) */
    float *dfch;  /* (N, 4C) */
    float *datt;  /* (threads, T, T) */
} grad_scratch;

/* each table has exactly one pointer per slot of its enum */
_Static_assert(sizeof(param_tensors) == NUM_PARAM_TENSORS * sizeof(float *),
               "param_tensors and enum param_index differ");
_Static_assert(sizeof(act_tensors) == NUM_ACT_TENSORS * sizeof(float *),
               "act_tensors and enum act_index differ");
_Static_assert(sizeof(grad_scratch) == NUM_GRAD_SCRATCH * sizeof(float *),
               "grad_scratch and enum scratch_index differ");

struct model {
    model_config cfg;
    int threads;
    pool *pool;
    char errmsg[256]; /* the last call's failure, "" after a success */
    int errcode;      /* the last call's code */

    size_t param_sizes[NUM_PARAM_TENSORS];
    size_t num_params;
    float *params_mem, *grads_mem, *m_mem, *v_mem; /* m_mem, v_mem: lazily allocated */
    param_tensors params, grads;
    float *prior; /* (K, V) or NULL */
    float *rope;  /* (maxT, hs/2, 2) cos, sin of the rotary angles (not a parameter) */
    long step;

    int B, T; /* what the activations are laid out for, T rows per sequence (0: none yet) */
    int seqT; /* positions per sequence of the last batch: T, or T/2 with the clean half */
    model_att_mask attn; /* the last batch's attention pattern */
    long calls;          /* forward passes so far (model_calls) */
    size_t acts_cap, scratch_cap, rows_cap;
    size_t act_sizes[NUM_ACT_TENSORS];      /* floats per tensor, for (B, T) */
    size_t scratch_sizes[NUM_GRAD_SCRATCH]; /* floats per scratch buffer */
    float *acts_mem, *scratch_mem;
    act_tensors acts;
    grad_scratch gs;
    int32_t *inputs, *targets; /* (N) copies of the last forward's batch */
    float *scale;              /* (N) per predicted row: log p(target), then weight / N */
    float *dscale;             /* (N) weight / N per full row, made before a training forward */
    int dl_fused;              /* the last forward left dlogits for the class-target rows */
    /* The predicted rows, M of them: rows[0..Mf) the positions holding a mask id (every
     * position in causal mode), in order, through the full (Mf, V) product; then the
     * positions holding a description, grouped by description (groups in layout order,
     * below), in order within a group. */
    int *rows;         /* (N) position of each row */
    int *row_of;       /* (N) row of each position, -1 where none (a token: carry-over) */
    size_t *row_off;   /* (N) per row: where its logits start in acts.logits */
    float *tlse;       /* (N) per row: log-sum-exp of the target's set (description targets) */
    int32_t *row_amax; /* (N) per full row: first argmax over the vocabulary, with want_amax */
    int want_amax;     /* the next forward finds row_amax (model_score_argmax) */
    int M, Mf;
    int n_groups;     /* description groups of the batch */
    int *grp_desc;    /* (N) the description (0..D-1) of group g */
    int *grp_first;   /* (N+1) its rows are [grp_first[g], grp_first[g+1]) */
    int have_forward; /* 1 after a training forward, until backward */

    /* the membership layout (model_set_layout); lay_start NULL without one. Colours: the
     * descriptions of one colour have disjoint members, so the backward adds their rows of
     * the wout gradient in parallel without a race, one colour after the other. */
    int32_t *lay_start;       /* (D+1) */
    int32_t *lay_members;     /* (lay_start[D]) token ids, increasing per description */
    int32_t *lay_order;       /* (D) the descriptions by (colour, id) */
    int32_t *lay_rank;        /* (D) the position of description e in lay_order */
    int32_t *lay_colour;      /* (D) */
    int32_t *lay_count;       /* (D+1) scratch of the batch's counting sort */
    int lay_colours, lay_max; /* colours; the largest member set */
    float *lay_scratch;       /* (threads, lay_stride) gather buffers of the description rows */
    size_t lay_stride;        /* floats per thread: 2 lay_max C + 2 lay_max, rounded to 16 */
};

/* Records rc and its message (formatted into m->errmsg) and returns rc. Every failure on a
 * handle goes through it (or model_fail_new), so model_errmsg always answers. */
int model_fail(model *m, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* For a call that fails before it has a handle (model_open, model_load): a bare handle that
 * only holds rc and the message goes to *out (NULL if even that cannot be allocated). */
int model_fail_new(model **out, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Each public call on a handle starts here: the last call's message and code are cleared. */
static inline void model_clear_error(model *m)
{
    m->errmsg[0] = 0;
    m->errcode = MODEL_OK;
}

/* Names of the parameter tensors in table order; is_layered: one slice per layer. */
extern const char *const model_param_names[NUM_PARAM_TENSORS];
/* n floats, not initialised; free() releases them. Buffers of 4 MB and more (parameters,
 * gradients, optimizer state, activations) start on a 2 MB boundary with transparent huge
 * pages advised: their first touch then takes one page fault per 2 MB instead of one per
 * 4 KB, which on a virtual machine is most of a run's first step. NULL if out of memory. */
float *model_alloc_floats(size_t n);
/* n zeroed floats, for state read before it is first written (AdamW's moments): calloc
 * would map fresh pages to the shared zero page, and the first write to each would then
 * flush every other thread's TLB (an interrupt to each core running one). NULL if out of
 * memory. */
float *model_zeroed_floats(size_t n);
int model_param_is_layered(int i);
/* 1 for tensors that get weight decay (the 2-D weights and embeddings). */
int model_param_decays(int i);

/* Sizes of the parameter tensors for a config; returns the total. */
size_t model_param_layout(const model_config *c, size_t sizes[NUM_PARAM_TENSORS]);
/* Points the table's fields into mem according to sizes. */
void model_point_params(param_tensors *t, float *mem, const size_t sizes[NUM_PARAM_TENSORS]);

/* Checks a config; on error writes a message into msg. */
int model_check_config(const model_config *c, char *msg, size_t len);
/* Allocates a handle with parameter (and gradient) storage, uninitialized values. */
int model_alloc(model **out, const model_config *c, int threads);

/* Forward to the logits of the predicted rows (acts.logits, rows, M); clean (B, T): block
 * mode's clean half (2T rows per sequence, noisy rows first), NULL: one sequence of T rows
 * (block-causal in block mode); with targets, their
 * log-probs go to m->scale (rows 0..M-1); targets may be NULL. keep: store every layer's
 * activations for a backward; 0 (scoring, sampling): reuse one layer's buffers, and with
 * targets (scoring) the full rows' logits may not be stored (their lse, log-probs and
 * argmax are). */
int model_run_forward(model *m, const int32_t *inputs, const int32_t *clean,
                      const int32_t *targets, int B, int T, int keep);

/* The members of description id `id` (V+K+e): *n of them, borrowed from the layout. */
static inline const int32_t *model_members(const model *m, int32_t id, int *n)
{
    int e = id - m->cfg.vocab - m->cfg.n_mask;
    *n = m->lay_start[e + 1] - m->lay_start[e];
    return m->lay_members + m->lay_start[e];
}

/* The output classes of a predicted row: V, or V + 2 with edit classes. */
static inline int model_out_classes(const model *m)
{
    return m->cfg.vocab + m->cfg.n_edit;
}
/* 1 when id is an edit id (V+K+D: [expand], V+K+D+1: [delete]; none without edits). */
static inline int model_is_edit(const model *m, int32_t id)
{
    int32_t first = m->cfg.vocab + m->cfg.n_mask + m->cfg.n_desc;
    return id >= first && id < first + m->cfg.n_edit;
}

/* log p(target | input) at a position whose input is a token (SUBS carry-over): 0 when the
 * input is the target or one of its members, else -inf. */
float model_carry_logprob(const model *m, int32_t input, int32_t target);

/* Checks and copies a layout into the handle (model_set_layout without clearing the
 * error); model_layout_free drops it. */
int model_layout_install(model *m, const int32_t *start, const int32_t *members);
void model_layout_free(model *m);

/* The samplers' draws (sampler.c): a token from softmax(l / temp) by inverse CDF; the
 * proposal argmax(l + temp * Gumbel noise) with its untempered probability in *conf (conf
 * NULL: not computed, for the ranks that do not read it). */
int32_t model_sample_draw(const float *l, int V, float temp, gsl_rng *rng);
int32_t model_sample_propose(const float *l, int V, float temp, gsl_rng *rng, double *conf);
/* The rank of a proposal under an ordering strategy (higher is revealed first): its
 * probability conf for CONFIDENCE, BLOCK and THRESHOLD; p1 - p2 for MARGIN; minus the
 * row's entropy (nats) for ENTROPY. l: the row's n logits. */
double model_sample_rank(const float *l, int n, int strategy, double conf);
/* Left-to-right decoding on the key/value cache (decode.c), model_sample by mode: AR, block,
 * and diffusion's dual-cache BLOCK strategy. Arguments checked by model_sample. */
int model_decode_ar(model *m, int32_t *tok, int B, int T, const model_sample_settings *s,
                    gsl_rng *rng);
int model_decode_block(model *m, int32_t *tok, int B, int T, const model_sample_settings *s,
                       gsl_rng *rng);
int model_decode_dual(model *m, int32_t *tok, int B, int T, const model_sample_settings *s,
                      gsl_rng *rng);

/* Index of the first non-finite value in x[0..n), or -1. */
long model_first_nonfinite(const float *x, size_t n);

#endif
