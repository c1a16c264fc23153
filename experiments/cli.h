/* cli.h: what every pyramask subcommand shares: the error format, exit statuses
 * and the subcommand entry points that main.c dispatches to. */
#ifndef PYRAMASK_CLI_H
#define PYRAMASK_CLI_H

#include <stdarg.h>

enum {
    CLI_OK = 0,    /* success */
    CLI_FAIL = 1,  /* a failure that is not the caller's input */
    CLI_USAGE = 2, /* bad usage or bad input */
};

/* Prints "pyramask: <what>: <why>\n" to stderr. */
void cli_error(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints the error, then "try 'pyramask <cmd> --help'", and returns CLI_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True when stream `fd` is a terminal and NO_COLOR is unset (progress, colour). */
int cli_isatty(int fd);

/* The code revision this binary was built from ("0.1.0-12-gabc1234-dirty"). */
const char *cli_version(void);

/* Reads the rest of a stream into a new NUL-terminated buffer (free it); *len (may be
 * NULL) gets its length. NULL on a read error or out of memory. */
#include <stdio.h>
char *cli_read_all(FILE *f, size_t *len);

/* Subcommands: argv[0] is the subcommand's own name; they return an exit status. */
/* (one declaration per subcommand) */
int cmd_config(int argc, char **argv);
int cmd_sql(int argc, char **argv);
int cmd_db(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_mask(int argc, char **argv);
int cmd_vocab(int argc, char **argv);
int cmd_export(int argc, char **argv);

#endif
