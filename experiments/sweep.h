/* sweep.h: sweep files (a config plus a [sweep] section: name, seeds, base, factor
 * lines) and their expansion into the grid of configurations times seeds. */
#ifndef PYRAMASK_SWEEP_H
#define PYRAMASK_SWEEP_H

#include "config.h"

/* The largest sweep: factor levels times seeds. */
enum { SWEEP_MAX_CELLS = 100000 };

struct sweep_factor {
    char *key;     /* "mask.structure" */
    char **levels; /* canonical values */
    int nlevels;
    char *where; /* "file:line" of the factor line */
};

struct sweep {
    char *name;
    char *spec; /* the sweep file's text */
    long *seeds;
    int nseeds;
    struct sweep_factor *factors;
    int nfactors;
    struct config *base; /* base file, then the sweep file, then --set */
};

/* Reads a sweep file; `sets` are --set overrides applied after it (they may not name
 * a factor). Every cell is built and validated. Returns 0, -1 for bad content (err with
 * file:line) or -2 when a file cannot be read. Free with sweep_free(). */
int sweep_load(struct sweep **out, const char *path, char *const *sets, int nsets,
               char err[CONFIG_ERR_MAX]);
void sweep_free(struct sweep **s);

/* Number of cells: the product of the factor level counts times the seeds. */
long sweep_ncells(const struct sweep *s);

/* Cell i (0 <= i < sweep_ncells) as a finished config: factors in file order, the
 * last varying fastest, seeds innermost. Returns NULL with err on failure. */
struct config *sweep_cell(const struct sweep *s, long i, char err[CONFIG_ERR_MAX]);

/* Cell c's factor levels and seed as "key=level key=level seed=S" into out (cut to n). */
void sweep_cell_label(const struct sweep *s, const struct config *c, char *out, size_t n);

#endif
