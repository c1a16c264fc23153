/* run.h: one run of the harness: claim it in the run log, build or reuse the pyramid,
 * encode and split the corpus, train the denoiser, score it, log everything. */
#ifndef PYRAMASK_RUN_H
#define PYRAMASK_RUN_H

#include <stdint.h>

#include "config.h"
#include "model.h"
#include "run_prepare.h"
#include "runlog.h"
#include "scoring.h"

/* Exit status of a run that was not started because it is finished or running elsewhere. */
enum { RUN_SKIPPED = 3, RUN_INTERRUPTED = 130 };

struct run_opts {
    const char *db_path; /* the run log */
    int64_t sweep_id;    /* 0 = a lone run */
    int quiet;           /* no progress line (sweep workers) */
    const char *label;   /* prefixes error messages, e.g. "sweep q: cell 3" */
};

/* `pyramask train`: returns an exit status (CLI_OK, CLI_FAIL, CLI_USAGE, RUN_SKIPPED,
 * RUN_INTERRUPTED); errors are printed as "pyramask: <label>: why" and logged. */
int run_train(const struct config *c, const struct run_opts *o);

/* `pyramask score`: the config's corruption against the checkpoint's denoiser, logged as
 * a run of kind 'score'. Returns an exit status like run_train. */
int run_score(const struct config *c, const char *checkpoint, const struct run_opts *o);

/* Loads checkpoint `path` (with its metadata, a config's text, into *meta). On failure
 * prints "pyramask: <label>: why" (the library's message names the file) and returns
 * CLI_USAGE with *m NULL; 0 on success. */
int run_load_checkpoint(model **m, const char *path, int threads, char **meta,
                        const char *label);

/* Scores model m (NULL: the markov source's oracle, x->oracle) on x's validation split and
 * logs the scores of run `id`: nelbo_bpb (the
 * canonical corruption), nelbo_bpt, type_bpb, part_bpb, nelbo_bpb_sched (the run's own; or
 * nelbo_bpb_sched_cond when it is conditional), type_bpb_sched, part_bpb_sched, masked_acc
 * and masked_acc_b1..bN; a chain run records its scoring schedule as the params row
 * score.chain_schedule_used. Returns 0 or -1 with err. */
int run_evaluate(struct runlog *rl, int64_t id, model *m, const struct run_ctx *x, long step,
                 char err[CONFIG_ERR_MAX]);

/* Both scored corruptions of a run (canonical, own), opened once for several scorings (the
 * learning curve's points), with the training split's unigram table. own_schedule: the
 * chain's scoring schedule ("" without a chain). */
struct run_evaluator {
    mask *mk[2];
    mask_side *side[2];
    unsigned reveals[2];
    double *ulogp;
    char own_schedule[64];
    int own_is_canon; /* the run's own corruption is the canonical one: scored once */
};
int run_evaluator_open(struct run_evaluator *e, const struct run_ctx *x,
                       char err[CONFIG_ERR_MAX]);
void run_evaluator_close(struct run_evaluator *e);
/* Scores m at training `step` on the first max_tokens held-out tokens (0: all) under both,
 * with the accuracy (canonical) when `accuracy`. Returns 0 or -1 with err. */
int run_evaluator_score(struct run_evaluator *e, model *m, const struct run_ctx *x, long step,
                        long max_tokens, int accuracy, struct score_result *canon,
                        struct score_result *own, char err[CONFIG_ERR_MAX]);

/* Learning curves: held-out scores at points of training, logged as metrics (run_id, step,
 * curve_NAME) and (run_id, step, curve_NAME_se), NAME the score's name (nelbo_bpb, ...); any
 * kind of run can log its own; the report plots every curve_* metric. Returns 0 or -1. */
int run_curve_point(struct runlog *rl, int64_t id, long step, const char *name, double value,
                    double se);
/* One point of a diffusion run's curve: nelbo_bpb and the run's own bound (nelbo_bpb_sched)
 * on score.curve_tokens held-out tokens. Returns 0 or -1 with err. */
int run_curve_evaluate(struct runlog *rl, int64_t id, struct run_evaluator *e, model *m,
                       const struct run_ctx *x, long step, char err[CONFIG_ERR_MAX]);

/* Records what run `id`'s inputs look like (for reports): its pyramid's levels on the
 * validation split, the schedule's alpha(t), the start of the validation split corrupted at
 * t = 0.25, 0.5, 0.75 with seed 1 (what `mask preview --seed 1 --t T` prints). Returns 0 or
 * -1 with err. */
int run_describe(struct runlog *rl, int64_t id, struct run_ctx *x, char err[CONFIG_ERR_MAX]);

/* Directories beside the run log: "<dir of db>/pyramask-cache" and ".../pyramask-runs". */
void run_dirs(const char *db_path, char cache[4096], char runs[4096]);

/* Set by SIGINT/SIGTERM while a run is going: the run stops and is marked interrupted. */
extern volatile int run_stop_signal;
void run_catch_signals(void);

#endif
