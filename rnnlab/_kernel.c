/* The SimpleRNN's recurrence, its BPTT and its tangents, and the LSTM's and GRU's recurrence, BPTT and tangents,
   as plain loops over steps, compiled once per machine (rnnlab/kernel.py). Shared pieces first (rows_times: rows of
   a state times a matrix; norm: a scaled 2-norm; BY_SIZE: constant state sizes), then one DEFINE_<cell> per cell
   and precision, which exports <cell>_forward, <cell>_backward and <cell>_tangent (DEFINE_GATED: lstm_* and gru_*,
   whose equations it states; their tangents and state adjoints in DEFINE_GATED_TANGENT, at the end), and the
   cell's name in kernel.CELLS; outer_sum (a weight gradient summed over all steps) serves every cell.

   Forward, in place:   s_t ← φ(s_t + A_h·h_{t-1}),   s_t holding u_t = A_x·x_t + b on entry,   h_{-1} = h0
   From token ids:      h_t = φ(P[id_t] + A_h·h_{t-1}),   P = E·A_xᵀ + b (simple_rnn_lookup_forward, inference)
   Backward:            δ_t = g_t ⊙ φ'(z_t),   g_t = ∂L/∂h_t (output) + δ_{t+1}·A_h,   t = T-1 … 0
   Tangents:            τ_t = φ'(z_t) ⊙ (A_h·τ_{t-1}),   K directions per sequence (memory.influence_curve,
                        and renormalised each step for memory.lyapunov_exponent), and ‖τ_t‖ per sequence

   Arrays are C-contiguous, time-major: s, delta (T, B, H); h0 (B, H). g_out is read at
   g_out[t·gt + b·gb + j], so that a batch-major gradient needs no copy. The forward reads A_hᵀ (H, H) so that its
   inner loop runs along contiguous memory; the backward reads A_h (H, H). φ: 0 tanh, 1 relu, 2 linear.
   Denormals are flushed to zero during each call (they make x86 arithmetic many times slower), then restored.

   tanh in float32 is the rational approximation that Eigen and XLA use (13/6 odd/even polynomials on [-7.9, 7.9],
   max error a few ulp; exactly ±1 past |x| = 9, as tanh rounds there), which vectorises; float64 calls libm's
   tanh. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#define FLUSH_ON() unsigned int csr_ = _mm_getcsr(); _mm_setcsr(csr_ | 0x8040)
#define FLUSH_OFF() _mm_setcsr(csr_)
#else
#define FLUSH_ON()
#define FLUSH_OFF()
#endif

static inline float tanh_f32(float v) {
    const float c = 7.90531110763549805f; /* clamped with comparisons, which pass a NaN on (fminf would drop it) */
    const float x = v < -c ? -c : v > c ? c : v;
    float x2 = x * x;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    p = p * x;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    const float r = fabsf(x) < 0.0004f ? x : p / q;
    return fabsf(v) > 9.0f ? copysignf(1.0f, v) : r; /* past 9, tanh rounds to ±1 in float32: saturate exactly */
}

/* σ(v) = ½ + ½·tanh(v/2) in float32, so that the gates share tanh's one approximation (σ saturates exactly to 0
   and 1 past |v| = 18, where σ − 0 < 1.6e-8); libm's exp in float64, 1/(1 + e^{-v}), which keeps σ's relative
   accuracy far into its tail. Both pass a NaN on. */
static inline float sigmoid_f32(float v) { return 0.5f + 0.5f * tanh_f32(0.5f * v); }
static inline double sigmoid_f64(double v) { return 1 / (1 + exp(-v)); }

#define PHI(REAL, TANH, v, nl) ((nl) == 0 ? TANH(v) : (nl) == 1 ? ((v) < 0 ? (REAL)0 : (v)) : (v)) /* NaN stays NaN */
#define DPHI(REAL, h, nl) ((nl) == 0 ? (REAL)1 - (h) * (h) : (nl) == 1 ? (REAL)((h) > 0) : (REAL)1)

/* z_r[i] += Σ_j a_r[j]·M[j, i], j < K, i < N (M's rows ld apart), for two rows r at once (two independent chains
   of multiply-adds keep the FPU busy). Inlined with constant sizes for the usual state sizes, so that the compiler
   keeps z in registers. rows_times is the square case (K = N = ld = H); the gated cells call it on blocks of A_hᵀ
   and A_h (batch_times). */
#define ROWS_TIMES(REAL)                                                                                           \
static inline __attribute__((always_inline)) void rows_times_wide_##REAL(int64_t K, int64_t N, int64_t ld,         \
        int64_t rows, REAL *restrict z0, REAL *restrict z1, const REAL *restrict a0, const REAL *restrict a1,      \
        const REAL *restrict M) {                                                                                  \
    if (rows == 2) {                                                                                               \
        for (int64_t j = 0; j < K; j++) {                                                                          \
            const REAL b0 = a0[j], b1 = a1[j], *restrict m = M + j * ld;                                           \
            for (int64_t i = 0; i < N; i++) { z0[i] += b0 * m[i]; z1[i] += b1 * m[i]; }                            \
        }                                                                                                          \
    } else {                                                                                                       \
        for (int64_t j = 0; j < K; j++) {                                                                          \
            const REAL b0 = a0[j], *restrict m = M + j * ld;                                                       \
            for (int64_t i = 0; i < N; i++) z0[i] += b0 * m[i];                                                    \
        }                                                                                                          \
    }                                                                                                              \
}                                                                                                                  \
static inline __attribute__((always_inline)) void rows_times_##REAL(int64_t H, int64_t rows, REAL *restrict z0,     \
        REAL *restrict z1, const REAL *restrict h0, const REAL *restrict h1, const REAL *restrict M) {             \
    rows_times_wide_##REAL(H, H, H, rows, z0, z1, h0, h1, M);                                                      \
}

/* Calls f with H as a constant for the usual state sizes (the compiler then unrolls and keeps rows in registers),
   with the runtime H otherwise. */
#define BY_SIZE(f, H, ...)                                                                                         \
    switch (H) {                                                                                                   \
        case 8: f(8, __VA_ARGS__); break;                                                                          \
        case 16: f(16, __VA_ARGS__); break;                                                                        \
        case 32: f(32, __VA_ARGS__); break;                                                                        \
        case 64: f(64, __VA_ARGS__); break;                                                                        \
        case 128: f(128, __VA_ARGS__); break;                                                                      \
        case 256: f(256, __VA_ARGS__); break;                                                                      \
        default: f(H, __VA_ARGS__);                                                                                \
    }

