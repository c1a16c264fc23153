/* cmd_mask.c: `pyramask mask preview`: one corruption of a text under a config's [mask]
 * section, masked runs shown as their mask type, ending with "masked K/N tokens". */
#include "cli.h"
#include "config.h"
#include "preview.h"
#include "run.h"
#include "run_prepare.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: pyramask mask preview -c CONFIG [--set section.key=value]... [--t T] [--seed S]\n"
    "                             [--db FILE] [FILE|-]\n"
    "\n"
    "Corrupts the text of FILE ('-' = standard input; none = the start of the validation\n"
    "split) at time T (default 0.5) with the config's [mask] section and prints it with\n"
    "each masked run shown as [type] or [type*n] (n tokens), coloured on a terminal; with\n"
    "mask.chain, a position at a description shows it: a prefix piece as {bytes}, a class\n"
    "as <name>, a cluster as <#n>. The last line is `masked K/N tokens` (K: the positions\n"
    "not clean). It reads the [data], [tokenizer] and [mask] keys and builds the pyramid\n"
    "from data.corpus with tokenizer.levels when tokenizer.pyramid is empty (cached under\n"
    "pyramask-cache/ beside the run log, --db).\n";

static int preview(const struct config *c, const char *file, double t, long seed,
                   const char *db)
{
    char err[CONFIG_ERR_MAX], cache[4096], runs[4096];
    run_dirs(db, cache, runs);
    struct run_ctx x;
    if (!strcmp(config_values(c)->data.source, "markov")) {
        cli_error("mask preview", "data.source = markov: a preview needs a corpus and its "
                                  "pyramid");
        return CLI_USAGE;
    }
    int rc = run_prepare(&x, c, cache, 0, err);
    if (rc) {
        cli_error("mask preview", "%s", err);
        run_ctx_free(&x);
        return rc == -1 ? CLI_USAGE : CLI_FAIL;
    }
    size_t len = 0;
    char *text = NULL;
    if (file) {
        FILE *f = strcmp(file, "-") ? fopen(file, "rb") : stdin;
        text = f ? cli_read_all(f, &len) : NULL;
        if (f && f != stdin)
            fclose(f);
        if (!text) {
            cli_error("mask preview", "%s: cannot read", file);
            run_ctx_free(&x);
            return CLI_USAGE;
        }
    } else { /* about 600 bytes of validation text, cut at a line end */
        const char *valid = preview_valid_text(&x, 600, &len);
        text = strndup(valid, len);
    }
    struct preview_count n;
    rc = text ? preview_render(&x, text, len, t, (unsigned long)seed, cli_isatty(STDOUT_FILENO),
                               stdout, &n, err)
              : (snprintf(err, sizeof err, "out of memory"), -2);
    if (rc == -1)
        cli_error("mask preview", "%s: %s", file ? file : "validation split", err);
    else if (rc)
        cli_error("mask preview", "%s", err);
    else
        printf("masked %d/%d tokens\n", n.masked, n.tokens);
    free(text);
    run_ctx_free(&x);
    return rc == 0 ? CLI_OK : rc == -1 ? CLI_USAGE : CLI_FAIL;
}

int cmd_mask(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "preview"))
        return cli_usage("mask", "unknown subcommand '%s' (preview)", argv[1]);
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"set", required_argument, NULL, 's'},
                                         {"t", required_argument, NULL, 't'},
                                         {"seed", required_argument, NULL, 'r'},
                                         {"db", required_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *path = NULL, *db = NULL;
    char **sets = calloc((size_t)argc, sizeof *sets);
    int nsets = 0, o;
    double t = 0.5;
    long seed = 1;
    if (!sets)
        return CLI_FAIL;
    optind = 1;
    while ((o = getopt_long(argc - 1, argv + 1, "c:h", opts, NULL)) != -1) {
        char *end = NULL;
        switch (o) {
        case 'c':
            path = optarg;
            break;
        case 's':
            sets[nsets++] = optarg;
            break;
        case 't':
            t = strtod(optarg, &end);
            break;
        case 'r':
            seed = strtol(optarg, &end, 10);
            break;
        case 'd':
            db = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            free(sets);
            return CLI_OK;
        default:
            free(sets);
            return cli_usage("mask", "bad option");
        }
        if (end && (*end || !(t >= 0 && t <= 1) || seed < 0)) {
            free(sets);
            return cli_usage("mask", "bad value '%s' (--t in [0, 1], --seed >= 0)", optarg);
        }
    }
    const char *file = optind + 1 < argc ? argv[optind + 1] : NULL;
    if (optind + 2 < argc) {
        free(sets);
        return cli_usage("mask", "unexpected argument '%s'", argv[optind + 2]);
    }
    if (!path) {
        free(sets);
        return cli_usage("mask", "missing -c CONFIG");
    }
    char err[CONFIG_ERR_MAX];
    struct config *c = config_open(path, sets, nsets, err);
    free(sets);
    if (!c) {
        cli_error("mask preview", "%s", err);
        return CLI_USAGE;
    }
    int status = preview(c, file, t, seed, runlog_path(db));
    config_free(&c);
    return status;
}
