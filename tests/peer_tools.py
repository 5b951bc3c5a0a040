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
