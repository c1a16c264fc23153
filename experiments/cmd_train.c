/* cmd_train.c: `pyramask train -c CONFIG [--set k=v]...`: one run, logged. */
#include "cli.h"
#include "config.h"
#include "run.h"
#include "runlog.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: pyramask train -c CONFIG [--set section.key=value]... [--db FILE]\n"
    "\n"
    "One run: builds or reuses the pyramid (cached by content hash), encodes the corpus at\n"
    "tokenizer.model_level, splits it into train and validation documents (data.split_seed),\n"
    "trains the denoiser under the configured corruption, scores it on the validation split\n"
    "and logs everything in the run log; the checkpoint and samples are kept as artifacts\n"
    "under pyramask-runs/ beside the run log.\n"
    "\n"
    "  -c, --config FILE   the configuration (keys: experiments/sweeps/reference.ini)\n"
    "  --set k=v           override a key, e.g. --set train.steps=50\n"
    "  --db FILE           the run log (default $PYRAMASK_DB, else pyramask.db)\n";

int cmd_train(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 's'},
        {"db", required_argument, NULL, 'd'},     {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *path = NULL, *db = NULL;
    char **sets = calloc((size_t)argc + 1, sizeof *sets);
    int nsets = 0, o;
    if (!sets)
        return CLI_FAIL;
    optind = 1;
    while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': path = optarg; break;
        case 's': sets[nsets++] = optarg; break;
        case 'd': db = optarg; break;
        case 'h': fputs(usage_text, stdout); free(sets); return CLI_OK;
        default: free(sets); return cli_usage("train", "bad option");
        }
    }
    if (optind < argc) {
        free(sets);
        return cli_usage("train", "unexpected argument '%s'", argv[optind]);
    }
    if (!path) {
        free(sets);
        return cli_usage("train", "missing -c CONFIG");
    }
    char err[CONFIG_ERR_MAX];
    struct config *c = config_open(path, sets, nsets, err);
    free(sets);
    if (!c) {
        cli_error("train", "%s", err);
        return CLI_USAGE;
    }
    struct run_opts ro = {.db_path = runlog_path(db), .label = "train"};
    int status = run_train(c, &ro);
    config_free(&c);
    return status;
}
