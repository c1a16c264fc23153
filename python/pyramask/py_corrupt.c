/* py_corrupt.c: pyramask.Corruption, a libmask handle from Python: every schedule, structure,
 * mask-type policy, importance source and mode, and chain; batches of sequences corrupted
 * into numpy arrays (noisy ids, ELBO weights, mask types, chain levels and targets). */
#include "py_common.h"

#include <stdlib.h>

typedef struct {
    PyObject_HEAD mask *m;
    int V, K, chain;
    mask_time_sampler sampler;
    char *strings[4]; /* copies of the settings' strings, alive as long as the handle */
} pyr_corruption;

static int ready(const pyr_corruption *self)
{
    if (!self->m) {
        PyErr_SetString(PyExc_ValueError, "the Corruption was not opened (call __init__)");
        return 0;
    }
    return 1;
}

static void corruption_clear(pyr_corruption *self)
{
    mask_close(&self->m);
    for (int i = 0; i < 4; i++) {
        free(self->strings[i]);
        self->strings[i] = NULL;
    }
}

static void corruption_dealloc(pyr_corruption *self)
{
    corruption_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A name argument parsed by one of libmask's parsers; NULL keeps the default. */
typedef int (*name_parser)(const char *, void *, char *, size_t);

static int parse_name(const char *name, name_parser parse, void *out)
{
    if (!name)
        return 0;
    char why[256];
    int rc = parse(name, out, why, sizeof why);
    if (rc) {
        pyr_raise("mask", rc, why);
        return -1;
    }
    return 0;
}

static char *keep(pyr_corruption *self, int slot, const char *s)
{
    if (!s)
        return NULL;
    self->strings[slot] = strdup(s);
    if (!self->strings[slot])
        PyErr_NoMemory();
    return self->strings[slot];
}

static int corruption_init(pyr_corruption *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"vocab_size",
                             "n_types",
                             "schedule",
                             "sampler",
                             "structure",
                             "n_levels",
                             "unit_level",
                             "span_p",
                             "span_max",
                             "regex",
                             "block_size",
                             "types",
                             "class_rules",
                             "length_buckets",
                             "importance_edges",
                             "importance",
                             "importance_rules",
                             "importance_mode",
                             "importance_strength",
                             "prior_alpha",
                             "chain",
                             "chain_shape",
                             NULL};
    mask_settings s;
    mask_default_settings(&s);
    const char *schedule = NULL, *sampler = NULL, *structure = NULL, *regex = NULL,
               *types = NULL, *class_rules = NULL, *importance = NULL, *importance_rules = NULL,
               *importance_mode = NULL;
    PyObject *edges = Py_None, *chain = Py_None;
    if (!PyArg_ParseTupleAndKeywords(
            args, kw, "i|$izzziidizizziOzzzddOd", kwlist, &s.vocab_size, &s.n_types, &schedule,
            &sampler, &structure, &s.n_levels, &s.unit_level, &s.span_p, &s.span_max, &regex,
            &s.block_size, &types, &class_rules, &s.length_buckets, &edges, &importance,
            &importance_rules, &importance_mode, &s.importance_strength, &s.prior_alpha, &chain,
            &s.chain_shape))
        return -1;
    corruption_clear(self);
    if (parse_name(sampler, (name_parser)mask_time_sampler_parse, &s.sampler) ||
        parse_name(structure, (name_parser)mask_structure_parse, &s.structure) ||
        parse_name(types, (name_parser)mask_type_policy_parse, &s.types) ||
        parse_name(importance, (name_parser)mask_importance_source_parse, &s.importance) ||
        parse_name(importance_mode, (name_parser)mask_importance_mode_parse,
                   &s.importance_mode))
        return -1;
    if ((schedule && !(s.schedule = keep(self, 0, schedule))) ||
        (regex && !(s.regex = keep(self, 1, regex))) ||
        (class_rules && !(s.class_rules = keep(self, 2, class_rules))) ||
        (importance_rules && !(s.importance_rules = keep(self, 3, importance_rules))))
        return -1;
    if (edges != Py_None) {
        PyArrayObject *e = pyr_float_array(edges, NPY_FLOAT64, 1, 1, "importance_edges");
        if (!e)
            return -1;
        npy_intp n = PyArray_SIZE(e);
        if (n > 8) {
            Py_DECREF(e);
            PyErr_Format(PyExc_ValueError, "importance_edges: at most 8, got %zd",
                         (Py_ssize_t)n);
            return -1;
        }
        memcpy(s.importance_edges, PyArray_DATA(e), (size_t)n * sizeof(double));
        s.n_importance_edges = (int)n;
        Py_DECREF(e);
    }
    /* the chain: a sequence of maps, map_1 over the V tokens, map_l over D_{l-1} */
    PyArrayObject *maps[MASK_MAX_CHAIN] = {NULL};
    int rc = 0;
    if (chain != Py_None) {
        PyObject *seq = PySequence_Fast(chain, "chain: expected a sequence of integer arrays");
        if (!seq)
            return -1;
        Py_ssize_t m = PySequence_Fast_GET_SIZE(seq);
        if (m > MASK_MAX_CHAIN) {
            Py_DECREF(seq);
            PyErr_Format(PyExc_ValueError, "chain: at most %d maps, got %zd", MASK_MAX_CHAIN,
                         m);
            return -1;
        }
        for (Py_ssize_t l = 0; l < m && !rc; l++) {
            maps[l] = pyr_int32_array(PySequence_Fast_GET_ITEM(seq, l), 1, 1, "chain map");
            if (!maps[l]) {
                rc = -1;
                break;
            }
            s.chain_map[l] = PyArray_DATA(maps[l]);
        }
        /* D_l: the entries of the next map, or for the last stage the largest value + 1
         * (libmask checks every value against its range) */
        for (Py_ssize_t l = 0; l < m && !rc; l++) {
            npy_intp want = l == 0 ? s.vocab_size : s.chain_size[l - 1];
            if (PyArray_SIZE(maps[l]) != want) {
                PyErr_Format(PyExc_ValueError,
                             "chain map %zd has %zd entries, expected %zd (%s)", l + 1,
                             (Py_ssize_t)PyArray_SIZE(maps[l]), (Py_ssize_t)want,
                             l == 0 ? "vocab_size" : "the entries of the map before");
                rc = -1;
                break;
            }
            if (l + 1 < m) {
                s.chain_size[l] = (int)PyArray_SIZE(maps[l + 1]);
            } else {
                const int32_t *v = PyArray_DATA(maps[l]);
                int32_t mx = -1;
                for (npy_intp i = 0; i < want; i++)
                    mx = v[i] > mx ? v[i] : mx;
                s.chain_size[l] = mx + 1;
            }
        }
        s.chain_length = (int)m;
        Py_DECREF(seq);
    }
    if (!rc) {
        rc = mask_open(&self->m, &s);
        if (rc) {
            if (self->m)
                pyr_mask_error(rc, self->m, NULL);
            else
                PyErr_NoMemory();
            mask_close(&self->m);
            rc = -1;
        }
    }
    for (int l = 0; l < MASK_MAX_CHAIN; l++)
        Py_XDECREF(maps[l]);
    if (rc)
        return -1;
    self->V = s.vocab_size;
    self->K = mask_n_types(self->m);
    self->chain = mask_chain_length(self->m);
    self->sampler = s.sampler;
    return 0;
}

