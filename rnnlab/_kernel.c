/* The SimpleRNN's recurrence and its BPTT as plain loops over steps, compiled once per machine (rnnlab/kernel.py).

   Forward, in place:   s_t ← φ(s_t + A_h·h_{t-1}),   s_t holding u_t = A_x·x_t + b on entry,   h_{-1} = h0
   Backward:            δ_t = g_t ⊙ φ'(z_t),   g_t = ∂L/∂h_t (output) + δ_{t+1}·A_h,   t = T-1 … 0

   Arrays are C-contiguous, time-major: s, delta (T, B, H); h0 (B, H). g_out is read at
   g_out[t·gt + b·gb + j], so that a batch-major gradient needs no copy. The forward reads A_hᵀ (H, H) so that its
   inner loop runs along contiguous memory; the backward reads A_h (H, H). φ: 0 tanh, 1 relu, 2 linear.
   Denormals are flushed to zero during each call (they make x86 arithmetic many times slower), then restored.

   tanh in float32 is the rational approximation that Eigen and XLA use (13/6 odd/even polynomials on [-7.9, 7.9],
   max error a few ulp; exactly ±1 past |x| = 9, as tanh rounds there), which vectorises; float64 calls libm's
   tanh. */
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

#define DEFINE(REAL, SUFFIX, TANH)                                                                                 \
ROWS_TIMES(REAL)                                                                                                   \
static inline __attribute__((always_inline)) void forward_##SUFFIX(int64_t T, int64_t B, int64_t H,               \
        REAL *restrict s, const REAL *restrict h0, const REAL *restrict AT, int nl) {                              \
    for (int64_t t = 0; t < T; t++) {                                                                              \
        const REAL *prev = t ? s + (t - 1) * B * H : h0;                                                           \
        REAL *st = s + t * B * H;                                                                                  \
        for (int64_t b = 0; b < B; b += 2) {                                                                       \
            const int64_t rows = B - b < 2 ? 1 : 2;                                                                \
            REAL *z = st + b * H;                                                                                  \
            rows_times_##REAL(H, rows, z, z + H, prev + b * H, prev + (b + 1) * H, AT);                            \
            for (int64_t i = 0; i < rows * H; i++) z[i] = PHI(REAL, TANH, z[i], nl);                               \
        }                                                                                                          \
    }                                                                                                              \
}                                                                                                                  \
static inline __attribute__((always_inline)) void backward_##SUFFIX(int64_t T, int64_t B, int64_t H,              \
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
void rnn_forward_##SUFFIX(int64_t T, int64_t B, int64_t H, REAL *s, const REAL *h0, const REAL *AT, int nl) {     \
    FLUSH_ON();                                                                                                    \
    switch (H) {                                                                                                   \
        case 8: forward_##SUFFIX(T, B, 8, s, h0, AT, nl); break;                                                   \
        case 16: forward_##SUFFIX(T, B, 16, s, h0, AT, nl); break;                                                 \
        case 32: forward_##SUFFIX(T, B, 32, s, h0, AT, nl); break;                                                 \
        case 64: forward_##SUFFIX(T, B, 64, s, h0, AT, nl); break;                                                 \
        case 128: forward_##SUFFIX(T, B, 128, s, h0, AT, nl); break;                                               \
        default: forward_##SUFFIX(T, B, H, s, h0, AT, nl);                                                         \
    }                                                                                                              \
    FLUSH_OFF();                                                                                                   \
}                                                                                                                  \
void rnn_backward_##SUFFIX(int64_t T, int64_t B, int64_t H, const REAL *hs, const REAL *g_out, int64_t gt,     \
                           int64_t gb, REAL *delta, const REAL *Ah, int nl) {                                      \
    FLUSH_ON();                                                                                                    \
    switch (H) {                                                                                                   \
        case 8: backward_##SUFFIX(T, B, 8, hs, g_out, gt, gb, delta, Ah, nl); break;                                       \
        case 16: backward_##SUFFIX(T, B, 16, hs, g_out, gt, gb, delta, Ah, nl); break;                                     \
        case 32: backward_##SUFFIX(T, B, 32, hs, g_out, gt, gb, delta, Ah, nl); break;                                     \
        case 64: backward_##SUFFIX(T, B, 64, hs, g_out, gt, gb, delta, Ah, nl); break;                                     \
        case 128: backward_##SUFFIX(T, B, 128, hs, g_out, gt, gb, delta, Ah, nl); break;                                   \
        default: backward_##SUFFIX(T, B, H, hs, g_out, gt, gb, delta, Ah, nl);                                             \
    }                                                                                                              \
    FLUSH_OFF();                                                                                                   \
}

DEFINE(float, f32, tanh_f32)
DEFINE(double, f64, tanh)
