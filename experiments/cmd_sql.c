/* cmd_sql.c: `pyramask sql "SELECT ..."`: runs SQL on the run log and prints an aligned
 * table, CSV, or JSON built by SQLite's json_object (never escaped by hand). */
#include "cli.h"
#include "runlog.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum format { TABLE, CSV, JSON };

static const char usage_text[] =
    "usage: pyramask sql [--db FILE] [--csv|--json] [SQL|-]\n"
    "\n"
    "Runs SQL statements on the run log and prints their rows: an aligned table by\n"
    "default, CSV (RFC 4180) with --csv, or a JSON array of objects with --json.\n"
    "SQL '-' or none reads the statements from standard input.\n"
    "\n"
    "  --db FILE   the run log (default $PYRAMASK_DB, else pyramask.db)\n"
    "  --csv       comma-separated values with a header line\n"
    "  --json      one JSON array of objects per statement\n"
    "\n"
    "Tables and views: sweeps, factors, runs, params, metrics, scores, artifacts, pyramids,\n"
    "v_final, v_ablation, v_cells (see README.md).\n";

/* Display width of UTF-8 text: code points that are not continuation bytes. */
static size_t width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static char *cell_text(sqlite3_stmt *st, int i, enum format f)
{
    char buf[64];
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL:
        return strdup("");
    case SQLITE_FLOAT:
        snprintf(buf, sizeof buf, f == TABLE ? "%.6g" : "%.17g", sqlite3_column_double(st, i));
        return strdup(buf);
    case SQLITE_BLOB: {
        int n = sqlite3_column_bytes(st, i);
        const unsigned char *b = sqlite3_column_blob(st, i);
        char *s = malloc((size_t)n * 2 + 3);
        if (s) {
            strcpy(s, "x'");
            for (int j = 0; j < n; j++)
                snprintf(s + 2 + 2 * j, 3, "%02x", b[j]);
            strcat(s, "'");
        }
        return s;
    }
    default:
        return strdup((const char *)sqlite3_column_text(st, i));
    }
}

static void csv_field(const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

/* Prints the rows of one prepared statement. Returns 0 or -1 (message in err). */
static int print_rows(sqlite3 *db, sqlite3_stmt *st, enum format f, char *err, size_t errlen)
{
    int ncol = sqlite3_column_count(st);
    size_t nrows = 0, cap = 0;
    char **cells = NULL; /* TABLE: buffered for widths */
    int *numeric = calloc((size_t)ncol, sizeof *numeric);
    sqlite3_stmt *js = NULL;
    int rc = 0, first = 1;
    if (f == CSV) {
        for (int i = 0; i < ncol; i++) {
            if (i)
                putchar(',');
            csv_field(sqlite3_column_name(st, i));
        }
        putchar('\n');
    }
    if (f == JSON) {
        /* one json_object(?, ?, ...) per row, values bound with their SQLite types */
        size_t n = 32 + (size_t)ncol * 6;
        char *q = malloc(n);
        if (!q) {
            free(numeric);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        strcpy(q, "SELECT json_object(");
        for (int i = 0; i < ncol; i++)
            strcat(q, i ? ",?,?" : "?,?");
        strcat(q, ")");
        int prc = sqlite3_prepare_v2(db, q, -1, &js, NULL);
        free(q);
        if (prc != SQLITE_OK) {
            free(numeric);
            snprintf(err, errlen, "%s", sqlite3_errmsg(db));
            return -1;
        }
        putchar('[');
    }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (f == JSON) {
            for (int i = 0; i < ncol; i++) {
                sqlite3_bind_text(js, 2 * i + 1, sqlite3_column_name(st, i), -1,
                                  SQLITE_TRANSIENT);
                if (sqlite3_column_type(st, i) == SQLITE_BLOB) {
                    char *hex = cell_text(st, i, f);
                    sqlite3_bind_text(js, 2 * i + 2, hex, -1, free);
                } else {
                    sqlite3_bind_value(js, 2 * i + 2, sqlite3_column_value(st, i));
                }
            }
            if (sqlite3_step(js) != SQLITE_ROW) {
                snprintf(err, errlen, "%s", sqlite3_errmsg(db));
                rc = -1;
                break;
            }
            printf("%s\n%s", first ? "" : ",", (const char *)sqlite3_column_text(js, 0));
            first = 0;
            sqlite3_reset(js);
            sqlite3_clear_bindings(js);
        } else if (f == CSV) {
            for (int i = 0; i < ncol; i++) {
                char *s = cell_text(st, i, f);
                if (i)
                    putchar(',');
                csv_field(s ? s : "");
                free(s);
            }
            putchar('\n');
        } else {
            if ((nrows + 1) * (size_t)ncol > cap) {
                cap = cap ? cap * 2 : (size_t)ncol * 64;
                char **c = realloc(cells, cap * sizeof *c);
                if (!c) {
                    rc = -1;
                    snprintf(err, errlen, "out of memory");
                    break;
                }
                cells = c;
            }
            for (int i = 0; i < ncol; i++) {
                int t = sqlite3_column_type(st, i);
                numeric[i] |= (t == SQLITE_INTEGER || t == SQLITE_FLOAT) ? 1 : 0;
                numeric[i] |= t == SQLITE_TEXT ? 2 : 0;
                cells[nrows * (size_t)ncol + (size_t)i] = cell_text(st, i, f);
            }
            nrows++;
        }
    }
    if (!rc && step != SQLITE_DONE) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        rc = -1;
    }
    if (f == JSON) {
        sqlite3_finalize(js);
        puts(first ? "]" : "\n]");
    }
    if (f == TABLE && ncol > 0) {
        size_t *w = calloc((size_t)ncol, sizeof *w);
        for (int i = 0; w && i < ncol; i++) {
            w[i] = width(sqlite3_column_name(st, i));
            for (size_t r = 0; r < nrows; r++) {
                const char *s = cells[r * (size_t)ncol + (size_t)i];
                if (s && width(s) > w[i])
                    w[i] = width(s);
            }
        }
        for (int i = 0; w && i < ncol; i++) {
            const char *h = sqlite3_column_name(st, i);
            int right = numeric[i] == 1;
            printf("%s%*s%s", i ? "  " : "", right ? (int)(w[i] - width(h)) : 0, "", h);
            if (!right && i < ncol - 1)
                printf("%*s", (int)(w[i] - width(h)), "");
        }
        putchar('\n');
        for (int i = 0; w && i < ncol; i++) {
            printf("%s", i ? "  " : "");
            for (size_t k = 0; k < w[i]; k++)
                putchar('-');
        }
        putchar('\n');
        for (size_t r = 0; w && r < nrows; r++) {
            for (int i = 0; i < ncol; i++) {
                const char *s = cells[r * (size_t)ncol + (size_t)i];
                s = s ? s : "";
                int pad = (int)(w[i] - width(s));
                if (numeric[i] == 1)
                    printf("%s%*s%s", i ? "  " : "", pad, "", s);
                else
                    printf("%s%s%*s", i ? "  " : "", s, i < ncol - 1 ? pad : 0, "");
            }
            putchar('\n');
        }
        free(w);
    }
    for (size_t k = 0; k < nrows * (size_t)ncol; k++)
        free(cells[k]);
    free(cells);
    free(numeric);
    return rc;
}

