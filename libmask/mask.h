/* libmask: structured, multi-mask-token corruption for masked diffusion language models.
 * The whole public API: schedules, structures, mask types with priors, importance, sampling. */
#ifndef PYRAMASK_MASK_H
#define PYRAMASK_MASK_H

#include <stddef.h>
#include <stdint.h>

#include <gsl/gsl_rng.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------
 * Overview
 *
 * A corruption of a sequence x_0 of n model-level token ids (in [0, V)) at time t in [0, 1]:
 *   1. the sequence is cut into *units* by the structure (tokens, geometric spans, coarse
 *      pyramid units, regex matches, the current block, the response tokens);
 *   2. each unit u is masked whole, independently, with probability p_u(t); without
 *      importance bending p_u(t) = 1 - alpha(t) for every unit, so every token's marginal
 *      masking probability is exactly 1 - alpha(t) whatever the unit lengths;
 *   3. every masked token gets a mask type k in [0, K) from the type policy and its id is
 *      replaced by V + k;
 *   4. every masked token gets a loss weight (the continuous-time ELBO weight, times the
 *      importance in loss mode); clean tokens get weight 0.
 * Summed over positions, weight * cross-entropy(x_0 | corrupted) is a one-sample Monte Carlo
 * estimate, over t and the masks, of the sequence's NELBO (in nats, t ~ U[0, 1]), for an
 * unclipped schedule and without loss-mode importance (which reweights the terms on purpose).
 *
 * Conventions: every call returns 0 or a negative MASK_E_* code; mask_strerror(rc) names the
 * code and mask_errmsg(handle) gives the details of the handle's last error (file:line,
 * offending value, PCRE2's message). The library never prints, exits or aborts. All
 * randomness comes from the caller's gsl_rng, consumed in a documented order, so a seed
 * reproduces a corruption exactly.
 * ------------------------------------------------------------------------------------------ */

/* The longest coarse-to-fine chain (see Chains). */
#define MASK_MAX_CHAIN 4

/* Error codes. */
enum {
    MASK_OK = 0,
    MASK_E_NOMEM = -1, /* out of memory */
    MASK_E_ARG = -2,   /* invalid argument (NULL pointer, negative size, ...) */
    MASK_E_NAME = -3,  /* unknown name (schedule, structure, policy, mode, sampler, preset) */
    MASK_E_RANGE = -4, /* a number out of its range: t outside [0, 1], bad schedule parameter */
    MASK_E_WEIGHT = -5, /* a negative, NaN or infinite importance weight */
    MASK_E_K = -6,      /* K, the number of mask types, too small for the type policy */
    MASK_E_RULES = -7,  /* bad rule file: syntax, or a pattern PCRE2 rejects */
    MASK_E_IO = -8,     /* a file could not be read */
    MASK_E_INPUT = -9,  /* inconsistent sequence: id out of [0, V), offsets, units, prompt */
    MASK_E_STATE = -10, /* call out of order (e.g. idf importance before any corpus document) */
    MASK_E_NUMERIC = -11 /* a numeric method failed (root finding did not converge) */
};

/* A static string naming the code, e.g. "unknown name". Never NULL. */
const char *mask_strerror(int rc);

/* ==========================================================================================
 * Schedules
 *
 * A schedule gives the keep probability alpha(t) (alpha(0) = 1, decreasing, alpha(1) = 0 but
 * for loglinear), its exact derivative, and the ELBO weight w(t) = -alpha'(t) / (1 - alpha(t))
 * (MDLM, MD4): the continuous-time NELBO is  E_t E_{z_t} sum_{i masked} w(t) (-log p(x_i | z_t))
 * with t ~ U[0, 1]. The types are const tables of function pointers, like gsl_rng_type.
 *
 *   name        alpha(t)                      w(t)                 parameter (default)
 *   linear      1 - t                         1 / t                -
 *   cosine      cos(pi t / 2)        (MDLM)   (pi/2) cot(pi t / 4) -
 *   cosine-md4  1 - sin(pi t / 2)    (MD4)    (pi/2) cot(pi t / 2) -
 *   loglinear   1 - (1 - eps) t      (MDLM's LogLinearNoise: alpha = exp(-sigma),
 *                                     sigma = -log1p(-(1 - eps) t), so alpha(1) = eps)
 *                                             1 / t                eps (1e-3)
 *   poly        1 - t^w                       w / t                w (2)
 *   sinpow      1 - sin(pi t / 2)^k           k (pi/2) cot(pi t / 2)  k (2)
 * MDLM also draws t from [1e-3, 1] (its sampling_eps): write "loglinear[0.001,1]".
 * sinpow:1 is cosine-md4; 1 - alpha ~ (pi t / 2)^k near t = 0 and alpha'(1) = 0, which is what
 * a chain's finite-variance scoring needs (see Chains: mask_chain_scoring_schedule).
 * ========================================================================================== */

typedef struct mask_schedule_type {
    const char *name;     /* "linear", "cosine", ... */
    const char *formula;  /* "alpha = 1 - t", for messages and listings */
    double param_default; /* the parameter when none is given (0 = takes none) */
    double param_min;     /* open lower bound of a valid parameter */
    double param_max;     /* open upper bound of a valid parameter */
    double (*alpha)(double t, double param); /* keep probability */
    double (*mask_prob)(double t,
                        double param);        /* 1 - alpha(t), computed without cancellation */
    double (*dalpha)(double t, double param); /* d alpha / dt */
} mask_schedule_type;

extern const mask_schedule_type *const mask_schedule_linear;
extern const mask_schedule_type *const mask_schedule_cosine;
extern const mask_schedule_type *const mask_schedule_cosine_md4;
extern const mask_schedule_type *const mask_schedule_loglinear;
extern const mask_schedule_type *const mask_schedule_poly;
extern const mask_schedule_type *const mask_schedule_sinpow;

/* The NULL-terminated list of all schedule types, in the order above. */
const mask_schedule_type *const *mask_schedule_types(void);

