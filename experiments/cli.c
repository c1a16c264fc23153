/* cli.c: error reporting and small terminal helpers shared by the subcommands.
 * Libraries never print; only this layer talks to the user. */
#include "cli.h"
#include "version.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void cli_error(const char *what, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "pyramask: %s: ", what);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "pyramask: %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\ntry 'pyramask %s --help'\n", cmd);
    return CLI_USAGE;
}

int cli_isatty(int fd)
{
    const char *nc = getenv("NO_COLOR");
    return isatty(fd) && !(nc && *nc);
}

const char *cli_version(void) { return PYRAMASK_VERSION; }
