/* notebooks-export tests: nice ticks and number formats, and charts that stay well-formed
 * XML with hostile labels, many series, gaps and empty input. */
#include "check.h"
#include "markup.h"
#include "svgplot.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>

#define NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-:"

/* Is s well-formed XML of the kind the charts write (elements, quoted attributes, text,
 * entities; no comments, CDATA or processing instructions)? why gets the first problem. */
static int well_formed(const char *s, char *why, size_t n)
{
    char stack[64][32];
    int depth = 0, roots = 0;
    for (const char *p = s; *p;) {
        if (*p == '&') {
            const char *q = p + 1;
            while (isalnum((unsigned char)*q) || *q == '#')
                q++;
            if (*q != ';' || q == p + 1)
                return snprintf(why, n, "bare & at %d", (int)(p - s)), 0;
            p = q + 1;
        } else if (*p == '>') {
            return snprintf(why, n, "bare > at %d", (int)(p - s)), 0;
        } else if (*p != '<') {
            p++;
        } else if (p[1] == '/') { /* end tag */
            const char *q = p + 2;
            size_t len = strcspn(q, ">");
            if (!depth || len >= 32 || strncmp(stack[depth - 1], q, len) ||
                stack[depth - 1][len])
                return snprintf(why, n, "mismatched end tag at %d", (int)(p - s)), 0;
            depth--;
            p = q + len + (q[len] == '>');
        } else { /* start tag: name, then name="value" pairs, then > or /> */
            const char *q = p + 1;
            size_t len = strspn(q, NAME_CHARS);
            if (!len || len >= 32)
                return snprintf(why, n, "bad tag name at %d", (int)(p - s)), 0;
            char name[32];
            memcpy(name, q, len);
            name[len] = 0;
            q += len;
            for (;;) {
                while (*q == ' ' || *q == '\n')
                    q++;
                if (*q == '>' || (q[0] == '/' && q[1] == '>'))
                    break;
                size_t an = strspn(q, NAME_CHARS);
                if (!an || q[an] != '=' || q[an + 1] != '"')
                    return snprintf(why, n, "bad attribute in <%s> at %d", name, (int)(q - s)),
                           0;
                q += an + 2;
                while (*q && *q != '"' && *q != '<')
                    q++;
                if (*q != '"')
                    return snprintf(why, n, "unterminated attribute in <%s>", name), 0;
                q++;
            }
            if (*q == '/') {
                q += 2;
                roots += depth == 0;
            } else {
                if (depth == 64)
                    return snprintf(why, n, "too deep"), 0;
                roots += depth == 0;
                strcpy(stack[depth++], name);
                q++;
            }
            p = q;
        }
    }
    if (depth)
        return snprintf(why, n, "<%s> not closed", stack[depth - 1]), 0;
    if (roots != 1)
        return snprintf(why, n, "%d root elements", roots), 0;
    return 1;
}

static int count(const char *hay, const char *needle)
{
    int k = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        k++;
    return k;
}

#define CHECK_XML(svg)                                                           \
    do {                                                                         \
        char why_[128] = "";                                                     \
        CHECK(well_formed(svg, why_, sizeof why_), "not well-formed: %s", why_); \
    } while (0)

static void check_ticks(double lo, double hi, int target, int max)
{
    double t[SVG_MAX_TICKS], step;
    int n = export_svg_ticks(lo, hi, target, t, max, &step);
    double a = fmin(lo, hi), b = fmax(lo, hi);
    CHECK(n >= 2 && n <= max, "[%g, %g]: %d ticks, max %d", lo, hi, n, max);
    CHECK(t[0] <= a + 1e-9 * step && t[n - 1] >= b - 1e-9 * step,
          "[%g, %g]: ticks %g..%g do not cover it", lo, hi, t[0], t[n - 1]);
    double mant = step / pow(10, floor(log10(step)));
    CHECK(fabs(mant - 1) < 1e-9 || fabs(mant - 2) < 1e-9 || fabs(mant - 5) < 1e-9,
          "[%g, %g]: step %g is not 1, 2 or 5 times a power of ten", lo, hi, step);
    for (int i = 1; i < n; i++)
        CHECK(fabs(t[i] - t[i - 1] - step) < 1e-9 * fmax(1, fabs(t[i])),
              "[%g, %g]: ticks %g, %g not %g apart", lo, hi, t[i - 1], t[i], step);
    /* no more than one step of slack at either end (but around a single value) */
    CHECK(b - a <= 1e-9 * fmax(fabs(a), fabs(b)) ||
              (a - t[0] < step + 1e-12 && t[n - 1] - b < step + 1e-12),
          "[%g, %g]: ticks %g..%g waste more than a step", lo, hi, t[0], t[n - 1]);
}