/* A schedule: a type, its parameter, and the clipped time range [lo, hi] inside [0, 1] from
 * which the time samplers draw t (block diffusion's clipped schedules; [0, 1] = not clipped).
 * Clipping leaves alpha and w untouched (as BD3-LM does): with [lo, hi] != [0, 1] the training
 * objective is the ELBO integrand restricted to [lo, hi], a lower-variance surrogate, not a
 * bound; scoring should use [0, 1]. */
typedef struct mask_schedule {
    const mask_schedule_type *type;
    double param;
    double lo, hi;
} mask_schedule;

/* alpha(t), 1 - alpha(t), alpha'(t) and w(t) = -alpha'(t) / (1 - alpha(t)) for t in [0, 1]
 * (no range check here: mask_corrupt checks t). w(0) is +inf for every shipped schedule; it
 * never multiplies anything, as nothing is masked at t = 0. */
double mask_schedule_alpha(const mask_schedule *s, double t);
double mask_schedule_mask_prob(const mask_schedule *s, double t);
double mask_schedule_dalpha(const mask_schedule *s, double t);
double mask_schedule_weight(const mask_schedule *s, double t);

/* Parses one schedule:   NAME [ ':' PARAM ] [ '[' LO ',' HI ']' ]
 * e.g. "linear", "poly:3", "loglinear:1e-4", "cosine[0.2,0.8]", "poly:0.5[0,0.9]".
 * Returns MASK_E_NAME (unknown name; the message lists the known ones) or MASK_E_RANGE
 * (parameter outside the type's open range, or not 0 <= LO <= HI <= 1). `err` (may be NULL)
 * receives the message, truncated to errlen. */
int mask_schedule_parse(mask_schedule *out, const char *spec, char *err, size_t errlen);

/* ==========================================================================================
 * Curriculum: the schedule and its clipped range as functions of the training step.
 *
 *   curriculum := stage { ';' STEP ':' stage }
 *   stage      := NAME [ ':' PARAM ] [ '[' bound ',' bound ']' ]
 *   bound      := NUMBER | NUMBER '..' NUMBER '@' STEP [ '-' STEP ]
 *
 * A stage holds from its STEP (the first one from step 0) until the next stage's STEP.
 * "A..B@N" ramps a bound linearly from A at step 0 to B at step N, constant after;
 * "A..B@M-N" from A at step M to B at step N. Steps are absolute training steps.
 * Examples:
 *   "linear[0,0.2..1@5000]"          max t (= max mask ratio for linear) 0.2 -> 1 over 5000 steps
 *   "cosine; 20000: linear"          cosine for 20000 steps, then linear
 *   "poly:2[0.1..0@4000,1]; 8000: linear"  a lower clip fading out, then linear
 * Spaces are allowed around tokens. A plain schedule string is a one-stage curriculum.
 * ========================================================================================== */

typedef struct mask_curriculum mask_curriculum;

/* Parses a curriculum (see above); *out must be freed with mask_curriculum_close. On error
 * *out is NULL and `err` (may be NULL) gets the message, pointing at the offending stage. */
int mask_curriculum_parse(mask_curriculum **out, const char *spec, char *err, size_t errlen);
void mask_curriculum_close(mask_curriculum **c);
/* The schedule in force at `step` (>= 0), its ramped bounds evaluated. */
void mask_curriculum_at(const mask_curriculum *c, long step, mask_schedule *out);

/* ==========================================================================================
 * Time samplers for a batch of B sequences (t in the schedule's [lo, hi]):
 *   iid         t_b = lo + (hi - lo) u_b,                  u_b ~ U(0, 1) independent
 *   stratified  t_b = lo + (hi - lo) (b + u_b) / B          one uniform per stratum (MDLM's
 *               "antithetic_sampling")
 *   antithetic  t_b = lo + (hi - lo) ((u + b / B) mod 1)    one shared uniform (MD4's
 *               low-discrepancy "antithetic_time_sampling")
 * The uniforms are gsl_rng_uniform_pos draws, in order b = 0..B-1 (one draw for antithetic).
 * ========================================================================================== */

typedef enum mask_time_sampler {
    MASK_TIME_IID,
    MASK_TIME_STRATIFIED,
    MASK_TIME_ANTITHETIC,
    MASK_TIME_COUNT
} mask_time_sampler;

void mask_sample_times(double *t, int B, const mask_schedule *s, mask_time_sampler how,
                       gsl_rng *r);

/* ==========================================================================================
 * Structures: what is masked together.
 *
 *   token     every token is a unit.
 *   span      the sequence is partitioned left to right into consecutive spans whose lengths
 *             are i.i.d. geometric, Geo(span_p) truncated to [1, span_max] and renormalised
 *             (SpanBERT: p = 0.2, max 10, mean 3.8); each span is masked whole with
 *             probability 1 - alpha(t). Every token lies in exactly one span, so its marginal
 *             masking probability, and the expected masked fraction, are exactly 1 - alpha(t)
 *             (the partition is independent of the coin flips). With unit_level > 0 the span
 *             lengths count whole coarse units (SpanBERT's whole-word spans) instead of tokens.
 *   unit      the units are the tokens of coarser pyramid level `unit_level`: the runs of
 *             model-level tokens sharing a value in seq->unit_of[unit_level - 1].
 *   regex     the units are PCRE2 matches over the sequence's text (settings.regex), mapped
 *             to the runs of tokens whose bytes they touch (matches sharing a token merge);
 *             tokens no match touches are units of their own.
 *   block     semi-autoregressive blocks of block_size tokens (BD3-LM): one current block c is
 *             drawn uniformly among the nb = ceil(n / block_size) blocks; earlier blocks stay
 *             clean, the tokens of block c are masked independently with probability
 *             1 - alpha(t), later blocks are masked entirely. Loss weight: nb * w(t) on the
 *             masked tokens of block c (the ELBO weight of the current block, times nb so that
 *             the sum over positions estimates the whole sequence's block-diffusion NELBO,
 *             the sum over blocks of each block's diffusion NELBO given the clean earlier
 *             blocks); 0 on the later blocks, which are masked context, not targets.
 *   response  only positions >= prompt_len are units (tokens); the prompt is never masked.
 *
 * What the structures reveal (see "Side information and the bound rule" below): token, block
 * and response cut x into the same units whatever x is; span draws its lengths from the
 * generator, independently of x (the reverse process can draw the same partition itself), so
 * with unit_level = 0 it reveals nothing either. unit, regex, and span with unit_level > 0
 * cut x by a partition that is a function of x (its coarse tokenization, its regex matches):
 * at an intermediate t the mask pattern shows where hidden units begin and end. For them the
 * weight gives the ELBO of a reverse process that knows the partition and decodes a unit as a
 * product over its tokens, a bound on -log p(x | partition) only; mask_side_nats gives the
 * code length of the partition that turns it into a bound on -log p(x).
 * ========================================================================================== */