/* ---- sequences from arrays ---- */

/* The arrays of a batch of B sequences of n tokens, converted and checked. */
struct batch {
    int B, n, rows; /* rows: 1 when the ids were one sequence */
    PyArrayObject *ids, *unit_of, *offsets, *importance, *prompt;
    pyr_text *texts;
    int ntexts;
    int n_levels;
    const int32_t **unit_ptrs; /* (B * n_levels) */
    mask_seq *seqs;            /* (B) */
};

static void batch_free(struct batch *b)
{
    Py_XDECREF(b->ids);
    Py_XDECREF(b->unit_of);
    Py_XDECREF(b->offsets);
    Py_XDECREF(b->importance);
    Py_XDECREF(b->prompt);
    for (int i = 0; i < b->ntexts; i++)
        pyr_text_release(&b->texts[i]);
    free(b->texts);
    free(b->unit_ptrs);
    free(b->seqs);
    memset(b, 0, sizeof *b);
}

/* An array argument whose shape must be (B, tail...) for a batch or (tail...) for one
 * sequence; checked against what the ids gave. */
static int check_shape(PyArrayObject *a, const struct batch *b, int tail, const npy_intp *dims,
                       const char *what)
{
    int nd = PyArray_NDIM(a), want = tail + (b->rows ? 0 : 1);
    int ok = nd == want;
    if (ok && !b->rows)
        ok = PyArray_DIM(a, 0) == b->B;
    for (int i = 0; ok && i < tail; i++)
        ok = dims[i] < 0 ? 1 : PyArray_DIM(a, want - tail + i) == dims[i];
    if (!ok) {
        PyErr_Format(PyExc_ValueError,
                     "%s: shape does not match the ids (%d sequence%s of %d tokens)", what,
                     b->B, b->B == 1 ? "" : "s", b->n);
        return -1;
    }
    return 0;
}