static void test_ticks(void)
{
    double t[SVG_MAX_TICKS], step;
    int n = export_svg_ticks(0, 1, 6, t, SVG_MAX_TICKS, &step);
    CHECK(n == 6 && fabs(step - 0.2) < 1e-12 && t[0] == 0 && fabs(t[5] - 1) < 1e-12,
          "[0, 1]: %d ticks of %g from %g to %g", n, step, t[0], t[n - 1]);
    n = export_svg_ticks(3.61, 3.67, 8, t, SVG_MAX_TICKS, &step);
    CHECK(n == 7 && fabs(step - 0.01) < 1e-12 && fabs(t[0] - 3.61) < 1e-9,
          "[3.61, 3.67]: %d ticks of %g from %g", n, step, t[0]);
    n = export_svg_ticks(15, 8000, 7, t, SVG_MAX_TICKS, &step);
    CHECK(t[0] == 0 && step == 2000 && t[n - 1] == 8000, "[15, 8000]: %g..%g step %g", t[0],
          t[n - 1], step);
    /* one value, swapped bounds, NaN, infinities, tiny and huge ranges, negatives */
    n = export_svg_ticks(5, 5, 5, t, SVG_MAX_TICKS, &step);
    CHECK(t[0] < 5 && t[n - 1] > 5, "[5, 5]: %g..%g", t[0], t[n - 1]);
    n = export_svg_ticks(0, 0, 5, t, SVG_MAX_TICKS, &step);
    CHECK(t[0] < 0 && t[n - 1] > 0, "[0, 0]: %g..%g", t[0], t[n - 1]);
    n = export_svg_ticks(NAN, NAN, 5, t, SVG_MAX_TICKS, &step);
    CHECK(t[0] == 0 && t[n - 1] == 1, "[NaN, NaN]: %g..%g", t[0], t[n - 1]);
    n = export_svg_ticks(2, INFINITY, 5, t, SVG_MAX_TICKS, &step);
    CHECK(isfinite(t[0]) && isfinite(t[n - 1]) && t[0] < 2 && t[n - 1] > 2, "[2, inf]: %g..%g",
          t[0], t[n - 1]);
    static const double ranges[][2] = {{1, 0},           {-3.2, 7.9}, {1e-7, 3e-7},
                                       {0.999, 1.001},   {1e6, 5e9},  {-1e-3, -2e-3},
                                       {3.6246, 3.6353}, {0, 0.089}};
    for (size_t i = 0; i < sizeof ranges / sizeof *ranges; i++)
        for (int target = 2; target <= 12; target += 5)
            check_ticks(ranges[i][0], ranges[i][1], target, SVG_MAX_TICKS);
    check_ticks(0, 1000, 50, 3); /* too many wanted: a coarser step fits the room */
    /* a random sweep of ranges */
    srand(7);
    for (int i = 0; i < 2000; i++) {
        double a = ((double)rand() / RAND_MAX - 0.5) * pow(10, rand() % 12 - 6);
        double b = a + (double)rand() / RAND_MAX * pow(10, rand() % 12 - 6);
        check_ticks(a, b, 2 + rand() % 10, 4 + rand() % (SVG_MAX_TICKS - 4));
    }
}

static void test_formats(void)
{
    static const struct {
        double v, step, big;
        const char *out;
    } ticks[] = {{0.30000000000000004, 0.1, 1, "0.3"},
                 {-1e-17, 0.1, 1, "0.0"},
                 {0, 1, 5, "0"},
                 {0.25, 0.05, 0.5, "0.25"},
                 {3e-4, 1e-4, 5e-4, "0.0003"},
                 {-2, 1, 4, "-2"},
                 {2500, 500, 3000, "2500"},
                 {8000, 2000, 8000, "8000"},
                 {0, 5000, 20000, "0"},
                 {5000, 5000, 20000, "5k"},
                 {20000, 5000, 20000, "20k"},
                 {500000, 500000, 1500000, "0.5M"},
                 {1500000, 500000, 1500000, "1.5M"},
                 {3.6199999999999997, 0.01, 3.67, "3.62"},
                 {2e9, 1e9, 3e9, "2G"},
                 {-20000, 10000, 20000, "-20k"}};
    char buf[64];
    for (size_t i = 0; i < sizeof ticks / sizeof *ticks; i++) {
        export_svg_format_tick(buf, sizeof buf, ticks[i].v, ticks[i].step, ticks[i].big);
        CHECK(!strcmp(buf, ticks[i].out), "tick %.17g step %g: expected \"%s\", got \"%s\"",
              ticks[i].v, ticks[i].step, ticks[i].out, buf);
    }
    static const struct {
        double v, hw;
        const char *out;
    } values[] = {{2.3456, 0.012, "2.346"},
                  {2.3456, NAN, "2.346"},
                  {2.3456, 0, "2.346"},
                  {3.6221, 0.0536, "3.622"},
                  {3.6221, 0.4, "3.62"},
                  {1234.56, NAN, "1235"},
                  {0.0891, NAN, "0.08910"},
                  {-0.00001, 0.01, "0.000"},
                  {NAN, 1, "n/a"},
                  {12.5, 30, "12"},
                  {0, NAN, "0"}};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        export_svg_format_value(buf, sizeof buf, values[i].v, values[i].hw);
        CHECK(!strcmp(buf, values[i].out), "value %g hw %g: expected \"%s\", got \"%s\"",
              values[i].v, values[i].hw, values[i].out, buf);
    }
    CHECK_INT(3, export_svg_decimals(3.6221, INFINITY));
    CHECK_INT(8, export_svg_decimals(1, 1e-12));
    CHECK_STR("#1f77b4", export_svg_color(0));
    CHECK_STR("#1f77b4", export_svg_color(10));
    CHECK_STR("", export_svg_dash(0));
    CHECK_STR("7 4", export_svg_dash(1));
    CHECK_STR("", export_svg_dash(3));
}