typedef enum mask_structure {
    MASK_STRUCT_TOKEN,
    MASK_STRUCT_SPAN,
    MASK_STRUCT_UNIT,
    MASK_STRUCT_REGEX,
    MASK_STRUCT_BLOCK,
    MASK_STRUCT_RESPONSE,
    MASK_STRUCT_COUNT
} mask_structure;

/* ==========================================================================================
 * Mask-type policies: which of the K mask ids a masked token gets (its id becomes V + type).
 *
 *   single      type 0 for every masked token. Needs K >= 1.
 *   level       type l = the coarsest level l in 0..n_levels whose unit containing the token
 *               is wholly masked (level 0 is the token itself; level l >= 1 is
 *               seq->unit_of[l - 1]; a unit cut by the sequence's ends counts by its part
 *               inside the sequence). So type > 0 tells the denoiser "this whole word /
 *               superword is hidden". Needs K >= n_levels + 1.
 *   class       the token's class from the class rules (see Rules): type 0 = "other" (no rule
 *               covers it), type k = the k-th rule. Needs K >= 1 + number of rules (the
 *               defaults: space, number, identifier, word, punct: K >= 6).
 *   length      bucket of the length L (in tokens) of the masked unit holding the token:
 *               type = min(length_buckets - 1, floor(log2 L)), i.e. 1, 2-3, 4-7, 8-15, ...
 *               Needs K >= length_buckets (default 4).
 *   importance  bucket of the token's importance relative to the sequence mean, a_i / mean(a):
 *               type = number of importance_edges <= a_i / mean(a) (edges ascending, default
 *               0.5, 1, 2). Needs K >= n_importance_edges + 1.
 * settings.n_types = 0 picks the K the policy needs; a smaller K fails with MASK_E_K.
 *
 * What the types reveal (see "Side information and the bound rule" below):
 *   single      nothing.
 *   class       a function of x (the rules see the token's context through lookarounds), not
 *               of the mask: every maskable position's type is shown at t = 1. Coded once,
 *               at every maskable position, under the training split's type frequencies.
 *   importance  a function of x (a_i relative to the sequence's mean): as class.
 *   level       a function of the mask AND of how x's tokens group into the coarser levels: at
 *               t = 1 every token has the top type and nothing shows, but at an intermediate
 *               t "[L1][L0][L1*2]" tells where hidden coarse units begin and end. Coded as the
 *               partitions of every coarser level, once.
 *   length      a function of the mask and of the structure's units: the structure's partition
 *               (nothing for token, block, response; the random spans of span; the partition
 *               of unit and regex, coded for the structure) tells it all; nothing more.
 * ========================================================================================== */

typedef enum mask_type_policy {
    MASK_TYPES_SINGLE,
    MASK_TYPES_LEVEL,
    MASK_TYPES_CLASS,
    MASK_TYPES_LENGTH,
    MASK_TYPES_IMPORTANCE,
    MASK_TYPES_COUNT
} mask_type_policy;

/* ==========================================================================================
 * Importance: a weight a_i >= 0 per token, from
 *   rules      a rule file of PCRE2 pattern -> weight (see Rules);
 *   idf        smoothed inverse document frequency of the token id over the documents given
 *              to mask_corpus_add: ln((1 + D) / (1 + df(v))) + 1;
 *   surprisal  unigram surprisal of the token id in bits, -log2((c(v) + 1) / (C + V)), from
 *              the same documents;
 *   loss       the caller's per-token array (a reference denoiser's loss), seq->importance.
 * A non-NULL seq->importance is used as given whatever the source.
 *
 * Modes:
 *   off        importance is not used (the importance type policy may still read it).
 *   loss       the loss weight of token i is multiplied by a_i / mean(a), the mean over the
 *              sequence's maskable tokens, so the loss keeps its scale.
 *   schedule   per-unit schedules bend masking towards (strength > 0) or away from
 *              (strength < 0) important units while the expected masked fraction stays
 *              exactly 1 - alpha(t) at every t. Construction: unit u (length L_u, importance
 *              a_u = mean over its tokens) has bias b_u = strength * (a_u / mean(a) - 1) and
 *                  p_u(t) = sigmoid(s(t) + b_u),
 *              where s(t) solves  sum_u L_u sigmoid(s + b_u) = (1 - alpha(t)) sum_u L_u
 *              (a monotone equation, solved with GSL's Brent solver on the bracket
 *              [logit(1-alpha) - max b, logit(1-alpha) - min b]). Implicit differentiation
 *              gives the exact derivative
 *                  p_u'(t) = p_u (1 - p_u) * m'(t) / (sum_v L_v p_v (1 - p_v) / sum_v L_v),
 *              m = 1 - alpha, and the per-unit ELBO weight w_u(t) = p_u'(t) / p_u(t). Each
 *              p_u increases from p_u(0) = 0 (to p_u(1) = 1 when alpha(1) = 0), a valid
 *              schedule; with equal biases it is the plain schedule and w_u = w. Why this and not
 *              alpha_i = 1 - t^{w_i}: the logit shift keeps the mean exact at every t with one
 *              scalar root per corruption, where calibrated exponents match it at one t only.
 *              ELBO meaning: the schedule of unit u depends on the clean data (through a_u),
 *              a state-dependent schedule as in MD4's GenMD4. Summing w_u(t) times the
 *              cross-entropy is the exact NELBO when the per-unit rates are known to the
 *              reverse process (the importance is side information it is given); when they
 *              must be inferred from the hidden tokens, it is GenMD4's cross-entropy term only,
 *              and the bound adds GenMD4's rate term, which this library does not compute.
 * ========================================================================================== */

