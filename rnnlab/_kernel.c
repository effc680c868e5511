/* The SimpleRNN's recurrence, its BPTT and its tangents, and the LSTM's and GRU's recurrence and BPTT, as plain
   loops over steps, compiled once per machine (rnnlab/kernel.py). Shared pieces first (rows_times: rows of a state
   times a matrix; norm: a scaled 2-norm; BY_SIZE: constant state sizes), then one DEFINE_<cell> per cell and
   precision, which exports <cell>_forward, <cell>_backward and <cell>_tangent (DEFINE_GATED: lstm_* and gru_*,
   whose equations it states), and the cell's name in kernel.CELLS.

   Forward, in place:   s_t ← φ(s_t + A_h·h_{t-1}),   s_t holding u_t = A_x·x_t + b on entry,   h_{-1} = h0
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
   keeps z in registers: 512 bytes of each row at a time (two rows fill 16 of x86-64's AVX-512 registers), as wider
   rows (the LSTM's 4H = 512 floats) would be stored and reloaded for every j. rows_times is the square case
   (K = N = ld = H); the gated cells use K = H, N ≤ G·H forward (h_{t-1}·A_hᵀ, or a block of its columns) and
   K = G·H, N = H backward (δ_t·A_h). */
#define ROWS_TIMES(REAL)                                                                                           \
static inline __attribute__((always_inline)) void rows_times_wide_##REAL(int64_t K, int64_t N, int64_t ld,         \
        int64_t rows, REAL *restrict z0, REAL *restrict z1, const REAL *restrict a0, const REAL *restrict a1,      \
        const REAL *restrict M) {                                                                                  \
    const int64_t NB = 512 / sizeof(REAL);                                                                         \
    for (int64_t i0 = 0; i0 < N; i0 += NB) {                                                                       \
        const int64_t i1 = N - i0 < NB ? N : i0 + NB;                                                              \
        if (rows == 2) {                                                                                           \
            for (int64_t j = 0; j < K; j++) {                                                                      \
                const REAL b0 = a0[j], b1 = a1[j], *restrict m = M + j * ld;                                       \
                for (int64_t i = i0; i < i1; i++) { z0[i] += b0 * m[i]; z1[i] += b1 * m[i]; }                      \
            }                                                                                                      \
        } else {                                                                                                   \
            for (int64_t j = 0; j < K; j++) {                                                                      \
                const REAL b0 = a0[j], *restrict m = M + j * ld;                                                   \
                for (int64_t i = i0; i < i1; i++) z0[i] += b0 * m[i];                                              \
            }                                                                                                      \
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

#define DEFINE_SIMPLE_RNN(REAL, SUFFIX, TANH, TINY)                                                                \
/* h_t = φ(u_t + A_h·h_{t-1}), in place of u: s (T, B, H). */                                                    \
static inline __attribute__((always_inline)) void forward_##SUFFIX(int64_t H, int64_t T, int64_t B,               \
        REAL *restrict s, const REAL *restrict h0, const REAL *restrict AT, int nl) {                              \
    for (int64_t t = 0; t < T; t++) {                                                                              \
        const REAL *prev = t ? s + (t - 1) * B * H : h0;                                                           \
        for (int64_t b = 0; b < B; b += 2) {                                                                       \
            const int64_t rows = B - b < 2 ? 1 : 2;                                                                \
            REAL *z = s + (t * B + b) * H;                                                                         \
            rows_times_##REAL(H, rows, z, z + H, prev + b * H, prev + (b + 1) * H, AT);                            \
            for (int64_t i = 0; i < rows * H; i++) z[i] = PHI(REAL, TANH, z[i], nl);                               \
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
            for (int64_t b = 0; b < B; b += 2) {                                                                   \
                const REAL *next = delta + o + B * H + b * H;                                                      \
                REAL *g = delta + o + b * H;                                                                       \
                rows_times_##REAL(H, B - b < 2 ? 1 : 2, g, g + H, next, next + H, Ah);                             \
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
void simple_rnn_forward_##SUFFIX(int64_t T, int64_t B, int64_t H, REAL *s, const REAL *h0, const REAL *AT, int nl) {     \
    FLUSH_ON();                                                                                                    \
    BY_SIZE(forward_##SUFFIX, H, T, B, s, h0, AT, nl)                                                              \
    FLUSH_OFF();                                                                                                   \
}                                                                                                                  \
void simple_rnn_backward_##SUFFIX(int64_t T, int64_t B, int64_t H, const REAL *hs, const REAL *g_out, int64_t gt,     \
                           int64_t gb, REAL *delta, const REAL *Ah, int nl) {                                      \
    FLUSH_ON();                                                                                                    \
    BY_SIZE(backward_##SUFFIX, H, T, B, hs, g_out, gt, gb, delta, Ah, nl)                                          \
    FLUSH_OFF();                                                                                                   \
}                                                                                                                  \
void simple_rnn_tangent_##SUFFIX(int64_t n, int64_t B, int64_t K, int64_t H, const REAL *d, const REAL *AT,             \
                          const REAL *tau0, REAL *out, double *norms, int renorm) {                                \
    FLUSH_ON();                                                                                                    \
    BY_SIZE(tangent_##SUFFIX, H, n, B, K, d, AT, tau0, out, norms, renorm)                                         \
    FLUSH_OFF();                                                                                                   \
}

#define DEFINE_GATED(REAL, SUFFIX, TANH, SIGMOID)                                                                  \
/* LSTM, gates [i; f; g; o] = z_t = u_t + A_h·h_{t-1}, in place of u (T, B, 4H), which holds u_t = A_x·x_t + b on  \
   entry and the activated gates [σ(i); σ(f); tanh(g); σ(o)] on return:                                            \
   c_t = σ(f)⊙c_{t-1} + σ(i)⊙tanh(g),  h_t = σ(o)⊙tanh(c_t), into cs and hs (T, B, H). */                          \
static inline __attribute__((always_inline)) void lstm_fwd_##SUFFIX(int64_t H, int64_t T, int64_t B,               \
        REAL *restrict gates, const REAL *restrict h0, const REAL *restrict c0, const REAL *restrict AT,           \
        REAL *restrict cs, REAL *restrict hs) {                                                                    \
    for (int64_t t = 0; t < T; t++) {                                                                              \
        const REAL *hp = t ? hs + (t - 1) * B * H : h0, *cp = t ? cs + (t - 1) * B * H : c0;                       \
        for (int64_t b = 0; b < B; b += 2) {                                                                       \
            const int64_t rows = B - b < 2 ? 1 : 2, o = t * B + b;                                                 \
            REAL *z = gates + o * 4 * H;                                                                           \
            rows_times_wide_##REAL(H, 4 * H, 4 * H, rows, z, z + 4 * H, hp + b * H, hp + (b + 1) * H, AT);         \
            for (int64_t r = 0; r < rows; r++) {                                                                   \
                REAL *zr = z + r * 4 * H, *c = cs + (o + r) * H, *h = hs + (o + r) * H;                            \
                const REAL *cpr = cp + (b + r) * H;                                                                \
                for (int64_t j = 0; j < H; j++) {                                                                  \
                    const REAL i = SIGMOID(zr[j]), f = SIGMOID(zr[H + j]), g = TANH(zr[2 * H + j]);                \
                    const REAL og = SIGMOID(zr[3 * H + j]);                                                        \
                    zr[j] = i, zr[H + j] = f, zr[2 * H + j] = g, zr[3 * H + j] = og;                               \
                    c[j] = f * cpr[j] + i * g;                                                                     \
                    h[j] = og * TANH(c[j]);                                                                        \
                }                                                                                                  \
            }                                                                                                      \
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
        for (int64_t b = 0; b < B; b += 2) {                                                                       \
            const int64_t rows = B - b < 2 ? 1 : 2, o = t * B + b;                                                 \
            for (int64_t r = 0; r < rows; r++) {                                                                   \
                const REAL *c = cs + (o + r) * H, *cpr = cp + (b + r) * H, *go = g_out + t * gt + (b + r) * gb;    \
                REAL *d = gz + (o + r) * 4 * H, *dhr = dh + (b + r) * H, *dcr = dc + (b + r) * H;                  \
                for (int64_t j = 0; j < H; j++) {                                                                  \
                    const REAL i = d[j], f = d[H + j], g = d[2 * H + j], og = d[3 * H + j], tc = TANH(c[j]);       \
                    const REAL dhj = dhr[j] + go[j], dcj = dcr[j] + dhj * og * (1 - tc * tc);                      \
                    d[j] = dcj * g * (i * (1 - i));                                                                \
                    d[H + j] = dcj * cpr[j] * (f * (1 - f));                                                       \
                    d[2 * H + j] = dcj * i * (1 - g * g);                                                          \
                    d[3 * H + j] = dhj * tc * (og * (1 - og));                                                     \
                    dcr[j] = dcj * f, dhr[j] = 0;                                                                  \
                }                                                                                                  \
            }                                                                                                      \
            rows_times_wide_##REAL(4 * H, H, H, rows, dh + b * H, dh + (b + 1) * H, gz + o * 4 * H,                \
                                   gz + (o + 1) * 4 * H, Ah);                                                      \
        }                                                                                                          \
    }                                                                                                              \
}                                                                                                                  \
/* One row of the GRU's step from its pre-activations: z (3H) becomes [r; z; n], h_t = (1 − z)⊙n + z⊙h_{t-1}. A    \
   function of its own so that restrict tells the compiler that h_t and h_{t-1} do not overlap: it then vectorises \
   the loop (7× faster at H = 32). */                                                                              \
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
        for (int64_t b = 0; b < B; b += 2) {                                                                       \
            const int64_t rows = B - b < 2 ? 1 : 2, o = t * B + b;                                                 \
            REAL *z = gates + o * 3 * H, *n_h = ghn + o * H;                                                       \
            for (int64_t r = 0; r < rows; r++) {                                                                   \
                for (int64_t i = 0; i < 2 * H; i++) z[r * 3 * H + i] += bh[i];                                     \
                for (int64_t j = 0; j < H; j++) n_h[r * H + j] = bh[2 * H + j];                                    \
            }                                                                                                      \
            /* the r and z blocks of A_h·h_{t-1} join u in place; the n block goes to ghn, as r multiplies it */   \
            rows_times_wide_##REAL(H, 2 * H, 3 * H, rows, z, z + 3 * H, hp + b * H, hp + (b + 1) * H, AT);         \
            rows_times_wide_##REAL(H, H, 3 * H, rows, n_h, n_h + H, hp + b * H, hp + (b + 1) * H, AT + 2 * H);     \
            for (int64_t r = 0; r < rows; r++)                                                                     \
                gru_gates_##SUFFIX(H, z + r * 3 * H, n_h + r * H, hp + (b + r) * H, hs + (o + r) * H);             \
        }                                                                                                          \
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
        for (int64_t b = 0; b < B; b += 2) {                                                                       \
            const int64_t rows = B - b < 2 ? 1 : 2, o = t * B + b;                                                 \
            for (int64_t r = 0; r < rows; r++) {                                                                   \
                const REAL *n_h = ghn + (o + r) * H, *hpr = hp + (b + r) * H, *go = g_out + t * gt + (b + r) * gb; \
                REAL *dx = gx + (o + r) * 3 * H, *dg = dgh + (o + r) * 3 * H, *dhr = dh + (b + r) * H;             \
                for (int64_t j = 0; j < H; j++) {                                                                  \
                    const REAL rg = dx[j], zg = dx[H + j], n = dx[2 * H + j], dhj = dhr[j] + go[j];                \
                    const REAL dn = dhj * (1 - zg) * (1 - n * n), dzg = dhj * (hpr[j] - n) * (zg * (1 - zg));      \
                    const REAL dr = dn * n_h[j] * (rg * (1 - rg));                                                 \
                    dx[j] = dr, dx[H + j] = dzg, dx[2 * H + j] = dn;                                               \
                    dg[j] = dr, dg[H + j] = dzg, dg[2 * H + j] = dn * rg;                                          \
                    dhr[j] = dhj * zg;                                                                             \
                }                                                                                                  \
            }                                                                                                      \
            rows_times_wide_##REAL(3 * H, H, H, rows, dh + b * H, dh + (b + 1) * H, dgh + o * 3 * H,               \
                                   dgh + (o + 1) * 3 * H, Ah);                                                     \
        }                                                                                                          \
    }                                                                                                              \
}                                                                                                                  \
void lstm_forward_##SUFFIX(int64_t T, int64_t B, int64_t H, REAL *gates, const REAL *h0, const REAL *c0,           \
                           const REAL *AT, REAL *cs, REAL *hs) {                                                   \
    FLUSH_ON();                                                                                                    \
    BY_SIZE(lstm_fwd_##SUFFIX, H, T, B, gates, h0, c0, AT, cs, hs)                                                 \
    FLUSH_OFF();                                                                                                   \
}                                                                                                                  \
void lstm_backward_##SUFFIX(int64_t T, int64_t B, int64_t H, REAL *gz, const REAL *cs, const REAL *c0,             \
                            const REAL *g_out, int64_t gt, int64_t gb, const REAL *Ah, REAL *dh, REAL *dc) {       \
    FLUSH_ON();                                                                                                    \
    BY_SIZE(lstm_bwd_##SUFFIX, H, T, B, gz, cs, c0, g_out, gt, gb, Ah, dh, dc)                                     \
    FLUSH_OFF();                                                                                                   \
}                                                                                                                  \
void gru_forward_##SUFFIX(int64_t T, int64_t B, int64_t H, REAL *gates, const REAL *h0, const REAL *AT,            \
                          const REAL *bh, REAL *ghn, REAL *hs) {                                                   \
    FLUSH_ON();                                                                                                    \
    BY_SIZE(gru_fwd_##SUFFIX, H, T, B, gates, h0, AT, bh, ghn, hs)                                                 \
    FLUSH_OFF();                                                                                                   \
}                                                                                                                  \
void gru_backward_##SUFFIX(int64_t T, int64_t B, int64_t H, REAL *gx, const REAL *ghn, const REAL *hs,             \
                           const REAL *h0, const REAL *g_out, int64_t gt, int64_t gb, const REAL *Ah, REAL *dgh,   \
                           REAL *dh) {                                                                             \
    FLUSH_ON();                                                                                                    \
    BY_SIZE(gru_bwd_##SUFFIX, H, T, B, gx, ghn, hs, h0, g_out, gt, gb, Ah, dgh, dh)                                \
    FLUSH_OFF();                                                                                                   \
}

DEFINE_COMMON(float, f32)
DEFINE_COMMON(double, f64)
DEFINE_GATED(float, f32, tanh_f32, sigmoid_f32)
DEFINE_GATED(double, f64, tanh, sigmoid_f64)
DEFINE_SIMPLE_RNN(float, f32, tanh_f32, FLT_MIN)
DEFINE_SIMPLE_RNN(double, f64, tanh, DBL_MIN)
