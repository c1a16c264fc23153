/* py_pyramid.c: pyramask.Pyramid, a vocabulary pyramid (libtok) from Python: open, build,
 * import, save, export; encode and decode at every level; the alignment between levels. */
#include "py_common.h"

#include <stdlib.h>

/* A pyramid is immutable once made (tok.h): calls that only read it run without the GIL. */

static pyr_pyramid *pyramid_wrap(PyTypeObject *type, tok *t)
{
    pyr_pyramid *self = (pyr_pyramid *)type->tp_alloc(type, 0);
    if (!self) {
        tok_close(&t);
        return NULL;
    }
    self->t = t;
    return self;
}

static int pyramid_init(pyr_pyramid *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", NULL};
    PyObject *path;
    if (self->t) { /* other threads may be reading it without the GIL */
        PyErr_SetString(PyExc_RuntimeError, "the Pyramid is already open");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&", kwlist, PyUnicode_FSConverter, &path))
        return -1;
    tok *t = NULL;
    tok_err e = {0};
    int rc;
    PyThreadState *ts = PyEval_SaveThread();
    rc = tok_open(&t, PyBytes_AS_STRING(path), &e);
    PyEval_RestoreThread(ts);
    Py_DECREF(path);
    if (rc) {
        pyr_tok_error(rc, &e);
        return -1;
    }
    self->t = t;
    return 0;
}

static void pyramid_dealloc(pyr_pyramid *self)
{
    tok_close(&self->t);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int ready(const pyr_pyramid *self)
{
    if (!self->t) {
        PyErr_SetString(PyExc_ValueError, "the Pyramid was not opened (call __init__)");
        return 0;
    }
    return 1;
}

/* ---- making one ---- */

static PyObject *pyramid_build(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"levels", "corpus",  "texts", "superword",
                             "pretok", "threads", NULL};
    PyObject *levels, *corpus = Py_None, *texts = Py_None;
    long superword = 0, threads = 1;
    const char *pretok = "cl100k";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$OOlsl", kwlist, &levels, &corpus, &texts,
                                     &superword, &pretok, &threads))
        return NULL;
    tok_train_settings s;
    tok_default_train_settings(&s);
    s.pretok = pretok;
    s.superword = (int32_t)superword;
    s.nthreads = (int)threads;
    if (superword < 0 || superword > INT32_MAX || threads < 1 || threads > 64) {
        PyErr_SetString(PyExc_ValueError, "superword must be >= 0 and threads in 1..64");
        return NULL;
    }
    PyObject *lv = PySequence_Fast(levels, "levels: expected a sequence of vocabulary sizes");
    if (!lv)
        return NULL;
    Py_ssize_t nl = PySequence_Fast_GET_SIZE(lv);
    if (nl < 1 || nl > TOK_MAX_LEVELS) {
        Py_DECREF(lv);
        return PyErr_Format(PyExc_ValueError, "levels: 1 to %d sizes, got %zd", TOK_MAX_LEVELS,
                            nl);
    }
    s.nlevels = (int)nl;
    for (Py_ssize_t i = 0; i < nl; i++) {
        long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(lv, i));
        if ((v == -1 && PyErr_Occurred()) || v < 0 || v > INT32_MAX) {
            Py_DECREF(lv);
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "levels: sizes must fit in 32 bits");
            return NULL;
        }
        s.levels[i] = (int32_t)v;
    }
    Py_DECREF(lv);
    if ((corpus == Py_None) == (texts == Py_None))
        return PyErr_Format(PyExc_TypeError, "give corpus (file paths) or texts, not %s",
                            corpus == Py_None ? "neither" : "both");
    int from_files = corpus != Py_None;
    PyObject *seq =
        PySequence_Fast(from_files ? corpus : texts, "corpus and texts must be sequences");
    if (!seq)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **held = calloc((size_t)n + 1, sizeof *held);
    pyr_text *tx = calloc((size_t)n + 1, sizeof *tx);
    const void **bufs = calloc((size_t)n + 1, sizeof *bufs);
    size_t *lens = calloc((size_t)n + 1, sizeof *lens);
    PyObject *result = NULL;
    Py_ssize_t got = 0;
    if (!held || !tx || !bufs || !lens) {
        PyErr_NoMemory();
        goto done;
    }
    for (; got < n; got++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, got);
        if (from_files) {
            if (!PyUnicode_FSConverter(item, &held[got]))
                goto done;
            bufs[got] = PyBytes_AS_STRING(held[got]);
        } else {
            if (pyr_text_get(item, &tx[got], "texts"))
                goto done;
            bufs[got] = tx[got].view.buf;
            lens[got] = (size_t)tx[got].view.len;
        }
    }
    tok *t = NULL;
    tok_err e = {0};
    int rc;
    PyThreadState *ts = PyEval_SaveThread();
    rc = from_files ? tok_train_files(&t, &s, (const char *const *)bufs, (int)n, &e)
                    : tok_train_buffers(&t, &s, bufs, lens, (int)n, &e);
    PyEval_RestoreThread(ts);
    if (rc)
        pyr_tok_error(rc, &e);
    else
        result = (PyObject *)pyramid_wrap(type, t);
