/* run_oracle.c: a run whose denoiser is the exact oracle of the markov source: nothing to
 * train; the same held-out scores as a trained denoiser's, and the exact NLL beside them. */
#include "run_oracle.h"

#include <math.h>
#include <stdio.h>

int run_oracle_evaluate(struct runlog *rl, int64_t id, const struct run_ctx *x,
                        char err[CONFIG_ERR_MAX])
{
    if (!x->oracle)
        return config_fail(err, "model.kind = oracle: no markov source");
    if (run_evaluate(rl, id, NULL, x, x->v->train.steps, err))
        return -1;
    /* the exact NLL of the windows the score read (one byte per symbol) */
    struct score_opts so = {.max_tokens = x->v->score.max_tokens};
    long W = score_windows(x, &so), n = W * (long)x->T;
    double nll = oracle_dataset_nll(x->oracle, &x->valid, (size_t)W, x->T);
    if (runlog_score(rl, id, "valid", "exact_nll_bpb", nll / log(2.0) / (double)n, NAN, n)) {
        snprintf(err, CONFIG_ERR_MAX, "%s", runlog_errmsg(rl));
        return -1;
    }
    return 0;
}