static int batch_get(struct batch *b, PyObject *ids, PyObject *unit_of, PyObject *text,
                     PyObject *offsets, PyObject *importance, PyObject *prompt_len)
{
    memset(b, 0, sizeof *b);
    if (!(b->ids = pyr_int32_array(ids, 1, 2, "ids")))
        return -1;
    b->rows = PyArray_NDIM(b->ids) == 1;
    b->B = b->rows ? 1 : (int)PyArray_DIM(b->ids, 0);
    b->n = (int)PyArray_DIM(b->ids, b->rows ? 0 : 1);
    if (PyArray_DIM(b->ids, b->rows ? 0 : 1) > INT32_MAX / 2 ||
        (!b->rows && PyArray_DIM(b->ids, 0) > INT32_MAX / 2)) {
        PyErr_SetString(PyExc_ValueError, "ids: too many tokens");
        return -1;
    }
    npy_intp dims[2] = {-1, b->n};
    if (unit_of && unit_of != Py_None) {
        if (!(b->unit_of = pyr_int32_array(unit_of, 1, 3, "unit_of")) ||
            check_shape(b->unit_of, b, 2, dims, "unit_of (levels, tokens)"))
            return -1;
        b->n_levels = (int)PyArray_DIM(b->unit_of, b->rows ? 0 : 1);
    }
    if (offsets && offsets != Py_None) {
        if (!(b->offsets = pyr_int32_array(offsets, 1, 2, "offsets")) ||
            check_shape(b->offsets, b, 1, dims + 1, "offsets"))
            return -1;
    }
    if (importance && importance != Py_None) {
        if (!(b->importance = pyr_float_array(importance, NPY_FLOAT32, 1, 2, "importance")) ||
            check_shape(b->importance, b, 1, dims + 1, "importance"))
            return -1;
    }
    if (prompt_len && prompt_len != Py_None) {
        if (!(b->prompt = pyr_int32_array(prompt_len, 0, 1, "prompt_len")))
            return -1;
        if (PyArray_NDIM(b->prompt) == 1 && PyArray_DIM(b->prompt, 0) != b->B) {
            PyErr_Format(PyExc_ValueError, "prompt_len: %zd values for %d sequences",
                         (Py_ssize_t)PyArray_DIM(b->prompt, 0), b->B);
            return -1;
        }
    }
    b->texts = calloc((size_t)b->B, sizeof *b->texts);
    b->unit_ptrs =
        calloc((size_t)b->B * (size_t)(b->n_levels ? b->n_levels : 1), sizeof *b->unit_ptrs);
    b->seqs = calloc((size_t)b->B, sizeof *b->seqs);
    if (!b->texts || !b->unit_ptrs || !b->seqs) {
        PyErr_NoMemory();
        return -1;
    }
    if (text && text != Py_None) {
        if (b->rows) {
            if (pyr_text_get(text, &b->texts[0], "text"))
                return -1;
            b->ntexts = 1;
        } else {
            PyObject *seq = PySequence_Fast(text, "text: expected one text per sequence");
            if (!seq)
                return -1;
            if (PySequence_Fast_GET_SIZE(seq) != b->B) {
                PyErr_Format(PyExc_ValueError, "text: %zd texts for %d sequences",
                             PySequence_Fast_GET_SIZE(seq), b->B);
                Py_DECREF(seq);
                return -1;
            }
            for (int i = 0; i < b->B; i++) {
                if (pyr_text_get(PySequence_Fast_GET_ITEM(seq, i), &b->texts[i], "text")) {
                    Py_DECREF(seq);
                    return -1;
                }
                b->ntexts++;
            }
            Py_DECREF(seq);
        }
    }
    const int32_t *ids_p = PyArray_DATA(b->ids);
    for (int i = 0; i < b->B; i++) {
        mask_seq *q = &b->seqs[i];
        size_t row = (size_t)i * (size_t)b->n;
        q->ids = ids_p + row;
        q->n = b->n;
        if (b->unit_of) {
            const int32_t *u = PyArray_DATA(b->unit_of);
            for (int l = 0; l < b->n_levels; l++)
                b->unit_ptrs[(size_t)i * (size_t)b->n_levels + (size_t)l] =
                    u + ((size_t)i * (size_t)b->n_levels + (size_t)l) * (size_t)b->n;
            q->unit_of = b->unit_ptrs + (size_t)i * (size_t)b->n_levels;
            q->n_levels = b->n_levels;
        }
        if (b->ntexts) {
            q->text = b->texts[i].view.buf;
            q->text_len = (size_t)b->texts[i].view.len;
        }
        if (b->offsets)
            q->offsets = (const int32_t *)PyArray_DATA(b->offsets) + row;
        if (b->importance)
            q->importance = (const float *)PyArray_DATA(b->importance) + row;
        if (b->prompt)
            q->prompt_len =
                ((const int32_t *)PyArray_DATA(b->prompt))[PyArray_NDIM(b->prompt) ? i : 0];
    }
    return 0;
}

/* The output arrays of a batch, shaped as the ids. */
struct outs {
    PyObject *ids, *masked, *weight, *type, *level, *target;
    mask_out *o;
};

static void outs_free(struct outs *u)
{
    Py_XDECREF(u->ids);
    Py_XDECREF(u->masked);
    Py_XDECREF(u->weight);
    Py_XDECREF(u->type);
    Py_XDECREF(u->level);
    Py_XDECREF(u->target);
    free(u->o);
}

static int outs_alloc(struct outs *u, const struct batch *b, int chain)
{
    memset(u, 0, sizeof *u);
    npy_intp dims[2] = {b->B, b->n};
    int nd = b->rows ? 1 : 2;
    npy_intp *d = b->rows ? dims + 1 : dims;
    u->ids = PyArray_SimpleNew(nd, d, NPY_INT32);
    u->masked = PyArray_SimpleNew(nd, d, NPY_BOOL);
    u->weight = PyArray_SimpleNew(nd, d, NPY_FLOAT32);
    u->type = PyArray_SimpleNew(nd, d, NPY_INT8);
    if (chain) {
        u->level = PyArray_SimpleNew(nd, d, NPY_INT8);
        u->target = PyArray_SimpleNew(nd, d, NPY_INT32);
    }
    u->o = calloc((size_t)b->B, sizeof *u->o);
    if (!u->ids || !u->masked || !u->weight || !u->type || (chain && !u->target) ||
        (chain && !u->level) || !u->o) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        return -1;
    }
