/* One core's float32 peak: twelve independent chains of 16-wide fused multiply-adds (AVX-512), enough to hide
   their latency, so that only the FMA units' throughput limits them. Prints GFLOP/s (2 FLOP per lane per FMA),
   three times. The ceiling against which benchmarks/README.md reads the GEMMs' and the C loops' rates.

       cc -O2 -march=native benchmarks/peak_flops.c -o /tmp/peak_flops && /tmp/peak_flops

   (with `python -m ziglang cc` in place of cc where there is no system compiler). Needs AVX-512F. */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
    __m512 acc[12];
    const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-4f);
    for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps((float)i);
    const long n = 200000000 / 12;
    for (int round = 0; round < 3; round++) {
        const double start = now();
        for (long k = 0; k < n; k++) { /* written out: a loop over i kept acc in memory, at a quarter the rate */
#define FMA(i) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
            FMA(0) FMA(1) FMA(2) FMA(3) FMA(4) FMA(5) FMA(6) FMA(7) FMA(8) FMA(9) FMA(10) FMA(11)
        }
        const double seconds = now() - start;
        float sum = 0; /* used, so that the loop is not optimised away */
        for (int i = 0; i < 12; i++) sum += _mm512_reduce_add_ps(acc[i]);
        printf("%.1f GFLOP/s (checksum %g)\n", n * 12.0 * 16 * 2 / seconds / 1e9, sum);
    }
    return 0;
}
