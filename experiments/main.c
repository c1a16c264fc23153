/* main.c: the `pyramask` command: dispatches to one subcommand per concern.
 * Each subcommand parses its own options (getopt_long) and has --help. */
#include "cli.h"

#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <string.h>

static int cmd_version(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        puts("usage: pyramask version\n\nPrints the code revision this binary was built from.");
        return CLI_OK;
    }
    if (argc > 1)
        return cli_usage("version", "unexpected argument '%s'", argv[1]);
    printf("pyramask %s\n", cli_version());
    return CLI_OK;
}

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"version", cmd_version, "print the code revision"},
    {"config", cmd_config, "show a resolved configuration or its hash"},
    {"train", cmd_train, "train and score one run, logged"},
    {"score", cmd_score, "score a corruption against an existing checkpoint, logged"},
    {"sample", cmd_sample, "generate or infill text with a checkpoint"},
    {"mask", cmd_mask, "preview a corruption of a text"},
    {"sweep", cmd_sweep, "run, show, submit to Slurm or follow a sweep (a grid times seeds)"},
    {"sql", cmd_sql, "query the run log"},
    {"db", cmd_db, "merge run logs"},
    {"vocab", cmd_vocab, "build, inspect and apply vocabulary pyramids"},
    {"export", cmd_export, "a sweep's results as a Jupyter notebook or an HTML page"},
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

static void usage(FILE *f)
{
    fputs("usage: pyramask <command> [options]\n\ncommands:\n", f);
    for (int i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fputs(
        "\n'pyramask <command> --help' describes a command.\n"
        "The run log is pyramask.db in the working directory, or --db FILE, or $PYRAMASK_DB.\n",
        f);
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off(); /* GSL reports through return codes, never aborts */
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        if (argc > 2 && strcmp(name, "help") == 0) {
            for (int i = 0; i < NCOMMANDS; i++)
                if (!strcmp(argv[2], commands[i].name)) {
                    char help[] = "--help";
                    char *args[] = {argv[2], help, NULL};
                    return commands[i].run(2, args);
                }
        }
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(name, "--version"))
        return cmd_version(1, argv + 1);
    for (int i = 0; i < NCOMMANDS; i++)
        if (!strcmp(name, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    cli_error(name, "unknown command");
    usage(stderr);
    return CLI_USAGE;
}