done:
    for (Py_ssize_t i = 0; i < got; i++) {
        Py_XDECREF(held ? held[i] : NULL);
        if (tx)
            pyr_text_release(&tx[i]);
    }
    free(held);
    free(tx);
    free(bufs);
    free(lens);
    Py_DECREF(seq);
    return result;
}

static PyObject *pyramid_import(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "pretok", NULL};
    PyObject *path;
    const char *pretok = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|z", kwlist, PyUnicode_FSConverter, &path,
                                     &pretok))
        return NULL;
    tok *t = NULL;
    tok_err e = {0};
    int rc;
    PyThreadState *ts = PyEval_SaveThread();
    rc = tok_import_tiktoken(&t, PyBytes_AS_STRING(path), pretok, &e);
    PyEval_RestoreThread(ts);
    Py_DECREF(path);
    if (rc)
        return pyr_tok_error(rc, &e);
    return (PyObject *)pyramid_wrap(type, t);
}

static PyObject *pyramid_save(pyr_pyramid *self, PyObject *args)
{
    PyObject *path;
    if (!ready(self) || !PyArg_ParseTuple(args, "O&", PyUnicode_FSConverter, &path))
        return NULL;
    tok_err e = {0};
    int rc;
    PyThreadState *ts = PyEval_SaveThread();
    rc = tok_save(self->t, PyBytes_AS_STRING(path), &e);
    PyEval_RestoreThread(ts);
    Py_DECREF(path);
    if (rc)
        return pyr_tok_error(rc, &e);
    Py_RETURN_NONE;
}

static int parse_format(const char *name, tok_format *f)
{
    if (tok_format_parse(name, f)) {
        PyErr_Format(PyExc_ValueError, "unknown export format '%s' (hf, tiktoken)", name);
        return -1;
    }
    return 0;
}

static PyObject *pyramid_export(pyr_pyramid *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "level", "format", NULL};
    PyObject *path;
    int level;
    const char *fmt;
    tok_format f;
    if (!ready(self) ||
        !PyArg_ParseTupleAndKeywords(args, kw, "O&is", kwlist, PyUnicode_FSConverter, &path,
                                     &level, &fmt))
        return NULL;
    if (parse_format(fmt, &f)) {
        Py_DECREF(path);
        return NULL;
    }
    tok_err e = {0};
    int rc;
    PyThreadState *ts = PyEval_SaveThread();
    rc = tok_export(self->t, level, f, PyBytes_AS_STRING(path), &e);
    PyEval_RestoreThread(ts);
    Py_DECREF(path);
    if (rc)
        return pyr_tok_error(rc, &e);
    Py_RETURN_NONE;
}

static PyObject *pyramid_export_check(pyr_pyramid *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"level", "format", NULL};
    int level;
    const char *fmt;
    tok_format f;
    if (!ready(self) || !PyArg_ParseTupleAndKeywords(args, kw, "is", kwlist, &level, &fmt) ||
        parse_format(fmt, &f))
        return NULL;
    tok_err e = {0};
    int rc;
    PyThreadState *ts = PyEval_SaveThread();
    rc = tok_export_check(self->t, level, f, &e);
    PyEval_RestoreThread(ts);
    if (rc)
        return pyr_tok_error(rc, &e);
    Py_RETURN_NONE;
}

