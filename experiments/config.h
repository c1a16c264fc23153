/* config.h: a run's configuration: INI files, `--set section.key=value`, validation
 * with file:line errors, canonical text and the config hash that leaves out the seed. */
#ifndef PYRAMASK_CONFIG_H
#define PYRAMASK_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum { CONFIG_MAX_LEVELS = 16, CONFIG_ERR_MAX = 8192 };

/* Typed values, filled by config_finish() from the canonical text of every key.
 * Strings point into the config (valid until config_free); paths are resolved
 * against the directory of the file that named them. */
struct config_values {
    struct {
        const char *corpus; /* comma-separated, resolved */
        const char *split;  /* auto, blank, header, lines, none */
        const char *header;
        long max_bytes;
        double valid_fraction;
        long split_seed;
        const char *source;              /* corpus, markov */
        long markov_alphabet;            /* symbols of the chain */
        double markov_conc;              /* Dirichlet concentration of its rows */
        long markov_seed;                /* draws the chain and both splits */
        long markov_train, markov_valid; /* tokens of each split */
        int eot; /* every document followed by the end-of-text byte (CORPUS_EOT) */
    } data;
    struct {
        const char *pyramid; /* "" = build from data.corpus */
        int levels[CONFIG_MAX_LEVELS];
        int nlevels;
        long superword;
        const char *pretok;
        long model_level;
        long train_bytes;
    } tokenizer;
    struct {
        const char *schedule;
        double poly_w, eps, t_lo, t_hi;
        const char *curriculum; /* "" = none */
        const char *time;
        const char *structure;
        double span_p;
        long span_max, unit_level;
        const char *regex;
        long block, prompt;
        const char *types;
        const char *classes; /* "default" or a resolved file */
        double prior_alpha;
        const char *importance; /* none, idf, surprisal or a resolved file */
        const char *importance_mode;
        double importance_strength;
        const char *chain; /* "" = flat */
        double chain_shape;
        long cluster_seed;
    } mask;
    struct {
        long d, layers, heads, seq_len;
        int prior_bias;
        const char *mode; /* "diffusion", "ar", "block" or "block:B" (as the text says) */
        long block;       /* block positions of a block run (from "block:B" or model.block);
                           * 0 in the other modes */
        int mode_id;      /* libmodel's model_mode: MODEL_DIFFUSION, MODEL_AR, MODEL_BLOCK */
        const char *kind; /* transformer, oracle (the exact denoiser of a markov source) */
        int edit;         /* DreamOn's [expand]/[delete] output classes (n_edit = 2) */
    } model;
    struct {
        long steps, batch;
        double lr, weight_decay, beta1, beta2;
        long warmup;
        double grad_clip;
        long seed, log_every, threads;
        double edit_merge, edit_delete; /* model.edit: mask_dreamon_settings' two rates */
    } train;
    struct {
        long max_tokens, t_samples, replicates, seed, buckets, samples, sample_steps;
        const char *schedule;     /* the canonical score's schedule (libmask spec) */
        const char *time_density; /* "uniform" or "sqrt:K" */
        const char *sample_strategy;
        long curve_every, curve_tokens;
        long infill, infill_max;    /* held-out infill holes, their longest (tokens) */
        const char *chain_schedule; /* "auto" or a libmask schedule spec */
    } score;
    struct { /* sampler parameters (the strategy and steps are score.sample_*) */
        double temperature, top_p;
        long block;
        double threshold, factor;
        const char *remdm_schedule;
        double eta, t_on, t_off, alpha_on;
        const char *reference; /* an ar checkpoint of the same tokenizer, or "" */
    } sample;
};

struct config;

/* Formats a message into err (CONFIG_ERR_MAX bytes) and returns -1: the error idiom of the
 * harness's functions. */
int config_fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Strips leading and trailing white space in place; returns the first kept byte. */
char *config_trim(char *s);

/* A new configuration holding every key's default (from the embedded reference.ini).
 * Returns NULL only when out of memory. Free with config_free(). */
struct config *config_new(void);
void config_free(struct config **c);
/* Why config_new failed when memory did not run out: the embedded reference.ini and the
 * key table disagree (a build defect the unit test catches). */
const char *config_reference_error(void);
/* A copy of c, values filled in, or NULL when out of memory; it is not checked again. */
struct config *config_copy(const struct config *c);

/* Sets one key from text. `file`/`line` say where the value came from (NULL/0 for
 * the command line) and prefix errors; relative paths resolve against `file`'s
 * directory. Returns 0, or -1 with a message "file:line: section.key: why" in err. */
int config_set(struct config *c, const char *section, const char *key, const char *value,
               const char *file, int line, char err[CONFIG_ERR_MAX]);

/* `section.key=value`, as given to --set. Returns 0 or -1 with err. */
int config_set_arg(struct config *c, const char *arg, char err[CONFIG_ERR_MAX]);

/* Defaults, then the file (if path is not NULL), then the --set arguments, then
 * config_finish. Returns NULL with err ("file:line: key: why"). */
struct config *config_open(const char *path, char *const *sets, int nsets,
                           char err[CONFIG_ERR_MAX]);

/* Called for every key of a [sweep] section; returns 0 or -1 with err filled. */
typedef int (*config_sweep_fn)(void *user, const char *key, const char *value, const char *file,
                               int line, char err[CONFIG_ERR_MAX]);

/* Reads an INI file into c. Keys of a [sweep] section go to `sweep` (an error when
 * sweep is NULL). Returns 0, -1 for bad content (err "file:line: why") or -2 when the
 * file cannot be read (err "file: why"). */
int config_load(struct config *c, const char *path, config_sweep_fn sweep, void *user,
                char err[CONFIG_ERR_MAX]);

/* The same from text in memory; `name` stands for the file in messages. */
int config_load_string(struct config *c, const char *text, const char *name,
                       char err[CONFIG_ERR_MAX]);

/* Checks the relations between keys (e.g. model.heads divides model.d) and fills the
 * typed values. Returns 0 or -1 with err. */
int config_finish(struct config *c, char err[CONFIG_ERR_MAX]);
const struct config_values *config_values(const struct config *c);
/* score.time_density as the scorer's constant c = K / model.seq_len of the density
 * q(t) ~ sqrt(1 + c / t) (0 for uniform). Returns 0, or -1 for a bad value. */
int score_time_density(const struct config_values *v, double *c);

/* Iteration over keys in reference order: "section.key", canonical value, doc line. */
int config_nkeys(void);
const char *config_key_name(int i);
const char *config_key_doc(int i);
const char *config_value(const struct config *c, int i);
/* The index of "section.key", or -1. */
int config_key_index(const char *name);
/* Whether value is one of the names key i accepts (a K_ENUM_OR_PATH value that is not
 * one of them is a file). */
int config_key_choice(int i, const char *value);
/* Where key i was last set ("file:line", "--set" or "default"). */
const char *config_where(const struct config *c, int i);

/* The whole configuration as INI text, one `key = value` per key under its section
 * (a malloc'd string, free with free()). With docs, each key is preceded by its doc. */
char *config_text(const struct config *c, int docs);

/* The config hash: 16 hex digits over the canonical text of every key but train.seed
 * and train.threads, so seeds of one configuration share it. */
void config_hash(const struct config *c, char out[17]);

/* FNV-1a 64-bit over a buffer, continuing from h (start with CONFIG_FNV_SEED). */
#define CONFIG_FNV_SEED UINT64_C(0xcbf29ce484222325)
uint64_t config_fnv(uint64_t h, const void *buf, size_t n);

#endif
