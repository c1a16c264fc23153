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

const char *cli_version(void)
{
    return PYRAMASK_VERSION;
}

char *cli_read_all(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0, got;
    char *p = malloc(cap);
    while (p && (got = fread(p + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *q = realloc(p, cap *= 2);
            if (!q)
                free(p);
            p = q;
        }
    }
    if (p && ferror(f)) {
        free(p);
        p = NULL;
    }
    if (p) {
        p[n] = 0;
        if (len)
            *len = n;
    }
    return p;
}
