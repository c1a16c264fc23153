/* tables.c: the open-addressing hash tables behind a pyramid: token pairs -> merged token,
 * and byte strings -> token id (strings stored outside the table, looked up by offset). */
#include "tok_impl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* calloc would leave fresh pages mapped to the shared zero page, and the first write to each
 * then replaces that mapping: a flush of every other thread's TLB (an interrupt to each core
 * that runs one, costly under a hypervisor) and twice the page faults of writing the zeros
 * here. The memset is called through a volatile pointer, or the compiler turns malloc and
 * memset back into calloc. */
static void *(*volatile const write_zeros)(void *, int, size_t) = memset;

void tok_advise_huge(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t page = 4096;
    if (!p || bytes < ((size_t)4 << 20))
        return;
    uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1),
              b = ((uintptr_t)p + bytes) & ~(page - 1);
    madvise((void *)a, b - a, MADV_HUGEPAGE);
#else
    (void)p;
    (void)bytes;
#endif
}

void *tok_zeroed(size_t n, size_t size)
{
    if (n && size > SIZE_MAX / n)
        return NULL;
    void *p = malloc(n * size);
    tok_advise_huge(p, n * size);
    if (p)
        write_zeros(p, 0, n * size);
    return p;
}

/* Large tables and arrays in 2 MB pages: from 1 MB up, a block of its own that starts on a
 * 2 MB boundary and is a whole number of 2 MB, with 2 MB pages advised, so that its first
 * touches take a fault per 2 MB and not per 4 KB. (malloc's large blocks start 16 bytes into
 * a page: only the 2 MB stretches wholly inside a block can be such pages, none in a block
 * under 4 MB.) Smaller ones come from malloc, which reuses freed memory without faults: a
 * short encoding opens and closes an encoder, and a fresh mapping each time cost 20 times
 * the encoding. */
enum { HUGE_PAGE = 2 << 20, PAGED_FROM = 1 << 20 };

