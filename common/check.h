// Invariant checks for the hot path: they log file:line and abort in every build
// (a bare assert() vanishes under NDEBUG). Expected outcomes are values, not checks.
#pragma once

#include <cstdio>
#include <cstdlib>

#define TANDEM_CHECK(cond)                                                                          \
    do {                                                                                            \
        if (!(cond)) {                                                                              \
            std::fprintf(stderr, "tandem: check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                           \
        }                                                                                           \
    } while (0)
