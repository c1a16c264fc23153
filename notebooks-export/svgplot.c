/* svgplot.c: line charts and row charts (bars or dots with intervals) as SVG text, laid out
 * from estimated text widths, with nice ticks and a legend that stays readable for 20 series. */
#include "svgplot.h"
#include "markup.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Layout in px. Text is 12 px Verdana or DejaVu Sans (alike metrics): CHAR_W is a generous
 * average advance, so estimated widths rarely fall short. */
#define CHAR_W 7.2
enum { FONT = 12, TITLE_Y = 20, TOP = 38, BOTTOM = 48, ROW_H = 22, SWATCH = 22 };

static const char *const palette[SVG_PALETTE] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                                 "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                                 "#bcbd22", "#17becf"};
static const char *const dashes[SVG_DASHES] = {"", "7 4", "2 3"};

const char *export_svg_color(int k)
{
    return palette[(k < 0 ? -k : k) % SVG_PALETTE];
}
const char *export_svg_dash(int k)
{
    return dashes[(k < 0 ? -k : k) % SVG_DASHES];
}

/* 1, 2, 5 or 10 times a power of ten near x: rounded, or the ceiling when !round. */
static double nice_number(double x, int round)
{
    double e = floor(log10(x)), f = x / pow(10, e), nf;
    if (round)
        nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    else
        nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return nf * pow(10, e);
}

int export_svg_ticks(double lo, double hi, int target, double *ticks, int max, double *step)
{
    if (!isfinite(lo) && !isfinite(hi))
        lo = 0, hi = 1;
    else if (!isfinite(lo))
        lo = hi;
    else if (!isfinite(hi))
        hi = lo;
    if (lo > hi) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    if (hi - lo <= 1e-12 * fmax(fabs(lo), fabs(hi))) { /* one value: a unit around it */
        double pad = lo != 0 ? fabs(lo) * 0.1 : 0.5;
        lo -= pad;
        hi += pad;
    }
    if (target < 2)
        target = 2;
    if (max < 2)
        max = 2;
    double d = nice_number(nice_number(hi - lo, 0) / (target - 1), 1);
    double first = floor(lo / d + 1e-9) * d, last = ceil(hi / d - 1e-9) * d;
    int n = (int)floor((last - first) / d + 0.5) + 1;
    while (n > max) { /* a coarser step until they fit */
        d = nice_number(d * 1.5, 0);
        first = floor(lo / d + 1e-9) * d;
        last = ceil(hi / d - 1e-9) * d;
        n = (int)floor((last - first) / d + 0.5) + 1;
    }
    for (int i = 0; i < n; i++) {
        double v = first + i * d;
        ticks[i] = fabs(v) < d * 1e-9 ? 0 : v;
    }
    *step = d;
    return n;
}

void export_svg_format_tick(char *buf, size_t n, double v, double step, double big)
{
    static const char suffix[] = " kMGT";
    double scale = 1;
    int k = 0;
    big = fmax(fabs(big), fabs(v));
    if (big >= 1e4) /* the largest unit the axis reaches */
        for (scale = 1e3, k = 1; k < 4 && big >= scale * 1e3; k++)
            scale *= 1e3;
    double s = step / scale;
    int dec = s >= 1 ? 0 : (int)ceil(-log10(s) - 1e-9);
    if (dec > 12)
        dec = 12;
    double x = v / scale;
    if (fabs(x) < s * 1e-9)
        x = 0; /* never "-0" */
    int len = snprintf(buf, n, "%.*f", dec, x);
    if (k && x != 0 && len >= 0 && (size_t)len + 1 < n) {
        buf[len] = suffix[k];
        buf[len + 1] = 0;
    }
}

int export_svg_decimals(double v, double hw)
{
    int dec;
    if (isfinite(hw) && hw > 0)
        dec = 1 - (int)floor(log10(hw));
    else
        dec = v != 0 && isfinite(v) ? 3 - (int)floor(log10(fabs(v))) : 0;
    return dec < 0 ? 0 : dec > 8 ? 8 : dec;
}

