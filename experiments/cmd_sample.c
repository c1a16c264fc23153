/* cmd_sample.c: `pyramask sample --checkpoint CKPT`: generated text, or the holes of a
 * text filled in (--infill FILE|-, holes written [MASK] or [MASK:n]). */
#include "cli.h"
#include "config.h"
#include "corpus.h"
#include "dataset.h"
#include "run.h"
#include "samples.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: pyramask sample --checkpoint CKPT [--steps N] [--strategy S] [-n COUNT] [--seed "
    "S]\n"
    "                       [--block B] [--temperature X] [--top-p P] [--threshold C]\n"
    "                       [--factor F] [--remdm-schedule cap|rescale|conf|loop] [--eta E]\n"
    "                       [--t-on T] [--t-off T] [--alpha-on A] [--infill FILE|-]\n"
    "\n"
    "Prints COUNT generated sequences (default 1) of the model's length, unmasked in N\n"
    "steps (default 32); with --infill, fills the holes of a text instead: each [MASK] is\n"
    "one token to fill and [MASK:n] is n tokens, the rest is kept as written.\n"
    "Strategies: random (ancestral), confidence (low-confidence remasking, LLaDA),\n"
    "margin and entropy (the same counts, ordered by top-2 margin or by entropy),\n"
    "block (semi-autoregressive blocks of B tokens, default 16), threshold (Fast-dLLM:\n"
    "each model call commits every proposal above --threshold, at least one, or by the\n"
    "--factor rule; blocks of --block), remdm (ReMDM: ancestral with remasking, --eta and\n"
    "--remdm-schedule; loop: --t-on, --t-off, --alpha-on); for a checkpoint trained\n"
    "with mask.chain: chain (coarse to fine, each step draws the positions' next levels from\n"
    "the forward process's reverse kernels; the header tells how many positions jump two\n"
    "levels or more in a step), chain-confidence (coarse to fine, one level per step, most\n"
    "confident first). The parameters default to the checkpoint's [sample] section.\n"
    "An ar checkpoint decodes left to right with --temperature and --top-p (--strategy has\n"
    "no meaning there); a block checkpoint decodes block by block with random, confidence,\n"
    "block, margin or entropy inside each block.\n";

/* a float flag in [lo, hi] */
static int float_arg(const char *s, double lo, double hi, double *out)
{
    char *end;
    double x = strtod(s, &end);
    if (end == s || *end || !(x >= lo && x <= hi))
        return -1;
    *out = x;
    return 0;
}

