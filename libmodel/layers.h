/* layers.h: libmodel's forward/backward kernels, llm.c's argument order (outputs, inputs,
 * dimensions); each backward accumulates (+=) into its gradient outputs. Private header:
 * like every external name of libmodel, the kernels carry the model_ prefix. */
#ifndef PYRAMASK_MODEL_LAYERS_H
#define PYRAMASK_MODEL_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "pool.h"

/* out (N, C) = wte[inp[n]]; wte (Vin, C); N = B*T (positions enter in the attention) */
void model_encoder_forward(float *out, const int32_t *inp, const float *wte, int N, int C,
                           pool *p);
void model_encoder_backward(float *dwte, const float *dout, const int32_t *inp, int N, int C,
                            pool *p);

/* out (N, C) = (inp - mean) * rstd * weight + bias; mean, rstd (N) cached for backward */
void model_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                             const float *weight, const float *bias, int N, int C, pool *p);
void model_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                              const float *inp, const float *weight, const float *mean,
                              const float *rstd, int N, int C, pool *p);

/* out (N, OC) = (res ? res : 0) + inp (N, C) @ weight (OC, C)^T + bias (OC, may be NULL);
 * res may equal out (in-place residual add). */
void model_matmul_forward(float *out, const float *res, const float *inp, const float *weight,
                          const float *bias, int N, int C, int OC, pool *p);
/* dinp (N, C) = dinp_beta * dinp + dout @ weight (beta 1 accumulates, 0 overwrites);
 * dweight (OC, C) += dout^T @ inp; dbias (OC) += sum dout. dinp may be NULL. */
void model_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, int N, int C, int OC,
                           float dinp_beta, pool *p);
/* The MLP's two halves with the GELU between them done in the products' row slices:
 * h = inp @ weight^T + bias and gelu_out = GELU(h); out keeps h, or with grad GELU'(h),
 * all the backward needs of h, made while the rows are in cache. Going back, dinp =
 * gelu_grad * (dout @ weight) (dinp overwritten; gelu_grad: a forward's out with grad)
 * with the weight and bias gradients of model_matmul_backward, and dinp_bias (C, may be
 * NULL) += column sums of dinp (the first half's bias gradient, model_bias_backward's
 * sums, taken from each row slice of dinp while it is in cache). The same bits as the
 * separate calls. */
void model_matmul_gelu_forward(float *out, float *gelu_out, const float *inp,
                               const float *weight, const float *bias, int N, int C, int OC,
                               int grad, pool *p);
void model_matmul_gelu_backward(float *dinp, float *dinp_bias, float *dweight, float *dbias,
                                const float *dout, const float *inp, const float *weight,
                                const float *gelu_grad, int N, int C, int OC, pool *p);

/* dbias (OC) += column sums of dout (N, OC); each thread owns a slice of the columns, so
 * the sums run in one order for any thread count */
void model_bias_backward(float *dbias, const float *dout, int N, int OC, pool *p);

/* out (N) = GELU(inp), tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
void model_gelu_forward(float *out, const float *inp, size_t N, pool *p);
/* dinp = GELU'(inp) * dout: overwrites, and dinp may be dout (in place) */
void model_gelu_backward(float *dinp, const float *inp, const float *dout, size_t N, pool *p);

/* Positions are relative, in two ways:
 * - rotary embedding (RoPE, RoFormer): in each head of size hs = C/H, the pairs
 *   (2i, 2i+1) of q and k at position t are rotated by the angle t * theta_i,
 *   theta_i = ROPE_BASE^(-2i/hs) (an odd last dimension stays as it is), so q.k depends
 *   on the offset only;
 * - ALiBi distance bias: head h adds -model_alibi_slope(h) * |t - j| to the scores, slopes
 *   2, 1, 1/2, ... (2^(1-h)): every head starts out looking near, the steep heads at the
 *   neighbours, which a masked position needs first (a learned attention pattern would
 *   have to be found from uniform attention, a long plateau). */
#define ROPE_BASE 10000.0
/* rope (maxT, hs/2, 2): cos and sin of t * theta_i */
void model_rope_table(float *rope, int maxT, int hs);
/* Rotates the q and k parts of qkv (B, T, 3C) in place. */
void model_rope_forward(float *qkv, const float *rope, int B, int T, int C, int H, pool *p);
/* The gradient through model_rope_forward, in place on dqkv: the inverse rotation. */
void model_rope_backward(float *dqkv, const float *rope, int B, int T, int C, int H, pool *p);
float model_alibi_slope(int h);

