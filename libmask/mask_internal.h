/* libmask private header: the handle's layout and the functions its files share.
 * Nothing here is part of the API; only the libmask sources include it. */
#ifndef PYRAMASK_MASK_INTERNAL_H
#define PYRAMASK_MASK_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <gsl/gsl_roots.h>
#include <pcre2.h>

#include "mask.h"

#define MASK_ERRMSG_MAX 512
#define MASK_KEY_MAX    32

/* A compiled rule list (class or importance rules). */
typedef struct mask_rules {
    int n;
    char (*keys)[MASK_KEY_MAX]; /* (n) class names */
    double *weights;            /* (n) importance weights */
    pcre2_code **codes;         /* (n) */
    double default_weight;      /* importance of bytes no rule covers */
} mask_rules;

/* Growable scratch arrays of one handle, sized for the largest sequence seen. */
typedef struct mask_scratch {
    int cap_tokens;
    size_t cap_bytes;
    int *unit_start;      /* (n + 1) unit u covers tokens [unit_start[u], unit_start[u+1]) */
    double *unit_p;       /* (n) masking probability of each unit */
    double *unit_w;       /* (n) ELBO weight of each unit */
    double *unit_a;       /* (n) importance or bias of each unit */
    int *unit_len;        /* (n) */
    int8_t *unit_level;   /* (n) chain level of each unit, 0..m+1 */
    double *tok_a;        /* (n) importance per token */
    int *tok_key;         /* (n) class rule index per token, -1 = none */
    uint8_t *unit_masked; /* (n) */
    int16_t *byte_key;    /* (text bytes) rule index per byte, -1 = none */
    int32_t *out_ids;     /* (n) for priors drawn from corruptions */
    uint8_t *out_masked;
    float *out_weight;
    int8_t *out_type;
    int8_t *out_level;
} mask_scratch;

struct mask {
    mask_settings s;
    char errmsg[MASK_ERRMSG_MAX]; /* the last failure's details, "" when it gave none */
    int errcode;                  /* the last call's code (0 after a success) */
    int K;
    char (*type_names)[MASK_KEY_MAX]; /* (K) */
    mask_curriculum *curriculum;
    mask_schedule sched0; /* the curriculum at step 0 */
    mask_schedule sched;  /* the schedule of the current corruption */
    mask_rules classes;   /* class rules (types = class) */
    mask_rules imp_rules; /* importance rules (source = rules) */
    pcre2_code *regex;    /* regex structure */
    pcre2_match_data *md;
    gsl_root_fsolver *solver;
    /* corpus statistics */
    long n_docs;
    double n_tokens;
    uint32_t *df;      /* (V) documents containing the id */
    double *unigram;   /* (V) occurrences */
    int32_t *last_doc; /* (V) last document counted in df */
    /* priors */
    double *prior_counts; /* (K * V) */
    double *prior_totals; /* (K) */
    /* the chain (chain.c): m stages, level l = 0..m+1 (token, descriptions, [MASK]) */
    int chain_m;
    double chain_a[MASK_MAX_CHAIN + 2];  /* a_l = gamma^(m+1-l) at [1..m], a_{m+1} = 1 */
    int32_t *chain_map[MASK_MAX_CHAIN];  /* copies of the caller's maps, stage l at [l-1] */
    int32_t *chain_desc[MASK_MAX_CHAIN]; /* (V) token -> its stage-l description, at [l-1] */
    int level_first[MASK_MAX_CHAIN + 2]; /* first input id of each level's states */
    int level_size[MASK_MAX_CHAIN + 2];  /* V, D_1..D_m, K */
    int n_inputs;                        /* V + K + sum D_l */
    char *class_rules_path;              /* class rules for mask_classify, loaded on demand */
    mask_scratch sc;
};

/* error.c */
/* Called first by every API function that returns a code: forgets the previous error. */
void mask_clear_error(mask *m);
int mask_fail(mask *m, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int mask_fail_buf(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* rules.c */
int mask_rules_load(mask_rules *out, const char *path, mask_rules_kind kind, char *err,
                    size_t errlen);
int mask_rules_builtin_classes(mask_rules *out, char *err, size_t errlen);
void mask_rules_free(mask_rules *r);
int mask_regex_compile(pcre2_code **out, const char *pattern_or_preset, char *err,
                       size_t errlen);
/* key[i] = index of the rule covering token i's representative byte, -1 if none. */
void mask_rules_token_keys(const mask_rules *r, pcre2_match_data *md, const mask_seq *seq,
                           int16_t *byte_key, int *key);
/* Regex units over the tokens [0, n): fills unit_start (n_units + 1 entries). */
int mask_regex_units(const pcre2_code *re, pcre2_match_data *md, const mask_seq *seq,
                     int *unit_start);

/* importance.c */
int mask_token_importance(mask *m, const mask_seq *seq, double *a);
/* Solves the bent schedule for units with biases b and lengths len at mask probability
 * mp = 1 - alpha(t) and dmp = its t-derivative: p[u] and the ELBO weight w[u] = p'/p. */
int mask_bend(mask *m, double mp, double dmp, const double *b, const int *len, int n_units,
              double *p, double *w);

/* types.c */
int mask_types_resolve(mask *m);
/* Whether a policy fixes each token's type from the data alone, whatever gets masked (single,
 * class, importance; length where units are single tokens). */
int mask_types_fixed(const mask_settings *s);
void mask_types_assign(const mask *m, const mask_seq *seq, const int *unit_start, int n_units,
                       const uint8_t *unit_masked, const double *tok_a, double mean_a,
                       const int *tok_key, mask_out *out);

/* chain.c */
int mask_chain_setup(mask *m); /* checks and copies the settings' chain (after the types) */
void mask_chain_free(mask *m);
void mask_chain_fill_cdf(const mask *m, double p, double *F); /* F[0..m+2], F[0] = 1 */
/* The level of a unit with uniform U at masking probability p (F: its cdf, or NULL). */
int mask_chain_level(const mask *m, double U, double p, const double *F);
/* The ELBO weight of level l for a unit with p and flat weight w = p'/p. */
double mask_chain_hop_weight(const mask *m, int l, double p, double w);

/* corrupt.c */
/* Checks ids, prompt, the unit arrays the settings use, and the text and offsets when the
 * settings need them or want_text is set. */
int mask_check_seq(mask *m, const mask_seq *seq, int want_text);
/* Corrupts for the priors: every maskable unit masked (all = 1), else at t ~ U[lo, hi]; the
 * outputs live in the handle's scratch. */
int mask_census(mask *m, const mask_seq *seq, gsl_rng *r, int all, mask_out *out);
int mask_scratch_reserve(mask *m, int n, size_t text_len);
void mask_scratch_free(mask_scratch *sc);

#endif /* PYRAMASK_MASK_INTERNAL_H */
