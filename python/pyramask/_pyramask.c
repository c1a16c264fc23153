/* _pyramask.c: the `pyramask._pyramask` extension module: the exception, the random number
 * generator (GSL's mt19937, as the command uses), and argument conversions shared by the
 * Pyramid (libtok) and Corruption (libmask) types. */
#define PYRAMASK_IMPORT_ARRAY
#include "py_common.h"

#include <gsl/gsl_errno.h>
#include <stdarg.h>

PyObject *pyr_error;

PyObject *pyr_raise(const char *library, int code, const char *msg)
{
    int nomem = !strcmp(library, "tok") ? code == TOK_ENOMEM : code == MASK_E_NOMEM;
    if (nomem)
        return PyErr_NoMemory();
    PyObject *exc = PyObject_CallFunction(pyr_error, "s", msg);
    if (!exc)
        return NULL;
    PyObject *c = PyLong_FromLong(code), *l = PyUnicode_FromString(library);
    if (c && l && !PyObject_SetAttrString(exc, "code", c) &&
        !PyObject_SetAttrString(exc, "library", l))
        PyErr_SetObject(pyr_error, exc);
    Py_XDECREF(c);
    Py_XDECREF(l);
    Py_DECREF(exc);
    return NULL;
}

PyObject *pyr_raisef(const char *library, int code, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return pyr_raise(library, code, buf);
}

PyObject *pyr_tok_error(int rc, const tok_err *e)
{
    return pyr_raise("tok", rc, e && e->msg[0] ? e->msg : tok_strerror(rc));
}

PyObject *pyr_mask_error(int rc, const mask *m, const char *where)
{
    char buf[1024];
    const char *msg = m ? mask_errmsg(m) : mask_strerror(rc);
    if (where) {
        snprintf(buf, sizeof buf, "%s: %s", where, msg);
        msg = buf;
    }
    return pyr_raise("mask", rc, msg);
}

int pyr_text_get(PyObject *o, pyr_text *t, const char *what)
{
    memset(t, 0, sizeof *t);
    if (PyUnicode_Check(o)) {
        t->tmp = PyUnicode_AsUTF8String(o);
        if (!t->tmp)
            return -1;
        o = t->tmp;
    }
    if (PyObject_GetBuffer(o, &t->view, PyBUF_SIMPLE)) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: expected str or a bytes-like object, not %.80s",
                     what, Py_TYPE(o)->tp_name);
        Py_CLEAR(t->tmp);
        return -1;
    }
    t->held = 1;
    return 0;
}

void pyr_text_release(pyr_text *t)
{
    if (t->held)
        PyBuffer_Release(&t->view);
    Py_CLEAR(t->tmp);
    t->held = 0;
}

static int check_ndim(PyArrayObject *a, int mind, int maxd, const char *what)
{
    int nd = PyArray_NDIM(a);
    if (nd < mind || nd > maxd) {
        if (mind == maxd)
            PyErr_Format(PyExc_ValueError, "%s: expected %d dimension(s), got %d", what, mind,
                         nd);
        else
            PyErr_Format(PyExc_ValueError, "%s: expected %d to %d dimensions, got %d", what,
                         mind, maxd, nd);
        return -1;
    }
    return 0;
}

PyArrayObject *pyr_int32_array(PyObject *o, int mind, int maxd, const char *what)
{
    PyArrayObject *a = (PyArrayObject *)PyArray_FROM_O(o);
    if (!a)
        return NULL;
    if (PyArray_SIZE(a) > 0 && !PyArray_ISINTEGER(a) && !PyArray_ISBOOL(a)) {
        PyErr_Format(PyExc_TypeError, "%s: expected integers, got an array of %s", what,
                     PyArray_DESCR(a)->typeobj->tp_name);
        Py_DECREF(a);
        return NULL;
    }
    if (check_ndim(a, mind, maxd, what)) {
        Py_DECREF(a);
        return NULL;
    }
    /* every value must fit: compared in the widest type of its signedness */
    int uns = PyArray_ISUNSIGNED(a);
    PyArrayObject *w = (PyArrayObject *)PyArray_FromAny(
        (PyObject *)a, PyArray_DescrFromType(uns ? NPY_UINT64 : NPY_INT64), 0, 0,
        NPY_ARRAY_CARRAY | NPY_ARRAY_FORCECAST, NULL);
    if (!w) {
        Py_DECREF(a);
        return NULL;
    }
    npy_intp n = PyArray_SIZE(w);
    for (npy_intp i = 0; i < n; i++) {
        int64_t v;
        if (uns) {
            uint64_t u = ((const uint64_t *)PyArray_DATA(w))[i];
            v = u > INT32_MAX ? (int64_t)INT32_MAX + 1 : (int64_t)u;
        } else {
            v = ((const int64_t *)PyArray_DATA(w))[i];
        }
        if (v < INT32_MIN || v > INT32_MAX) {
            PyErr_Format(PyExc_ValueError,
                         "%s: the value at flat index %zd does not fit in "
                         "32 bits",
                         what, (Py_ssize_t)i);
            Py_DECREF(w);
            Py_DECREF(a);
            return NULL;
        }
    }
    Py_DECREF(w);
    PyArrayObject *b = (PyArrayObject *)PyArray_FromAny(
        (PyObject *)a, PyArray_DescrFromType(NPY_INT32), 0, 0,
        NPY_ARRAY_CARRAY | NPY_ARRAY_FORCECAST | NPY_ARRAY_ENSURECOPY, NULL);
    Py_DECREF(a);
    return b;
}