/* The body of an exported function: denormals flushed while f runs, with H as BY_SIZE gives it. */
#define FLUSHED(f, H, ...) { FLUSH_ON(); BY_SIZE(f, H, __VA_ARGS__) FLUSH_OFF(); }

#define DEFINE_COMMON(REAL, SUFFIX)                                                                                 \
ROWS_TIMES(REAL)                                                                                                   \
/* ‖v‖ of m values as a double, exact wherever a double holds it. A float's square always fits a double;           \
   doubles are first multiplied by the power of two 2^-e that brings the largest |v_i| near 1 (LAPACK's scaling,   \
   without its divisions), so that no square underflows (below 1.5e-154, which the flushing would zero) or         \
   overflows. An inf gives inf, a NaN NaN. Eight lanes of partial sums let the compiler vectorise the sums. */     \
static inline __attribute__((always_inline)) double norm_##SUFFIX(int64_t m, const REAL *restrict v) {             \
    double f = 1, unscale = 1, top[8] = {0}, acc[8] = {0};                                                         \
    int64_t i;                                                                                                     \
    if (sizeof(REAL) == sizeof(double)) {                                                                          \
        for (i = 0; i + 8 <= m; i += 8)                                                                            \
            for (int l = 0; l < 8; l++) top[l] = fabs(v[i + l]) > top[l] ? fabs(v[i + l]) : top[l];                \
        for (; i < m; i++) top[0] = fabs(v[i]) > top[0] ? fabs(v[i]) : top[0];                                     \
        for (int l = 1; l < 8; l++) top[0] = top[l] > top[0] ? top[l] : top[0];                                    \
        if ((top[0] > 0 && top[0] < 0x1p-300) || (top[0] > 0x1p300 && top[0] < INFINITY)) { /* else all fit */     \
            int e;                                                                                                 \
            frexp(top[0], &e);                                                                                     \
            e = e > 1000 ? 1000 : e < -1000 ? -1000 : e; /* 2^±1000 are normal doubles */                          \
            f = ldexp(1.0, -e), unscale = ldexp(1.0, e);                                                           \
        }                                                                                                          \
    }                                                                                                              \
    for (i = 0; i + 8 <= m; i += 8)                                                                                \
        for (int l = 0; l < 8; l++) acc[l] += ((double)v[i + l] * f) * ((double)v[i + l] * f);                     \
    for (; i < m; i++) acc[0] += ((double)v[i] * f) * ((double)v[i] * f);                                          \
    double sum = 0;                                                                                                \
    for (int l = 0; l < 8; l++) sum += acc[l];                                                                     \
    return sqrt(sum) * unscale;                                                                                    \
}

/* Half the vector register file, in bytes: the SimpleRNN's loops take four rows of a state at once where their
   accumulators fit there (4·H·sizeof(REAL) bytes), else two. Four rows of 32 floats made the forward a third
   faster with AVX-512, and a fifth slower with AVX2's sixteen registers, where they spill. */
#if defined(__AVX512F__)
#define REGISTER_BYTES 1024
#elif defined(__AVX__) || defined(__aarch64__)
#define REGISTER_BYTES 256
#else
#define REGISTER_BYTES 128
#endif

#define DEFINE_SIMPLE_RNN(REAL, SUFFIX, TANH, TINY)                                                                \
/* rows_times for four consecutive rows, z (4, H) += h (4, H)·M: twice the independent chains of multiply-adds,    \
   which hides more of their latency, and the same sums in the same order (the same numbers bit for bit). */        \
static inline __attribute__((always_inline)) void rows4_times_##SUFFIX(int64_t H, REAL *restrict z,               \
        const REAL *restrict h, const REAL *restrict M) {                                                          \
    for (int64_t j = 0; j < H; j++) {                                                                              \
        const REAL a0 = h[j], a1 = h[H + j], a2 = h[2 * H + j], a3 = h[3 * H + j], *restrict m = M + j * H;        \
        for (int64_t i = 0; i < H; i++) {                                                                          \
            z[i] += a0 * m[i]; z[H + i] += a1 * m[i]; z[2 * H + i] += a2 * m[i]; z[3 * H + i] += a3 * m[i];        \
        }                                                                                                          \
    }                                                                                                              \
}                                                                                                                  \
/* How many of the `left` rows to take at once: four where their accumulators fit in REGISTER_BYTES, else two. */  \
static inline __attribute__((always_inline)) int64_t rows_at_once_##SUFFIX(int64_t H, int64_t left) {             \
    return left >= 4 && 4 * H * (int64_t)sizeof(REAL) <= REGISTER_BYTES ? 4 : left >= 2 ? 2 : 1;                  \
}                                                                                                                  \
/* rows_times for eight consecutive rows, z (8, H) += h (8, H)·M, for the lookup forward: with AVX-512 at H = 32   \
   their sixteen accumulators fill half the registers, and the states came 11% faster than with four rows. */     \
static inline __attribute__((always_inline)) void rows8_times_##SUFFIX(int64_t H, REAL *restrict z,               \
        const REAL *restrict h, const REAL *restrict M) {                                                          \
    for (int64_t j = 0; j < H; j++) {                                                                              \
        const REAL *restrict m = M + j * H;                                                                        \
        REAL a[8];                                                                                                 \
        for (int r = 0; r < 8; r++) a[r] = h[r * H + j];                                                           \
        for (int64_t i = 0; i < H; i++)                                                                            \
            for (int r = 0; r < 8; r++) z[r * H + i] += a[r] * m[i];                                               \
    }                                                                                                              \
}                                                                                                                  \
/* One step for `rows` consecutive rows of the batch, z (rows, H) holding u_t on entry: z ← φ(z + h·A_hᵀ), h the   \
   rows' h_{t-1}. Each row's sum runs over j in the same order whatever `rows` is. */                              \
