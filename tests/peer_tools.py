"""Helpers for the tests that run llama.cpp's tools from ../shared/peer beside Tandem."""
import os
import socket


def peer_libs(peer, tmp):
    """The peer's lib/ may store its .so symlinks as small text files: link them properly into tmp/peer-lib."""
    src, dst = os.path.join(peer, "lib"), os.path.join(tmp, "peer-lib")
    os.makedirs(dst)
    for f in os.listdir(src):
        target = os.path.join(src, f)
        if os.path.getsize(target) < 256:
            with open(target, errors="replace") as fh:
                name = fh.read().strip()
            if os.path.exists(os.path.join(src, name)):
                target = os.path.join(src, name)
        os.symlink(os.path.realpath(target), os.path.join(dst, f))
    return dst


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gguf_tensors(path):
    """The tensors of a GGUF file as (name, dims, type id), read from its header."""
    import struct
    with open(path, "rb") as f:
        def read(fmt):
            return struct.unpack("<" + fmt, f.read(struct.calcsize(fmt)))[0]

        def string():
            return f.read(read("Q")).decode("utf-8", "replace")

        scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

        def skip(t):
            if t == 8:
                string()
            elif t == 9:
                et, n = read("I"), read("Q")
                for _ in range(n):
                    skip(et)
            else:
                read(scalar[t])

        if f.read(4) != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file")
        read("I")
        n_tensors, n_kv = read("Q"), read("Q")
        for _ in range(n_kv):
            string()
            skip(read("I"))
        out = []
        for _ in range(n_tensors):
            name = string()
            dims = [read("Q") for _ in range(read("I"))]
            out.append((name, dims, read("I")))
            read("Q")
        return out


def write_ones_imatrix(path, model):
    """An importance matrix of ones for every matrix of model (llama-quantize needs one for the IQ1 /
    IQ2 types), in llama.cpp's legacy binary layout: the entry count; per entry its name, call count,
    value count and values; then the last call and a dataset name."""
    import struct
    mats = [(name, dims[0]) for name, dims, _ in gguf_tensors(model) if len(dims) == 2]
    with open(path, "wb") as f:
        f.write(struct.pack("<i", len(mats)))
        for name, n in mats:
            b = name.encode()
            f.write(struct.pack("<i", len(b)) + b + struct.pack("<ii", 1, n) + struct.pack(f"<{n}f", *([1.0] * n)))
        f.write(struct.pack("<ii", 1, 4) + b"ones")