int cmd_sql(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                         {"csv", no_argument, NULL, 'c'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dbflag = NULL;
    enum format f = TABLE;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'd':
            dbflag = optarg;
            break;
        case 'c':
            f = CSV;
            break;
        case 'j':
            f = JSON;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CLI_OK;
        default:
            return cli_usage("sql", "bad option");
        }
    }
    if (argc - optind > 1)
        return cli_usage("sql", "give the SQL as one argument (quote it)");
    char *sql = optind < argc && strcmp(argv[optind], "-") ? strdup(argv[optind])
                                                           : cli_read_all(stdin, NULL);
    if (!sql) {
        cli_error("sql", "cannot read the statements");
        return CLI_FAIL;
    }
    const char *path = runlog_path(dbflag);
    struct runlog *rl;
    char err[RUNLOG_ERR_MAX];
    if (runlog_open(&rl, path, 0, err)) {
        cli_error("sql", "%s: %s", path, err);
        free(sql);
        return CLI_USAGE;
    }
    sqlite3 *db = runlog_db(rl);
    const char *p = sql;
    int status = CLI_OK, printed = 0;
    while (*p) {
        sqlite3_stmt *st;
        const char *tail;
        if (sqlite3_prepare_v2(db, p, -1, &st, &tail) != SQLITE_OK) {
            cli_error("sql", "%s", sqlite3_errmsg(db));
            status = CLI_USAGE;
            break;
        }
        p = tail;
        if (!st)
            continue; /* whitespace or a comment */
        if (sqlite3_column_count(st) == 0) {
            int rc = sqlite3_step(st);
            if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
                cli_error("sql", "%s", sqlite3_errmsg(db));
                status = CLI_FAIL;
            }
        } else {
            if (printed++ && f == TABLE)
                putchar('\n');
            if (print_rows(db, st, f, err, sizeof err)) {
                cli_error("sql", "%s", err);
                status = CLI_FAIL;
            }
        }
        sqlite3_finalize(st);
        if (status)
            break;
    }
    free(sql);
    runlog_close(&rl);
    if (fflush(stdout) && status == CLI_OK) {
        cli_error("sql", "writing the output failed");
        status = CLI_FAIL;
    }
    return status;
}