#define ROW(a, T) ((T *)PyArray_DATA((PyArrayObject *)(a)) + (size_t)i * (size_t)b->n)
    for (int i = 0; i < b->B; i++) {
        mask_out *o = &u->o[i];
        o->ids = ROW(u->ids, int32_t);
        o->masked = ROW(u->masked, uint8_t); /* numpy's bool is one byte, 0 or 1 */
        o->weight = ROW(u->weight, float);
        o->type = ROW(u->type, int8_t);
        if (chain) {
            o->level = ROW(u->level, int8_t);
            o->target = ROW(u->target, int32_t);
        }
    }
#undef ROW
    return 0;
}

static PyObject *outs_dict(struct outs *u, const struct batch *b, PyObject *t)
{
    PyObject *d = Py_BuildValue("{s:O,s:O,s:O,s:O,s:O}", "ids", u->ids, "masked", u->masked,
                                "weight", u->weight, "type", u->type, "t", t);
    if (d && u->level &&
        (PyDict_SetItemString(d, "level", u->level) ||
         PyDict_SetItemString(d, "target", u->target)))
        Py_CLEAR(d);
    (void)b;
    return d;
}

static PyObject *times_array(const struct outs *u, const struct batch *b)
{
    if (b->rows)
        return PyFloat_FromDouble(u->o[0].t);
    npy_intp n = b->B;
    PyObject *a = PyArray_SimpleNew(1, &n, NPY_FLOAT64);
    if (a)
        for (int i = 0; i < b->B; i++)
            ((double *)PyArray_DATA((PyArrayObject *)a))[i] = u->o[i].t;
    return a;
}

#define SEQ_KWARGS "unit_of", "text", "offsets", "importance", "prompt_len"

static PyObject *corruption_corrupt(pyr_corruption *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"ids", "t", "rng", SEQ_KWARGS, NULL};
    PyObject *ids, *t_o, *rng_o, *unit_of = NULL, *text = NULL, *offsets = NULL,
                                 *importance = NULL, *prompt = NULL;
    if (!ready(self) ||
        !PyArg_ParseTupleAndKeywords(args, kw, "OOO|$OOOOO", kwlist, &ids, &t_o, &rng_o,
                                     &unit_of, &text, &offsets, &importance, &prompt))
        return NULL;
    gsl_rng *r = pyr_rng_of(rng_o);
    if (!r)
        return NULL;
    struct batch b;
    struct outs u;
    PyObject *result = NULL, *times = NULL;
    PyArrayObject *t = NULL;
    memset(&u, 0, sizeof u);
    if (batch_get(&b, ids, unit_of, text, offsets, importance, prompt) ||
        !(t = pyr_float_array(t_o, NPY_FLOAT64, 0, 1, "t")))
        goto done;
    if (PyArray_NDIM(t) == 1 && PyArray_DIM(t, 0) != b.B) {
        PyErr_Format(PyExc_ValueError, "t: %zd times for %d sequences",
                     (Py_ssize_t)PyArray_DIM(t, 0), b.B);
        goto done;
    }
    if (outs_alloc(&u, &b, self->chain))
        goto done;
    const double *tv = PyArray_DATA(t);
    for (int i = 0; i < b.B; i++) {
        int rc = mask_corrupt(self->m, &b.seqs[i], tv[PyArray_NDIM(t) ? i : 0], r, &u.o[i]);
        if (rc) {
            char where[64];
            snprintf(where, sizeof where, "sequence %d", i);
            pyr_mask_error(rc, self->m, b.rows ? NULL : where);
            goto done;
        }
    }
    if ((times = times_array(&u, &b)))
        result = outs_dict(&u, &b, times);
done:
    Py_XDECREF(times);
    Py_XDECREF(t);
    outs_free(&u);
    batch_free(&b);
    return result;
}

static PyObject *corruption_corrupt_batch(pyr_corruption *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"ids", "step", "rng", SEQ_KWARGS, NULL};
    PyObject *ids, *rng_o, *unit_of = NULL, *text = NULL, *offsets = NULL, *importance = NULL,
                           *prompt = NULL;
    long step;
    if (!ready(self) ||
        !PyArg_ParseTupleAndKeywords(args, kw, "OlO|$OOOOO", kwlist, &ids, &step, &rng_o,
                                     &unit_of, &text, &offsets, &importance, &prompt))
        return NULL;
    gsl_rng *r = pyr_rng_of(rng_o);
    if (!r)
        return NULL;
    struct batch b;
    struct outs u;
    PyObject *result = NULL, *times = NULL;
    memset(&u, 0, sizeof u);
    if (batch_get(&b, ids, unit_of, text, offsets, importance, prompt) ||
        outs_alloc(&u, &b, self->chain))
        goto done;
    int rc = mask_corrupt_batch(self->m, b.seqs, b.B, step, r, u.o);
    if (rc) {
        pyr_mask_error(rc, self->m, NULL);
        goto done;
    }
    if ((times = times_array(&u, &b)))
        result = outs_dict(&u, &b, times);
done:
    Py_XDECREF(times);
    outs_free(&u);
    batch_free(&b);
    return result;
}