static inline __attribute__((always_inline)) void step_rows_##SUFFIX(int64_t H, int64_t rows, REAL *restrict z,    \
        const REAL *restrict h, const REAL *restrict AT, int nl) {                                                 \
    if (rows == 8) rows8_times_##SUFFIX(H, z, h, AT);                                                              \
    else if (rows == 4) rows4_times_##SUFFIX(H, z, h, AT);                                                         \
    else rows_times_##REAL(H, rows, z, z + H, h, h + H, AT);                                                       \
    for (int64_t i = 0; i < rows * H; i++) z[i] = PHI(REAL, TANH, z[i], nl);                                       \
}                                                                                                                  \
/* h_t = φ(u_t + A_h·h_{t-1}), in place of u: s (T, B, H). */                                                    \
static inline __attribute__((always_inline)) void forward_##SUFFIX(int64_t H, int64_t T, int64_t B,               \
        REAL *restrict s, const REAL *restrict h0, const REAL *restrict AT, int nl) {                              \
    for (int64_t t = 0; t < T; t++) {                                                                              \
        const REAL *prev = t ? s + (t - 1) * B * H : h0;                                                           \
        for (int64_t b = 0; b < B;) {                                                                              \
            const int64_t rows = rows_at_once_##SUFFIX(H, B - b);                                                  \
            step_rows_##SUFFIX(H, rows, s + (t * B + b) * H, prev + b * H, AT, nl);                                \
            b += rows;                                                                                             \
        }                                                                                                          \
    }                                                                                                              \
}                                                                                                                  \
/* forward straight from token ids, with no drive u in memory: h_t = φ(P[id_t] + A_h·h_{t-1}), P (V, H) the        \
   projected table E·A_xᵀ + b, id_t of sequence b read at ids[t·it + b·ib] (all in [0, V): the caller checks).     \
   z starts as P's row and then adds A_h·h_{t-1}, as forward does on u, so the states are forward's to the bit.    \
   out holds `kept` blocks (B, H), h_t in block t mod kept: kept = T keeps every state, 2 only the last two. */    \
static inline __attribute__((always_inline)) void lookup_forward_##SUFFIX(int64_t H, int64_t T, int64_t B,         \
        const int64_t *restrict ids, int64_t it, int64_t ib, const REAL *restrict P, const REAL *restrict h0,      \
        const REAL *restrict AT, int nl, REAL *restrict out, int64_t kept) {                                       \
    for (int64_t t = 0; t < T; t++) {                                                                              \
        const REAL *prev = t ? out + (t - 1) % kept * B * H : h0;                                                  \
        REAL *s = out + t % kept * B * H;                                                                          \
        for (int64_t b = 0; b < B;) {                                                                              \
            const int64_t rows = B - b >= 8 && 8 * H * (int64_t)sizeof(REAL) <= REGISTER_BYTES                     \
                                 ? 8 : rows_at_once_##SUFFIX(H, B - b);                                            \
            REAL *z = s + b * H;                                                                                   \
            for (int64_t r = 0; r < rows; r++) {                                                                   \
                const REAL *row = P + ids[t * it + (b + r) * ib] * H;                                              \
                for (int64_t i = 0; i < H; i++) z[r * H + i] = row[i];                                             \
            }                                                                                                      \
            step_rows_##SUFFIX(H, rows, z, prev + b * H, AT, nl);                                                  \
            b += rows;                                                                                             \
        }                                                                                                          \
    }                                                                                                              \
}                                                                                                                  \
/* δ_t = (g_out_t + δ_{t+1}·A_h) ⊙ φ'(z_t), t = T-1 … 0: delta (T, B, H). */                                      \
static inline __attribute__((always_inline)) void backward_##SUFFIX(int64_t H, int64_t T, int64_t B,              \
        const REAL *restrict hs, const REAL *restrict g_out, int64_t gt, int64_t gb, REAL *restrict delta,         \
        const REAL *restrict Ah, int nl) {                                                                         \
    for (int64_t t = T - 1; t >= 0; t--) {                                                                         \
        const int64_t o = t * B * H;                                                                               \
        for (int64_t b = 0; b < B; b++)                                                                            \
            for (int64_t j = 0; j < H; j++) delta[o + b * H + j] = g_out[t * gt + b * gb + j];                     \
        if (t < T - 1)                                                                                             \
            for (int64_t b = 0; b < B;) {                                                                          \
                const int64_t rows = rows_at_once_##SUFFIX(H, B - b);                                              \
                const REAL *next = delta + o + B * H + b * H;                                                      \
                REAL *g = delta + o + b * H;                                                                       \
                if (rows == 4) rows4_times_##SUFFIX(H, g, next, Ah);                                               \
                else rows_times_##REAL(H, rows, g, g + H, next, next + H, Ah);                                     \
                b += rows;                                                                                         \
            }                                                                                                      \
        for (int64_t i = 0; i < B * H; i++) delta[o + i] *= DPHI(REAL, hs[o + i], nl);                             \
    }                                                                                                              \
}                                                                                                                  \
/* Tangents τ_t = d_t ⊙ (A_h·τ_{t-1}), K of them per sequence: out (n, B, K, H) from τ_{-1} = tau0 (B, K, H) and   \
   d (n, B, H) = φ'(z_t); norms (n, B), if not NULL, gets ‖τ_t‖ over K and H (norm). renorm (norms needed): each   \
   sequence's τ_t is then divided by its norm (at least the smallest normal float), for a Lyapunov exponent. */    \
