/* cmd_train.c: `pyramask train -c CONFIG` (one run, logged) and `pyramask score -c CONFIG
 * --checkpoint CKPT` (a corruption scored against an existing denoiser, logged). */
#include "cli.h"
#include "config.h"
#include "run.h"
#include "runlog.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char train_usage[] =
    "usage: pyramask train -c CONFIG [--set section.key=value]... [--db FILE]\n"
    "\n"
    "One run: builds or reuses the pyramid (cached by content hash), encodes the corpus at\n"
    "tokenizer.model_level, splits it into train and validation documents (data.split_seed),\n"
    "trains the denoiser under the configured corruption, scores it on the validation split\n"
    "and logs everything in the run log; the checkpoint and samples are kept as artifacts\n"
    "under pyramask-runs/ beside the run log, pyramids under pyramask-cache/.\n"
    "\n"
    "  -c, --config FILE   the configuration (keys: experiments/sweeps/reference.ini)\n"
    "  --set k=v           override a key, e.g. --set train.steps=50\n"
    "  --db FILE           the run log (default $PYRAMASK_DB, else pyramask.db)\n";

static const char score_usage[] =
    "usage: pyramask score -c CONFIG --checkpoint CKPT [--set section.key=value]... [--db "
    "FILE]\n"
    "\n"
    "Scores the corruption of CONFIG ([mask], [score], [data]) against the denoiser in CKPT\n"
    "without training, and logs it as a run of kind 'score' with nelbo_bpb (the canonical\n"
    "corruption: token masking, score.schedule), nelbo_bpb_sched (CONFIG's corruption) and\n"
    "the masked-token accuracy. The tokenizer and model keys come from the checkpoint.\n"
    "\n"
    "  -c, --config FILE   the configuration\n"
    "  --checkpoint CKPT   a checkpoint written by pyramask train\n"
    "  --set k=v           override a key, e.g. --set mask.schedule=cosine\n"
    "  --db FILE           the run log (default $PYRAMASK_DB, else pyramask.db)\n";

static int run_command(int argc, char **argv, int score)
{
    const char *cmd = score ? "score" : "train";
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 's'},
        {"db", required_argument, NULL, 'd'},     {"checkpoint", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *path = NULL, *db = NULL, *ckpt = NULL;
    char **sets = calloc((size_t)argc + 1, sizeof *sets);
    int nsets = 0, o;
    if (!sets)
        return CLI_FAIL;
    optind = 1;
    while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            path = optarg;
            break;
        case 's':
            sets[nsets++] = optarg;
            break;
        case 'd':
            db = optarg;
            break;
        case 'k':
            if (!score) {
                free(sets);
                return cli_usage(cmd, "--checkpoint belongs to pyramask score");
            }
            ckpt = optarg;
            break;
        case 'h':
            fputs(score ? score_usage : train_usage, stdout);
            free(sets);
            return CLI_OK;
        default:
            free(sets);
            return cli_usage(cmd, "bad option");
        }
    }
    if (optind < argc) {
        free(sets);
        return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
    }
    if (!path || (score && !ckpt)) {
        free(sets);
        return cli_usage(cmd, "missing %s", !path ? "-c CONFIG" : "--checkpoint CKPT");
    }
    char err[CONFIG_ERR_MAX];
    struct config *c = config_open(path, sets, nsets, err);
    free(sets);
    if (!c) {
        cli_error(cmd, "%s", err);
        return CLI_USAGE;
    }
    struct run_opts ro = {.db_path = runlog_path(db), .label = cmd};
    int status = score ? run_score(c, ckpt, &ro) : run_train(c, &ro);
    config_free(&c);
    return status;
}

int cmd_train(int argc, char **argv)
{
    return run_command(argc, argv, 0);
}
int cmd_score(int argc, char **argv)
{
    return run_command(argc, argv, 1);
}
