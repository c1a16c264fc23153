/* embed.c: a build-time tool that turns a text file into a C header holding it as
 * one string constant, so the binary carries reference.ini and schema.sql verbatim. */
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
    FILE *out = fopen(argv[3], "wb");
    if (!out) {
        perror(argv[3]);
        fclose(in);
        return 1;
    }
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
    fclose(in);
    return fclose(out) == 0 ? 0 : 1;
}