static inline __attribute__((always_inline)) void tangent_##SUFFIX(int64_t H, int64_t n, int64_t B, int64_t K,    \
        const REAL *restrict d, const REAL *restrict AT, const REAL *restrict tau0, REAL *restrict out,            \
        double *restrict norms, int renorm) {                                                                      \
    for (int64_t t = 0; t < n; t++) {                                                                              \
        const REAL *prev = t ? out + (t - 1) * B * K * H : tau0;                                                   \
        for (int64_t b = 0; b < B; b++) {                                                                          \
            const REAL *db = d + (t * B + b) * H;                                                                  \
            for (int64_t k = 0; k < K; k += 2) {                                                                   \
                const int64_t rows = K - k < 2 ? 1 : 2, o = (b * K + k) * H;                                       \
                REAL *z = out + t * B * K * H + o;                                                                 \
                for (int64_t i = 0; i < rows * H; i++) z[i] = 0;                                                   \
                rows_times_##REAL(H, rows, z, z + H, prev + o, prev + o + H, AT);                                  \
                for (int64_t i = 0; i < rows * H; i++) z[i] *= db[i % H];                                          \
            }                                                                                                      \
            if (norms) norms[t * B + b] = norm_##SUFFIX(K * H, out + (t * B + b) * K * H);                         \
            if (renorm) {                                                                                          \
                const double norm = norms[t * B + b];                                                              \
                const REAL inv = (REAL)(1.0 / (norm > TINY ? norm : TINY));                                        \
                REAL *z = out + (t * B + b) * K * H;                                                               \
                for (int64_t i = 0; i < K * H; i++) z[i] *= inv;                                                   \
            }                                                                                                      \
        }                                                                                                          \
    }                                                                                                              \
}                                                                                                                  \
void simple_rnn_forward_##SUFFIX(int64_t T, int64_t B, int64_t H, REAL *s, const REAL *h0, const REAL *AT, int nl) \
    FLUSHED(forward_##SUFFIX, H, T, B, s, h0, AT, nl)                                                              \
void simple_rnn_lookup_forward_##SUFFIX(int64_t T, int64_t B, int64_t H, const int64_t *ids, int64_t it,           \
                                       int64_t ib, const REAL *P, const REAL *h0, const REAL *AT, int nl,          \
                                       REAL *out, int64_t kept)                                                    \
    FLUSHED(lookup_forward_##SUFFIX, H, T, B, ids, it, ib, P, h0, AT, nl, out, kept)                               \
void simple_rnn_backward_##SUFFIX(int64_t T, int64_t B, int64_t H, const REAL *hs, const REAL *g_out, int64_t gt,     \
                           int64_t gb, REAL *delta, const REAL *Ah, int nl)                                        \
    FLUSHED(backward_##SUFFIX, H, T, B, hs, g_out, gt, gb, delta, Ah, nl)                                          \
void simple_rnn_tangent_##SUFFIX(int64_t n, int64_t B, int64_t K, int64_t H, const REAL *d, const REAL *AT,             \
                          const REAL *tau0, REAL *out, double *norms, int renorm)                                  \
    FLUSHED(tangent_##SUFFIX, H, n, B, K, d, AT, tau0, out, norms, renorm)

#define DEFINE_GATED(REAL, SUFFIX, TANH, SIGMOID)                                                                  \
/* rows_times_wide for four rows at once, z_r[i] += Σ_j a_r[j]·M[j, i], r < 4: sixteen independent chains of       \
   multiply-adds for a block of NB columns, where they fit in half the registers (AVX-512), so that each M[j, ·]   \
   loaded feeds four rows. The same sums in the same order as two rows at a time: the same numbers to the bit. */  \
static inline __attribute__((always_inline)) void rows4_times_wide_##SUFFIX(int64_t K, int64_t N, int64_t ld,      \
        REAL *restrict z0, REAL *restrict z1, REAL *restrict z2, REAL *restrict z3, const REAL *restrict a0,       \
        const REAL *restrict a1, const REAL *restrict a2, const REAL *restrict a3, const REAL *restrict M) {       \
    for (int64_t j = 0; j < K; j++) {                                                                              \
        const REAL b0 = a0[j], b1 = a1[j], b2 = a2[j], b3 = a3[j], *restrict m = M + j * ld;                       \
        for (int64_t i = 0; i < N; i++) {                                                                          \
            z0[i] += b0 * m[i]; z1[i] += b1 * m[i]; z2[i] += b2 * m[i]; z3[i] += b3 * m[i];                        \
        }                                                                                                          \
    }                                                                                                              \
}                                                                                                                  \
/* z_b[i] += Σ_j a_b[j]·M[j, i] for every row b < B (z_b = z + b·zs, a_b = a + b·as), j < K, i < N, M's rows ld    \
   apart, in blocks of M of KB rows × NB columns (32 KB, which stays in L1 while the whole batch passes over it: the \
   LSTM's A_h at H = 128 is 256 KB), four rows of the batch at a time where their accumulators fit in half the      \
   registers (AVX-512), else two. Each z_b[i] still sums over j in order, so the result is rows_times_wide's to the \
   bit. Full blocks take the constant sizes, which keep z in registers. */                                         \
static inline __attribute__((always_inline)) void batch_times_##SUFFIX(int64_t K, int64_t N, int64_t ld, int64_t B, \
        REAL *restrict z, int64_t zs, const REAL *restrict a, int64_t as, const REAL *restrict M) {                \
    const int64_t NB = 256 / sizeof(REAL), KB = 128, four = 4 * NB * (int64_t)sizeof(REAL) <= REGISTER_BYTES;    \
    for (int64_t i0 = 0; i0 < N; i0 += NB)                                                                         \
        for (int64_t j0 = 0; j0 < K; j0 += KB)                                                                     \
            for (int64_t b = 0, rows; b < B; b += rows) {                                                          \
                const int64_t n = N - i0 < NB ? N - i0 : NB, k = K - j0 < KB ? K - j0 : KB;                        \
                REAL *z0 = z + b * zs + i0, *z1 = z0 + zs, *z2 = z1 + zs, *z3 = z2 + zs;                           \
                const REAL *a0 = a + b * as + j0, *a1 = a0 + as, *a2 = a1 + as, *a3 = a2 + as, *m = M + j0 * ld + i0; \
                rows = four && B - b >= 4 ? 4 : B - b < 2 ? 1 : 2;                                                 \
                for (int64_t r = b + rows; r < b + 2 * rows && r < B; r++) /* the next rows' block, from L3 */    \
                    for (int64_t c = 0; c < n; c += 64 / (int64_t)sizeof(REAL))                                    \
                        __builtin_prefetch(z + r * zs + i0 + c, 1);                                                \
                if (rows == 4 && n == NB && k == KB)                                                               \
                    rows4_times_wide_##SUFFIX(KB, NB, ld, z0, z1, z2, z3, a0, a1, a2, a3, m);                      \
                else if (rows == 4)                                                                                \
                    rows4_times_wide_##SUFFIX(k, n, ld, z0, z1, z2, z3, a0, a1, a2, a3, m);                        \
                else if (n == NB && k == KB)                                                                       \
                    rows_times_wide_##REAL(KB, NB, ld, rows, z0, z1, a0, a1, m);                                   \
                else                                                                                               \
                    rows_times_wide_##REAL(k, n, ld, rows, z0, z1, a0, a1, m);                                     \
            }                                                                                                      \
}                                                                                                                  \
/* One row of the LSTM's step from its pre-activations: z (4H) becomes [σ(i); σ(f); tanh(g); σ(o)],                \
   c_t = σ(f)⊙c_{t-1} + σ(i)⊙tanh(g), h_t = σ(o)⊙tanh(c_t). Functions of their own, this and gru_gates, so that    \
   restrict tells the compiler that c_t does not overlap c_{t-1} (nor h_t h_{t-1}): it then vectorises the loop    \
   (7× faster at H = 32). */                                                                                       \