static PyObject *corruption_units(pyr_corruption *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"ids", "rng", SEQ_KWARGS, NULL};
    PyObject *ids, *rng_o, *unit_of = NULL, *text = NULL, *offsets = NULL, *importance = NULL,
                           *prompt = NULL;
    if (!ready(self) ||
        !PyArg_ParseTupleAndKeywords(args, kw, "OO|$OOOOO", kwlist, &ids, &rng_o, &unit_of,
                                     &text, &offsets, &importance, &prompt))
        return NULL;
    gsl_rng *r = pyr_rng_of(rng_o);
    struct batch b;
    if (!r || batch_get(&b, ids, unit_of, text, offsets, importance, prompt)) {
        if (r)
            batch_free(&b);
        return NULL;
    }
    PyObject *result = NULL;
    if (!b.rows) {
        PyErr_SetString(PyExc_ValueError, "units: one sequence at a time (1-d ids)");
    } else {
        npy_intp cap = b.n + 1;
        PyObject *a = PyArray_SimpleNew(1, &cap, NPY_INT32);
        int nu = 0, rc = a ? mask_units(self->m, &b.seqs[0], r,
                                        (int *)PyArray_DATA((PyArrayObject *)a), &nu)
                           : MASK_E_NOMEM;
        if (rc) {
            pyr_mask_error(rc, self->m, NULL);
        } else {
            PyObject *s = PySequence_GetSlice(a, 0, nu + 1);
            result = s;
        }
        Py_XDECREF(a);
    }
    batch_free(&b);
    return result;
}

static PyObject *corruption_sample_times(pyr_corruption *self, PyObject *args)
{
    int B;
    PyObject *rng_o;
    if (!ready(self) || !PyArg_ParseTuple(args, "iO", &B, &rng_o))
        return NULL;
    gsl_rng *r = pyr_rng_of(rng_o);
    if (!r)
        return NULL;
    if (B < 1)
        return PyErr_Format(PyExc_ValueError, "B = %d: at least one time", B);
    npy_intp n = B;
    PyObject *a = PyArray_SimpleNew(1, &n, NPY_FLOAT64);
    if (a)
        mask_sample_times(PyArray_DATA((PyArrayObject *)a), B, mask_get_schedule(self->m),
                          self->sampler, r);
    return a;
}

/* ---- statistics and priors ---- */

static PyObject *corruption_corpus_add(pyr_corruption *self, PyObject *args)
{
    PyObject *ids;
    if (!ready(self) || !PyArg_ParseTuple(args, "O", &ids))
        return NULL;
    PyArrayObject *a = pyr_int32_array(ids, 1, 2, "ids");
    if (!a)
        return NULL;
    int rows = PyArray_NDIM(a) == 1 ? 1 : (int)PyArray_DIM(a, 0);
    int n = (int)PyArray_DIM(a, PyArray_NDIM(a) - 1), rc = 0;
    for (int i = 0; i < rows && !rc; i++)
        rc = mask_corpus_add(self->m, (const int32_t *)PyArray_DATA(a) + (size_t)i * (size_t)n,
                             n);
    Py_DECREF(a);
    if (rc)
        return pyr_mask_error(rc, self->m, NULL);
    Py_RETURN_NONE;
}

static PyObject *corruption_prior_add(pyr_corruption *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"ids", "rng", SEQ_KWARGS, NULL};
    PyObject *ids, *rng_o = Py_None, *unit_of = NULL, *text = NULL, *offsets = NULL,
                   *importance = NULL, *prompt = NULL;
    if (!ready(self) ||
        !PyArg_ParseTupleAndKeywords(args, kw, "O|O$OOOOO", kwlist, &ids, &rng_o, &unit_of,
                                     &text, &offsets, &importance, &prompt))
        return NULL;
    gsl_rng *r = NULL;
    if (rng_o != Py_None && !(r = pyr_rng_of(rng_o)))
        return NULL;
    struct batch b;
    if (batch_get(&b, ids, unit_of, text, offsets, importance, prompt)) {
        batch_free(&b);
        return NULL;
    }
    int rc = 0;
    for (int i = 0; i < b.B && !rc; i++)
        rc = mask_prior_add(self->m, &b.seqs[i], r);
    batch_free(&b);
    if (rc)
        return pyr_mask_error(rc, self->m, NULL);
    Py_RETURN_NONE;
}

static PyObject *corruption_prior_export(pyr_corruption *self, PyObject *unused)
{
    (void)unused;
    if (!ready(self))
        return NULL;
    npy_intp dims[2] = {self->K, self->V};
    PyObject *a = PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    if (!a)
        return NULL;
    int rc = mask_prior_export(self->m, PyArray_DATA((PyArrayObject *)a));
    if (rc) {
        Py_DECREF(a);
        return pyr_mask_error(rc, self->m, NULL);
    }
    return a;
}

static PyObject *corruption_importance(pyr_corruption *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"ids", SEQ_KWARGS, NULL};
    PyObject *ids, *unit_of = NULL, *text = NULL, *offsets = NULL, *importance = NULL,
                   *prompt = NULL;
    if (!ready(self) ||
        !PyArg_ParseTupleAndKeywords(args, kw, "O|$OOOOO", kwlist, &ids, &unit_of, &text,
                                     &offsets, &importance, &prompt))
        return NULL;
    struct batch b;
    if (batch_get(&b, ids, unit_of, text, offsets, importance, prompt)) {
        batch_free(&b);
        return NULL;
    }
    npy_intp dims[2] = {b.B, b.n};
    PyObject *a = b.rows ? PyArray_SimpleNew(1, dims + 1, NPY_FLOAT32)
                         : PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    int rc = 0;
    for (int i = 0; a && i < b.B && !rc; i++)
        rc = mask_importance(self->m, &b.seqs[i],
                             (float *)PyArray_DATA((PyArrayObject *)a) +
                                 (size_t)i * (size_t)b.n);
    batch_free(&b);
    if (rc) {
        Py_XDECREF(a);
        return pyr_mask_error(rc, self->m, NULL);
    }
    return a;
}