/* Multi-head self-attention on the packed qkv (B, T, 3C) = [q | k | v] (q and k rotated),
 * heads of C/H, ALiBi bias on the scores: out (B, T, C); keep: att (B, H, T, T) gets the
 * softmax probabilities (causal: zero above the diagonal) for the backward; 0: att is
 * model_pool_size(p) x T x T scratch. Heads run in parallel, each its own small sgemms. */
void model_attention_forward(float *out, float *att, const float *qkv, int B, int T, int C,
                             int H, int causal, int keep, pool *p);
/* The attention's output at query rows only, for a forward that needs no more (full
 * attention, nothing kept): out (M, C) row i = model_attention_forward's row rows[i] (rows
 * ascending, positions n = b T + t of qkv (B, T, 3C)), bit for bit where the per-head
 * products are libmodel's own kernels (AVX2, AVX-512); scratch: model_pool_size(p) x T x T
 * floats. */
void model_attention_rows_forward(float *out, float *scratch, const float *qkv, const int *rows,
                                  int M, int B, int T, int C, int H, pool *p);
/* dqkv (B, T, 3C) = the gradient (overwritten, every entry); scratch:
 * model_pool_size(p) * T * T floats. */
void model_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                              const float *att, int B, int T, int C, int H, pool *p);

/* Block-sparse attention patterns of block mode (blocks of blk positions, T positions):
 * - MODEL_ATT_BLOCK, one sequence of R = T rows: a row of block k attends to the rows of
 *   blocks 0..k (decoding: the clean blocks before the block being denoised, and itself);
 * - MODEL_ATT_PAIR, R = 2T rows [x_t ; x_0] (BD3-LM's training pass): a noisy row of block k
 *   attends to the clean rows of blocks < k and the noisy rows of block k; a clean row of
 *   block k to the clean rows of blocks <= k. Row t and row T + t share position t (RoPE
 *   angle, ALiBi distance).
 * The rows of a block form a group whose allowed keys are one or two contiguous ranges of
 * rows; only those scores are computed (sgemm per range) and stored, compactly: per
 * (batch, head), group g's probabilities are an (nr, nk[0] + nk[1]) matrix at off. */
enum { MODEL_ATT_FULL, MODEL_ATT_CAUSAL, MODEL_ATT_BLOCK, MODEL_ATT_PAIR };
typedef struct model_att_mask {
    int kind; /* MODEL_ATT_* */
    int T;    /* positions per sequence */
    int blk;  /* block size, dividing T (BLOCK and PAIR) */
} model_att_mask;
typedef struct model_att_group {
    int r0, nr;               /* its query rows [r0, r0 + nr) */
    int nrange, k0[2], nk[2]; /* key rows [k0[r], k0[r] + nk[r]), r < nrange (nk may be 0) */
    size_t off;               /* where its probabilities start in the head's att */
} model_att_group;
/* floats of att per (batch, head) for R rows per sequence */
size_t model_att_head_size(const model_att_mask *mk, int R);
/* the number of query groups (BLOCK and PAIR) and group g */
int model_att_groups(const model_att_mask *mk);
model_att_group model_att_group_of(const model_att_mask *mk, int g);
/* As model_attention_forward on qkv (B, R, 3C) with a BLOCK or PAIR pattern; att: B H
 * model_att_head_size floats with keep, else model_pool_size(p) x R x R scratch. */
void model_attention_blocked_forward(float *out, float *att, const float *qkv, int B, int R,
                                     int C, int H, const model_att_mask *mk, int keep, pool *p);
/* Its gradient: dqkv (B, R, 3C) overwritten; scratch model_pool_size(p) x R x R floats. */
void model_attention_blocked_backward(float *dqkv, float *scratch, const float *dout,
                                      const float *qkv, const float *att, int B, int R, int C,
                                      int H, const model_att_mask *mk, pool *p);