static inline __attribute__((always_inline)) void lstm_gates_##SUFFIX(int64_t H, REAL *restrict z,                 \
        const REAL *restrict cp, REAL *restrict c, REAL *restrict h) {                                             \
    for (int64_t j = 0; j < H; j++) {                                                                              \
        const REAL i = SIGMOID(z[j]), f = SIGMOID(z[H + j]), g = TANH(z[2 * H + j]), o = SIGMOID(z[3 * H + j]);    \
        z[j] = i, z[H + j] = f, z[2 * H + j] = g, z[3 * H + j] = o;                                                \
        c[j] = f * cp[j] + i * g;                                                                                  \
        h[j] = o * TANH(c[j]);                                                                                     \
    }                                                                                                              \
}                                                                                                                  \
/* LSTM, gates [i; f; g; o] = z_t = u_t + A_h·h_{t-1}, in place of u (T, B, 4H), which holds u_t = A_x·x_t + b on  \
   entry and the activated gates [σ(i); σ(f); tanh(g); σ(o)] on return:                                            \
   c_t = σ(f)⊙c_{t-1} + σ(i)⊙tanh(g),  h_t = σ(o)⊙tanh(c_t), into cs and hs (T, B, H). */                          \
static inline __attribute__((always_inline)) void lstm_fwd_##SUFFIX(int64_t H, int64_t T, int64_t B,               \
        REAL *restrict gates, const REAL *restrict h0, const REAL *restrict c0, const REAL *restrict AT,           \
        REAL *restrict cs, REAL *restrict hs) {                                                                    \
    for (int64_t t = 0; t < T; t++) {                                                                              \
        const REAL *hp = t ? hs + (t - 1) * B * H : h0, *cp = t ? cs + (t - 1) * B * H : c0;                       \
        batch_times_##SUFFIX(H, 4 * H, 4 * H, B, gates + t * B * 4 * H, 4 * H, hp, H, AT);                         \
        for (int64_t b = 0; b < B; b++) {                                                                          \
            const int64_t o = t * B + b;                                                                           \
            lstm_gates_##SUFFIX(H, gates + o * 4 * H, cp + b * H, cs + o * H, hs + o * H);                         \
        }                                                                                                          \
    }                                                                                                              \
}                                                                                                                  \
/* ∂L/∂z_t in place of the gates (gz: T, B, 4H), t = T-1 … 0, with dh = ∂L/∂h_t (output + dz_{t+1}·A_h) and        \
   dc = ∂L/∂c_t carried: dc ← dc + dh⊙σ(o)⊙tanh'(c_t),                                                             \
   dz = [dc⊙tanh(g)⊙σ'(i); dc⊙c_{t-1}⊙σ'(f); dc⊙σ(i)⊙tanh'(g); dh⊙tanh(c_t)⊙σ'(o)],                                \
   then dc ← dc⊙σ(f), dh ← dz·A_h. dh and dc (B, H) end as ∂L/∂h0 and ∂L/∂c0. */                                   \
static inline __attribute__((always_inline)) void lstm_bwd_##SUFFIX(int64_t H, int64_t T, int64_t B,               \
        REAL *restrict gz, const REAL *restrict cs, const REAL *restrict c0, const REAL *restrict g_out,           \
        int64_t gt, int64_t gb, const REAL *restrict Ah, REAL *restrict dh, REAL *restrict dc) {                   \
    for (int64_t i = 0; i < B * H; i++) dh[i] = 0, dc[i] = 0;                                                      \
    for (int64_t t = T - 1; t >= 0; t--) {                                                                         \
        const REAL *cp = t ? cs + (t - 1) * B * H : c0;                                                            \
        for (int64_t b = 0; b < B; b++) {                                                                          \
            const REAL *c = cs + (t * B + b) * H, *cpr = cp + b * H, *go = g_out + t * gt + b * gb;                \
            REAL *d = gz + (t * B + b) * 4 * H, *dhr = dh + b * H, *dcr = dc + b * H;                              \
            for (int64_t j = 0; j < H; j++) {                                                                      \
                const REAL i = d[j], f = d[H + j], g = d[2 * H + j], og = d[3 * H + j], tc = TANH(c[j]);           \
                const REAL dhj = dhr[j] + go[j], dcj = dcr[j] + dhj * og * (1 - tc * tc);                          \
                d[j] = dcj * g * (i * (1 - i));                                                                    \
                d[H + j] = dcj * cpr[j] * (f * (1 - f));                                                           \
                d[2 * H + j] = dcj * i * (1 - g * g);                                                              \
                d[3 * H + j] = dhj * tc * (og * (1 - og));                                                         \
                dcr[j] = dcj * f, dhr[j] = 0;                                                                      \
            }                                                                                                      \
        }                                                                                                          \
        batch_times_##SUFFIX(4 * H, H, H, B, dh, H, gz + t * B * 4 * H, 4 * H, Ah);                                \
    }                                                                                                              \
}                                                                                                                  \
/* One row of the GRU's step from its pre-activations: z (3H) becomes [r; z; n], h_t = (1 − z)⊙n + z⊙h_{t-1}. */   \
static inline __attribute__((always_inline)) void gru_gates_##SUFFIX(int64_t H, REAL *restrict z,                  \
        const REAL *restrict ghn, const REAL *restrict hp, REAL *restrict h) {                                     \
    for (int64_t j = 0; j < H; j++) {                                                                              \
        const REAL r = SIGMOID(z[j]), zg = SIGMOID(z[H + j]), n = TANH(z[2 * H + j] + r * ghn[j]);                 \
        z[j] = r, z[H + j] = zg, z[2 * H + j] = n;                                                                 \
        h[j] = (1 - zg) * n + zg * hp[j];                                                                          \
    }                                                                                                              \
}                                                                                                                  \
/* GRU (reset_after), u_t = A_x·x_t + b and gh = A_h·h_{t-1} + b_h split as [r; z; n]:                             \
   r = σ(u_r + gh_r), z = σ(u_z + gh_z), n = tanh(u_n + r⊙gh_n), h_t = (1 − z)⊙n + z⊙h_{t-1},                      \
   in place of u (T, B, 3H), which holds u_t on entry and [r; z; n] on return; gh_n into ghn and h_t into hs       \
   (T, B, H). */                                                                                                   \