static void format_fixed(char *buf, size_t n, double v, int dec)
{
    if (isnan(v))
        snprintf(buf, n, "n/a");
    else
        snprintf(buf, n, "%.*f", dec, fabs(v) < pow(10, -dec) / 2 ? 0.0 : v);
}

void export_svg_format_value(char *buf, size_t n, double v, double hw)
{
    format_fixed(buf, n, v, export_svg_decimals(v, hw));
}

static double text_w(const char *s)
{
    return s ? (double)export_mk_width(s) * CHAR_W : 0;
}

/* Text shortened to at most `chars` characters with an ellipsis; a tooltip with the whole. */
static void text_fit(sqlite3_str *out, const char *s, size_t chars)
{
    if (export_mk_width(s) <= chars) {
        export_mk_escape_z(out, s);
        return;
    }
    sqlite3_str_appendall(out, "<title>");
    export_mk_escape_z(out, s);
    sqlite3_str_appendall(out, "</title>");
    export_mk_escape(out, s, export_mk_prefix(s, chars > 1 ? chars - 1 : 1));
    sqlite3_str_appendall(out, "\xE2\x80\xA6"); /* … */
}

static void svg_open(sqlite3_str *out, int w, int h, const char *title)
{
    sqlite3_str_appendf(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
        "viewBox=\"0 0 %d %d\" font-family=\"Verdana, 'DejaVu Sans', sans-serif\" "
        "font-size=\"%d\" role=\"img\"><title>",
        w, h, w, h, FONT);
    export_mk_escape_z(out, title);
    sqlite3_str_appendf(out, "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", w,
                        h);
    if (title && *title) {
        sqlite3_str_appendf(out,
                            "<text x=\"8\" y=\"%d\" font-size=\"14\" font-weight=\"bold\" "
                            "fill=\"#222\">",
                            TITLE_Y);
        export_mk_escape_z(out, title);
        sqlite3_str_appendall(out, "</text>\n");
    }
}

struct axis {
    double t[SVG_MAX_TICKS], step, lo, hi; /* ticks; the axis spans [lo, hi] */
    int n;
    double p0, p1; /* pixels of lo and hi */
};

static void axis_fit(struct axis *a, double lo, double hi, int target)
{
    a->n = export_svg_ticks(lo, hi, target, a->t, SVG_MAX_TICKS, &a->step);
    a->lo = a->t[0];
    a->hi = a->t[a->n - 1];
}

static double axis_px(const struct axis *a, double v)
{
    return a->p0 + (v - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0);
}

/* The largest tick's size, which picks the axis's unit. */
static double axis_big(const struct axis *a)
{
    return fmax(fabs(a->lo), fabs(a->hi));
}

static double tick_label_w(const struct axis *a)
{
    double w = 0;
    char buf[48];
    for (int i = 0; i < a->n; i++) {
        export_svg_format_tick(buf, sizeof buf, a->t[i], a->step, axis_big(a));
        w = fmax(w, strlen(buf) * CHAR_W);
    }
    return w;
}

/* Vertical grid lines and labels of x axis `a` between y0 (top) and y1 (the axis). */
static void x_axis(sqlite3_str *out, const struct axis *a, double y0, double y1,
                   const char *label)
{
    char buf[48];
    for (int i = 0; i < a->n; i++) {
        double x = axis_px(a, a->t[i]);
        export_svg_format_tick(buf, sizeof buf, a->t[i], a->step, axis_big(a));
        sqlite3_str_appendf(out,
                            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                            "stroke=\"#e4e4e4\"/><text x=\"%.1f\" y=\"%.1f\" "
                            "text-anchor=\"middle\" fill=\"#444\">%s</text>\n",
                            x, y0, x, y1 + 4, x, y1 + 17, buf);
    }
    sqlite3_str_appendf(out,
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                        "stroke=\"#333\"/>\n",
                        a->p0, y1, a->p1, y1);
    sqlite3_str_appendf(out,
                        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#222\">",
                        (a->p0 + a->p1) / 2, y1 + 37);
    export_mk_escape_z(out, label);
    sqlite3_str_appendall(out, "</text>\n");
}

