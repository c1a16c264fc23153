/* run.h: one run of the harness: claim it in the run log, build or reuse the pyramid,
 * encode and split the corpus, train the denoiser, score it, log everything. */
#ifndef PYRAMASK_RUN_H
#define PYRAMASK_RUN_H

#include <stdint.h>

#include "config.h"

/* Exit status of a run that was not started because it is finished or running elsewhere. */
enum { RUN_SKIPPED = 3, RUN_INTERRUPTED = 130 };

struct run_opts {
    const char *db_path;  /* the run log */
    int64_t sweep_id;     /* 0 = a lone run */
    int quiet;            /* no progress line (sweep workers) */
    const char *label;    /* prefixes error messages, e.g. "sweep q: cell 3" */
};

/* `pyramask train`: returns an exit status (CLI_OK, CLI_FAIL, CLI_USAGE, RUN_SKIPPED,
 * RUN_INTERRUPTED); errors are printed as "pyramask: <label>: why" and logged. */
int run_train(const struct config *c, const struct run_opts *o);

#endif