static inline __attribute__((always_inline)) void gru_fwd_##SUFFIX(int64_t H, int64_t T, int64_t B,                \
        REAL *restrict gates, const REAL *restrict h0, const REAL *restrict AT, const REAL *restrict bh,           \
        REAL *restrict ghn, REAL *restrict hs) {                                                                   \
    for (int64_t t = 0; t < T; t++) {                                                                              \
        const REAL *hp = t ? hs + (t - 1) * B * H : h0;                                                            \
        REAL *z = gates + t * B * 3 * H, *n_h = ghn + t * B * H;                                                   \
        for (int64_t b = 0; b < B; b++) {                                                                          \
            for (int64_t i = 0; i < 2 * H; i++) z[b * 3 * H + i] += bh[i];                                         \
            for (int64_t j = 0; j < H; j++) n_h[b * H + j] = bh[2 * H + j];                                        \
        }                                                                                                          \
        /* the r and z blocks of A_h·h_{t-1} join u in place; the n block goes to ghn, as r multiplies it */       \
        batch_times_##SUFFIX(H, 2 * H, 3 * H, B, z, 3 * H, hp, H, AT);                                             \
        batch_times_##SUFFIX(H, H, 3 * H, B, n_h, H, hp, H, AT + 2 * H);                                           \
        for (int64_t b = 0; b < B; b++)                                                                            \
            gru_gates_##SUFFIX(H, z + b * 3 * H, n_h + b * H, hp + b * H, hs + (t * B + b) * H);                   \
    }                                                                                                              \
}                                                                                                                  \
/* ∂L/∂u_t in place of the gates (gx: T, B, 3H) and ∂L/∂(gh_t) into dgh (T, B, 3H), t = T-1 … 0, with              \
   dh = ∂L/∂h_t (output + carried): dn = dh⊙(1 − z)⊙tanh'(·), dz = dh⊙(h_{t-1} − n)⊙σ'(z), dr = dn⊙gh_n⊙σ'(r),     \
   dgx = [dr; dz; dn], dgh = [dr; dz; dn⊙r], then dh ← dh⊙z + dgh·A_h, which ends as ∂L/∂h0. */                    \
static inline __attribute__((always_inline)) void gru_bwd_##SUFFIX(int64_t H, int64_t T, int64_t B,                \
        REAL *restrict gx, const REAL *restrict ghn, const REAL *restrict hs, const REAL *restrict h0,             \
        const REAL *restrict g_out, int64_t gt, int64_t gb, const REAL *restrict Ah, REAL *restrict dgh,           \
        REAL *restrict dh) {                                                                                       \
    for (int64_t i = 0; i < B * H; i++) dh[i] = 0;                                                                 \
    for (int64_t t = T - 1; t >= 0; t--) {                                                                         \
        const REAL *hp = t ? hs + (t - 1) * B * H : h0;                                                            \
        for (int64_t b = 0; b < B; b++) {                                                                          \
            const REAL *n_h = ghn + (t * B + b) * H, *hpr = hp + b * H, *go = g_out + t * gt + b * gb;             \
            REAL *dx = gx + (t * B + b) * 3 * H, *dg = dgh + (t * B + b) * 3 * H, *dhr = dh + b * H;               \
            for (int64_t j = 0; j < H; j++) {                                                                      \
                const REAL rg = dx[j], zg = dx[H + j], n = dx[2 * H + j], dhj = dhr[j] + go[j];                    \
                const REAL dn = dhj * (1 - zg) * (1 - n * n), dzg = dhj * (hpr[j] - n) * (zg * (1 - zg));          \
                const REAL dr = dn * n_h[j] * (rg * (1 - rg));                                                     \
                dx[j] = dr, dx[H + j] = dzg, dx[2 * H + j] = dn;                                                   \
                dg[j] = dr, dg[H + j] = dzg, dg[2 * H + j] = dn * rg;                                              \
                dhr[j] = dhj * zg;                                                                                 \
            }                                                                                                      \
        }                                                                                                          \
        batch_times_##SUFFIX(3 * H, H, H, B, dh, H, dgh + t * B * 3 * H, 3 * H, Ah);                               \
    }                                                                                                              \
}                                                                                                                  \
void lstm_forward_##SUFFIX(int64_t T, int64_t B, int64_t H, REAL *gates, const REAL *h0, const REAL *c0,           \
                           const REAL *AT, REAL *cs, REAL *hs)                                                     \
    FLUSHED(lstm_fwd_##SUFFIX, H, T, B, gates, h0, c0, AT, cs, hs)                                                 \
void lstm_backward_##SUFFIX(int64_t T, int64_t B, int64_t H, REAL *gz, const REAL *cs, const REAL *c0,             \
                            const REAL *g_out, int64_t gt, int64_t gb, const REAL *Ah, REAL *dh, REAL *dc)         \
    FLUSHED(lstm_bwd_##SUFFIX, H, T, B, gz, cs, c0, g_out, gt, gb, Ah, dh, dc)                                     \
void gru_forward_##SUFFIX(int64_t T, int64_t B, int64_t H, REAL *gates, const REAL *h0, const REAL *AT,            \
                          const REAL *bh, REAL *ghn, REAL *hs)                                                     \
    FLUSHED(gru_fwd_##SUFFIX, H, T, B, gates, h0, AT, bh, ghn, hs)                                                 \
void gru_backward_##SUFFIX(int64_t T, int64_t B, int64_t H, REAL *gx, const REAL *ghn, const REAL *hs,             \
                           const REAL *h0, const REAL *g_out, int64_t gt, int64_t gb, const REAL *Ah, REAL *dgh,   \
                           REAL *dh)                                                                               \
    FLUSHED(gru_bwd_##SUFFIX, H, T, B, gx, ghn, hs, h0, g_out, gt, gb, Ah, dgh, dh)

/* A weight gradient, out (N, K) = Σ_r dy[r, ·]ᵀ x[r, ·] over the M rows r (all steps of all sequences), e.g.
   ∂L/∂A_h = Σ_t δ_tᵀ h_{t-1}: each out[i, j] sums over r in order. Blocks of IB × JB outputs stay in registers
   (IB·JB·sizeof(REAL) = REGISTER_BYTES: 8 × 32 floats on AVX-512) while RB rows of dy and x, which stay in L2,
   stream past them: each row r costs IB broadcasts and two vector loads for IB·JB multiply-adds. rnnlab.gemm's
   outer_sum; BLAS libraries must first transpose one operand (the sum runs down their columns). */
#define OUTER_JB(REAL) (int64_t)(128 / sizeof(REAL))
#define OUTER_IB (REGISTER_BYTES >= 128 ? REGISTER_BYTES / 128 : 1)
#define DEFINE_OUTER_SUM(REAL, SUFFIX)                                                                             \
static inline __attribute__((always_inline)) void outer_block_##SUFFIX(int64_t rows, int64_t in, int64_t jn,      \
        const REAL *restrict dy, int64_t N, const REAL *restrict x, int64_t K, REAL *restrict out) {               \
    REAL acc[OUTER_IB][128 / sizeof(REAL)];                                                                        \
    for (int64_t i = 0; i < in; i++)                                                                               \
        for (int64_t j = 0; j < jn; j++) acc[i][j] = out[i * K + j];                                               \
    for (int64_t r = 0; r < rows; r++) {                                                                           \
        const REAL *restrict xr = x + r * K, *restrict dr = dy + r * N;                                            \
        for (int64_t i = 0; i < in; i++) {                                                                         \
            const REAL a = dr[i];                                                                                  \
            for (int64_t j = 0; j < jn; j++) acc[i][j] += a * xr[j];                                               \
        }                                                                                                          \
    }                                                                                                              \
    for (int64_t i = 0; i < in; i++)                                                                               \
        for (int64_t j = 0; j < jn; j++) out[i * K + j] = acc[i][j];                                               \
}                                                                                                                  \
void outer_sum_##SUFFIX(int64_t M, int64_t N, int64_t K, const REAL *dy, const REAL *x, REAL *out) {              \
    const int64_t IB = OUTER_IB, JB = OUTER_JB(REAL), width = (N + K) * (int64_t)sizeof(REAL);                     \
    const int64_t RB = width * 1024 <= 262144 ? 1024 : width * 16 >= 262144 ? 16 : 262144 / width; /* 256 KB */   \
    for (int64_t i = 0; i < N * K; i++) out[i] = 0;                                                                \
    for (int64_t r0 = 0; r0 < M; r0 += RB) {                                                                       \
        const int64_t rows = M - r0 < RB ? M - r0 : RB;                                                            \
        for (int64_t i0 = 0; i0 < N; i0 += IB)                                                                     \
            for (int64_t j0 = 0; j0 < K; j0 += JB) {                                                               \
                const int64_t in = N - i0 < IB ? N - i0 : IB, jn = K - j0 < JB ? K - j0 : JB;                      \
                const REAL *d = dy + r0 * N + i0, *xs = x + r0 * K + j0;                                           \
                if (in == IB && jn == JB) /* constant sizes: the compiler keeps acc in registers */                \
                    outer_block_##SUFFIX(rows, IB, JB, d, N, xs, K, out + i0 * K + j0);                            \
                else                                                                                               \
                    outer_block_##SUFFIX(rows, in, jn, d, N, xs, K, out + i0 * K + j0);                            \
            }                                                                                                      \
    }                                                                                                              \
}