int cmd_sample(int argc, char **argv)
{
    static const struct option opts[] = {{"checkpoint", required_argument, NULL, 'k'},
                                         {"steps", required_argument, NULL, 's'},
                                         {"strategy", required_argument, NULL, 'S'},
                                         {"seed", required_argument, NULL, 'r'},
                                         {"block", required_argument, NULL, 'b'},
                                         {"infill", required_argument, NULL, 'i'},
                                         {"temperature", required_argument, NULL, 1},
                                         {"top-p", required_argument, NULL, 2},
                                         {"threshold", required_argument, NULL, 3},
                                         {"factor", required_argument, NULL, 4},
                                         {"eta", required_argument, NULL, 5},
                                         {"t-on", required_argument, NULL, 6},
                                         {"t-off", required_argument, NULL, 7},
                                         {"alpha-on", required_argument, NULL, 8},
                                         {"remdm-schedule", required_argument, NULL, 9},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *ckpt = NULL, *infill = NULL;
    struct sample_opts so = {.steps = 32, .strategy = "confidence", .block = 16, .shape = 0.5};
    /* the [sample] flags given: they override the checkpoint's section */
    static const struct {
        double lo, hi;
        const char *name;
    } fl[8] = {{0, 100, "temperature"},
               {0, 1, "top-p"},
               {1e-6, 0.999999, "threshold"},
               {0, 1e6, "factor"},
               {0, 1e6, "eta"},
               {0, 1, "t-on"},
               {0, 1, "t-off"},
               {1e-6, 0.999999, "alpha-on"}};
    double fv[8];
    int fset[8] = {0}, strategy_set = 0, block_set = 0;
    const char *remdm_schedule = NULL;
    long n = 1, seed = 1;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
        char *end = NULL;
        switch (o) {
        case 'k':
            ckpt = optarg;
            break;
        case 's':
            so.steps = (int)strtol(optarg, &end, 10);
            break;
        case 'S':
            so.strategy = optarg;
            strategy_set = 1;
            break;
        case 1:
        case 2:
        case 3:
        case 4:
        case 5:
        case 6:
        case 7:
        case 8:
            if (float_arg(optarg, fl[o - 1].lo, fl[o - 1].hi, &fv[o - 1]))
                return cli_usage("sample", "--%s %s: not a number in [%g, %g]", fl[o - 1].name,
                                 optarg, fl[o - 1].lo, fl[o - 1].hi);
            fset[o - 1] = 1;
            break;
        case 9:
            remdm_schedule = optarg;
            break;
        case 'r':
            seed = strtol(optarg, &end, 10);
            break;
        case 'b':
            so.block = (int)strtol(optarg, &end, 10);
            block_set = 1;
            break;
        case 'n':
            n = strtol(optarg, &end, 10);
            break;
        case 'i':
            infill = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        default:
            return cli_usage("sample", "bad option");
        }
        if (end && (*end || so.steps < 1 || so.block < 1 || n < 1 || n > 10000 || seed < 0))
            return cli_usage("sample", "bad number '%s'", optarg);
    }
    if (optind < argc)
        return cli_usage("sample", "unexpected argument '%s'", argv[optind]);
    if (!ckpt)
        return cli_usage("sample", "missing --checkpoint CKPT");
    model_strategy strategy;
    char list[128];
    if (samples_strategy_parse(so.strategy, &strategy))
        return cli_usage("sample", "unknown strategy '%s' (%s)", so.strategy,
                         samples_strategy_list(list, sizeof list));
    model *m = NULL;
    char *meta = NULL, err[CONFIG_ERR_MAX];
    int rc = run_load_checkpoint(&m, ckpt, 0, &meta, "sample");
    if (rc)
        return rc;
    struct config *c = config_new();
    tok *t = NULL;
    tok_err te = {0};
    int status = CLI_OK;
    if (!c || config_load_string(c, meta ? meta : "", ckpt, err) || config_finish(c, err)) {
        cli_error("sample", "%s: metadata: %s", ckpt, c ? err : "out of memory");
        status = CLI_USAGE;
    } else if ((rc = tok_open(&t, config_values(c)->tokenizer.pyramid, &te))) {
        cli_error("sample", "%s: the checkpoint's pyramid %s: %s", ckpt,
                  config_values(c)->tokenizer.pyramid, te.msg[0] ? te.msg : tok_strerror(rc));
        status = CLI_USAGE;
    }
    /* the checkpoint's chain: its stages from mask.chain and the pyramid */
    struct run_ctx x = {0};
    if (!status) {
        x.c = c;
        x.v = config_values(c);
        x.tok = t;
        snprintf(x.pyramid_path, sizeof x.pyramid_path, "%s", x.v->tokenizer.pyramid);
        if (run_chain_spec(&x, err)) {
            cli_error("sample", "%s: metadata: %s", ckpt, err);
            status = CLI_USAGE;
        }
        so.chain = &x.chain;
        so.shape = x.v->mask.chain_shape;
        int block = so.block;
        samples_opts_from_config(&so, x.v);
        if (block_set)
            so.block = block;
        if (!status && x.v->data.eot &&
            (so.eot = dataset_byte_id(t, (int)x.v->tokenizer.model_level, CORPUS_EOT)) < 0) {
            cli_error("sample",
                      "%s: data.eot: the pyramid %s does not keep the end-of-text "
                      "byte a token of its own",
                      ckpt, x.v->tokenizer.pyramid);
            status = CLI_USAGE;
        }
        double *dst[8] = {&so.temperature, &so.top_p, &so.threshold, &so.factor,
                          &so.eta,         &so.t_on,  &so.t_off,     &so.alpha_on};
        for (int i = 0; i < 8; i++)
            if (fset[i])
                *dst[i] = fv[i];
        if (remdm_schedule)
            so.remdm_schedule = remdm_schedule;
        if (!status && model_get_config(m)->mode == MODEL_AR && strategy_set) {
            cli_error("sample",
                      "%s: an ar model decodes left to right: --strategy %s has no meaning "
                      "(use --temperature and --top-p)",
                      ckpt, so.strategy);
            status = CLI_USAGE;
        }
    }
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!status && r) {
        gsl_rng_set(r, (unsigned long)seed);
        so.level = (int)config_values(c)->tokenizer.model_level;
        if (infill) {
            FILE *f = strcmp(infill, "-") ? fopen(infill, "rb") : stdin;
            char *text = f ? cli_read_all(f, NULL) : NULL;
            if (f && f != stdin)
                fclose(f);
            if (!text) {
                cli_error("sample", "%s: cannot read", infill);
                status = CLI_USAGE;
            } else {
                rc = samples_infill(m, t, &so, text, r, stdout, err, sizeof err);
                if (rc) {
                    cli_error("sample", "%s: %s", infill, err);
                    status = rc == -1 ? CLI_USAGE : CLI_FAIL;
                }
            }
            free(text);
        } else if ((rc = samples_generate(m, t, &so, (int)n, r, stdout, err, sizeof err))) {
            cli_error("sample", "%s", err);
            status = rc == -1 ? CLI_USAGE : CLI_FAIL;
        }
    }
    gsl_rng_free(r);
    tok_close(&t);
    config_free(&c);
    free(meta);
    model_close(&m);
    return status;
}