/* OpenBLAS runs single-threaded; the pool does the parallel work (see model_gemm). */
void model_init_blas(void);
/* C (M, N) = alpha op(A) op(B) + beta C, row-major, op = transpose when ta/tb; on the
 * pool (gemm.c). */
void model_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc, pool *p);
/* Work on rows [lo, hi) of a product's C, done next to the product while those rows are in
 * cache: `pre` before (filling C for beta = 1), `post` after (an element-wise pass on the
 * result). Either may be NULL. */
typedef void (*model_rows_fn)(void *ctx, size_t lo, size_t hi);
typedef struct model_gemm_rows {
    model_rows_fn pre, post;
    void *ctx;
} model_gemm_rows;
/* model_gemm with row work: each slice of C's rows gets pre, its product, then post, on the
 * thread that computes it. Products cut by columns or along K run pre over every row first
 * and post after, on the pool. The bits are model_gemm's with the passes apart. */
/* model_rope_forward (sign 1) or _backward (sign -1) on rows [lo, hi) of x (N, 3C), row n
 * at position n % T: a model_rows_fn for the products beside which it runs */
typedef struct model_rope_ctx {
    float *x;
    const float *rope;
    int T, C, H;
    float sign;
} model_rope_ctx;
void model_rope_rows(void *ctx, size_t lo, size_t hi);
/* model_matmul_forward, then post(post_ctx, lo, hi) (if not NULL) on each row slice of
 * out while it is in cache; model_matmul_backward, with pre(pre_ctx, lo, hi) first on each
 * row slice of dout, before the product that reads it (dinp not NULL): the same bits as
 * running them over the whole tensor between the calls. */
void model_matmul_forward_post(float *out, const float *res, const float *inp,
                               const float *weight, const float *bias, int N, int C, int OC,
                               model_rows_fn post, void *post_ctx, pool *p);
void model_matmul_backward_pre(float *dinp, float *dweight, float *dbias, float *dout,
                               const float *inp, const float *weight, int N, int C, int OC,
                               float dinp_beta, model_rows_fn pre, void *pre_ctx, pool *p);
void model_gemm_rows_run(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                         int lda, const float *B, int ldb, float beta, float *C, int ldc,
                         const model_gemm_rows *rows, pool *p);
/* The same product on the calling thread alone, for the attention's per-head products
 * (a few hundred rows and columns, K of a head or of T): a direct AVX-512 kernel where the
 * CPU has one, else a direct AVX2 one with the same bits, else cblas_sgemm. With tb, pack
 * holds K x N floats (B transposed into it); NULL there means cblas_sgemm. Each entry sums
 * over k in order (fused multiply-adds). */
void model_gemm_head(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc, float *pack);

/* The classifier's product C (M, N) = A (M, K) B^T for B (N, K) on CPUs with AVX2 and no
 * AVX-512 (model_panels_wanted), a few rows at a time beside their softmax: B packed once
 * into panels of MODEL_PANEL columns (K x MODEL_PANEL floats each, k-major, zeros past N),
 * panels [q0, q1) by model_pack_panels; each entry of C summed over k in order with fused
 * multiply-adds, the bits of model_gemm_head's. */
#define MODEL_PANEL 16
int model_panels_wanted(void);
/* Which AVX2 kernels run: -1 (the default) the CPU's own choice, panels and the per-head
 * AVX2 kernel where it has AVX2 and no AVX-512; 1 both wherever it has AVX2 (the tests, to
 * reach them on any machine); 0 no panels. Not thread-safe: set it first. */
void model_avx2_mode(int mode);
void model_pack_panels(const float *B, int N, int K, int ldb, float *pack, int q0, int q1);
void model_gemm_panels(int M, int N, int K, const float *A, int lda, const float *pack,
                       float *C, int ldc);