/* ---- encoding ---- */

static int level_arg(const pyr_pyramid *self, PyObject *o, int *level)
{
    if (o == Py_None) {
        *level = tok_nlevels(self->t);
        return 0;
    }
    long v = PyLong_AsLong(o);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < 0 || v > tok_nlevels(self->t)) {
        pyr_raisef("tok", TOK_ERANGE, "level %ld: the pyramid has levels 0..%d", v,
                   tok_nlevels(self->t));
        return -1;
    }
    *level = (int)v;
    return 0;
}

static PyObject *array_from(const void *src, npy_intp n, int type, size_t size)
{
    PyObject *a = PyArray_SimpleNew(1, &n, type);
    if (a && n)
        memcpy(PyArray_DATA((PyArrayObject *)a), src, (size_t)n * size);
    return a;
}

static PyObject *sizes_array(const size_t *src, npy_intp n)
{
    PyObject *a = PyArray_SimpleNew(1, &n, NPY_INT64);
    if (a) {
        int64_t *d = PyArray_DATA((PyArrayObject *)a);
        for (npy_intp i = 0; i < n; i++)
            d[i] = (int64_t)src[i];
    }
    return a;
}

static PyObject *pyramid_encode(pyr_pyramid *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"text", "level", "offsets", "threads", NULL};
    PyObject *text, *level_o = Py_None;
    int offsets = 0, threads = 1, level;
    if (!ready(self) || !PyArg_ParseTupleAndKeywords(args, kw, "O|O$pi", kwlist, &text,
                                                     &level_o, &offsets, &threads))
        return NULL;
    if (level_arg(self, level_o, &level))
        return NULL;
    if (threads < 1 || threads > 64)
        return PyErr_Format(PyExc_ValueError, "threads: %d is not in 1..64", threads);
    pyr_text tx;
    if (pyr_text_get(text, &tx, "text"))
        return NULL;
    tok_ids ids = {0};
    int rc;
    PyThreadState *ts = PyEval_SaveThread();
    rc = tok_encode_parallel(self->t, level, tx.view.buf, (size_t)tx.view.len, threads, &ids);
    PyEval_RestoreThread(ts);
    pyr_text_release(&tx);
    if (rc) {
        tok_ids_free(&ids);
        return pyr_tok_error(rc, NULL);
    }
    PyObject *a = array_from(ids.ids, (npy_intp)ids.n, NPY_INT32, sizeof(int32_t));
    PyObject *result = a;
    if (a && offsets) {
        PyObject *s = sizes_array(ids.start, (npy_intp)ids.n);
        result = s ? PyTuple_Pack(2, a, s) : NULL;
        Py_XDECREF(s);
        Py_DECREF(a);
    }
    tok_ids_free(&ids);
    return result;
}

static PyObject *pyramid_decode(pyr_pyramid *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"ids", "level", NULL};
    PyObject *ids_o;
    int level = -1;
    if (!ready(self) || !PyArg_ParseTupleAndKeywords(args, kw, "O|i", kwlist, &ids_o, &level))
        return NULL;
    if (level < -1 || level > tok_nlevels(self->t))
        return pyr_raisef("tok", TOK_ERANGE,
                          "level %d: the pyramid has levels 0..%d (or -1: any)", level,
                          tok_nlevels(self->t));
    PyArrayObject *a = pyr_int32_array(ids_o, 1, 1, "ids");
    if (!a)
        return NULL;
    uint8_t *out = NULL;
    size_t outlen = 0;
    tok_err e = {0};
    int rc =
        tok_decode(self->t, level, PyArray_DATA(a), (size_t)PyArray_SIZE(a), &out, &outlen, &e);
    Py_DECREF(a);
    if (rc)
        return pyr_tok_error(rc, &e);
    PyObject *b = PyBytes_FromStringAndSize((const char *)out, (Py_ssize_t)outlen);
    free(out);
    return b;
}