/* ---- the schedule ---- */

static PyObject *schedule_fn(pyr_corruption *self, PyObject *arg,
                             double (*f)(const mask_schedule *, double))
{
    if (!ready(self))
        return NULL;
    PyArrayObject *t = pyr_float_array(arg, NPY_FLOAT64, 0, 8, "t");
    if (!t)
        return NULL;
    const mask_schedule *s = mask_get_schedule(self->m);
    PyObject *out = PyArray_NewLikeArray(t, NPY_CORDER, NULL, 0);
    if (out) {
        const double *in = PyArray_DATA(t);
        double *o = PyArray_DATA((PyArrayObject *)out);
        for (npy_intp i = 0; i < PyArray_SIZE(t); i++)
            o[i] = f(s, in[i]);
    }
    Py_DECREF(t);
    if (out && PyArray_NDIM((PyArrayObject *)out) == 0) {
        PyObject *v = PyFloat_FromDouble(*(double *)PyArray_DATA((PyArrayObject *)out));
        Py_DECREF(out);
        return v;
    }
    return out;
}

static PyObject *corruption_alpha(pyr_corruption *self, PyObject *t)
{
    return schedule_fn(self, t, mask_schedule_alpha);
}
static PyObject *corruption_mask_prob(pyr_corruption *self, PyObject *t)
{
    return schedule_fn(self, t, mask_schedule_mask_prob);
}
static PyObject *corruption_dalpha(pyr_corruption *self, PyObject *t)
{
    return schedule_fn(self, t, mask_schedule_dalpha);
}
static PyObject *corruption_weight(pyr_corruption *self, PyObject *t)
{
    return schedule_fn(self, t, mask_schedule_weight);
}

static PyObject *corruption_set_step(pyr_corruption *self, PyObject *arg)
{
    long step = PyLong_AsLong(arg);
    if (!ready(self) || (step == -1 && PyErr_Occurred()))
        return NULL;
    mask_set_step(self->m, step);
    Py_RETURN_NONE;
}

/* ---- chains ---- */

static int stage_arg(pyr_corruption *self, PyObject *args, int lo, int hi, int *l)
{
    if (!ready(self) || !PyArg_ParseTuple(args, "i", l))
        return -1;
    if (*l < lo || *l > hi) {
        pyr_raisef("mask", MASK_E_RANGE, "%d outside %d..%d (the chain has %d stages)", *l, lo,
                   hi, self->chain);
        return -1;
    }
    return 0;
}

static PyObject *corruption_level_range(pyr_corruption *self, PyObject *args)
{
    int l;
    if (stage_arg(self, args, 0, self->chain + 1, &l))
        return NULL;
    return Py_BuildValue("(ii)", mask_level_first_id(self->m, l), mask_level_size(self->m, l));
}

static PyObject *chain_table(pyr_corruption *self, PyObject *args, int composed)
{
    int l;
    if (stage_arg(self, args, 1, self->chain, &l))
        return NULL;
    const int32_t *p =
        composed ? mask_chain_descriptions(self->m, l) : mask_chain_map(self->m, l);
    npy_intp n = composed || l == 1 ? self->V : mask_level_size(self->m, l - 1);
    PyObject *a = PyArray_SimpleNew(1, &n, NPY_INT32);
    if (a)
        memcpy(PyArray_DATA((PyArrayObject *)a), p, (size_t)n * sizeof *p);
    return a;
}

static PyObject *corruption_chain_map(pyr_corruption *self, PyObject *args)
{
    return chain_table(self, args, 0);
}
static PyObject *corruption_chain_descriptions(pyr_corruption *self, PyObject *args)
{
    return chain_table(self, args, 1);
}

static PyObject *corruption_chain_weights(pyr_corruption *self, PyObject *args)
{
    double p, dp;
    if (!ready(self) || !PyArg_ParseTuple(args, "dd", &p, &dp))
        return NULL;
    npy_intp n = self->chain + 1;
    PyObject *w = PyArray_SimpleNew(1, &n, NPY_FLOAT64),
             *F = PyArray_SimpleNew(1, &n, NPY_FLOAT64);
    int rc = w && F ? mask_chain_weights(self->m, p, dp, PyArray_DATA((PyArrayObject *)w))
                    : MASK_E_NOMEM;
    if (!rc)
        rc = mask_chain_cdf(self->m, p, PyArray_DATA((PyArrayObject *)F));
    if (rc) {
        Py_XDECREF(w);
        Py_XDECREF(F);
        return pyr_mask_error(rc, self->m, NULL);
    }
    PyObject *res = Py_BuildValue("(OO)", F, w);
    Py_DECREF(w);
    Py_DECREF(F);
    return res;
}

