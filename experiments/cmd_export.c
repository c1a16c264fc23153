/* cmd_export.c: `pyramask export`: the run log as a Jupyter notebook or a standalone HTML
 * page, by notebooks-export (which reads only the log). */
#include "cli.h"
#include "export.h"
#include "runlog.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char usage_text[] =
    "usage: pyramask export [--sweep NAME] [--db FILE] [--format ipynb|html] -o FILE\n"
    "\n"
    "Writes a report of one sweep in the run log: a Jupyter notebook (ipynb) whose code\n"
    "cells re-run the queries with Python's sqlite3 (pandas and matplotlib when present)\n"
    "and whose outputs are filled in, or a standalone HTML page with the same tables and\n"
    "SVG charts (no network, no scripts). It shows the runs, the sweep's config, the\n"
    "ablation (mean and 95% CI per factor level), held-out bits per byte per configuration,\n"
    "training curves, the schedules alpha(t), the pyramid's levels and corrupted-text\n"
    "previews.\n"
    "\n"
    "  --sweep NAME   the sweep (default: the latest sweep with runs; the runs outside\n"
    "                 sweeps when the log has none)\n"
    "  --db FILE      the run log (default $PYRAMASK_DB, else pyramask.db)\n"
    "  --format F     ipynb or html (default: from the extension of -o)\n"
    "  -o FILE        the output, written whole or not at all\n";

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {
        {"sweep", required_argument, NULL, 's'},  {"db", required_argument, NULL, 'd'},
        {"format", required_argument, NULL, 'f'}, {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    export_settings s;
    export_default_settings(&s);
    const char *db = NULL, *format = NULL, *output = NULL;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (o) {
        case 's':
            s.sweep = optarg;
            break;
        case 'd':
            db = optarg;
            break;
        case 'f':
            format = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        default:
            return cli_usage("export", "bad option");
        }
    }
    if (optind < argc)
        return cli_usage("export", "unexpected argument '%s'", argv[optind]);
    if (!output)
        return cli_usage("export", "missing -o FILE");
    if (!format) {
        const char *dot = strrchr(output, '.');
        format = dot && !strcmp(dot, ".ipynb")                            ? "ipynb"
                 : dot && (!strcmp(dot, ".html") || !strcmp(dot, ".htm")) ? "html"
                                                                          : NULL;
        if (!format)
            return cli_usage("export", "%s: say --format ipynb or --format html", output);
    }
    if (export_format_parse(format, &s.format))
        return cli_usage("export", "unknown format '%s' (ipynb, html)", format);
    char generator[128];
    snprintf(generator, sizeof generator, "pyramask %s", cli_version());
    s.generator = generator;
    s.db_path = runlog_path(db);
    export_ctx *e;
    int rc = export_open(&e, &s);
    if (!rc)
        rc = export_write(e, output);
    if (rc)
        cli_error("export", "%s", export_errmsg(e));
    export_close(&e);
    return rc == EXPORT_OK ? CLI_OK : rc == EXPORT_ENOMEM ? CLI_FAIL : CLI_USAGE;
}
