#!/usr/bin/env python3
"""Writes kernels/iq_grids.cpp: the codebooks of the IQ1 / IQ2 / IQ3 weight types.

A block of these types stores indices into a fixed table of 4- or 8-element points (the "grid"); the
table is part of the format, as the 16 values of iq4_nl are. This script reads each table out of
llama.cpp's own decoder as a black box: for every index it builds one block whose first group names
that index with scale 1 and no signs, decodes it with the peer's `dequantize_row_<type>`
(libggml-base.so under shared/peer/lib) and reads the point back from the first elements.
tests/kernels/test_decoders_peer.cpp checks the result: Tandem's decoders against the peer's on random
blocks of every type.

usage: iq_grids.py SHARED_DIR > kernels/iq_grids.cpp"""
import ctypes
import os
import struct
import sys

F16_ONE = 0x3C00


def peer_ggml_base(shared):
    """The peer's libggml-base shared object (its unversioned names are link stubs, not ELF files)."""
    lib_dir = os.path.join(shared, "peer", "lib")
    names = sorted(n for n in os.listdir(lib_dir) if n.startswith("libggml-base.so")) if os.path.isdir(lib_dir) else []
    for n in reversed(names):
        with open(os.path.join(lib_dir, n), "rb") as f:
            if f.read(4) == b"\x7fELF":
                return os.path.join(lib_dir, n)
    sys.exit(f"no libggml-base.so under {lib_dir}: the peer's library is where the codebooks are read from")


def decoder(lib, name):
    f = getattr(lib, "dequantize_row_" + name)
    f.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    f.restype = None
    return f


def decode(f, block):
    """The 256 floats of one block."""
    src = ctypes.create_string_buffer(bytes(block), len(block))
    dst = (ctypes.c_float * 256)()
    f(src, dst, 256)
    return list(dst)


def point(values, scale, offset=0.0):
    """The integer codes of values = scale * (code + offset), checked to be whole."""
    out = []
    for v in values:
        c = v / scale - offset
        if abs(c - round(c)) > 1e-6:
            sys.exit(f"not a whole code: {v} / {scale} - {offset}")
        out.append(int(round(c)))
    return out


def grid(lib, name, size, n, block_bytes, place, scale, offset=0.0):
    f = decoder(lib, name)
    points = []
    for i in range(size):
        b = bytearray(block_bytes)
        place(b, i)
        points.append(point(decode(f, b)[:n], scale, offset))
    return points


def f16_d(b, i):
    struct.pack_into("<H", b, 0, F16_ONE)


def place_iq2_xxs(b, i):  # d; qs[0] byte 0: the grid index of elements 0-7; scale and signs 0
    f16_d(b, i)
    b[2] = i


def place_iq2_xs(b, i):  # d; qs[0] (uint16): 9-bit index, 7-bit sign pattern 0
    f16_d(b, i)
    struct.pack_into("<H", b, 2, i)


def place_iq2_s(b, i):  # d; qs[0] the index's low 8 bits; qh[0] (after 64 bytes of qs) bits 0-1 its top
    f16_d(b, i)
    b[2] = i & 0xff
    b[2 + 64] = i >> 8


def place_iq3_xxs(b, i):  # d; qs[0]: the index of elements 0-3
    f16_d(b, i)
    b[2] = i


def place_iq3_s(b, i):  # d; qs[0] the index's low 8 bits; qh[0] (after 64 bytes of qs) bit 0 its 9th
    f16_d(b, i)
    b[2] = i & 0xff
    b[2 + 64] = i >> 8


def place_iq1_s(b, i):  # d; qs[0] the index's low 8 bits; qh[0] (uint16 after 32 bytes of qs) bits 0-2 its top
    f16_d(b, i)
    b[2] = i & 0xff
    struct.pack_into("<H", b, 2 + 32, i >> 8)


def table(name, ctype, points, comment):
    width = len(points[0])
    lines = [f"// {comment}", f"const {ctype} {name}[{len(points)}] = {{"]
    per_line = 4 if width == 8 else 6
    words = []
    for p in points:
        v = 0
        for k, c in enumerate(p):
            v |= (c & 0xff) << (8 * k)
        words.append(f"0x{v:0{2 * width}x}")
    for k in range(0, len(words), per_line):
        lines.append("    " + ", ".join(words[k:k + per_line]) + ",")
    lines.append("};")
    return "\n".join(lines)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    lib_path = peer_ggml_base(sys.argv[1])
    lib = ctypes.CDLL(lib_path)
    tables = [
        ("k_iq2xxs_grid", "uint64_t", grid(lib, "iq2_xxs", 256, 8, 66, place_iq2_xxs, 0.125),
         "iq2_xxs: 256 points of 8 magnitudes (8, 25 or 43)"),
        ("k_iq2xs_grid", "uint64_t", grid(lib, "iq2_xs", 512, 8, 74, place_iq2_xs, 0.125),
         "iq2_xs: 512 points of 8 magnitudes"),
        ("k_iq2s_grid", "uint64_t", grid(lib, "iq2_s", 1024, 8, 82, place_iq2_s, 0.125),
         "iq2_s: 1024 points of 8 magnitudes"),
        ("k_iq3xxs_grid", "uint32_t", grid(lib, "iq3_xxs", 256, 4, 98, place_iq3_xxs, 0.25),
         "iq3_xxs: 256 points of 4 magnitudes (4 to 62)"),
        ("k_iq3s_grid", "uint32_t", grid(lib, "iq3_s", 512, 4, 110, place_iq3_s, 1.0),
         "iq3_s: 512 points of 4 magnitudes (1 to 15, odd)"),
        ("k_iq1s_grid", "uint64_t", grid(lib, "iq1_s", 2048, 8, 50, place_iq1_s, 1.0, 0.125),
         "iq1_s / iq1_m: 2048 points of 8 values in {-1, 0, 1} (int8)"),
    ]
    print("// The codebooks of the IQ1 / IQ2 / IQ3 weight types: point i of a table is its codes in bytes,")
    print("// element k in byte k. They are part of the GGUF format (a block stores indices into them). Written")
    print("// by scripts/iq_grids.py, which reads each point out of llama.cpp's decoder; do not edit by hand.")
    print('#include "kernels/iq_grids.h"')
    print()
    print("namespace tandem {")
    print()
    print("// clang-format off")
    print("\n\n".join(table(name, ctype, points, comment) for name, ctype, points, comment in tables))
    print("// clang-format on")
    print()
    print("}  // namespace tandem")


if __name__ == "__main__":
    main()
