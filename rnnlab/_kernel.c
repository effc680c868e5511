/* The SimpleRNN's recurrence, its BPTT and its tangents as plain loops over steps, compiled once per machine
   (rnnlab/kernel.py). Shared pieces first (rows_times: rows of a state times a matrix; norm: a scaled 2-norm;
   BY_SIZE: constant state sizes), then one DEFINE_<cell> per cell and precision, which exports <cell>_forward,
   <cell>_backward and <cell>_tangent; an LSTM's or GRU's loops go beside DEFINE_SIMPLE_RNN, built from the same
   pieces, and their name into kernel.CELLS.

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

#define PHI(REAL, TANH, v, nl) ((nl) == 0 ? TANH(v) : (nl) == 1 ? ((v) < 0 ? (REAL)0 : (v)) : (v)) /* NaN stays NaN */
#define DPHI(REAL, h, nl) ((nl) == 0 ? (REAL)1 - (h) * (h) : (nl) == 1 ? (REAL)((h) > 0) : (REAL)1)

/* z_r += Σ_j h_r[j]·M[j, :] for two rows r at once (two independent chains of multiply-adds keep the FPU busy).
   Inlined with a constant H for the usual state sizes, so that the compiler keeps z in registers. */
#define ROWS_TIMES(REAL)                                                                                           \
static inline __attribute__((always_inline)) void rows_times_##REAL(int64_t H, int64_t rows, REAL *restrict z0,     \
        REAL *restrict z1, const REAL *restrict h0, const REAL *restrict h1, const REAL *restrict M) {             \
    if (rows == 2) {                                                                                               \
        for (int64_t j = 0; j < H; j++) {                                                                          \
            const REAL a0 = h0[j], a1 = h1[j], *restrict m = M + j * H;                                            \
            for (int64_t i = 0; i < H; i++) { z0[i] += a0 * m[i]; z1[i] += a1 * m[i]; }                            \
        }                                                                                                          \
    } else {                                                                                                       \
        for (int64_t j = 0; j < H; j++) {                                                                          \
            const REAL a0 = h0[j], *restrict m = M + j * H;                                                        \
            for (int64_t i = 0; i < H; i++) z0[i] += a0 * m[i];                                                    \
        }                                                                                                          \
    }                                                                                                              \
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
/* h_t = φ(u_t + A_h·h_{t-1}), in place of u: s (T, B, H). */                                                    \
static inline __attribute__((always_inline)) void forward_##SUFFIX(int64_t H, int64_t T, int64_t B,               \
        REAL *restrict s, const REAL *restrict h0, const REAL *restrict AT, int nl) {                              \
    for (int64_t t = 0; t < T; t++) {                                                                              \
        const REAL *prev = t ? s + (t - 1) * B * H : h0;                                                           \
        for (int64_t b = 0; b < B;) {                                                                              \
            const int64_t rows = rows_at_once_##SUFFIX(H, B - b);                                                  \
            REAL *z = s + (t * B + b) * H;                                                                         \
            if (rows == 4) rows4_times_##SUFFIX(H, z, prev + b * H, AT);                                           \
            else rows_times_##REAL(H, rows, z, z + H, prev + b * H, prev + (b + 1) * H, AT);                       \
            for (int64_t i = 0; i < rows * H; i++) z[i] = PHI(REAL, TANH, z[i], nl);                               \
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

DEFINE_COMMON(float, f32)
DEFINE_COMMON(double, f64)
DEFINE_SIMPLE_RNN(float, f32, tanh_f32, FLT_MIN)
DEFINE_SIMPLE_RNN(double, f64, tanh, DBL_MIN)