static int dict_put(PyObject *d, long key, PyObject *v)
{
    PyObject *k = PyLong_FromLong(key);
    int rc = (!k || !v) ? -1 : PyDict_SetItem(d, k, v);
    Py_XDECREF(k);
    Py_XDECREF(v);
    return rc;
}

static PyObject *pyramid_align(pyr_pyramid *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"text", "lo", "hi", NULL};
    PyObject *text, *lo_o = Py_None, *hi_o = Py_None;
    int lo, hi;
    if (!ready(self) ||
        !PyArg_ParseTupleAndKeywords(args, kw, "O|OO", kwlist, &text, &lo_o, &hi_o))
        return NULL;
    if (lo_o == Py_None) {
        lo = 0;
    } else if (level_arg(self, lo_o, &lo)) {
        return NULL;
    }
    if (level_arg(self, hi_o, &hi))
        return NULL;
    if (lo > hi)
        return pyr_raisef("tok", TOK_ERANGE, "lo = %d above hi = %d", lo, hi);
    pyr_text tx;
    if (pyr_text_get(text, &tx, "text"))
        return NULL;
    tok_encoder *enc = NULL;
    tok_align al = {0};
    int rc = tok_encoder_open(&enc, self->t);
    if (!rc) {
        PyThreadState *ts = PyEval_SaveThread();
        rc = tok_encode_aligned(enc, lo, hi, tx.view.buf, (size_t)tx.view.len, &al);
        PyEval_RestoreThread(ts);
    }
    tok_encoder_close(&enc);
    pyr_text_release(&tx);
    if (rc) {
        tok_align_free(&al);
        return pyr_tok_error(rc, NULL);
    }
    PyObject *ids = PyDict_New(), *start = PyDict_New(), *unit = PyDict_New(),
             *first = PyDict_New(), *res = NULL;
    int bad = !ids || !start || !unit || !first;
    for (int k = lo; k <= hi && !bad; k++) {
        bad |= dict_put(ids, k, array_from(al.ids[k], (npy_intp)al.n[k], NPY_INT32, 4));
        bad |= dict_put(start, k, sizes_array(al.start[k], (npy_intp)al.n[k] + 1));
        if (k > lo) {
            bad |= dict_put(unit, k, sizes_array(al.unit[k], (npy_intp)al.n[lo]));
            bad |= dict_put(first, k, sizes_array(al.first[k], (npy_intp)al.n[k] + 1));
        }
    }
    if (!bad)
        res = Py_BuildValue("{s:i,s:i,s:n,s:O,s:O,s:O,s:O}", "lo", lo, "hi", hi, "len",
                            (Py_ssize_t)al.len, "ids", ids, "start", start, "unit", unit,
                            "first", first);
    Py_XDECREF(ids);
    Py_XDECREF(start);
    Py_XDECREF(unit);
    Py_XDECREF(first);
    tok_align_free(&al);
    return res;
}

/* ---- coarsening maps ---- */

static PyObject *pyramid_prefix_map(pyr_pyramid *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"level", "piece_level", NULL};
    int level, piece;
    if (!ready(self) || !PyArg_ParseTupleAndKeywords(args, kw, "ii", kwlist, &level, &piece))
        return NULL;
    int32_t v = tok_vocab_size(self->t, level);
    if (v < 0 || level < 1)
        return pyr_raisef("tok", TOK_ERANGE, "level %d: the pyramid has levels 1..%d", level,
                          tok_nlevels(self->t));
    npy_intp n = v;
    PyObject *a = PyArray_SimpleNew(1, &n, NPY_INT32);
    if (!a)
        return NULL;
    tok_err e = {0};
    int rc = tok_prefix_map(self->t, level, piece, PyArray_DATA((PyArrayObject *)a), &e);
    if (rc) {
        Py_DECREF(a);
        return pyr_tok_error(rc, &e);
    }
    return a;
}

static PyObject *pyramid_prefix_piece_bytes(pyr_pyramid *self, PyObject *args)
{
    int piece;
    long d;
    if (!ready(self) || !PyArg_ParseTuple(args, "il", &piece, &d))
        return NULL;
    size_t n;
    const uint8_t *p =
        d < 0 || d > INT32_MAX ? NULL : tok_prefix_piece_bytes(self->t, piece, (int32_t)d, &n);
    if (!p)
        return pyr_raisef("tok", TOK_ERANGE, "%ld is not a description of prefix:%d", d, piece);
    return PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
}