typedef enum mask_importance_source {
    MASK_IMPORTANCE_NONE,
    MASK_IMPORTANCE_RULES,
    MASK_IMPORTANCE_IDF,
    MASK_IMPORTANCE_SURPRISAL,
    MASK_IMPORTANCE_LOSS,
    MASK_IMPORTANCE_COUNT
} mask_importance_source;

typedef enum mask_importance_mode {
    MASK_IMPORTANCE_OFF,
    MASK_IMPORTANCE_SCHEDULE,
    MASK_IMPORTANCE_WEIGHT_LOSS,
    MASK_IMPORTANCE_MODE_COUNT
} mask_importance_mode;

/* ==========================================================================================
 * Rules files (class rules and importance rules share one format):
 *
 *   # comment                      blank lines and lines starting with '#' are skipped
 *   KEY  PATTERN                   KEY, blanks, then the PCRE2 pattern to the end of the line
 *
 * For class rules KEY is the class name ([A-Za-z_][A-Za-z0-9_-]*, at most 31 bytes); for
 * importance rules it is the weight (a number in [0, FLT_MAX]), or the line `default WEIGHT` sets
 * the weight of bytes no rule covers (1 if absent). Leading and trailing blanks of the pattern
 * are dropped (write \x20 for a significant space). Patterns compile with PCRE2_UTF | UCP |
 * MATCH_INVALID_UTF (\p{L}, \w etc. are Unicode-aware; invalid UTF-8 bytes never match).
 * Matching: the patterns are searched over the sequence's whole text, in file order; a byte
 * takes the key of the first rule one of whose matches covers it; a token takes the key of its
 * first byte that is not ASCII white space (of its first byte if it is all white space). So
 * lookarounds and \b see the token's context. Errors read "FILE:LINE: why", with PCRE2's
 * message and the pattern offset for a pattern it rejects.
 *
 * Built-in class rules (used when settings.class_rules is NULL), type = index + 1:
 *   space       \s+
 *   number      (?<![\p{L}\p{N}_])\p{N}+(?:[.,_]\p{N}+)*
 *   identifier  [\p{L}_][\p{L}\p{N}_]*[\p{N}_][\p{L}\p{N}_]*  and  _\w*   (has _ or a digit)
 *   word        \p{L}+(?:['\x{2019}]\p{L}+)*
 *   punct       [\p{P}\p{S}]+
 * Regex unit presets (settings.regex may name one instead of giving a pattern):
 *   words, identifiers, numbers, strings (quoted literals), lines, code (strings|identifiers|
 *   numbers).
 * ========================================================================================== */

typedef enum mask_rules_kind { MASK_RULES_CLASS, MASK_RULES_IMPORTANCE } mask_rules_kind;

/* ==========================================================================================
 * The handle
 * ========================================================================================== */

typedef struct mask_settings {
    int vocab_size;             /* V: model-level ids are in [0, V); mask ids are V..V+K-1 */
    int n_types;                /* K; 0 = what the type policy needs */
    const char *schedule;       /* a curriculum (see above); default "linear" */
    mask_time_sampler sampler;  /* for mask_corrupt_batch; default stratified */
    mask_structure structure;   /* default token */
    int n_levels;               /* coarser levels the caller passes in seq->unit_of (0) */
    int unit_level;             /* for unit (required, 1..n_levels) and span (0 = tokens) */
    double span_p;              /* span: geometric parameter (0.2) */
    int span_max;               /* span: longest span (10) */
    const char *regex;          /* regex: a preset name or a PCRE2 pattern ("code") */
    int block_size;             /* block: B (16) */
    mask_type_policy types;     /* default single */
    const char *class_rules;    /* class rules file; NULL = the built-in rules */
    int length_buckets;         /* length: number of log2 buckets (4) */
    double importance_edges[8]; /* importance buckets: ascending edges on a_i / mean(a) */
    int n_importance_edges;     /* (3: 0.5, 1, 2) */
    mask_importance_source importance;    /* default none */
    const char *importance_rules;         /* rules source: the rule file */
    mask_importance_mode importance_mode; /* default off */
    double importance_strength; /* schedule mode: bias per unit of relative importance (1) */
    double prior_alpha;         /* Dirichlet pseudo-count per (type, id) for priors (0.5) */
    /* the coarse-to-fine chain (see Chains); mask_open copies the maps */
    int chain_length;                         /* m, 0..MASK_MAX_CHAIN; 0 = flat (0) */
    const int32_t *chain_map[MASK_MAX_CHAIN]; /* map_l at [l-1]: (V or D_{l-1}) -> [0, D_l) */
    int chain_size[MASK_MAX_CHAIN];           /* D_l at [l-1], >= 1 */
    double chain_shape;                       /* gamma in (0, 1) (0.5) */
} mask_settings;

/* Fills *s with the defaults given above. */
void mask_default_settings(mask_settings *s);

/* A handle holds the configuration, compiled rules, corpus statistics, prior counts and
 * scratch buffers; one thread uses it at a time (open one handle per thread). */
typedef struct mask mask;

/* Opens a handle: parses the schedule, compiles the rules, checks K against the policy.
 * Like sqlite3_open, *out is a handle even on most errors (NULL only when memory ran out), so
 * mask_errmsg(*out) can tell why; the caller closes it with mask_close either way. */
int mask_open(mask **out, const mask_settings *s);
/* Frees the handle; NULL-safe, sets *m = NULL. */
void mask_close(mask **m);
/* The message of the handle's last error, as sqlite3_errmsg: every call that returns a code
 * first clears the previous error, and a failing one records its code and details; with no
 * details, mask_strerror of the last code ("ok" after a success). Never NULL nor "" (a NULL
 * handle, from an out-of-memory mask_open, reads "no handle (out of memory)"); borrowed,
 * valid until the next call on the handle. */
const char *mask_errmsg(const mask *m);

/* K (the resolved number of mask types) and a display name for type k ("mask", "L2",
 * "number", "len4-7", "imp1-2", ...); the name is borrowed from the handle, NULL for k out of
 * range. */