static int same_label(const svg_series *s, int i, int j)
{
    return s[i].label && s[j].label && !strcmp(s[i].label, s[j].label);
}

void export_svg_line_chart(sqlite3_str *out, const svg_line_opts *o, const svg_series *s, int n)
{
    int W = o->width > 0 ? o->width : 900, H = o->height > 0 ? o->height : 360;
    /* the legend: distinct labels in order */
    int nleg = 0;
    double legw = 0;
    for (int i = 0; i < n; i++) {
        int seen = !s[i].label;
        for (int j = 0; j < i && !seen; j++)
            seen = same_label(s, i, j);
        if (!seen) {
            nleg++;
            legw = fmax(legw, text_w(s[i].label));
        }
    }
    if (nleg)
        legw = fmin(fmax(legw, text_w(o->legend_title)) + SWATCH + 14, W * 0.36);
    double legh = nleg ? nleg * 17.0 + (o->legend_title ? 20 : 0) + 8 : 0;
    if (TOP + legh + BOTTOM > H)
        H = (int)ceil(TOP + legh + BOTTOM);
    /* data ranges */
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < s[i].n; k++) {
            if (!isfinite(s[i].x[k]) || !isfinite(s[i].y[k]))
                continue;
            x0 = fmin(x0, s[i].x[k]);
            x1 = fmax(x1, s[i].x[k]);
            y0 = fmin(y0, s[i].y[k]);
            y1 = fmax(y1, s[i].y[k]);
        }
    if (!isnan(o->xmin))
        x0 = o->xmin;
    if (!isnan(o->xmax))
        x1 = o->xmax;
    if (!isnan(o->ymin))
        y0 = o->ymin;
    if (!isnan(o->ymax))
        y1 = o->ymax;
    struct axis ax, ay;
    double right = W - 12 - (nleg ? legw + 16 : 0), top = TOP, bottom = H - BOTTOM;
    axis_fit(&ay, y0, y1, (int)fmax(3, (bottom - top) / 48));
    double left = 8 + 18 + tick_label_w(&ay) + 8;
    axis_fit(&ax, x0, x1, (int)fmax(3, (right - left) / 90));
    ax.p0 = left, ax.p1 = right;
    ay.p0 = bottom, ay.p1 = top;
    svg_open(out, W, H, o->title);
    /* y grid and labels */
    char buf[48];
    for (int i = 0; i < ay.n; i++) {
        double y = axis_px(&ay, ay.t[i]);
        export_svg_format_tick(buf, sizeof buf, ay.t[i], ay.step, axis_big(&ay));
        sqlite3_str_appendf(out,
                            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                            "stroke=\"#e4e4e4\"/><text x=\"%.1f\" y=\"%.1f\" "
                            "text-anchor=\"end\" fill=\"#444\">%s</text>\n",
                            left - 4, y, right, y, left - 7, y + 4, buf);
    }
    sqlite3_str_appendf(out,
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                        "stroke=\"#333\"/>\n",
                        left, top, left, bottom);
    sqlite3_str_appendf(out,
                        "<text transform=\"translate(18 %.1f) rotate(-90)\" "
                        "text-anchor=\"middle\" fill=\"#222\">",
                        (top + bottom) / 2);
    export_mk_escape_z(out, o->ylabel);
    sqlite3_str_appendall(out, "</text>\n");
    x_axis(out, &ax, top, bottom, o->xlabel);
    /* the series */
    for (int i = 0; i < n; i++) {
        const char *dash = export_svg_dash(s[i].dash);
        sqlite3_str_appendf(out,
                            "<path fill=\"none\" stroke=\"%s\" stroke-width=\"%.2g\" "
                            "stroke-linejoin=\"round\" stroke-opacity=\"%.2g\"%s%s%s d=\"",
                            export_svg_color(s[i].color), s[i].width > 0 ? s[i].width : 1.6,
                            s[i].opacity > 0 ? s[i].opacity : 0.9,
                            *dash ? " stroke-dasharray=\"" : "", dash, *dash ? "\"" : "");
        int pen = 0, points = 0;
        double lx = 0, ly = 0;
        for (int k = 0; k < s[i].n; k++) {
            if (!isfinite(s[i].x[k]) || !isfinite(s[i].y[k])) {
                pen = 0;
                continue;
            }
            lx = axis_px(&ax, s[i].x[k]);
            ly = axis_px(&ay, s[i].y[k]);
            sqlite3_str_appendf(out, "%s%.1f %.1f", pen ? " L" : " M", lx, ly);
            pen = 1;
            points++;
        }
        sqlite3_str_appendall(out, "\">");
        if (s[i].label) {
            sqlite3_str_appendall(out, "<title>");
            export_mk_escape_z(out, s[i].label);
            sqlite3_str_appendall(out, "</title>");
        }
        sqlite3_str_appendall(out, "</path>\n");
        if (points == 1)
            sqlite3_str_appendf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                                lx, ly, export_svg_color(s[i].color));
    }
    /* the legend */
    if (!nleg)
        goto end;
    double lx = W - 8 - legw, ly = top + 4;
    size_t chars = (size_t)fmax(4, (legw - SWATCH - 10) / CHAR_W);
    if (o->legend_title) {
        sqlite3_str_appendf(out,
                            "<text x=\"%.1f\" y=\"%.1f\" font-weight=\"bold\" "
                            "fill=\"#222\">",
                            lx, ly + 10);
        text_fit(out, o->legend_title, chars + 3);
        sqlite3_str_appendall(out, "</text>\n");
        ly += 20;
    }
    for (int i = 0; i < n; i++) {
        int seen = !s[i].label;
        for (int j = 0; j < i && !seen; j++)
            seen = same_label(s, i, j);
        if (seen)
            continue;
        const char *dash = export_svg_dash(s[i].dash);
        sqlite3_str_appendf(out,
                            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                            "stroke=\"%s\" stroke-width=\"2.5\"%s%s%s/>"
                            "<text x=\"%.1f\" y=\"%.1f\" fill=\"#222\">",
                            lx, ly + 6, lx + SWATCH - 4, ly + 6, export_svg_color(s[i].color),
                            *dash ? " stroke-dasharray=\"" : "", dash, *dash ? "\"" : "",
                            lx + SWATCH + 2, ly + 10);
        text_fit(out, s[i].label, chars);
        sqlite3_str_appendall(out, "</text>\n");
        ly += 17;
    }