static char *line_chart(const svg_line_opts *o, const svg_series *s, int n)
{
    sqlite3_str *b = sqlite3_str_new(NULL);
    export_svg_line_chart(b, o, s, n);
    return export_mk_finish(b);
}

static void test_line_chart(void)
{
    const double x[] = {0, 1, 2, 3}, y[] = {1, NAN, 3, 2}, y2[] = {2, 2, 2, 2};
    svg_series s[3] = {
        {.label = "<b>&\"x'</b>", .x = x, .y = y, .n = 4},
        {.label = "<b>&\"x'</b>", .x = x, .y = y2, .n = 4, .color = 0, .dash = 1},
        {.label = "a label far too long to be shown whole in the legend beside the plot",
         .x = x,
         .y = y2,
         .n = 1,
         .color = 1},
    };
    svg_line_opts o = {
        "T<i>", "step", "loss & (nats/token)", "legend \"title\"", NAN, NAN, NAN, NAN, 0, 0};
    char *svg = line_chart(&o, s, 3);
    CHECK_XML(svg);
    CHECK(!strstr(svg, "<b>") && !strstr(svg, "<i>") &&
              strstr(svg, "&lt;b&gt;&amp;&quot;x&#39;"),
          "labels not escaped");
    CHECK_INT(2, count(svg, "stroke-width=\"2.5\"")); /* one legend entry per distinct label */
    CHECK_INT(2 + 1 + 1, count(svg, " M"));           /* the NaN cuts the first series */
    CHECK(strstr(svg, "stroke-dasharray=\"7 4\""), "dash 1 drawn dashed");
    CHECK(strstr(svg, "\xE2\x80\xA6</text>") && strstr(svg, "<title>a label far too long"),
          "a long label is shortened, with the whole in a tooltip");
    CHECK(strstr(svg, "<circle"), "a one-point series is drawn as a dot");
    sqlite3_free(svg);
    /* 20 labelled series in a short chart: it grows to fit the legend */
    svg_series many[20];
    char labels[20][16];
    for (int i = 0; i < 20; i++) {
        snprintf(labels[i], sizeof labels[i], "config %d", i);
        many[i] = (svg_series){
            .label = labels[i], .x = x, .y = y2, .n = 4, .color = i, .dash = i / 10};
    }
    o.height = 200;
    svg = line_chart(&o, many, 20);
    CHECK_XML(svg);
    int h = 0;
    sscanf(strstr(svg, "height=\"") + 8, "%d", &h);
    CHECK(h >= 38 + 20 * 17 + 48, "height %d does not fit 20 legend entries", h);
    CHECK_INT(20, count(svg, "stroke-width=\"2.5\""));
    CHECK_INT(10, count(svg, "stroke-dasharray=\"7 4\"/>")); /* legend swatches 10..19 */
    sqlite3_free(svg);
    /* nothing to draw */
    svg = line_chart(&o, NULL, 0);
    CHECK_XML(svg);
    sqlite3_free(svg);
}

static void test_row_chart(void)
{
    svg_row r[] = {{"g1 <&>", "a", 1.0, 0.5, 1.5, 0, NULL},
                   {"g1 <&>", "b", 2.0, NAN, NAN, 0, NULL},
                   {"g2", "c \"quoted\"", NAN, NAN, NAN, 1, NULL},
                   {"g2", "d", -0.5, -1, 0, 1, "note <x>"}};
    svg_row_opts o = {"rows", "bits per byte", 1, 0};
    sqlite3_str *b = sqlite3_str_new(NULL);
    export_svg_row_chart(b, &o, r, 4);
    char *svg = export_mk_finish(b);
    CHECK_XML(svg);
    CHECK_INT(1, count(svg, ">g1 &lt;&amp;&gt;</text>")); /* one header per group */
    CHECK_INT(1 + 3, count(svg, "<rect"));                /* background and three bars */
    CHECK(strstr(svg, ">note &lt;x&gt;</text>"), "the row's own text, escaped");
    CHECK(strstr(svg, ">1.00</text>") && strstr(svg, ">2.00</text>"),
          "values with the decimals of the narrowest interval (0.5 -> 2)");
    sqlite3_free(svg);
    o.bars = 0;
    b = sqlite3_str_new(NULL);
    export_svg_row_chart(b, &o, r, 4);
    svg = export_mk_finish(b);
    CHECK_XML(svg);
    CHECK_INT(3, count(svg, "<circle"));
    CHECK_INT(1, count(svg, "<rect"));
    sqlite3_free(svg);
}

void test_svgplot(void)
{
    test_ticks();
    test_formats();
    test_line_chart();
    test_row_chart();
}