DEFINE_COMMON(float, f32)
DEFINE_COMMON(double, f64)
DEFINE_OUTER_SUM(float, f32)
DEFINE_OUTER_SUM(double, f64)
DEFINE_GATED(float, f32, tanh_f32, sigmoid_f32)
DEFINE_GATED(double, f64, tanh, sigmoid_f64)
DEFINE_SIMPLE_RNN(float, f32, tanh_f32, FLT_MIN)
DEFINE_SIMPLE_RNN(double, f64, tanh, DBL_MIN)

/* The LSTM's and GRU's tangents and state adjoints as loops over steps, from per-step coefficients that PyTorch
   computes for all steps at once (memory._linearise_lstm, _linearise_gru): G gates of H rows, and per step and
   sequence coef (n, B, width) = [W_i W_f W_g W_o | f | k] (LSTM, 6H) or [α_r α_z α_n | z] (GRU, 4H).

   Tangents, K directions per sequence; a tangent has P parts (LSTM 2: ∂h then ∂c; GRU 1: ∂h), each (K, H):
       LSTM:  dz = W_t ⊙ (A_h·∂h_{t-1}),   ∂c_t = dz_i + dz_f + dz_g + f_t ⊙ ∂c_{t-1},   ∂h_t = dz_o + k_t ⊙ ∂c_t
       GRU:   w = α_t ⊙ (A_h·∂h_{t-1}),    ∂h_t = w_r + w_z + w_n + z_t ⊙ ∂h_{t-1}
   Adjoints, t = T-1 … 0, of g_t = ∂L/∂h_t (its direct part on entry, the whole on return; an LSTM's c_t held
   fixed, as autograd's ∂L/∂h_t does) and, for the LSTM, λ_t = ∂L/∂c_t through the later cell states:
       LSTM:  λ = λ_t + k_t ⊙ g_t,   g_{t-1} += A_hᵀ·(W_t ⊙ [λ; λ; λ; g_t]),   λ_{t-1} = f_t ⊙ λ
       GRU:   g_{t-1} += A_hᵀ·(α_t ⊙ [g_t; g_t; g_t]) + z_t ⊙ g_t
   The LSTM's cell states c_t = u_t + f_t ⊙ c_{t-1} (u_t = i_t ⊙ g_t), which its coefficients need, come from the
   same kind of loop. The tangents read AT (G, H, H), each gate's block of A_h transposed, the adjoints A_h (G·H, H),
   so that the inner loops run along contiguous rows of H numbers (rows_times, gate by gate: its 2·H sums stay in
   registers); work: scratch of 2·G·H numbers. */
