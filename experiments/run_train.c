/* run_train.c: placeholder until the libraries land. */
#include "run.h"
#include "cli.h"
#include "runlog.h"

#include <stdio.h>

int run_train(const struct config *c, const struct run_opts *o)
{
    struct runlog *rl;
    char err[RUNLOG_ERR_MAX];
    if (runlog_open(&rl, o->db_path, 1, err)) {
        cli_error(o->label, "%s: %s", o->db_path, err);
        return CLI_USAGE;
    }
    int64_t id;
    char uid[33];
    int rc = runlog_claim(rl, o->sweep_id, "train", c, &id, uid);
    if (rc < 0) {
        cli_error(o->label, "%s", runlog_errmsg(rl));
        runlog_close(&rl);
        return CLI_FAIL;
    }
    if (rc != RUNLOG_CLAIMED) {
        runlog_close(&rl);
        return RUN_SKIPPED;
    }
    runlog_score(rl, id, "valid", "nelbo_bpb", (double)config_values(c)->train.seed, 0.1, 1);
    runlog_finish(rl, id, "finished", NULL);
    runlog_close(&rl);
    return CLI_OK;
}