static PyObject *cluster_map(PyObject *module, PyObject *args, PyObject *kw)
{
    (void)module;
    static char *kwlist[] = {"ids",      "alphabet", "nclusters", "seed",
                             "features", "max_iter", "threads",   NULL};
    PyObject *ids_o;
    int alphabet, nclusters, features = 0, max_iter = 0, threads = 1;
    unsigned long long seed = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "Oii|K$iii", kwlist, &ids_o, &alphabet,
                                     &nclusters, &seed, &features, &max_iter, &threads))
        return NULL;
    tok_cluster_settings s;
    tok_default_cluster_settings(&s);
    if (features)
        s.features = features;
    if (max_iter)
        s.max_iter = max_iter;
    if (threads < 1 || threads > 64)
        return PyErr_Format(PyExc_ValueError, "threads: %d is not in 1..64", threads);
    s.nthreads = threads;
    PyArrayObject *ids = pyr_int32_array(ids_o, 1, 1, "ids");
    if (!ids)
        return NULL;
    npy_intp n = alphabet > 0 ? alphabet : 1;
    PyObject *map = PyArray_SimpleNew(1, &n, NPY_INT32), *res = NULL;
    tok_cluster_stats st = {0};
    tok_err e = {0};
    int rc = TOK_ENOMEM;
    if (map) {
        PyThreadState *ts = PyEval_SaveThread();
        rc = tok_cluster_map(PyArray_DATA(ids), (size_t)PyArray_SIZE(ids), alphabet, nclusters,
                             (uint64_t)seed, &s, PyArray_DATA((PyArrayObject *)map), &st, &e);
        PyEval_RestoreThread(ts);
    }
    Py_DECREF(ids);
    if (rc) {
        Py_XDECREF(map);
        return map ? pyr_tok_error(rc, &e) : NULL;
    }
    res = Py_BuildValue("(O{s:i,s:i,s:i,s:i,s:O,s:d,s:L})", map, "present", st.present,
                        "embedded", st.embedded, "features", st.features, "iterations",
                        st.iterations, "converged", st.converged ? Py_True : Py_False,
                        "objective", st.objective, "nonzeros", (long long)st.nonzeros);
    Py_DECREF(map);
    return res;
}

static PyMethodDef tok_functions[] = {
    {"cluster_map", (PyCFunction)(void (*)(void))cluster_map, METH_VARARGS | METH_KEYWORDS,
     "cluster_map(ids, alphabet, nclusters, seed=1, *, features=512, max_iter=100,\n"
     "threads=1) -> (map, stats): cluster:C, a coarsening map of the ids 0..alphabet-1\n"
     "into nclusters clusters of ids that occur in similar contexts in the corpus `ids`\n"
     "(negative ids are boundaries), k-means on PPMI context vectors (tok_cluster_map).\n"
     "The map is a chain map for Corruption(chain=[...])."},
    {NULL, NULL, 0, NULL}};

/* ---- what the pyramid holds ---- */

static int token_arg(const pyr_pyramid *self, PyObject *args, int32_t *id)
{
    long v;
    if (!ready(self) || !PyArg_ParseTuple(args, "l", &v))
        return -1;
    if (v < 0 || v >= tok_ntokens(self->t)) {
        pyr_raisef("tok", TOK_ERANGE, "token id %ld out of range (the pyramid has ids 0..%d)",
                   v, tok_ntokens(self->t) - 1);
        return -1;
    }
    *id = (int32_t)v;
    return 0;
}

static PyObject *pyramid_token_bytes(pyr_pyramid *self, PyObject *args)
{
    int32_t id;
    if (token_arg(self, args, &id))
        return NULL;
    size_t n;
    const uint8_t *p = tok_token_bytes(self->t, id, &n);
    return PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)n);
}

static PyObject *pyramid_token_level(pyr_pyramid *self, PyObject *args)
{
    int32_t id;
    return token_arg(self, args, &id) ? NULL : PyLong_FromLong(tok_token_level(self->t, id));
}