int mask_n_types(const mask *m);
const char *mask_type_name(const mask *m, int k);
/* The curriculum the handle uses (borrowed). */
const mask_curriculum *mask_get_curriculum(const mask *m);

/* ==========================================================================================
 * Sequences and corruptions
 * ========================================================================================== */

typedef struct mask_seq {
    const int32_t *ids;            /* (n) model-level ids in [0, V) */
    int n;                         /* number of tokens, >= 0 */
    const int32_t *const *unit_of; /* (n_levels)(n): unit_of[j][i] = index of the unit of the
                                    (j+1)-th coarser level containing token i; a unit is a
                                    contiguous run, indices increase along the sequence.
                                    NULL when n_levels == 0 */
    int n_levels;                  /* arrays in unit_of; >= settings.n_levels when used */
    const char *text;              /* the sequence's bytes; needed by regex, class and rules */
    size_t text_len;
    const int32_t *offsets;  /* (n) start byte of token i in text, strictly increasing,
                                    < text_len; token i ends where token i+1 (or the text)
                                    begins */
    const float *importance; /* (n) per-token weights or loss; NULL = from the source */
    int prompt_len;          /* response: tokens [0, prompt_len) are never masked */
} mask_seq;

/* One corruption, written into caller-owned arrays of n elements each. */
typedef struct mask_out {
    int32_t *ids;    /* (n) corrupted ids: x_i, or V + type where masked */
    uint8_t *masked; /* (n) 1 where ids[i] is a mask id */
    float *weight;   /* (n) loss weight (0 where no loss is taken) */
    int8_t *type;    /* (n) mask type, -1 where clean; may be NULL */
    double t;        /* the time used */
    /* chains (see Chains): with a chain, masked[i] = 1 where ids[i] != x_i (level > 0) and
     * type[i] = -1 where ids[i] is a description; both may be NULL only without a chain */
    int32_t *target; /* (n) the loss target: the state one level finer (x_i at levels 0, 1) */
    int8_t *level;   /* (n) the level of position i, 0..m+1 */
} mask_out;

/* Sets the training step whose curriculum schedule mask_corrupt uses (0 after mask_open);
 * mask_corrupt_batch sets it itself. Negative steps count as 0. */
void mask_set_step(mask *m, long step);
/* The schedule in force (borrowed): the curriculum at the current step. */
const mask_schedule *mask_get_schedule(const mask *m);

/* Corrupts one sequence at time t (in [0, 1], else MASK_E_RANGE). Random draws, in order:
 * the structure's own (span lengths; block index), then one gsl_rng_uniform per unit left to
 * right (unit masked when the draw is < p_u; with a chain, the same draw sets its level).
 * Errors: MASK_E_INPUT (bad sequence), MASK_E_WEIGHT (bad importance), MASK_E_STATE
 * (idf/surprisal before mask_corpus_add), MASK_E_ARG (a chain without out->target, level). */
int mask_corrupt(mask *m, const mask_seq *seq, double t, gsl_rng *r, mask_out *out);

/* The units the structure cuts `seq` into, as mask_corrupt would with the same generator
 * state: unit u covers tokens [unit_start[u], unit_start[u+1]) (unit_start has room for
 * n + 1 entries), *n_units of them; tokens outside [unit_start[0], unit_start[*n_units]) are
 * not units (the prompt; the blocks before and after the current one). Draws the structure's
 * own random numbers only (span lengths; the block index), so a copy of the generator taken
 * before mask_corrupt reproduces its partition. For previews and tests. */
int mask_units(mask *m, const mask_seq *seq, gsl_rng *r, int *unit_start, int *n_units);

/* Corrupts B sequences at training `step`: sets the step (mask_set_step), draws
 * the B times with the settings' sampler, then corrupts the sequences in order, all from `r`.
 * Sequential by design, so results do not depend on any thread count: a batch of 64 x 256
 * tokens costs 0.1-2 ms for every structure and 3-6 ms with PCRE2 class or importance rules,
 * whose matching dominates (tests/bench): under 2% of a small denoiser's training step. */
int mask_corrupt_batch(mask *m, const mask_seq *seqs, int B, long step, gsl_rng *r,
                       mask_out *outs);

/* The per-token importance weights the handle would use for `seq` (source, or
 * seq->importance), into out (n). */
int mask_importance(mask *m, const mask_seq *seq, float *out);

/* The bent per-unit schedule of the schedule mode at time t, for units with importances
 * a (n_units, >= 0, finite) and lengths len (NULL = all 1): p[u] = p_u(t), dp[u] = p_u'(t)
 * (dp may be NULL), under the schedule in force. Exposed for scoring and tests. */
int mask_bent_schedule(mask *m, const double *a, const int *len, int n_units, double t,
                       double *p, double *dp);