static PyObject *corruption_chain_kernel(pyr_corruption *self, PyObject *args)
{
    double ps, pt;
    if (!ready(self) || !PyArg_ParseTuple(args, "dd", &ps, &pt))
        return NULL;
    npy_intp d[2] = {self->chain + 2, self->chain + 2};
    PyObject *k = PyArray_SimpleNew(2, d, NPY_FLOAT64);
    int rc =
        k ? mask_chain_kernel(self->m, ps, pt, PyArray_DATA((PyArrayObject *)k)) : MASK_E_NOMEM;
    if (rc) {
        Py_XDECREF(k);
        return pyr_mask_error(rc, self->m, NULL);
    }
    return k;
}

static PyObject *corruption_scoring_schedule(pyr_corruption *self, PyObject *unused)
{
    (void)unused;
    if (!ready(self))
        return NULL;
    mask_schedule s = mask_chain_scoring_schedule(self->m);
    char buf[160];
    snprintf(buf, sizeof buf, "%s:%.17g[%.17g,%.17g]", s.type->name, s.param, s.lo, s.hi);
    return PyUnicode_FromString(buf);
}

/* ---- classes and names ---- */

static PyObject *corruption_classify(pyr_corruption *self, PyObject *arg)
{
    if (!ready(self))
        return NULL;
    pyr_text t;
    if (pyr_text_get(arg, &t, "bytes"))
        return NULL;
    int k = mask_classify(self->m, t.view.buf, (size_t)t.view.len);
    pyr_text_release(&t);
    return k < 0 ? pyr_mask_error(k, self->m, NULL) : PyLong_FromLong(k);
}

static PyObject *corruption_class_names(pyr_corruption *self, PyObject *unused)
{
    (void)unused;
    if (!ready(self))
        return NULL;
    int n = mask_n_classes(self->m);
    if (n < 0)
        return pyr_mask_error(n, self->m, NULL);
    PyObject *t = PyTuple_New(n);
    for (int k = 0; t && k < n; k++)
        PyTuple_SET_ITEM(t, k, PyUnicode_FromString(mask_class_name(self->m, k)));
    return t;
}

static PyObject *get_type_names(pyr_corruption *self, void *c)
{
    (void)c;
    if (!ready(self))
        return NULL;
    PyObject *t = PyTuple_New(self->K);
    for (int k = 0; t && k < self->K; k++) {
        const char *name = mask_type_name(self->m, k);
        PyTuple_SET_ITEM(t, k, PyUnicode_FromString(name ? name : "mask"));
    }
    return t;
}

#define INT_GETTER(name, expr)                                     \
    static PyObject *get_##name(pyr_corruption *self, void *c)     \
    {                                                              \
        (void)c;                                                   \
        return ready(self) ? PyLong_FromLong((long)(expr)) : NULL; \
    }
INT_GETTER(vocab_size, self->V)
INT_GETTER(n_types, self->K)
INT_GETTER(n_inputs, mask_n_inputs(self->m))
INT_GETTER(chain_length, self->chain)
INT_GETTER(reveals, mask_reveals(self->m))

static PyObject *get_schedule(pyr_corruption *self, void *c)
{
    (void)c;
    if (!ready(self))
        return NULL;
    const mask_schedule *s = mask_get_schedule(self->m);
    char buf[160];
    snprintf(buf, sizeof buf, "%s:%.17g[%.17g,%.17g]", s->type->name, s->param, s->lo, s->hi);
    return PyUnicode_FromString(buf);
}