/* The index of x in the increasing a[0..n), or -1 (binary search). */
static inline int model_find(const int32_t *a, int n, int32_t x)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (a[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && a[lo] == x ? lo : -1;
}

/* The indices k into the increasing s[0..ns) whose s[k] is in the increasing a[0..na),
 * increasing, into idx (room for min(na, ns)); returns how many. */
int model_intersect(int32_t *idx, const int32_t *a, int na, const int32_t *s, int ns);
/* log sum_i exp(l[idx[i]]), -inf for none (or all -inf) */
float model_lse_at(const float *l, const int32_t *idx, int n);

/* The membership layout and the batch's description rows, for the output layers. A target
 * id >= first_id is description (id - first_id), whose members are
 * members[start[e] .. start[e+1]). The description rows come in groups: group g holds the
 * rows [grp_first[g], grp_first[g+1]) whose input is description grp_desc[g], their logits
 * (|members| each) at logits + row_off[r], the groups in (colour, description) order, the
 * descriptions of one colour disjoint. */
typedef struct model_desc_rows {
    int32_t first_id; /* V + K */
    const int32_t *start, *members, *colour;
    int max; /* the largest member set */
    int n_groups;
    const int *grp_desc, *grp_first;
    const size_t *row_off;
    float *scratch; /* (threads, stride): 2 max C + 2 max floats each */
    size_t stride;
} model_desc_rows;

/* The output layer over compacted rows (SUBS: only rows whose input is a mask id, an edit
 * id or a description; causal mode: all). rows (M): positions in 0..N-1; inp (N): their
 * input ids (a mask id V+k, k < K, picks prior row k). Rows 0..Mf-1 (mask and edit ids) go
 * through the full product over W >= V output classes (W = V + 2 with edit classes), rows
 * Mf..M-1 (descriptions, d; only when W = V) through model_restricted_forward.
 * h (M, C) = lnf[rows]; logits (Mf, W) = h @ wout^T + bout (+ prior[k] on the first V);
 * lse (M) the row log-sum-exp over its state set; logp (M) = log p(target) (targets NULL:
 * not computed): logits[target] - lse for a class < W, and for a description target the
 * log-sum-exp of its members' logits (kept in tlse (M)) - lse. d may be NULL without a
 * layout. amax (Mf, may be NULL): each full row's first index of its largest logit over the
 * vocabulary, found while the row is in cache. dscale (Mf, may be NULL; with targets): a
 * training forward's per-row loss scale, with which the full rows of a class target leave
 * their dlogits (model_classifier_backward's, the same bits) in place of their logits, made
 * while the row is in cache; the backward is then told so (fused). keep 0: nothing will
 * read the full rows' logits afterwards (scoring), and they may be left out of logits. */
void model_classifier_forward(float *h, float *logits, float *lse, float *logp, float *tlse,
                              int32_t *amax, const float *lnf, const int *rows,
                              const int32_t *inp, const int32_t *targets, const float *wout,
                              const float *bout, const float *prior, const model_desc_rows *d,
                              const float *dscale, int keep, int M, int Mf, int C, int V, int K,
                              int W, pool *p);
/* Gradient of sum_r scale[r] * (-logp[r]): dlogits written in place of logits (fused: the
 * forward did so for the full rows of a class target, with dscale = scale), then
 * dwout += dlogits^T h, dbout += sum dlogits, dlnf[rows] += dlogits @ wout (dh: M x C
 * scratch; rows of W classes); the description rows through model_restricted_backward. */
void model_classifier_backward(float *dlnf, float *dwout, float *dbout, float *dh,
                               float *logits, const float *lse, const float *tlse,
                               const float *h, const int *rows, const int32_t *targets,
                               const float *scale, const float *wout, const model_desc_rows *d,
                               int fused, int M, int Mf, int C, int V, int W, pool *p);

/* The description rows' restricted output: per group, logits (rows, |S|) = h[rows] wout[S]^T
 * + bout[S] with S its members (one sgemm on a gathered copy of wout[S]), lse over S, and
 * with targets logp = lse of (target's set n S) - lse (tlse: the former). */
void model_restricted_forward(float *logits, float *lse, float *logp, float *tlse,
                              const float *h, const int *rows, const int32_t *targets,
                              const float *wout, const float *bout, const model_desc_rows *d,
                              int C, int V, pool *p);
/* Its gradient for sum_r scale[r] (-logp[r]): dlogits in place, dh (rows) overwritten,
 * dwout[S] and dbout[S] accumulated, one colour of groups at a time (deterministic). */
void model_restricted_backward(float *dwout, float *dbout, float *dh, float *logits,
                               const float *lse, const float *tlse, const float *h,
                               const int *rows, const int32_t *targets, const float *scale,
                               const float *wout, const model_desc_rows *d, int C, int V,
                               pool *p);

#endif