static size_t paged_len(size_t bytes)
{
    return bytes > SIZE_MAX - HUGE_PAGE ? 0 : (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
}

static void advise_paged(void *p, size_t len)
{
#ifdef MADV_HUGEPAGE
    madvise(p, len, MADV_HUGEPAGE);
#else
    (void)p;
    (void)len;
#endif
}

void *tok_table_alloc(size_t bytes, bool zero)
{
    if (bytes < PAGED_FROM)
        return zero ? tok_zeroed(bytes ? bytes : 1, 1) : malloc(bytes ? bytes : 1);
    size_t len = paged_len(bytes);
    if (!len || len > SIZE_MAX - HUGE_PAGE)
        return NULL;
    uint8_t *m = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    uint8_t *p = (uint8_t *)(((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (p > m)
        munmap(m, (size_t)(p - m));
    if (p + len < m + len + HUGE_PAGE)
        munmap(p + len, (size_t)(m + len + HUGE_PAGE - (p + len)));
    advise_paged(p, len);
    if (zero)
        write_zeros(p, 0, bytes);
    return p;
}

void tok_table_free(void *p, size_t bytes)
{
    if (!p)
        return;
    if (bytes < PAGED_FROM)
        free(p);
    else
        munmap(p, paged_len(bytes));
}

void *tok_realloc_paged(void *old, size_t bytes)
{
    if (old) {
        void *p = realloc(old, bytes);
        tok_advise_huge(p, bytes);
        return p;
    }
    if (bytes < PAGED_FROM)
        return malloc(bytes);
    size_t len = paged_len(bytes);
    void *p = NULL;
    if (!len || posix_memalign(&p, HUGE_PAGE, len))
        return NULL;
    advise_paged(p, len);
    return p;
}

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n)
        c <<= 1;
    return c;
}

int tok_pairmap_init(pairmap *m, size_t expect)
{
    m->cap = pow2_at_least(expect * 2 + 1);
    m->n = 0;
    m->slots = malloc(m->cap * sizeof *m->slots);
    if (!m->slots) {
        tok_pairmap_free(m);
        return TOK_ENOMEM;
    }
    memset(m->slots, 0xff, m->cap * sizeof *m->slots); /* every key PAIRMAP_EMPTY */
    return TOK_OK;
}

void tok_pairmap_free(pairmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static int pairmap_grow(pairmap *m)
{
    pairmap g;
    int rc = tok_pairmap_init(&g, m->n); /* twice the slots: the load falls from 1/2 to 1/4 */
    if (rc)
        return rc;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key != PAIRMAP_EMPTY)
            tok_pairmap_put(&g, (int32_t)(m->slots[i].key >> 32),
                            (int32_t)(uint32_t)m->slots[i].key, m->slots[i].val);
    tok_pairmap_free(m);
    *m = g;
    return TOK_OK;
}

int tok_pairmap_put(pairmap *m, int32_t left, int32_t right, int32_t val)
{
    if ((m->n + 1) * 2 > m->cap) {
        int rc = pairmap_grow(m);
        if (rc)
            return rc;
    }
    uint64_t k = pair_key(left, right);
    size_t mask = m->cap - 1, i = mix64(k) & mask;
    while (m->slots[i].key != PAIRMAP_EMPTY && m->slots[i].key != k)
        i = (i + 1) & mask;
    if (m->slots[i].key == PAIRMAP_EMPTY)
        m->n++;
    m->slots[i] = (pair_slot){k, val};
    return TOK_OK;
}

/* 64-bit hash of a byte string (FNV-1a over 8-byte words, then mixed). */
uint64_t tok_hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    for (size_t j = 0; i < n; i++, j += 8)
        w |= (uint64_t)p[i] << j;
    h = (h ^ w) * 0x100000001b3ULL;
    return mix64(h);
}

int tok_bytemap_init(bytemap *m, size_t expect)
{
    m->cap = pow2_at_least(expect * 2 + 1);
    m->n = 0;
    m->slots = malloc(m->cap * sizeof *m->slots);
    if (!m->slots) {
        tok_bytemap_free(m);
        return TOK_ENOMEM;
    }
    memset(m->slots, 0xff, m->cap * sizeof *m->slots);
    return TOK_OK;
}

void tok_bytemap_free(bytemap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static int str_eq(bytestrs s, int32_t id, const uint8_t *p, size_t n)
{
    size_t len = s.off[id + 1] - s.off[id];
    return len == n && memcmp(s.base + s.off[id], p, n) == 0;
}

/* Slot of (p, n): where it is, or the empty slot where it would go. */
static size_t bytemap_slot(const bytemap *m, bytestrs s, const uint8_t *p, size_t n, uint32_t h)
{
    size_t mask = m->cap - 1, i = (h * 0x9e3779b1u) & mask;
    for (;;) {
        byte_slot b = m->slots[i];
        if (b.id < 0 || (b.hash == h && str_eq(s, b.id, p, n)))
            return i;
        i = (i + 1) & mask;
    }
}

static int bytemap_grow(bytemap *m)
{
    size_t ncap = m->cap * 2;
    byte_slot *slots = malloc(ncap * sizeof *slots);
    if (!slots)
        return TOK_ENOMEM;
    memset(slots, 0xff, ncap * sizeof *slots);
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].id < 0)
            continue;
        size_t j = (m->slots[i].hash * 0x9e3779b1u) & (ncap - 1);
        while (slots[j].id >= 0)
            j = (j + 1) & (ncap - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = ncap;
    return TOK_OK;
}

int32_t tok_bytemap_add(bytemap *m, bytestrs s, int32_t id)
{
    if ((m->n + 1) * 2 > m->cap && bytemap_grow(m))
        return TOK_ENOMEM;
    const uint8_t *p = s.base + s.off[id];
    size_t n = s.off[id + 1] - s.off[id];
    uint32_t h = (uint32_t)tok_hash_bytes(p, n);
    size_t i = bytemap_slot(m, s, p, n, h);
    if (m->slots[i].id >= 0)
        return m->slots[i].id;
    m->slots[i] = (byte_slot){id, h};
    m->n++;
    return id;
}

int32_t tok_bytemap_get(const bytemap *m, bytestrs s, const uint8_t *p, size_t n)
{
    uint32_t h = (uint32_t)tok_hash_bytes(p, n);
    return m->slots[bytemap_slot(m, s, p, n, h)].id;
}