end:
    sqlite3_str_appendall(out, "</svg>\n");
}

void export_svg_row_chart(sqlite3_str *out, const svg_row_opts *o, const svg_row *r, int n)
{
    int W = o->width > 0 ? o->width : 900;
    double labw = 0, lo = INFINITY, hi = -INFINITY;
    int headers = 0;
    for (int i = 0; i < n; i++) {
        labw = fmax(labw, text_w(r[i].label));
        if (r[i].group && (i == 0 || !r[i - 1].group || strcmp(r[i].group, r[i - 1].group)))
            headers++;
        double a = isnan(r[i].lo) ? r[i].value : r[i].lo;
        double b = isnan(r[i].hi) ? r[i].value : r[i].hi;
        if (isfinite(a))
            lo = fmin(lo, a);
        if (isfinite(b))
            hi = fmax(hi, b);
    }
    if (o->bars) {
        lo = fmin(lo, 0);
        hi = fmax(hi, 0);
    }
    labw = fmin(labw, W * 0.4);
    size_t chars = (size_t)fmax(4, labw / CHAR_W);
    /* one number of decimals for every value: the narrowest interval's, else the largest
     * value's four significant digits */
    double hw = INFINITY, vmax = 0, valw = 0;
    for (int i = 0; i < n; i++) {
        double h = (r[i].hi - r[i].lo) / 2;
        if (h > 0 && h < hw)
            hw = h;
        if (isfinite(r[i].value))
            vmax = fmax(vmax, fabs(r[i].value));
    }
    int dec = export_svg_decimals(vmax, hw);
    char buf[64];
    for (int i = 0; i < n; i++) {
        format_fixed(buf, sizeof buf, r[i].value, dec);
        valw = fmax(valw, r[i].text ? text_w(r[i].text) : strlen(buf) * CHAR_W);
    }
    double left = 8 + labw + 12, right = W - 16 - valw - 8;
    double top = TOP, bottom = top + 6 + n * ROW_H + headers * ROW_H;
    int H = (int)ceil(bottom + BOTTOM);
    struct axis ax;
    axis_fit(&ax, lo, hi, (int)fmax(3, (right - left) / 90));
    ax.p0 = left, ax.p1 = right;
    svg_open(out, W, H, o->title);
    x_axis(out, &ax, top, bottom, o->xlabel);
    double y = top + 6;
    for (int i = 0; i < n; i++) {
        if (r[i].group && (i == 0 || !r[i - 1].group || strcmp(r[i].group, r[i - 1].group))) {
            sqlite3_str_appendf(out,
                                "<text x=\"8\" y=\"%.1f\" font-weight=\"bold\" "
                                "fill=\"#222\">",
                                y + 15);
            text_fit(out, r[i].group, chars + (size_t)((right - left) / CHAR_W));
            sqlite3_str_appendall(out, "</text>\n");
            y += ROW_H;
        }
        double mid = y + ROW_H / 2.0;
        sqlite3_str_appendf(out,
                            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
                            "fill=\"#222\">",
                            left - 8, mid + 4);
        text_fit(out, r[i].label, chars);
        sqlite3_str_appendall(out, "</text>\n");
        const char *color = export_svg_color(r[i].color);
        double v = r[i].value, end = v;
        if (isfinite(v) && o->bars) {
            double a = axis_px(&ax, fmin(0, v)), b = axis_px(&ax, fmax(0, v));
            sqlite3_str_appendf(out,
                                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"14\" "
                                "fill=\"%s\" fill-opacity=\"0.85\"/>\n",
                                a, mid - 7, b - a, color);
        }
        if (isfinite(r[i].lo) && isfinite(r[i].hi)) {
            double a = axis_px(&ax, r[i].lo), b = axis_px(&ax, r[i].hi);
            sqlite3_str_appendf(out,
                                "<path d=\"M%.1f %.1fH%.1fM%.1f %.1fV%.1fM%.1f %.1fV%.1f\" "
                                "stroke=\"#222\" stroke-width=\"1.3\" fill=\"none\"/>\n",
                                a, mid, b, a, mid - 5, mid + 5, b, mid - 5, mid + 5);
            end = fmax(end, r[i].hi);
        }
        if (isfinite(v) && !o->bars)
            sqlite3_str_appendf(out,
                                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\" "
                                "stroke=\"#222\" stroke-width=\"0.8\"/>\n",
                                axis_px(&ax, v), mid, color);
        if (isfinite(v) || r[i].text) {
            format_fixed(buf, sizeof buf, v, dec);
            sqlite3_str_appendf(out,
                                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
                                "fill=\"#555\">",
                                axis_px(&ax, isfinite(end) ? end : ax.lo) + 6, mid + 4);
            if (r[i].text)
                export_mk_escape_z(out, r[i].text);
            else
                sqlite3_str_appendall(out, buf);
            sqlite3_str_appendall(out, "</text>\n");
        }
        y += ROW_H;
    }
    sqlite3_str_appendall(out, "</svg>\n");
}