PyArrayObject *pyr_float_array(PyObject *o, int type, int mind, int maxd, const char *what)
{
    PyArrayObject *a = (PyArrayObject *)PyArray_FromAny(
        o, PyArray_DescrFromType(type), 0, 0, NPY_ARRAY_CARRAY | NPY_ARRAY_FORCECAST, NULL);
    if (!a) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: expected an array of numbers", what);
        return NULL;
    }
    if (check_ndim(a, mind, maxd, what)) {
        Py_DECREF(a);
        return NULL;
    }
    return a;
}

/* ---- Rng ---- */

gsl_rng *pyr_rng_of(PyObject *o)
{
    if (!PyObject_TypeCheck(o, &pyr_rng_type)) {
        PyErr_Format(PyExc_TypeError, "expected a pyramask.Rng, not %.80s",
                     Py_TYPE(o)->tp_name);
        return NULL;
    }
    return ((pyr_rng *)o)->r;
}

static int rng_init(pyr_rng *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"seed", NULL};
    unsigned long long seed = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|K", kwlist, &seed))
        return -1;
    if (!self->r && !(self->r = gsl_rng_alloc(gsl_rng_mt19937))) {
        PyErr_NoMemory();
        return -1;
    }
    gsl_rng_set(self->r, (unsigned long)seed);
    return 0;
}

static void rng_dealloc(pyr_rng *self)
{
    if (self->r)
        gsl_rng_free(self->r);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *rng_seed(pyr_rng *self, PyObject *arg)
{
    unsigned long long seed = PyLong_AsUnsignedLongLong(arg);
    if (PyErr_Occurred())
        return NULL;
    gsl_rng_set(self->r, (unsigned long)seed);
    Py_RETURN_NONE;
}

static PyObject *rng_uniform(pyr_rng *self, PyObject *unused)
{
    (void)unused;
    return PyFloat_FromDouble(gsl_rng_uniform(self->r));
}

static PyObject *rng_copy(pyr_rng *self, PyObject *unused)
{
    (void)unused;
    pyr_rng *c = PyObject_New(pyr_rng, &pyr_rng_type);
    if (!c)
        return NULL;
    if (!(c->r = gsl_rng_clone(self->r))) {
        Py_DECREF(c);
        return PyErr_NoMemory();
    }
    return (PyObject *)c;
}

static PyMethodDef rng_methods[] = {
    {"seed", (PyCFunction)rng_seed, METH_O,
     "seed(s): restart the generator from seed s (gsl_rng_set)."},
    {"uniform", (PyCFunction)rng_uniform, METH_NOARGS,
     "uniform() -> float in [0, 1): one draw (gsl_rng_uniform)."},
    {"copy", (PyCFunction)rng_copy, METH_NOARGS,
     "copy() -> Rng: an independent generator in the same state."},
    {NULL, NULL, 0, NULL}};

PyTypeObject pyr_rng_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pyramask.Rng",
    .tp_basicsize = sizeof(pyr_rng),
    .tp_dealloc = (destructor)rng_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Rng(seed=1): GSL's mt19937 generator seeded as gsl_rng_set(r, seed), the\n"
              "generator the pyramask command uses: the same seed gives the same draws.",
    .tp_methods = rng_methods,
    .tp_init = (initproc)rng_init,
    .tp_new = PyType_GenericNew,
};

/* ---- the module ---- */

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "pyramask._pyramask",
    "pyramask's C core: vocabulary pyramids (libtok) and corruptions (libmask).",
    -1,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL};

PyMODINIT_FUNC PyInit__pyramask(void)
{
    import_array();
    gsl_set_error_handler_off(); /* GSL returns codes; it never aborts the interpreter */
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    pyr_error = PyErr_NewExceptionWithDoc(
        "pyramask.Error",
        "An error of libtok or libmask: the message is the library's; `code` is its\n"
        "(negative) error code and `library` is 'tok' or 'mask'.",
        NULL, NULL);
    if (!pyr_error || PyModule_AddObject(m, "Error", pyr_error) ||
        PyType_Ready(&pyr_rng_type) ||
        PyModule_AddObject(m, "Rng", (PyObject *)&pyr_rng_type) || pyr_add_pyramid(m) ||
        pyr_add_corruption(m)) {
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(pyr_error);
    Py_INCREF(&pyr_rng_type);
    PyModule_AddIntConstant(m, "MAX_LEVELS", TOK_MAX_LEVELS);
    PyModule_AddIntConstant(m, "MAX_CHAIN", MASK_MAX_CHAIN);
    PyModule_AddIntConstant(m, "REVEALS_TYPES", MASK_REVEALS_TYPES);
    PyModule_AddIntConstant(m, "REVEALS_LEVELS", MASK_REVEALS_LEVELS);
    PyModule_AddIntConstant(m, "REVEALS_UNITS", MASK_REVEALS_UNITS);
    PyModule_AddIntConstant(m, "REVEALS_RATES", MASK_REVEALS_RATES);
    return m;
}
