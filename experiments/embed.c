/* embed.c: a build-time tool that turns a text file into a C header holding it as
 * one string constant, so the binary carries reference.ini and schema.sql verbatim. */
#include "safe_file.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: embed NAME IN OUT\n");
        return 2;
    }
    FILE *in = fopen(argv[2], "rb");
    if (!in) {
        perror(argv[2]);
        return 1;
    }
    /* whole or absent: a half header left by a failed write would look up to date */
    struct safe_file sf;
    char err[1024];
    if (safe_file_open(&sf, argv[3], err, sizeof err)) {
        fprintf(stderr, "embed: %s\n", err);
        fclose(in);
        return 1;
    }
    FILE *out = sf.f;
    fprintf(out, "/* generated from %s; do not edit */\nstatic const char %s[] =\n\"", argv[2],
            argv[1]);
    int c;
    while ((c = getc(in)) != EOF) {
        if (c == '\n')
            fputs("\\n\"\n\"", out);
        else if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 32 || c > 126)
            fprintf(out, "\\%03o", c);
        else
            putc(c, out);
    }
    fputs("\";\n", out);
    if (ferror(in)) {
        perror(argv[2]);
        fclose(in);
        safe_file_abort(&sf);
        return 1;
    }
    fclose(in);
    if (safe_file_commit(&sf, err, sizeof err)) {
        fprintf(stderr, "embed: %s\n", err);
        return 1;
    }
    return 0;
}