/* <cell>_tangent and <cell>_adjoint of a cell of G gates; lam: λ for the LSTM, NULL for the GRU. */
#define GATED_EXPORTS(CELL, G, REAL, SUFFIX)                                                                       \
void CELL##_tangent_##SUFFIX(int64_t n, int64_t B, int64_t K, int64_t H, const REAL *coef, const REAL *AT,         \
                             const REAL *tau0, REAL *out, REAL *work, double *norms, int renorm)                   \
    FLUSHED(gated_tangent_##SUFFIX, H, G, n, B, K, coef, AT, tau0, out, work, norms, renorm)                       \
void CELL##_adjoint_##SUFFIX(int64_t T, int64_t B, int64_t H, const REAL *coef, const REAL *Ah, REAL *g,           \
                             REAL *lam, REAL *work)                                                                \
    FLUSHED(gated_adjoint_##SUFFIX, H, G, T, B, coef, Ah, g, lam, work)

#define DEFINE_GATED_TANGENT(REAL, SUFFIX, TINY)                                                                   \
/* out (n, B, P, K, H) from tau0 (B, P, K, H); norms (n, B), if not NULL, gets ‖∂h_t‖ over K and H, or with renorm \
   the norm of the whole tangent (∂h_t, ∂c_t), by which each sequence's tangent is then divided (at least the      \
   smallest normal float), for a Lyapunov exponent. */                                                             \
static inline __attribute__((always_inline)) void gated_tangent_##SUFFIX(int64_t H, int64_t G, int64_t n,          \
        int64_t B, int64_t K, const REAL *restrict coef, const REAL *restrict AT, const REAL *restrict tau0,       \
        REAL *restrict out, REAL *restrict work, double *restrict norms, int renorm) {                             \
    const int64_t P = G == 4 ? 2 : 1, width = (G + P) * H, S = P * K * H;                                          \
    for (int64_t t = 0; t < n; t++) {                                                                              \
        const REAL *prev = t ? out + (t - 1) * B * S : tau0;                                                       \
        for (int64_t b = 0; b < B; b++) {                                                                          \
            const REAL *W = coef + (t * B + b) * width, *carry = W + G * H, *k = carry + H, *pb = prev + b * S;    \
            REAL *ob = out + (t * B + b) * S;                                                                      \
            for (int64_t d = 0; d < K; d += 2) {                                                                   \
                const int64_t rows = K - d < 2 ? 1 : 2;                                                            \
                for (int64_t i = 0; i < rows * G * H; i++) work[i] = 0;                                            \
                for (int64_t g = 0; g < G; g++)                                                                    \
                    rows_times_##REAL(H, rows, work + g * H, work + (G + g) * H, pb + d * H, pb + (d + 1) * H,     \
                                      AT + g * H * H);                                                             \
                for (int64_t r = 0; r < rows; r++) {                                                               \
                    const REAL *z = work + r * G * H, *dh = pb + (d + r) * H;                                      \
                    REAL *oh = ob + (d + r) * H;                                                                   \
                    if (G == 4) {                                                                                  \
                        const REAL *dc = dh + K * H;                                                               \
                        REAL *oc = oh + K * H;                                                                     \
                        for (int64_t i = 0; i < H; i++) {                                                          \
                            const REAL c = z[i] * W[i] + z[H + i] * W[H + i] + z[2 * H + i] * W[2 * H + i]         \
                                           + carry[i] * dc[i];                                                     \
                            oc[i] = c;                                                                             \
                            oh[i] = z[3 * H + i] * W[3 * H + i] + k[i] * c;                                        \
                        }                                                                                          \
                    } else {                                                                                       \
                        for (int64_t i = 0; i < H; i++)                                                            \
                            oh[i] = z[i] * W[i] + z[H + i] * W[H + i] + z[2 * H + i] * W[2 * H + i]                \
                                    + carry[i] * dh[i];                                                            \
                    }                                                                                              \
                }                                                                                                  \
            }                                                                                                      \
            if (norms) norms[t * B + b] = norm_##SUFFIX(renorm ? S : K * H, ob);                                   \
            if (renorm) {                                                                                          \
                const double norm = norms[t * B + b];                                                              \
                const REAL inv = (REAL)(1.0 / (norm > TINY ? norm : TINY));                                        \
                for (int64_t i = 0; i < S; i++) ob[i] *= inv;                                                      \
            }                                                                                                      \
        }                                                                                                          \
    }                                                                                                              \
}                                                                                                                  \
/* g (T, B, H) in place; lam (B, H): λ, zero on entry (LSTM only). */                                              \
static inline __attribute__((always_inline)) void gated_adjoint_##SUFFIX(int64_t H, int64_t G, int64_t T,          \
        int64_t B, const REAL *restrict coef, const REAL *restrict Ah, REAL *restrict g, REAL *restrict lam,       \
        REAL *restrict work) {                                                                                     \
    const int64_t width = (G == 4 ? 6 : 4) * H;                                                                    \
    for (int64_t t = T - 1; t > 0; t--) {                                                                          \
        for (int64_t b = 0; b < B; b++) {                                                                          \
            const REAL *W = coef + (t * B + b) * width, *carry = W + G * H, *k = carry + H;                        \
            const REAL *gb = g + (t * B + b) * H;                                                                  \
            REAL *gp = g + ((t - 1) * B + b) * H;                                                                  \
            if (G == 4) {                                                                                          \
                REAL *lb = lam + b * H;                                                                            \
                for (int64_t i = 0; i < H; i++) {                                                                  \
                    const REAL l = lb[i] + k[i] * gb[i];                                                           \
                    work[i] = W[i] * l, work[H + i] = W[H + i] * l, work[2 * H + i] = W[2 * H + i] * l;            \
                    work[3 * H + i] = W[3 * H + i] * gb[i];                                                        \
                    lb[i] = carry[i] * l;                                                                          \
                }                                                                                                  \
            } else {                                                                                               \
                for (int64_t i = 0; i < H; i++) {                                                                  \
                    work[i] = W[i] * gb[i], work[H + i] = W[H + i] * gb[i], work[2 * H + i] = W[2 * H + i] * gb[i];\
                    gp[i] += carry[i] * gb[i];                                                                     \
                }                                                                                                  \
            }                                                                                                      \
            for (int64_t g = 0; g < G; g++) /* z1 (scratch) and h1 unused with one row */                          \
                rows_times_##REAL(H, 1, gp, work + G * H, work + g * H, work + g * H, Ah + g * H * H);             \
        }                                                                                                          \
    }                                                                                                              \
}                                                                                                                  \
static inline __attribute__((always_inline)) void lstm_cells_loop_##SUFFIX(int64_t H, int64_t n, int64_t B,        \
        const REAL *restrict f, REAL *restrict u, const REAL *restrict c0) {                                       \
    for (int64_t t = 0; t < n; t++) {                                                                              \
        const REAL *prev = t ? u + (t - 1) * B * H : c0;                                                           \
        for (int64_t i = 0; i < B * H; i++) u[t * B * H + i] += f[t * B * H + i] * prev[i];                        \
    }                                                                                                              \
}                                                                                                                  \
GATED_EXPORTS(lstm, 4, REAL, SUFFIX)                                                                               \
GATED_EXPORTS(gru, 3, REAL, SUFFIX)                                                                                \
/* c_t = u_t + f_t ⊙ c_{t-1} in place of u (n, B, H), from c0 (B, H). */                                           \
void lstm_cells_##SUFFIX(int64_t n, int64_t B, int64_t H, const REAL *f, REAL *u, const REAL *c0)                  \
    FLUSHED(lstm_cells_loop_##SUFFIX, H, n, B, f, u, c0)

DEFINE_GATED_TANGENT(float, f32, FLT_MIN)
DEFINE_GATED_TANGENT(double, f64, DBL_MIN)