/* ==========================================================================================
 * Chains: a coarse-to-fine forward process through descriptions of the tokens.
 *
 * A chain of m stages (settings.chain_length, 0..MASK_MAX_CHAIN) is given as plain arrays:
 * map_1 (settings.chain_map[0], V entries) sends a token id to a stage-1 description in
 * [0, D_1), and map_l (chain_map[l-1], D_{l-1} entries) a stage-(l-1) description to a stage-l
 * one in [0, D_l) (D_l = chain_size[l-1]). mask_open copies the maps. Input ids:
 *   tokens 0..V-1 | mask ids V..V+K-1 | stage 1: V+K..V+K+D_1-1 | stage 2 ... | stage m
 * (mask_n_inputs = V + K + sum D_l; mask_level_first_id / mask_level_size give each range).
 *
 * States of a position, its *levels*: 0 the clean token x, l = 1..m its stage-l description
 * s_l = map_l(...map_1(x)), m+1 the [MASK] of its type; every hop is absorbing. Each unit of
 * the structure (the units of the flat corruption, masking probability p_u(t), plain or
 * importance-bent) draws ONE uniform U, the draw of the flat corruption, and is at level
 *     level_u(t) = #{ l in 1..m+1 : U < F_l(t) },   F_l = p_u^(a_l),
 *     a_{m+1} = 1,  a_l = gamma^(m+1-l) (l <= m),   gamma = settings.chain_shape in (0, 1).
 * So F_1 >= ... >= F_{m+1} = p_u: a unit is at [MASK] exactly when the flat corruption masks
 * it, and with m = 0 every output and random draw is the flat corruption's, bit for bit. Small
 * gamma gives every position its descriptions early in forward time (in generation: all the
 * coarse structure first, token identities last); gamma -> 1 runs each position's chain
 * quickly, close to flat masking. The level marginals are P_l = F_l - F_{l+1} (F_0 = 1,
 * F_{m+2} = 0). The block structure's later blocks are at level m+1 with weight 0.
 *
 * Loss: a position at level l >= 1 predicts its level-(l-1) state (out->target: x for l = 1,
 * else the stage-(l-1) description id), with weight (times c.nb and loss-mode importance as in
 * the flat corruption)
 *     w_l = F_l' / P_l = a_l (p'/p) / (1 - p^(a_{l+1} - a_l))   (l <= m; computed as
 *           -expm1((a_{l+1} - a_l) ln p), no cancellation near p = 1),
 *     w_{m+1} = p'/p                                             (the flat weight).
 * Summed over positions, weight * cross-entropy(target | corrupted) is a one-sample estimate of
 *     integral_0^1 sum_i sum_l E[ 1{level_i(t) = l} w_l(t) (-log p(s_{l-1} | z_t)) ] dt,
 * an upper bound on -log p(x): for any law of the hop times independent of x, generating by
 * drawing the times, then reversing the events in time order (each moves a unit one level
 * finer, drawn from the model given z at the event) gives -log p(x) <= E[sum over events of
 * -log p(finer state | z)], and this sum's expectation is the integral above (the density of
 * the hop into level l is F_l', and given it the unit is at level l; the one-uniform coupling
 * of a unit's hops leaves the value a function of the marginals F_l alone). The reverse model
 * may restrict a description's prediction to its members or not; the bound holds either way.
 * Invariances: the bound is unchanged by a common change of time (any base schedule, the same
 * value: F_l depends on t through p only); it changes with gamma when the sequence has more
 * than one unit, as gamma decides which units are still coarse while others are masked; for a
 * single unit, with a denoiser that does not see t, it is the same for every gamma (and equals
 * the sum of the hops' cross-entropies). tests/mask/test_chain.c checks all three exactly.
 * Variance: near t = 0, w_1 ~ a_1 p'/p and P_1 ~ p^(a_1): with p ~ t^k the hop-1 term's second
 * moment integrates t^(k a_1 - 2), finite only for k > 1 / a_1 (the linear schedule, k = 1,
 * diverges for every chain, and logarithmically for flat masking); near t = 1 the intermediate
 * P_l vanish like 1 - p and the second moment diverges logarithmically unless p'(1) = 0. So
 * scoring should use mask_chain_scoring_schedule: sinpow:k with k = 2 / a_1.
 * Mask types: a [MASK] keeps its type, which must be fixed by the data before the corruption:
 * single, class, importance, and length with single-token units. level (its type changes as
 * other positions leave [MASK]) and length over multi-token units (the type tells the unit's
 * length, not the position's own token) fail at mask_open with MASK_E_ARG naming the policy.
 * Other errors at mask_open: chain_length outside 0..MASK_MAX_CHAIN, a size < 1, a map value
 * out of range, gamma outside (0, 1) (MASK_E_RANGE); a NULL map (MASK_E_ARG).
 * ========================================================================================== */

/* The number of input ids, V + K + sum D_l (V + K without a chain); m, the chain's length. */
int mask_n_inputs(const mask *m);
int mask_chain_length(const mask *m);
/* The input ids of level l's states are [first, first + size): level 0 [0, V), level l in
 * 1..m [V + K + D_1 + ... + D_{l-1}, + D_l), level m+1 [V, V + K). -1 for l outside 0..m+1. */
int mask_level_first_id(const mask *m, int level);
int mask_level_size(const mask *m, int level);
/* The stage-l description (in [0, D_l)) of token id `token`, composing map_1..map_l; the
 * token itself for l = 0; -1 for a token outside [0, V) or l outside 0..m. */
int32_t mask_chain_describe(const mask *m, int32_t token, int stage);
/* Borrowed arrays for stage l = 1..m (NULL otherwise): the handle's copy of map_l (V or
 * D_{l-1} entries), and the composed token -> stage-l description table (V entries). */
const int32_t *mask_chain_map(const mask *m, int stage);
const int32_t *mask_chain_descriptions(const mask *m, int stage);

/* F[0..m] = F_1..F_{m+1} at masking probability p in [0, 1] (F_l = p^(a_l), F_{m+1} = p), for
 * samplers and scorers that cannot include this header's types. */
int mask_chain_cdf(mask *m, double p, double *F);
/* w[0..m] = the ELBO weights w_1..w_{m+1} at masking probability p and its time derivative
 * dp (a weight is +inf where its level has probability 0: p = 0, or p = 1 for l <= m). */
int mask_chain_weights(mask *m, double p, double dp, double *w);
/* The reverse-step kernel from time t back to time s < t, given by the masking probabilities
 * 0 <= p_s <= p_t <= 1: kernel[l * (m+2) + j] = P(level(s) = j | level(t) = l)
 *     = |[F_{j+1}(p_s), F_j(p_s)) intersect [F_{l+1}(p_t), F_l(p_t))| / P_l(p_t),
 * (m+2) x (m+2), lower triangular (levels only decrease backwards in time); it preserves the
 * marginals (sum_l P_l(p_t) kernel[l][j] = P_j(p_s)). A row whose level has probability 0 at
 * p_t keeps its level. */
int mask_chain_kernel(mask *m, double p_s, double p_t, double *kernel);
/* The scoring schedule with a finite-variance estimator for the handle's chain: sinpow:k over
 * [0, 1] with k = 2 / a_1 = 2 gamma^(-m) (sinpow:2 without a chain). */
mask_schedule mask_chain_scoring_schedule(const mask *m);

