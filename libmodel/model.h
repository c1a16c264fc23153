/* model.h: libmodel, the shared masked-diffusion denoiser: a pre-LayerNorm transformer
 * on cblas_sgemm with SUBS outputs, AdamW, checkpoints, scoring and unmasking samplers. */
#ifndef PYRAMASK_MODEL_H
#define PYRAMASK_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include <gsl/gsl_rng.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The architecture (one for every run):
 *
 *   x   = wte[input]                          wte: (V+K+D, d): V vocabulary ids, K mask ids,
 *                                             then D description ids (chains, below)
 *   L x { x += proj(MHSA(LN1(x)));            bidirectional, causal or block-causal by mode
 *         x += fcproj(GELU(fc(LN2(x)))) }     GELU tanh form, hidden width 4d
 *   h   = LNf(x)
 *   logits = h wout^T + bout (+ prior[k])     over the V vocabulary only, untied: wout (V, d)
 *
 * Positions are relative and enter only in the attention: rotary embeddings (RoPE, as in
 * MDLM, MD4 and LLaDA) turn q and k of position t by t * theta_i in each pair of a head's
 * dimensions, theta_i = 10000^(-2i/hs), hs = d/H; and head h adds the ALiBi bias
 * -2^(1-h) |t - j| to its scores (slopes 2, 1, 1/2, ...). A masked position learns from
 * its neighbours first; with the distance bias every head attends near from the first
 * step, while a learned absolute position table leaves attention uniform over the window
 * and training sits at the unigram loss for thousands of steps. seq_len bounds T.
 *
 * SUBS parameterization: a mask id is never predicted (the logits cover ids 0..V-1), and
 * at a position whose input is an ordinary id v < V the output is v itself with log-prob 0
 * (any other target has log-prob -inf). Only positions whose input is a mask id V+k (or a
 * description, below) go through the output projection; at a mask id, when a prior is
 * set, the log-prior row k (prior[k*V .. k*V+V-1]) is added to the logits.
 *
 * Modes (config.mode), one per model, recorded in its checkpoints:
 * - MODEL_DIFFUSION: bidirectional attention with the SUBS outputs above (the default).
 * - MODEL_AR, the autoregressive baseline on the same data: the same code with a causal
 *   attention mask, and every position is predicted (no SUBS carry-over), so with
 *   targets[t] = inputs[t+1] (weight 0 at the last position) the loss is the next-token
 *   cross-entropy. No descriptions.
 * - MODEL_BLOCK, block diffusion (BD3-LM): the sequence is cut into blocks of
 *   config.block = Bk positions; each block is denoised (SUBS, as diffusion) conditioned on
 *   the clean blocks before it. Training sees the noisy and the clean sequence together,
 *   2T rows [x_t ; x_0] in one pass (model_forward_block): a noisy row of block k attends
 *   to the noisy rows of block k and the clean rows of blocks < k, a clean row of block k
 *   to the clean rows of blocks <= k; a noisy row and its clean twin share their position
 *   (rotary angle, ALiBi distance). The loss is taken at the noisy rows only. Attention
 *   computes only the allowed blocks of scores (block-sparse: about T (T + Bk) scores per
 *   head for the 2T rows, against T^2 for a diffusion pass over T rows). Bk = T is
 *   diffusion (the clean half is then seen by nobody); Bk = 1 predicts each masked token
 *   from the clean prefix before it. Decoding uses the one-sequence view (clean = NULL
 *   below): a row of block k attends to the rows of blocks <= k.
 *
 * The output projection is untied from the input embedding: the embedding carries K
 * extra mask rows and a tied head would have to skip them; untied keeps both simple.
 *
 * Token ids are int32_t: 0..V-1 are vocabulary ids, V..V+K-1 are the K mask ids, and
 * V+K..V+K+D-1 the D description ids (config.n_desc, 0 by default).
 *
 * Descriptions and restricted outputs (coarse-to-fine chains). A description stands for a
 * set of tokens, its members (the tokens with a given first piece, class or cluster): the
 * membership layout (model_set_layout) lists them. Every input id i has a state set S(i)
 * of the tokens it is consistent with: all V ids for a mask id, members(e) for description
 * e, {v} for a token v. A target is a token t or a description d, standing for the event
 * A = {t} or A = members(d), and
 *     log p(target | input) = logsumexp_{j in A n S} l_j - logsumexp_{j in S} l_j,
 * the probability of A under the model's distribution restricted to S and renormalised
 * (SUBS carry-over is the case S = {v}: 0 if v is in A, else -inf; a flat mask position
 * predicting a description gets the summed probability of its tokens). The chain's
 * targets (the state one level finer) always have A inside S, and the model does not
 * check it: a target outside S has log-prob -inf, a partly inside one the probability of
 * its part. The logits l are the output layer's; a mask id adds its prior row, a
 * description adds none (its position has no mask type). The gradient of -log p is
 *     dl_j = softmax_S(j) 1[j in S] - softmax_{A n S}(j) 1[j in A n S].
 * Cost: mask positions go through one (M, V) product as without descriptions; the
 * positions holding description e share one small product with the |members(e)| rows of
 * wout, so a description position costs |members| / V of a mask position, and nothing of
 * size V x V exists anywhere.
 *
 * Edit classes (config.n_edit = 2; 0, the default, leaves everything above as it was).
 * DreamOn's two extra states: [expand] (sampled, it becomes two masks) and [delete] (sampled,
 * its position is removed). The model gets two input ids after the mask ids, V+K = [expand]
 * and V+K+1 = [delete] (libmask's mask_dreamon_augment convention: expand_id = V+K,
 * delete_id = V+K+1; wte grows by two rows), and two output classes after the vocabulary,
 * V = [expand] and V+1 = [delete] (wout (V+2, d), bout (V+2)). As a target, the id V+K means
 * class V and V+K+1 class V+1; a position whose input is a mask id or an edit id is predicted
 * through the output layer over all V+2 classes (the prior row, at a mask id, biases the V
 * token classes only; an edit input gets none), and a token input keeps SUBS carry-over (an
 * edit target there has log-prob -inf). DreamOn's training pairs give edit ids as targets
 * only (their inputs are mask ids); an edit input is accepted for completeness. So at a
 * masked position
 *     log p(c | x) = l_c - logsumexp_{j < V+2} l_j,    c in 0..V+1,
 * and the loss is model_forward's: (1/(B*T)) sum of weight * -log p(target), the weighted
 * cross-entropy over the V+2 classes at the positions the pair weighs (its masked tokens,
 * [expand]s and [delete]s; unmasked and padding positions have weight 0). The fixed-length
 * paths (model_score's log-probs aside, which are over the V+2 classes) read the V token
 * logits only: the samplers and model_cache_step renormalise over the tokens, i.e. they
 * decode conditioned on no edit; model_sample and model_cache_step take tokens and mask ids
 * (no edit input ids). model_varlen_model_denoise (below) gives the V+2 logits to the
 * variable-length sampler.
 *
 * Every call returns 0 or a negative MODEL_E* code; model_errmsg() gives the details.
 *
 * Threads: a handle owns a small pthread pool whose workers sleep on a condition variable
 * between jobs (never spinning). model_open/model_load set OpenBLAS to one thread for the
 * whole process (openblas_set_num_threads(1)): OpenBLAS's own pool busy-waits in
 * sched_yield and would fight ours on a small machine, so the pool does all the parallel
 * work: big products cut into fixed chunks that the threads take in turn, attention by
 * (batch, head). Use one handle from one thread at a time. Results are deterministic for
 * a given seed, and on one machine the same bits for any thread count: work is cut into
 * pieces that do not depend on the threads, and every reduction adds its pieces in a
 * fixed order.
 */

enum {
    MODEL_OK = 0,
    MODEL_EINVAL = -1,     /* bad argument or configuration */
    MODEL_ERANGE = -2,     /* a token id out of range */
    MODEL_ENOMEM = -3,     /* out of memory */
    MODEL_EIO = -4,        /* cannot read or write a file */
    MODEL_EFORMAT = -5,    /* not a checkpoint, truncated, corrupt or of another version */
    MODEL_ENONFINITE = -6, /* NaN or Inf in the loss, activations or gradients */
    MODEL_ESTATE = -7,     /* call out of order (backward without forward, ...) */
};

typedef enum model_mode {
    MODEL_DIFFUSION = 0, /* bidirectional masked diffusion, SUBS outputs */
    MODEL_AR = 1,        /* causal attention, next-token prediction */
    MODEL_BLOCK = 2,     /* block diffusion: blocks of config.block, block-causal */
    MODEL_MODE_COUNT
} model_mode;

typedef struct model model;

typedef struct model_config {
    int vocab;   /* V: ordinary ids 0..V-1, the only ones ever predicted */
    int n_mask;  /* K >= 1: mask ids V..V+K-1 */
    int d;       /* model width, a multiple of heads */
    int layers;  /* L */
    int heads;   /* H */
    int seq_len; /* the longest sequence (rows of the position table) */
    int mode;    /* model_mode, above: MODEL_DIFFUSION, MODEL_AR or MODEL_BLOCK */
    int block;   /* MODEL_BLOCK: Bk >= 1 positions per block, dividing seq_len; every T
                  * of a call must be a multiple of it. 0 in the other modes. */
    int n_desc;  /* D >= 0: description ids V+K..V+K+D-1 (0 in AR mode) */
    int n_edit;  /* E, 0 or 2: DreamOn's edit classes (below); 2 needs diffusion, n_desc 0 */
} model_config;

/* "diffusion", "ar", "block" (configs, messages); NULL out of range. Static strings. */
const char *model_mode_name(int mode);
/* Parses a name back; MODEL_EINVAL for an unknown one, with `err` (may be NULL) reading
 * "unknown mode 'spam' (diffusion, ar, block)". */
int model_mode_parse(const char *name, int *mode, char *err, size_t errlen);
/* 0 when the model is of this mode (and, for MODEL_BLOCK, this block size); else
 * MODEL_EINVAL with model_errmsg saying both, e.g. "the model is a block (block 4) model,
 * not ar": a checkpoint of one mode scored or sampled as another. */
int model_expect_mode(model *m, int mode, int block);

typedef struct model_settings {
    model_config config;
    int threads; /* worker threads, the caller's included; 0 = the online CPUs */
} model_settings;

/* Fills *s with the defaults: V=256, K=1, d=128, L=4, H=4, seq_len=128, diffusion (block
 * 0), no descriptions, no edit classes, threads 0. */
void model_default_settings(model_settings *s);

/* Builds a model with freshly initialized parameters drawn from `rng` (normal, sd 0.02;
 * the two residual projections of each layer sd 0.02/sqrt(2L); LN weights 1, biases 0).
 * On failure, as sqlite3_open, *out is a handle whose model_errmsg() says why (NULL only
 * when even that could not be allocated): close it either way. */
int model_open(model **out, const model_settings *s, gsl_rng *rng);
/* Frees everything; NULL-safe; sets *m = NULL. */
void model_close(model **m);

/* The name of a code ("invalid argument", ...; "ok" for MODEL_OK). Static. */
const char *model_strerror(int rc);
/* What the last call on this handle said, as sqlite3_errmsg: always a message. Every call
 * on a handle clears the previous one's; a failure records its code and details (file,
 * position, value); a call with no details to give answers model_strerror of its code
 * ("ok" after a success). "no model handle" for NULL. Borrowed, valid until the next call
 * on the handle. */
const char *model_errmsg(const model *m);

const model_config *model_get_config(const model *m);
size_t model_num_params(const model *m);
/* Completed optimizer steps (advanced by model_update, restored by model_load). */
long model_step(const model *m);

/* Sets the per-mask-type log-prior, K x V floats (row k for mask id V+k), copied;
 * NULL removes it. Values must be finite or -INFINITY (a banned token). */
int model_set_prior(model *m, const float *log_prior);

/* Sets the membership layout of the D = config.n_desc descriptions, copied (and saved in
 * checkpoints): description e (input id V+K+e) has the members
 * members[start[e] .. start[e+1]-1], token ids in 0..V-1, strictly increasing; start has
 * D+1 entries, start[0] = 0, never decreasing. A description may have no members (it
 * cannot then be an input). In a chain, the descriptions of one stage are disjoint and
 * every description's members lie inside one description of each coarser stage; the model
 * does not rely on either. start == NULL and members == NULL remove the layout. A batch
 * with a description id (input or target) needs a layout: MODEL_ESTATE without one; a
 * backward needs a forward after the last call. MODEL_EINVAL names the first bad entry
 * (the layout in force stays). Checking and copying are O(D + members). */
int model_set_layout(model *m, const int32_t *start, const int32_t *members);
/* The layout in force: 1 and borrowed arrays (valid until the next model_set_layout or
 * model_close) when there is one, else 0 and NULLs. start and members may be NULL. */
int model_get_layout(const model *m, const int32_t **start, const int32_t **members);

/* ---- training ----
 * inputs, targets: (B, T) ids; weights: (B, T) per-position loss weights (libmask's ELBO
 * weights; NULL = all 1). T <= seq_len. Targets are tokens (< V), description ids or, with
 * n_edit = 2, the edit ids V+K ([expand]) and V+K+1 ([delete]); never mask ids, never an
 * edit id without edit classes (MODEL_ERANGE, naming the position).
 * loss = (1/(B*T)) * sum over positions of weight * (-log p(target)).
 * logprobs (B, T), may be NULL: log p(target) at every position (0 or -inf where the input
 * is a token). Activations are sized once per (B, T).
 * A non-finite loss is MODEL_ENONFINITE, naming the first position whose target is
 * impossible (outside its input's state set, or banned by the prior), else the first
 * tensor that went non-finite. */
int model_forward(model *m, const int32_t *inputs, const int32_t *targets, const float *weights,
                  int B, int T, float *loss, float *logprobs);
/* Block mode's training pass (model_forward is MODEL_EINVAL there, and this in the other
 * modes): inputs (B, T) the noisy sequences x_t, each block corrupted by the caller; clean
 * (B, T) the clean sequences x_0 (tokens < V, else MODEL_ERANGE); targets, weights, loss and
 * logprobs as model_forward, at the noisy positions (the clean half carries no loss: the
 * weights of each block, e.g. its own time's ELBO weight, are the caller's). One forward
 * over the 2T rows of every sequence with the block-causal mask (the top of this file),
 * never one per block; model_backward follows it as any forward. T must be a multiple of
 * config.block (MODEL_EINVAL).
 * clean = NULL is the decoding view, one sequence of T rows: a row of block k attends to
 * every row of blocks 0..k, so with the blocks before k clean (given tokens), block k's
 * log-probs are those the 2T pass gives it; a block with masks among blocks before k is
 * context that training never shows. */
int model_forward_block(model *m, const int32_t *inputs, const int32_t *clean,
                        const int32_t *targets, const float *weights, int B, int T, float *loss,
                        float *logprobs);
int model_zero_grad(model *m);
/* Accumulates (+=) the gradient of the last forward's loss into the gradients. */
int model_backward(model *m);

typedef struct model_optim {
    float lr;     /* peak learning rate */
    float min_lr; /* floor of the cosine decay */
    float beta1, beta2, eps;
    float weight_decay; /* decoupled (AdamW), on the 2-D weight matrices and embeddings
                         * only; LayerNorm weights and every bias are not decayed */
    float grad_clip;    /* clip the global gradient L2 norm to this; <= 0: no clipping */
    long warmup_steps;  /* linear warm-up from lr/warmup to lr over these steps */
    long total_steps;   /* cosine decay from lr to min_lr between warm-up and here */
} model_optim;

/* Fills *o with the defaults: lr 3e-3, min_lr 3e-4, betas 0.9/0.95, eps 1e-8, weight decay
 * 0.1, clip 1.0, warm-up 100, total 10000. The peak rate suits the small models this
 * library trains (d 32 to 128): at the default shape 1e-3 and 3e-3 learn alike and 3e-4
 * (GPT-2's, for a model 100 times larger) is clearly slower; at d 32, 3e-3 to 1e-2 learn
 * fastest. */
void model_default_optim(model_optim *o);
/* The learning rate of step `step` (0-based): (step+1)/warmup * lr during warm-up, then
 * min_lr + (lr-min_lr)/2 * (1 + cos(pi * progress)), progress from 0 to 1 at total_steps,
 * and min_lr after. */
double model_lr(const model_optim *o, long step);
/* Clips, then one AdamW step at model_lr(o, model_step(m)); advances the step. grad_norm
 * (may be NULL) gets the norm before clipping. Non-finite gradients: MODEL_ENONFINITE,
 * naming the step and first tensor (e.g. "step 12: gradient of layer 3 fcw is NaN"), and
 * the parameters are left untouched. */
int model_update(model *m, const model_optim *o, float *grad_norm);

/* ---- scoring ----
 * Forward only: logprobs (B, T) gets log p(target) at every position, as model_forward. */
int model_score(model *m, const int32_t *inputs, const int32_t *targets, int B, int T,
                float *logprobs);
/* model_score, and in the same forward pass argmax (B, T): at every predicted position
 * (an input that is a mask) the token of the largest logit, the first of ties (what
 * model_sample's confidence strategy proposes at temperature 0 on these inputs), the input
 * elsewhere. One forward serves a score and its masked-token accuracy. */
int model_score_argmax(model *m, const int32_t *inputs, const int32_t *targets, int B, int T,
                       float *logprobs, int32_t *argmax);
/* Block mode's scoring, with the clean half (or NULL) as model_forward_block. */
int model_score_block(model *m, const int32_t *inputs, const int32_t *clean,
                      const int32_t *targets, int B, int T, float *logprobs);
/* Model calls so far on this handle: every forward pass over the network (training,
 * scoring, each step of a sampler, each cache step), whatever its number of rows. */
long model_calls(const model *m);

/* ---- sampling ---- */
typedef enum model_strategy {
    MODEL_SAMPLE_RANDOM,           /* ancestral (MDLM/MD4), linear schedule: at step i of N
                                    * (counting down i = N..1) each masked position is revealed
                                    * with probability 1/i, drawn from the model */
    MODEL_SAMPLE_CONFIDENCE,       /* LLaDA low-confidence remasking: each step reveals a fixed
                                    * share of the masks, those whose proposed token has the
                                    * highest probability */
    MODEL_SAMPLE_BLOCK,            /* semi-autoregressive: CONFIDENCE within blocks of block_len
                                    * positions, left to right, the steps split between blocks */
    MODEL_SAMPLE_CHAIN,            /* coarse-to-fine ancestral through a chain's levels (below,
                                    * settings.chain): each step draws every position's new level
                                    * from the step's level-transition table, and a position that
                                    * moves finer draws its new state from the model */
    MODEL_SAMPLE_CHAIN_CONFIDENCE, /* coarse-to-fine by confidence: each step moves the
                                    * positions whose proposed finer state is most probable one
                                    * level finer, as many per step as spreads every position's
                                    * remaining levels evenly over the steps left */
    MODEL_SAMPLE_MARGIN,           /* as CONFIDENCE (the same number revealed per step), ranked
                                    * by the margin p1 - p2 between the two most probable tokens */
    MODEL_SAMPLE_ENTROPY,          /* as CONFIDENCE, ranked by the lowest entropy of the row */
    MODEL_SAMPLE_THRESHOLD,        /* Fast-dLLM's parallel decoding, blocks of block_len left to
                                    * right (block_len < 1 or >= T: one block): each model call
                                    * commits every proposal whose probability exceeds
                                    * `threshold`, and always the most confident one; with
                                    * factor > 0 the factor rule instead: sorting the proposals'
                                    * probabilities c_1 >= c_2 >= ..., the longest prefix n with
                                    * (k + 1) (1 - c_k) < factor for k = 2..n (at least 1). The
                                    * calls adapt: steps is not read (at most one call per mask) */
    MODEL_SAMPLE_REMDM,            /* ReMDM: ancestral sampling (RANDOM's draws, linear schedule
                                    * alpha_t = 1 - t over steps) whose posterior may also remask
                                    * a generated token with probability sigma_t (remdm_schedule,
                                    * eta; below). eta = 0 is RANDOM, draw for draw */
    MODEL_SAMPLE_COUNT             /* the number of strategies */
} model_strategy;

/* Names: "random", "confidence", "block", "chain", "chain-confidence", "margin",
 * "entropy", "threshold", "remdm" (for configs and messages); NULL out of range, so a list of choices is for (s = 0; model_strategy_name(s);
 * s++). Static strings. */
const char *model_strategy_name(model_strategy s);
/* Parses a name back. MODEL_EINVAL for an unknown one, with `err` (may be NULL) reading
 * "unknown strategy 'spam' (random, confidence, block, chain, chain-confidence)". */
int model_strategy_parse(const char *name, model_strategy *out, char *err, size_t errlen);

/* A chain for the CHAIN samplers, as plain arrays (libmask's chain, seen from the model).
 * A position's level: 0 a token, l = 1..m a stage-l description, m+1 a mask id. Stage l's
 * description ids are [stage_first[l-1], stage_first[l]) (inside V+K..V+K+D-1, in order);
 * describe[j-1][v] is token v's stage-j description id (j = 1..m); the layout's members of
 * a description are the tokens it describes. kernel: (steps, m+2, m+2) level-transition
 * tables, kernel[(i * (m+2) + l) * (m+2) + j] = P(level j after step i | level l before),
 * i = 0..steps-1 in the order the steps are taken (from t = 1 down to t = 0: libmask's
 * reverse-step kernel between the step's two times); each row sums to 1 and is 0 above the
 * diagonal (levels only get finer). At the last step every position goes to level 0,
 * whatever its table says (the table of a step that ends at t = 0 does already).
 * CHAIN_CONFIDENCE reads no kernel (it may be NULL). With m = 0 (stage_first and describe
 * NULL) a chain is flat masking: CHAIN with kernel[i][1][0] = 1/(steps - i) is RANDOM, and
 * CHAIN_CONFIDENCE is CONFIDENCE, draw for draw.
 * A row is trained to predict its state one level finer, which fixes how much probability
 * each finer state gets but not how a finer state's probability splits among its own
 * members: a position that moves two or more levels in one step (CHAIN) draws that split
 * untrained. The step grid decides how often: with m = 2, gamma = 1/2 and 32 steps, a grid
 * uniform in t moves 19% of the positions two levels or more at once (18% at the last
 * step, which sends everything to level 0), a grid uniform in F_1 = p^(a_1) 7% (about
 * 2/steps, at the first steps). CHAIN_CONFIDENCE moves one level per step. */
typedef struct model_chain {
    int length;                     /* m >= 0 description stages */
    const int32_t *stage_first;     /* (m+1), NULL when m = 0 */
    const int32_t *const *describe; /* (m) arrays of V, NULL when m = 0 */
    const double *kernel;           /* (steps, m+2, m+2); CHAIN only */
} model_chain;

/* How a sampler reuses keys and values (model_sample_settings.cache; the cache API below). */
enum {
    MODEL_CACHE_NONE = 0,  /* every model call recomputes every position it needs */
    MODEL_CACHE_EXACT = 1, /* AR and block: keep the finished tokens' (blocks') keys and
                            * values; the logits are those of a full recomputation. A
                            * diffusion model has no exact cache and runs as NONE. */
    MODEL_CACHE_DUAL = 2,  /* diffusion, BLOCK strategy only, approximate (Fast-dLLM's dual
                            * cache): at each block's first step one full pass keeps every
                            * position's keys and values; the block's later steps recompute
                            * only the block's positions against the kept ones of all the
                            * others (stale by what the block has revealed since). AR and
                            * block models run it as EXACT. */
};

/* ReMDM's remasking schedules (model_sample_settings.remdm_schedule). With alpha_s, alpha_t
 * the schedule at the step's two times (s < t) and sigma_max = min(1, (1 - alpha_s) /
 * alpha_t), a generated token is remasked with probability sigma, and a mask is revealed
 * with probability (alpha_s - (1 - sigma) alpha_t) / (1 - alpha_t), drawn from the model:
 * - CAP: sigma = min(eta, sigma_max);
 * - RESCALE: sigma = eta sigma_max (eta in [0, 1]);
 * - CONF: sigma = eta sigma_max w, w the softmax of -psi over the sequence's generated
 *   tokens, psi a token's probability when it was drawn (the least confident go first);
 * - LOOP: alpha_t = alpha_on (1 - t) / (1 - t_on) for t >= t_on, alpha_on on
 *   [t_off, t_on], then rising linearly to 1 at t = 0; plain ancestral outside the loop,
 *   and inside it (both times in [t_off, t_on]) sigma = min(eta, sigma_max), so tokens are
 *   remasked and redrawn at a constant alpha (0 <= t_off < t_on <= 1, 0 < alpha_on < 1). */
enum {
    MODEL_REMDM_CAP = 0,
    MODEL_REMDM_RESCALE = 1,
    MODEL_REMDM_CONF = 2,
    MODEL_REMDM_LOOP = 3,
    MODEL_REMDM_COUNT
};
/* "cap", "rescale", "conf", "loop"; NULL out of range. Static strings. */
const char *model_remdm_schedule_name(int schedule);

typedef struct model_sample_settings {
    model_strategy strategy;
    int steps;                /* N >= 1 model calls (BLOCK: at least one per block) */
    int block_len;            /* BLOCK only */
    float temperature;        /* 0: argmax proposals (CONFIDENCE, BLOCK, CHAIN_CONFIDENCE; AR:
                        * greedy); RANDOM and CHAIN sample at 1 if 0 */
    float top_p;              /* AR only: nucleus sampling, draw among the most probable tokens
                        * whose probabilities (at the temperature) first reach top_p;
                        * 0 or >= 1: off */
    int cache;                /* MODEL_CACHE_*: NONE, EXACT (the default), DUAL */
    const model_chain *chain; /* CHAIN and CHAIN_CONFIDENCE only (borrowed during the call) */
    float threshold;          /* THRESHOLD: in (0, 1) */
    float factor;             /* THRESHOLD: > 0 the factor rule (replaces threshold) */
    int remdm_schedule;       /* REMDM: MODEL_REMDM_* */
    float eta;                /* REMDM: >= 0 (RESCALE, CONF: <= 1) */
    float t_on, t_off, alpha_on; /* REMDM's LOOP schedule */
    /* Called after each step with the tokens so far (B, T), may be NULL: progress display,
     * or watching the order of unmasking. step counts 1..steps. */
    void (*on_step)(void *arg, int step, int steps, const int32_t *tokens);
    void *on_step_arg;
    /* End of text: an ordinary vocabulary id 0..V-1 that ends a text, or -1 = none (the
     * default; a struct not filled by model_default_sample_settings must set it). With
     * eot >= 0, after decoding each sequence is cut at its first eot (given or generated),
     * as model_cut_at_eot: that position and every one after it are set to eot, and they
     * are not part of the text. The sampler does not stop early: it runs its steps over the
     * whole window (positions after an eot are decoded, then overwritten), so the model
     * calls and the draws from rng are those of the same call with eot = -1. */
    int32_t eot;
    /* (B) out, may be NULL: each sequence's text length after the call, the position of its
     * first eot (0..T), T when it has none or eot = -1. */
    int *lengths;
} model_sample_settings;

/* Fills *s with the defaults: CONFIDENCE, 64 steps, block_len 32, temperature 0 (argmax),
 * top_p off, the exact cache (MODEL_CACHE_EXACT), no chain, no on_step; threshold 0.9,
 * factor 0 (off); ReMDM CAP with eta 0.02, loop t_on 0.55, t_off 0.05, alpha_on 0.9 (the
 * ReMDM paper's); no end of text (eot -1, lengths NULL). Parameters out of range are
 * MODEL_EINVAL naming them. */
void model_default_sample_settings(model_sample_settings *s);
/* tokens (B, T), in and out: positions holding a token are given and never changed (REMDM
 * remasks only the tokens it generated); the
 * others (mask ids, and description ids: their token is drawn among the members) are
 * generated. After the call every position holds a token. The flat strategies reveal
 * tokens at once; the CHAIN strategies pass through the chain's descriptions, a mask to
 * stage m, ..., stage 1 to a token (a given description starts at its level), each state
 * drawn from the model restricted to the current one's members. CHAIN_CONFIDENCE needs
 * steps >= the highest level present (m+1 with a mask).
 * By mode:
 * - diffusion: as above (cache DUAL: the BLOCK strategy on the dual cache).
 * - AR: left to right, one position per model call: a position holding a mask id is drawn
 *   from p(. | the tokens before it) at the temperature (0: greedy) and top_p, a token is
 *   kept (a prompt, or given tokens anywhere); the first position of every sequence must
 *   be a token (nothing predicts it: MODEL_EINVAL). strategy, steps and block_len are not
 *   read; on_step is called after every position (steps = the positions generated).
 * - block: blocks of config.block left to right (T a multiple of it), each denoised with
 *   the flat strategy inside the block (RANDOM; CONFIDENCE or BLOCK: LLaDA's confidence
 *   order; MARGIN, ENTROPY: theirs; chains, THRESHOLD and REMDM are not supported:
 *   MODEL_EINVAL) conditioned on the clean blocks before
 *   it; steps are split between the blocks as BLOCK's (at least one per block). With the
 *   exact cache a block's first model call also commits the blocks finished since the last
 *   one, so the calls are as many as without it.
 * model_calls counts the model calls. */
int model_sample(model *m, int32_t *tokens, int B, int T, const model_sample_settings *s,
                 gsl_rng *rng);

/* Cuts each of the B sequences of `tokens` (B, T) at its first `eot`: that position and
 * every later one are set to eot; lengths (B, may be NULL) gets the first eot's position,
 * T when there is none. Ids other than eot are not looked at. model_sample does this when
 * settings.eot >= 0; also for texts decoded by other means. */
void model_cut_at_eot(int32_t *tokens, int B, int T, int32_t eot, int *lengths);

/* ---- variable length: DreamOn's [expand] and [delete] ----
 * A sampler whose sequences grow and shrink. The denoiser is the caller's function: it gets
 * the B sequences (B, T) with their lengths (positions >= len[b] hold pad_id) and fills
 * logits (B, T, V + 2) at every position holding mask_id (the others are not read): classes
 * 0..V-1 the tokens, V = [expand], V + 1 = [delete] (a model trained on libmask's
 * mask_dreamon_augment pairs, whose output layer has the two extra classes). It returns 0 or
 * a negative MODEL_E* code, which the sampler returns.
 * Each step (one denoiser call) draws every mask position's class (temperature 0: the
 * argmax, the first of ties; else from the softmax at the temperature), then commits the
 * k = ceil(masks / (steps - i)) positions (step i = 0..steps-1) whose drawn class is most
 * probable (ties: leftmost first), right to left:
 * - a token replaces the mask;
 * - [expand] becomes two masks at its position (the sequence grows by one and the text after
 *   it moves right); at the cap (len[b] == T) it stays one mask, nothing moves;
 * - [delete] removes the position (the text after it moves left).
 * At the last step every mask is committed and [expand]/[delete] are not drawn (the best
 * token instead), so after the call every position 0..len[b]-1 holds a token. Given tokens
 * are never changed and keep their order; only the holes change length (a sequence that is
 * all hole may end empty, len[b] = 0). An infill hole of
 * unknown length is one mask (or any initial number of masks). */
typedef int (*model_varlen_denoise)(void *arg, const int32_t *tokens, const int *len, int B,
                                    int T, float *logits);
typedef struct model_varlen_settings {
    int vocab;         /* V >= 1 */
    int32_t mask_id;   /* >= V: the input id of a mask (and of an [expand]'s two masks) */
    int32_t pad_id;    /* 0..V-1: fills positions len[b]..T-1 (e.g. the end-of-text id) */
    int steps;         /* >= 1 denoiser calls */
    float temperature; /* >= 0; 0 = argmax */
    model_varlen_denoise denoise;
    void *denoise_arg;
} model_varlen_settings;
/* tokens (B, T) and len (B), in and out: sequence b is tokens[b*T .. b*T+len[b]-1], tokens
 * 0..V-1 and mask_id, with at least one mask (1 <= len[b] <= T). Errors, with err (may be
 * NULL) naming the offence and tokens/len untouched: MODEL_EINVAL (bad settings, a length
 * outside 1..T, a sequence with no mask: "sequence 1 has no hole"), MODEL_ERANGE (an id
 * outside 0..V-1 that is not mask_id, naming sequence and position), MODEL_ENOMEM; an error
 * from the denoiser is returned as it is, the sequences then part-decoded. */
int model_varlen_sample(const model_varlen_settings *s, int32_t *tokens, int *len, int B, int T,
                        gsl_rng *rng, char *err, size_t errlen);

/* A model with edit classes (config.n_edit = 2) as a model_varlen_denoise: arg is the model
 * (model *). One forward pass over the B current windows (T <= seq_len; positions >= len[b]
 * hold the pad token and are attended to, as in the training pairs' padding); at every
 * position holding a mask id (V..V+K-1) it writes the V+2 logits h wout^T + bout (+ the
 * prior row on the V token classes), classes V = [expand], V+1 = [delete]; the other rows of
 * logits are not written. len is not read. Errors are the model's (model_errmsg): MODEL_EINVAL
 * for a model without edit classes, MODEL_ERANGE for an id that is not a token or mask id,
 * MODEL_ENONFINITE. Counts one model call. */
int model_varlen_model_denoise(void *arg, const int32_t *tokens, const int *len, int B, int T,
                               float *logits);
/* Points *s at model m: vocab V, mask_id V (the first mask id), denoise
 * model_varlen_model_denoise, denoise_arg m; pad_id, steps and temperature are left as they
 * are (set them: pad_id the end-of-text id the pairs were padded with). MODEL_EINVAL (on m)
 * when m has no edit classes, *s untouched. */
int model_varlen_use_model(model_varlen_settings *s, model *m);

/* ---- decoding with a key/value cache ----
 * A cache holds, for B sequences of up to config.seq_len positions, every layer's rotated
 * keys and values of the positions run so far (model_cache_len of them: 0..len-1). A step
 * runs n new rows of every sequence at positions pos..pos+n-1 against them and each other:
 * - AR: pos must be len; row p attends to positions <= p;
 * - block: pos must be len, pos, n and keep whole blocks; row p attends to every position
 *   of its block and of the blocks before it (the decoding view of model_forward_block);
 * - diffusion (approximate decoding): pos <= len; every row attends to every position held
 *   (len after the step), bidirectionally. Rows inside the held range replace those
 *   positions' keys and values; the others are what the step that ran them computed, from
 *   the tokens of that time (a dual cache: refill with a step over all T, then steps over
 *   the block being decoded).
 * For AR and block the logits equal those of a full recomputation (model_score, or
 * model_score_block on the same tokens) up to float rounding: the keys and values of a
 * finished position never depend on a later one. Memory: 2 L B seq_len d floats for the
 * keys and values, and per-step buffers for B seq_len rows. */
typedef struct model_cache model_cache;
/* A cache for B sequences of model m, empty. m is borrowed (close the cache first) and must
 * not change its parameters while the cache holds positions. Failures are on m (*out
 * NULL). */
int model_cache_open(model *m, model_cache **out, int B);
/* Frees it; NULL-safe; sets *c = NULL. */
void model_cache_close(model_cache **c);
/* Positions held (0 for NULL). */
int model_cache_len(const model_cache *c);
/* Forgets every position: the next step starts at 0. */
void model_cache_reset(model_cache *c);
/* One model call. tokens (B, n), tokens or mask ids (MODEL_ERANGE otherwise; no
 * descriptions). keep: the first keep rows stay in the cache (AR, block: len = pos + keep;
 * the rows after them are scratch, e.g. a block's denoising steps); diffusion: len =
 * max(len, pos + keep). logits (B, nout, V), may be NULL when nout is 0: the output logits
 * of rows out..out+nout-1 of every sequence, h wout^T + bout (+ the prior row at a mask id),
 * as the training pass computes them: at AR row p the next token's (position p+1), at a
 * block or diffusion mask row the SUBS distribution of its own position. Errors (bad
 * positions for the mode, ...) are MODEL_EINVAL on the model's handle, the cache unchanged;
 * a non-finite logit is MODEL_ENONFINITE after the cache moved. */
int model_cache_step(model_cache *c, const int32_t *tokens, int pos, int n, int keep, int out,
                     int nout, float *logits);

/* ---- checkpoints ----
 * One file: magic "PYRMODEL", version, payload length, CRC-32 of the payload; the payload
 * holds the config, step, the caller's metadata string (e.g. config text, tokenizer hash),
 * the parameters, the prior if set, the membership layout if set, and the AdamW moments if
 * with_optim. The config records the mode (the int that older files call causal: 0
 * diffusion, 1 ar). Version 3 carries descriptions (n_desc and the layout); a diffusion or
 * AR model without descriptions is written as version 2, byte for byte as before, so older
 * builds read it, and a version-3 file must have n_desc >= 1. Version 4 is a block model:
 * version 3's config and the block size. Version 5 is a model with edit classes: version 4's
 * config and n_edit (2; a version-5 file with another n_edit, or with a layout, is corrupt);
 * a model without them keeps its older version byte for byte. All four load; a file loads
 * in its own mode
 * (model_expect_mode tells a caller who wanted another). Written to a temporary
 * file in the same directory, fsynced, then renamed into place. Little-endian. */
int model_save(model *m, const char *path, const char *meta, int with_optim);
/* Opens a model from a checkpoint (threads: as in settings, 0 = online CPUs). A truncated,
 * corrupt, foreign or other-version file is MODEL_EFORMAT. *meta (may be NULL) gets a copy
 * of the metadata string: free() it. On failure *out is NULL or a handle whose
 * model_errmsg() says why: close it either way. */
int model_load(model **out, const char *path, int threads, char **meta);

#ifdef __cplusplus
}
#endif

#endif