static PyObject *pyramid_token_stage(pyr_pyramid *self, PyObject *args)
{
    static const char *names[] = {"byte", "subword", "superword"};
    int32_t id;
    if (token_arg(self, args, &id))
        return NULL;
    int s = tok_token_stage(self->t, id);
    return PyUnicode_FromString(s >= 0 && s <= 2 ? names[s] : "unknown");
}

static PyObject *pyramid_token_count(pyr_pyramid *self, PyObject *args)
{
    int32_t id;
    return token_arg(self, args, &id) ? NULL
                                      : PyLong_FromLongLong(tok_token_count(self->t, id));
}

static PyObject *pyramid_token_parts(pyr_pyramid *self, PyObject *args)
{
    int32_t id, l, r;
    if (token_arg(self, args, &id))
        return NULL;
    if (tok_token_parts(self->t, id, &l, &r) < 0 || l < 0)
        Py_RETURN_NONE;
    return Py_BuildValue("(ii)", l, r);
}

static PyObject *pyramid_vocab_size(pyr_pyramid *self, PyObject *args)
{
    int level;
    if (!ready(self) || !PyArg_ParseTuple(args, "i", &level))
        return NULL;
    int32_t v = tok_vocab_size(self->t, level);
    if (v < 0)
        return pyr_raisef("tok", TOK_ERANGE, "level %d: the pyramid has levels 0..%d", level,
                          tok_nlevels(self->t));
    return PyLong_FromLong(v);
}

static PyObject *get_nlevels(pyr_pyramid *self, void *c)
{
    (void)c;
    return ready(self) ? PyLong_FromLong(tok_nlevels(self->t)) : NULL;
}
static PyObject *get_ntokens(pyr_pyramid *self, void *c)
{
    (void)c;
    return ready(self) ? PyLong_FromLong(tok_ntokens(self->t)) : NULL;
}
static PyObject *get_superword(pyr_pyramid *self, void *c)
{
    (void)c;
    return ready(self) ? PyLong_FromLong(tok_superword_level(self->t)) : NULL;
}
static PyObject *get_pretok(pyr_pyramid *self, void *c)
{
    (void)c;
    return ready(self) ? PyUnicode_FromString(tok_pretok(self->t)) : NULL;
}
static PyObject *get_pretok_name(pyr_pyramid *self, void *c)
{
    (void)c;
    return ready(self) ? PyUnicode_FromString(tok_pretok_name(self->t)) : NULL;
}
static PyObject *get_hash(pyr_pyramid *self, void *c)
{
    (void)c;
    if (!ready(self))
        return NULL;
    char h[17];
    tok_hash(self->t, h);
    return PyUnicode_FromString(h);
}