/* The class of a token from its bytes alone (its bytes are the whole text: lookarounds see no
 * context), as the class type policy would type it: 0 = other (no rule), k = the k-th rule.
 * The rules are the handle's class rules (settings.class_rules, else the built-in ones), loaded
 * on first use when the type policy is not class. Returns the class, or a negative code
 * (a bad class rule file: MASK_E_IO, MASK_E_RULES). For building a `class` chain map over any
 * alphabet of byte strings. */
int mask_classify(mask *m, const char *bytes, size_t len);
/* 1 + the number of class rules (or a negative code), and the name of class k ("other" for 0;
 * NULL out of range), borrowed from the handle. */
int mask_n_classes(mask *m);
const char *mask_class_name(mask *m, int k);

/* ==========================================================================================
 * Corpus statistics and priors
 * ========================================================================================== */

/* Adds one training document (model-level ids) to the idf / surprisal statistics. */
int mask_corpus_add(mask *m, const int32_t *ids, int n);

/* Adds the training tokens of `seq` to the per-type counts. Policies that fix a token's type
 * from the data alone (single, class, importance; length with token, block or response
 * structure) count every maskable token once in its type, `r` unused. The others (level;
 * length with spans or units) draw t ~ U(0, 1) and one corruption from `r` and count the
 * masked tokens by type, an unbiased estimate of the type's share of training tokens. */
int mask_prior_add(mask *m, const mask_seq *seq, gsl_rng *r);

/* Writes the log-priors, K x V floats row-major (logp[k * V + v]):
 *   log((count[k][v] + prior_alpha) / (total[k] + prior_alpha * V)),
 * each row a distribution over the V ids (exp sums to 1). */
int mask_prior_export(mask *m, float *logp);

/* ==========================================================================================
 * Side information and the bound rule
 *
 * The rule: a corruption's NELBO (weight times cross-entropy, integrated over t) is an upper
 * bound on -log p(x) only if everything the corrupted sequence z_t shows besides clean tokens
 * is either drawn independently of x (span lengths, the block index) or paid for. A
 * deterministic function S(x) (types, partitions) is paid for by coding it up front under a
 * fixed prior q that never looks at the scored x (here: estimated on training sequences):
 *     -log p(x) <= -log q(S(x)) + NELBO(x | S(x)),
 * because drawing S from q and then x from the reverse process given S is a generative model
 * whose probability of x is at least q(S(x)) p(x | S(x)) (the pair is a sub-probability over
 * x). What each policy and structure reveals is listed in their sections above; in short:
 *   MASK_REVEALS_TYPES    class and importance types: each maskable position's type, coded
 *                         under the types' frequencies (add-1/2), the same whatever the mask.
 *   MASK_REVEALS_LEVELS   level types: the partitions of the coarser levels 1..n_levels, each
 *                         given the one below (level 1 given the tokens).
 *   MASK_REVEALS_UNITS    unit, regex, and span with unit_level > 0: the structure's partition
 *                         (not coded again when the levels are).
 *   MASK_REVEALS_RATES    importance_mode schedule with a nonzero strength: the per-unit rates
 *                         depend on x and the mask pattern shows them. Not coded: the NELBO is
 *                         conditional on the rates (GenMD4's rate term is missing; see
 *                         Importance), so it is not a bound on -log p(x) and a scorer must not
 *                         report it as one.
 * importance_mode loss weights the loss on purpose: its weights are not the ELBO's, and a
 * scorer scores the same corruption with the mode off (the masks do not depend on it).
 * single, token, block, response and span with unit_level = 0 reveal nothing.
 *
 * A partition is coded as its boundaries among the gaps of its base partition (the tokens, or
 * the next finer level), left to right, each gap a boundary with the hazard h(L) of the run of
 * L base units since the last boundary (a renewal prior, L capped at 32; h estimated on the
 * training sequences with the Krichevsky-Trofimov rule (b + 1/2) / (n + 1)). The sequence's
 * first token starts a unit. A constant hazard would be the Bernoulli prior; on the
 * quickstart's data (64-token windows) the renewal one codes regex word units in 0.396 bits
 * per byte instead of 0.433, level-2 units in 0.341 instead of 0.343, and level types' two
 * partitions in 0.543 instead of 0.546.
 * ========================================================================================== */

enum {
    MASK_REVEALS_TYPES = 1,
    MASK_REVEALS_LEVELS = 2,
    MASK_REVEALS_UNITS = 4,
    MASK_REVEALS_RATES = 8
};

/* The MASK_REVEALS_* flags of the handle's corruption (0: it reveals nothing but tokens). */
unsigned mask_reveals(const mask *m);

/* The prior over a corruption's side information (its type and partition statistics).
 * Borrows the handle m, which must outlive it; errors are recorded on m (mask_errmsg). */
typedef struct mask_side mask_side;

/* Opens the side code of m's corruption (*out NULL on error). */
int mask_side_open(mask_side **out, mask *m);
/* Frees it; NULL-safe, sets *s = NULL. */
void mask_side_close(mask_side **s);
/* The MASK_REVEALS_* flags it codes (RATES is reported, never coded). */
unsigned mask_side_reveals(const mask_side *s);
/* Adds one training sequence's types and partitions to the statistics. Errors:
 * MASK_E_INPUT (bad sequence; levels that do not nest), MASK_E_NOMEM. */
int mask_side_add(mask_side *s, const mask_seq *seq);
/* The code length in nats of seq's side information under the statistics so far: the types
 * (MASK_REVEALS_TYPES) into *type_nats and the partitions (LEVELS, UNITS) into *part_nats,
 * each 0 when not revealed. Deterministic: no random draw. */
int mask_side_nats(mask_side *s, const mask_seq *seq, double *type_nats, double *part_nats);

/* ==========================================================================================
 * Names (for configs and messages)
 * ========================================================================================== */

/* Names: "token" ...; "single" ...; "none", "rules", "idf", "surprisal", "loss"; "off",
 * "schedule", "loss"; "iid", "stratified", "antithetic". NULL when out of range. */
const char *mask_structure_name(mask_structure s);
const char *mask_type_policy_name(mask_type_policy p);
const char *mask_importance_source_name(mask_importance_source s);
const char *mask_importance_mode_name(mask_importance_mode m);
const char *mask_time_sampler_name(mask_time_sampler s);

