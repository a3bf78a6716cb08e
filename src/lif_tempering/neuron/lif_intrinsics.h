// x86 SIMD intrinsics for the functions compiled for x86-64-v4 (lif_tempering.neuron.model),
// included at the top of a code object (Brian2's `headers`), outside its anonymous namespace.
#ifndef LIF_INTRINSICS_H
#define LIF_INTRINSICS_H
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#endif
