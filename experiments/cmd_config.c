/* cmd_config.c: `pyramask config show|hash`: prints a configuration as resolved from the
 * defaults, a file and --set (with each key's doc), or its config hash. */
#include "cli.h"
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: pyramask config show [-c CONFIG] [--set section.key=value]... [--docs]\n"
    "       pyramask config hash [-c CONFIG] [--set section.key=value]...\n"
    "\n"
    "show  prints every key with its value (defaults, then CONFIG, then --set), as INI;\n"
    "      with --docs each key is preceded by its one-line description.\n"
    "hash  prints the config hash (every key but train.seed and train.threads).\n"
    "Every key, its default and its meaning: experiments/sweeps/reference.ini.\n";

int cmd_config(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "show") && strcmp(sub, "hash"))
        return cli_usage("config", "unknown subcommand '%s' (show, hash)", sub);
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"set", required_argument, NULL, 's'},
                                         {"docs", no_argument, NULL, 'D'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *path = NULL;
    char **sets = calloc((size_t)argc, sizeof *sets);
    int nsets = 0, docs = 0, o;
    if (!sets)
        return CLI_FAIL;
    optind = 1;
    while ((o = getopt_long(argc - 1, argv + 1, "c:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c':
            path = optarg;
            break;
        case 's':
            sets[nsets++] = optarg;
            break;
        case 'D':
            docs = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            free(sets);
            return CLI_OK;
        default:
            free(sets);
            return cli_usage("config", "bad option");
        }
    }
    if (optind < argc - 1) {
        free(sets);
        return cli_usage("config", "unexpected argument '%s'", argv[optind + 1]);
    }
    char err[CONFIG_ERR_MAX];
    struct config *c = config_open(path, sets, nsets, err);
    free(sets);
    if (!c) {
        cli_error("config", "%s", err);
        return CLI_USAGE;
    }
    int status = CLI_OK;
    if (!strcmp(sub, "hash")) {
        char hash[17];
        config_hash(c, hash);
        puts(hash);
    } else {
        char *text = config_text(c, docs);
        if (!text)
            status = CLI_FAIL;
        else
            fputs(text, stdout);
        free(text);
    }
    config_free(&c);
    return status;
}