/* Parse a name back. MASK_E_NAME for an unknown one, with `err` (may be NULL) reading e.g.
 * "unknown structure 'spam' (token, span, unit, regex, block, response)". */
int mask_structure_parse(const char *name, mask_structure *out, char *err, size_t errlen);
int mask_type_policy_parse(const char *name, mask_type_policy *out, char *err, size_t errlen);
int mask_importance_source_parse(const char *name, mask_importance_source *out, char *err,
                                 size_t errlen);
int mask_importance_mode_parse(const char *name, mask_importance_mode *out, char *err,
                               size_t errlen);
int mask_time_sampler_parse(const char *name, mask_time_sampler *out, char *err, size_t errlen);

/* Checks a rule file without opening a handle: 0, or MASK_E_IO / MASK_E_RULES with
 * "FILE:LINE: why" in err. *n_rules (may be NULL) receives the number of rules. */
int mask_rules_check(const char *path, mask_rules_kind kind, int *n_rules, char *err,
                     size_t errlen);

/* ---- Variable length: DreamOn's [expand] and [delete] ----------------------------------
 * Two more mask states beside the K mask ids, never vocabulary ids: [expand] (sampled, it
 * becomes two masks) and [delete] (sampled, its position is removed). Their ids are the
 * caller's (settings below); the convention for a model with K mask ids is expand = V + K,
 * delete = V + K + 1, the edit ids of a libmodel model with n_edit = 2 (which scores them as
 * its output classes V and V + 1). A training pair
 * is built from one mask_corrupt result (DreamOn's augmented z_0, then its forward process,
 * which maps both states to a mask):
 *
 *   1. Merging. For each maximal run of masked positions of length L >= 2, left to right, one
 *      gsl_rng_uniform u: when u < p_merge the run becomes ONE position whose input is the
 *      run's first mask id and whose target is expand_id; it stands for the run's L tokens
 *      (which are not predicted in this pair: an [expand] expands, and its two masks are
 *      what later steps fill). Runs of length 1 are never merged and draw nothing.
 *      p_merge = merge_scale * (1 - masked / n), the gate of DreamOn's released code
 *      (masked / n the sequence's masked fraction, about 1 - alpha(t)): merging is frequent when
 *      few tokens are masked and rare near t = 1.
 *   2. Deletion. After each masked element of the result (a masked token or an [expand]), in
 *      order, one gsl_rng_uniform u: when u < delete_prob a position is inserted right after
 *      it, input the element's mask id, target delete_id.
 *   Draw order: walking the clean sequence left to right, a run's merge draw comes at its
 *   first position, and an element's delete draw right after the element; the draws do not
 *   depend on T, so a seed gives the same pair for any window.
 *
 * Targets and weights: an unmasked position keeps input x_i, target x_i and its weight from
 * mask_corrupt (0); a masked token keeps its input, target x_i and weight; an [expand]
 * position gets the weight of the run's first position, and a [delete] the weight of the
 * element it follows (each augmented masked position carries one position's ELBO weight, as
 * DreamOn's cross-entropy over every masked position does).
 * Window: the pair has T >= n positions; the augmented sequence fills positions
 * 0..length-1 and positions length..T-1 are padding: input pad_id, target pad_id, weight 0
 * (pad_id an ordinary id, e.g. the end-of-text id, so the model carries it over). Merging
 * only shortens; an insertion is dropped (its draw still taken, counted in `dropped`) when
 * the window could not then hold the rest of the clean sequence unmerged (length + 1 +
 * tokens still to come > T), so every clean token is always accounted for. */
typedef struct mask_dreamon_settings {
    int32_t vocab;      /* V: clean ids 0..V-1 */
    int32_t expand_id;  /* >= V, != delete_id */
    int32_t delete_id;  /* >= V */
    int32_t pad_id;     /* 0..V-1: input and target of the padding after the text */
    double merge_scale; /* in [0, 1]; DreamOn's code: 0.5 */
    double delete_prob; /* in [0, 1] */
} mask_dreamon_settings;

/* Fills *s: vocab 0 (to set), expand_id -1, delete_id -1, pad_id 0 (set all three), merge_scale
 * 0.5, delete_prob 0.1. */
void mask_dreamon_default_settings(mask_dreamon_settings *s);

typedef struct mask_dreamon_out {
    int32_t *ids;    /* (T) model inputs: tokens and mask ids */
    int32_t *target; /* (T) x_i, expand_id, delete_id, or pad_id */
    float *weight;   /* (T) loss weights (0 on padding and unmasked positions) */
    int32_t *src;    /* (T) may be NULL: the clean position of the first token a position
                      * stands for; -1 for a [delete] and for padding */
    int32_t *span;   /* (T) may be NULL: how many clean tokens it stands for: 1 a token, L an
                      * [expand], 0 a [delete] and padding */
    int length;      /* positions before the padding */
    int merged;      /* runs merged into an [expand] */
    int inserted;    /* [delete]s inserted */
    int dropped;     /* insertions dropped at the window's end */
} mask_dreamon_out;

/* Builds DreamOn's training pair from a clean sequence x (n ids in 0..V-1) and its corruption
 * (mask_out's ids, masked and weight, n each: masked[i] = 1 exactly where ids[i] is not
 * x[i], and then ids[i] >= V), into out's T-long arrays (1 <= n <= T). Draws from r as the
 * section says; deterministic for a seed. Errors, with err (may be NULL) naming the first
 * offence and nothing written to out: MASK_E_ARG (NULL arrays, n < 1, T < n: "sequence of 9
 * tokens longer than the window 8"), MASK_E_RANGE (a probability outside [0, 1], expand or
 * delete below V or equal, pad_id outside 0..V-1), MASK_E_INPUT (x out of range, a masked
 * flag that disagrees with ids, a non-finite or negative weight, naming the position). */
int mask_dreamon_augment(const mask_dreamon_settings *s, const int32_t *x, const int32_t *ids,
                         const uint8_t *masked, const float *weight, int n, int T, gsl_rng *r,
                         mask_dreamon_out *out, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* PYRAMASK_MASK_H */