static PyGetSetDef corruption_getset[] = {
    {"vocab_size", (getter)get_vocab_size, NULL, "V: clean ids are in [0, V)", NULL},
    {"n_types", (getter)get_n_types, NULL, "K: mask ids are V .. V+K-1", NULL},
    {"n_inputs", (getter)get_n_inputs, NULL, "V + K + the chain's descriptions", NULL},
    {"chain_length", (getter)get_chain_length, NULL, "m: the chain's stages (0: flat)", NULL},
    {"reveals", (getter)get_reveals, NULL,
     "the REVEALS_* flags: what the corruption shows besides tokens", NULL},
    {"type_names", (getter)get_type_names, NULL, "the names of the K mask types", NULL},
    {"schedule", (getter)get_schedule, NULL,
     "the schedule in force (at the current step) as NAME:PARAM[LO,HI]", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

#define KW (PyCFunction)(void (*)(void))
static PyMethodDef corruption_methods[] = {
    {"corrupt", KW corruption_corrupt, METH_VARARGS | METH_KEYWORDS,
     "corrupt(ids, t, rng, *, unit_of=None, text=None, offsets=None, importance=None,\n"
     "prompt_len=None) -> dict\n"
     "Corrupts one sequence (ids of shape (n,)) or a batch ((B, n)) at time t (a float, or\n"
     "one per sequence) with mask_corrupt, drawing from rng in libmask's order, sequence\n"
     "after sequence. unit_of: ((B,) levels, n) unit index of each token at each coarser\n"
     "level; text: the sequence's bytes (a list of B for a batch) with offsets ((B,) n)\n"
     "the start byte of each token; importance: ((B,) n) per-token weights; prompt_len:\n"
     "an int or one per sequence. Returns arrays shaped as ids: 'ids' (int32, x or V +\n"
     "type where masked, or a chain state), 'masked' (bool), 'weight' (float32, the ELBO\n"
     "weight), 'type' (int8, -1 where clean); with a chain 'level' (int8) and 'target'\n"
     "(int32); and 't'."},
    {"corrupt_batch", KW corruption_corrupt_batch, METH_VARARGS | METH_KEYWORDS,
     "corrupt_batch(ids, step, rng, **sequence arrays) -> dict: as corrupt, with the\n"
     "times drawn by the sampler at training step `step` (mask_corrupt_batch)."},
    {"units", KW corruption_units, METH_VARARGS | METH_KEYWORDS,
     "units(ids, rng, **sequence arrays) -> int32 array: the starts of the structure's\n"
     "units and the end of the last (mask_units; draws only the structure's numbers)."},
    {"sample_times", (PyCFunction)corruption_sample_times, METH_VARARGS,
     "sample_times(B, rng) -> B times from the sampler over the schedule in force."},
    {"corpus_add", (PyCFunction)corruption_corpus_add, METH_VARARGS,
     "corpus_add(ids): adds training documents (rows) to the idf/surprisal statistics."},
    {"prior_add", KW corruption_prior_add, METH_VARARGS | METH_KEYWORDS,
     "prior_add(ids, rng=None, **sequence arrays): adds training sequences to the\n"
     "per-type counts of the priors."},
    {"prior_export", (PyCFunction)corruption_prior_export, METH_NOARGS,
     "prior_export() -> (K, V) float32 log-priors of the mask types."},
    {"importance", KW corruption_importance, METH_VARARGS | METH_KEYWORDS,
     "importance(ids, **sequence arrays) -> float32 per-token importance weights."},
    {"alpha", (PyCFunction)corruption_alpha, METH_O, "alpha(t): the keep probability"},
    {"mask_prob", (PyCFunction)corruption_mask_prob, METH_O, "mask_prob(t): 1 - alpha(t)"},
    {"dalpha", (PyCFunction)corruption_dalpha, METH_O, "dalpha(t): alpha'(t)"},
    {"weight", (PyCFunction)corruption_weight, METH_O,
     "weight(t): the ELBO weight -alpha'(t) / (1 - alpha(t))"},
    {"set_step", (PyCFunction)corruption_set_step, METH_O,
     "set_step(step): the training step whose curriculum schedule corrupt uses"},
    {"level_range", (PyCFunction)corruption_level_range, METH_VARARGS,
     "level_range(level) -> (first input id, size) of the states of chain level 0..m+1"},
    {"chain_map", (PyCFunction)corruption_chain_map, METH_VARARGS,
     "chain_map(stage) -> the handle's copy of map_stage"},
    {"chain_descriptions", (PyCFunction)corruption_chain_descriptions, METH_VARARGS,
     "chain_descriptions(stage) -> token id -> its stage description (V entries)"},
    {"chain_weights", (PyCFunction)corruption_chain_weights, METH_VARARGS,
     "chain_weights(p, dp) -> (F_1..F_{m+1}, w_1..w_{m+1}) at masking probability p"},
    {"chain_kernel", (PyCFunction)corruption_chain_kernel, METH_VARARGS,
     "chain_kernel(p_s, p_t) -> (m+2, m+2) reverse-step kernel"},
    {"chain_scoring_schedule", (PyCFunction)corruption_scoring_schedule, METH_NOARGS,
     "chain_scoring_schedule() -> the finite-variance scoring schedule, as a string"},
    {"classify", (PyCFunction)corruption_classify, METH_O,
     "classify(bytes) -> the class of a token from its bytes alone"},
    {"class_names", (PyCFunction)corruption_class_names, METH_NOARGS,
     "class_names() -> ('other', the class rules' names...)"},
    {NULL, NULL, 0, NULL}};

PyTypeObject pyr_corruption_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pyramask.Corruption",
    .tp_basicsize = sizeof(pyr_corruption),
    .tp_dealloc = (destructor)corruption_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc =
        "Corruption(vocab_size, *, n_types=0, schedule='linear', sampler='stratified',\n"
        "structure='token', n_levels=0, unit_level=0, span_p=0.2, span_max=10, regex='code',\n"
        "block_size=16, types='single', class_rules=None, length_buckets=4,\n"
        "importance_edges=(0.5, 1, 2), importance='none', importance_rules=None,\n"
        "importance_mode='off', importance_strength=1, prior_alpha=0.5, chain=None,\n"
        "chain_shape=0.5): a libmask handle (mask_settings, every name as in mask.h).\n"
        "chain: a list of maps (integer arrays), map 1 over the vocab_size tokens, map l over\n"
        "the descriptions of stage l-1. Not for several threads at once.",
    .tp_methods = corruption_methods,
    .tp_getset = corruption_getset,
    .tp_init = (initproc)corruption_init,
    .tp_new = PyType_GenericNew,
};

int pyr_add_corruption(PyObject *module)
{
    if (PyType_Ready(&pyr_corruption_type))
        return -1;
    Py_INCREF(&pyr_corruption_type);
    if (PyModule_AddObject(module, "Corruption", (PyObject *)&pyr_corruption_type)) {
        Py_DECREF(&pyr_corruption_type);
        return -1;
    }
    return 0;
}
