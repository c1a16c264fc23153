/* svgplot.h: small self-contained SVG charts for reports: line charts with a legend for many
 * series, and row charts (bars or dots with confidence intervals); nice ticks. Private. */
#ifndef PYRAMASK_EXPORT_SVGPLOT_H
#define PYRAMASK_EXPORT_SVGPLOT_H

#include <sqlite3.h>
#include <stddef.h>

enum { SVG_PALETTE = 10, SVG_DASHES = 3, SVG_MAX_TICKS = 32 };

/* Colour k of the palette (tab10, matplotlib's default cycle C0..C9), k taken modulo 10,
 * and dash pattern k modulo 3 (solid, dashed, dotted) as a stroke-dasharray ("" = solid). */
const char *export_svg_color(int k);
const char *export_svg_dash(int k);

/* "Nice" ticks covering [lo, hi] (Heckbert): about `target` (>= 2) multiples of a step of
 * 1, 2 or 5 times a power of ten, the first <= lo and the last >= hi. Writes at most max
 * ticks to ticks[], returns their number (>= 2), *step gets the step. lo > hi is swapped;
 * lo == hi, or a NaN or infinite bound, gives a unit-wide range around the finite one. */
int export_svg_ticks(double lo, double hi, int target, double *ticks, int max, double *step);

/* A tick value as text for ticks `step` apart on an axis whose largest tick is `big` (in
 * size): as many decimals as the step needs, never "-0", and when the axis reaches 10000,
 * every tick in the largest SI unit it reaches (0, 5k, 10k; 0.5M, 1M, 1.5M; 0 stays 0). */
void export_svg_format_tick(char *buf, size_t n, double v, double step, double big);

/* The decimals to show a value v with an interval of half-width hw (NaN, 0 or infinite =
 * none): those of hw's two significant digits (hw 0.012 -> 3), else v's four significant
 * digits (2.3456 -> 3); 0..8. */
int export_svg_decimals(double v, double hw);
/* v with export_svg_decimals(v, hw) decimals (2.3456 with hw 0.012 -> "2.346"), never "-0";
 * NaN -> "n/a". */
void export_svg_format_value(char *buf, size_t n, double v, double hw);

typedef struct svg_series {
    const char *label; /* legend entry (series with equal labels share one); NULL = none */
    const double *x;   /* (n) */
    const double *y;   /* (n) NaN = a gap */
    int n;
    int color, dash; /* export_svg_color(color), export_svg_dash(dash) */
    double width;    /* stroke width in px; 0 = 1.6 */
    double opacity;  /* 0 = 0.9 */
} svg_series;

typedef struct svg_line_opts {
    const char *title, *xlabel, *ylabel; /* axis labels carry the units: "step", "nats/token" */
    const char *legend_title;            /* NULL = none */
    double xmin, xmax, ymin, ymax;       /* NaN = from the data (with nice ticks) */
    int width, height;                   /* of the whole chart; 0 = 900 x 360 */
} svg_line_opts;

/* Appends an <svg> line chart. The legend sits right of the plot, one entry per distinct
 * label, long labels shortened with an ellipsis (the whole label in a tooltip); the chart
 * grows taller when the legend needs it. */
void export_svg_line_chart(sqlite3_str *out, const svg_line_opts *o, const svg_series *s,
                           int n);

typedef struct svg_row {
    const char *group; /* a header row is drawn when this changes (NULL = no headers) */
    const char *label; /* the row's label, left of the plot */
    double value;      /* NaN = no mark */
    double lo, hi;     /* the interval; NaN = none */
    int color;         /* export_svg_color(color) */
    const char *text;  /* written beside the mark; NULL = the value with the decimals of
                           the narrowest interval (or 4 significant digits), one for all rows */
} svg_row;

typedef struct svg_row_opts {
    const char *title, *xlabel;
    int bars;  /* 1: bars from 0 (the axis includes 0); 0: dots, axis fit to the data */
    int width; /* 0 = 900 */
} svg_row_opts;

/* Appends an <svg> row chart: one row per svg_row, its value as a bar or dot with the
 * interval as whiskers and the value written beside it. */
void export_svg_row_chart(sqlite3_str *out, const svg_row_opts *o, const svg_row *r, int n);

#endif