static PyGetSetDef pyramid_getset[] = {
    {"nlevels", (getter)get_nlevels, NULL, "L: the levels are 0 (bytes) .. L", NULL},
    {"ntokens", (getter)get_ntokens, NULL, "all tokens: ids 0 .. ntokens-1", NULL},
    {"superword_level", (getter)get_superword, NULL, "the superword level, or 0", NULL},
    {"pretok", (getter)get_pretok, NULL, "the pre-tokenizer regex", NULL},
    {"pretok_name", (getter)get_pretok_name, NULL, "its preset name, or 'custom'", NULL},
    {"hash", (getter)get_hash, NULL, "content hash of what defines the encoding", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef pyramid_methods[] = {
    {"build", (PyCFunction)(void (*)(void))pyramid_build,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "build(levels, *, corpus=None, texts=None, superword=0, pretok='cl100k', threads=1)\n"
     "-> Pyramid: trains a pyramid on files (corpus: paths) or on texts (str or bytes),\n"
     "as `pyramask vocab build`; the result does not depend on threads."},
    {"import_tiktoken", (PyCFunction)(void (*)(void))pyramid_import,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "import_tiktoken(path, pretok=None) -> Pyramid: a tiktoken rank file as a one-level\n"
     "pyramid that encodes as tiktoken does."},
    {"save", (PyCFunction)pyramid_save, METH_VARARGS,
     "save(path): writes the .pyr file atomically."},
    {"export", (PyCFunction)(void (*)(void))pyramid_export, METH_VARARGS | METH_KEYWORDS,
     "export(path, level, format): level as 'hf' (tokenizer.json) or 'tiktoken' (rank\n"
     "file, pat_str = self.pretok) with the same ids; raises Error where the format cannot\n"
     "express the level (see `pyramask vocab export --help`)."},
    {"export_check", (PyCFunction)(void (*)(void))pyramid_export_check,
     METH_VARARGS | METH_KEYWORDS,
     "export_check(level, format): raises Error with the reason if export would refuse."},
    {"encode", (PyCFunction)(void (*)(void))pyramid_encode, METH_VARARGS | METH_KEYWORDS,
     "encode(text, level=None, *, offsets=False, threads=1) -> int32 array of ids at\n"
     "level (default: the top level); with offsets=True, (ids, start byte of each)."},
    {"decode", (PyCFunction)(void (*)(void))pyramid_decode, METH_VARARGS | METH_KEYWORDS,
     "decode(ids, level=-1) -> bytes; with level >= 0 every id must belong to it."},
    {"align", (PyCFunction)(void (*)(void))pyramid_align, METH_VARARGS | METH_KEYWORDS,
     "align(text, lo=0, hi=None) -> dict: the encodings at levels lo..hi and how they\n"
     "nest: 'ids'[k] (n[k]), 'start'[k] (n[k] + 1 byte offsets), for k > lo 'unit'[k]\n"
     "(n[lo]: the level-k token holding each level-lo token) and 'first'[k] (n[k] + 1:\n"
     "the first level-lo token of each level-k token), 'lo', 'hi', 'len'."},
    {"prefix_map", (PyCFunction)(void (*)(void))pyramid_prefix_map,
     METH_VARARGS | METH_KEYWORDS,
     "prefix_map(level, piece_level) -> int32 array: prefix:N, each token of `level` as\n"
     "its first piece at level piece_level (a token id of that level; tok_prefix_map),\n"
     "a chain map for Corruption(chain=[...])."},
    {"prefix_piece_bytes", (PyCFunction)pyramid_prefix_piece_bytes, METH_VARARGS,
     "prefix_piece_bytes(piece_level, d) -> the bytes of description d of prefix:N"},
    {"vocab_size", (PyCFunction)pyramid_vocab_size, METH_VARARGS,
     "vocab_size(level) -> tokens at that level."},
    {"token_bytes", (PyCFunction)pyramid_token_bytes, METH_VARARGS, "token_bytes(id) -> bytes"},
    {"token_level", (PyCFunction)pyramid_token_level, METH_VARARGS,
     "token_level(id) -> the first level holding the token"},
    {"token_stage", (PyCFunction)pyramid_token_stage, METH_VARARGS,
     "token_stage(id) -> 'byte', 'subword' or 'superword'"},
    {"token_count", (PyCFunction)pyramid_token_count, METH_VARARGS,
     "token_count(id) -> its count in the training corpus (0 if unknown)"},
    {"token_parts", (PyCFunction)pyramid_token_parts, METH_VARARGS,
     "token_parts(id) -> (left, right) merge parts, or None"},
    {NULL, NULL, 0, NULL}};

PyTypeObject pyr_pyramid_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pyramask.Pyramid",
    .tp_basicsize = sizeof(pyr_pyramid),
    .tp_dealloc = (destructor)pyramid_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Pyramid(path): a vocabulary pyramid opened from a .pyr file (libtok).\n"
              "Pyramid.build(...) trains one, Pyramid.import_tiktoken(...) imports one.",
    .tp_methods = pyramid_methods,
    .tp_getset = pyramid_getset,
    .tp_init = (initproc)pyramid_init,
    .tp_new = PyType_GenericNew,
};

int pyr_add_pyramid(PyObject *module)
{
    if (PyType_Ready(&pyr_pyramid_type))
        return -1;
    Py_INCREF(&pyr_pyramid_type);
    if (PyModule_AddObject(module, "Pyramid", (PyObject *)&pyr_pyramid_type)) {
        Py_DECREF(&pyr_pyramid_type);
        return -1;
    }
    return PyModule_AddFunctions(module, tok_functions);
}
