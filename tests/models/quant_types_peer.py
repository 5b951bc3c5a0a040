#!/usr/bin/env python3
"""Every weight type llama-quantize writes beyond the golden files' (F16, Q8_0, Q4_0, Q4_K_M): the K-quant
mixes, the *_0 / *_1 types, BF16, F32, the IQ types, q1_0, q2_0, tq1_0 and tq2_0 (not MXFP4_MOE, which
quantizes only MoE experts),
checked against llama.cpp on files llama.cpp's own llama-quantize writes: for each type,
the F16 llama-spm-tiny file is quantized, served by `llama-server` and by `tandem serve`, and the
top log-probabilities of the first generated token of several prompts must agree (the same tokens,
log-probs within a tolerance that allows for llama.cpp's 8-bit activations). A wrong block layout
moves them by far more: the test prints the largest gap it saw.

usage: quant_types_peer.py TANDEM_BIN SHARED_DIR"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from peer_tools import free_port, gguf_tensors, peer_libs, write_ones_imatrix  # noqa: E402

# llama-quantize's type name -> the GGUF type id most of the file's matrices must then have (its mixes:
# IQ2_S writes mostly iq2_xs on this model, IQ3_XS iq3_s and iq3_xxs).
TYPES = {"Q2_K": 10, "Q2_K_S": 10, "Q3_K_S": 11, "Q3_K_M": 11, "Q3_K_L": 11, "Q4_K_S": 12, "Q5_K_S": 13,
         "Q5_K_M": 13, "Q6_K": 14, "Q4_1": 3, "Q5_0": 6, "Q5_1": 7, "BF16": 30, "F32": 0, "IQ4_NL": 20,
         "IQ4_XS": 23, "Q1_0": 41, "Q2_0": 42, "TQ1_0": 34, "TQ2_0": 35, "IQ2_XXS": 16, "IQ2_XS": 17, "IQ2_S": 17,
         "IQ2_M": 22, "IQ3_XXS": 18, "IQ3_XS": 21, "IQ3_S": 21, "IQ3_M": 21, "IQ1_S": 19, "IQ1_M": 29}
# The types llama-quantize writes only with an importance matrix (Q2_K_S, the IQ1 / IQ2 codebooks; the
# IQ3 ones get it too).
NEEDS_IMATRIX = {"Q2_K_S", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS", "IQ3_S", "IQ3_M", "IQ1_S",
                 "IQ1_M"}
PROMPTS = ["Hello, my name is", "The children walked to the river", "Héllo wörld 123", "Once upon a time"]
TOP = 8          # log-probs compared per prompt
TOLERANCE = 0.05  # nats; observed gaps are about 0.01


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def quantized_share(model, type_id):
    """The share of model's matrices stored as type_id."""
    mats = [t for _, dims, t in gguf_tensors(model) if len(dims) == 2]
    return sum(t == type_id for t in mats) / len(mats)


def post(port, path, body, timeout=60):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.load(r)


def wait_ready(port, proc, log):
    for _ in range(300):
        if proc.poll() is not None:
            fail(f"server exited early:\n{open(log).read()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    fail(f"server on port {port} not ready after 30 s:\n{open(log).read()[-2000:]}")


def serve(cmd, env, port, log):
    proc = subprocess.Popen(cmd, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    wait_ready(port, proc, log)
    return proc


def peer_top(port, prompt):
    d = post(port, "/completion", {"prompt": prompt, "n_predict": 1, "n_probs": TOP, "temperature": 0,
                                   "post_sampling_probs": False})
    return {p["token"]: p["logprob"] for p in d["completion_probabilities"][0]["top_logprobs"]}


def tandem_top(port, prompt):
    d = post(port, "/v1/completions", {"prompt": prompt, "max_tokens": 1, "logprobs": 2 * TOP, "temperature": 0})
    return d["choices"][0]["logprobs"]["top_logprobs"][0]


def compare(kind, prompt, peer, ours):
    """Every token of llama.cpp's top TOP is among ours (which lists 2 * TOP) within TOLERANCE, except
    at the tail where a near tie may swap a token just outside the lists; returns the largest gap."""
    worst = 0.0
    last = min(peer.values())
    for tok, lp in peer.items():
        if tok not in ours:
            if lp - last < TOLERANCE:  # a near tie at the list's end
                continue
            fail(f"{kind} '{prompt}': llama.cpp's token {tok!r} ({lp:.4f}) is not in Tandem's top {2 * TOP}: {ours}")
        gap = abs(ours[tok] - lp)
        worst = max(worst, gap)
        if gap > TOLERANCE:
            fail(f"{kind} '{prompt}': token {tok!r}: Tandem {ours[tok]:.4f}, llama.cpp {lp:.4f}")
    return worst


def main():
    if len(sys.argv) != 3:
        fail(__doc__)
    tandem, shared = sys.argv[1], sys.argv[2]
    peer = os.path.join(shared, "peer")
    base = os.path.join(shared, "models", "llama-spm-tiny-F16.gguf")
    for f in (base, os.path.join(peer, "lib", "llama-quantize"), os.path.join(peer, "lib", "llama-server")):
        if not os.path.exists(f):
            fail(f"missing {f}: this test needs ../shared (models and the llama.cpp peer)")
    with tempfile.TemporaryDirectory() as tmp:
        lib = peer_libs(peer, tmp)
        env = dict(os.environ, LD_LIBRARY_PATH=lib)
        imatrix = os.path.join(tmp, "ones.imatrix")
        write_ones_imatrix(imatrix, base)
        for kind, type_id in TYPES.items():
            model = os.path.join(tmp, f"tiny-{kind}.gguf")
            extra = ["--imatrix", imatrix] if kind in NEEDS_IMATRIX else []
            q = subprocess.run([os.path.join(lib, "llama-quantize"), *extra, base, model, kind, "2"], env=env,
                               capture_output=True, text=True)
            if q.returncode != 0:
                fail(f"llama-quantize {kind}: {q.stderr[-2000:]}")
            share = quantized_share(model, type_id)
            if share < 0.5:
                fail(f"llama-quantize {kind} stored only {share:.0%} of the matrices as type {type_id}")
            p_port, t_port = free_port(), free_port()
            p_log, t_log = os.path.join(tmp, "peer.log"), os.path.join(tmp, "tandem.log")
            p = serve([os.path.join(lib, "llama-server"), "-m", model, "-t", "2", "-c", "512", "--no-webui",
                       "--host", "127.0.0.1", "--port", str(p_port)], env, p_port, p_log)
            t = serve([tandem, "serve", "-m", model, "-t", "2", "--host", "127.0.0.1", "--port", str(t_port)],
                      os.environ, t_port, t_log)
            try:
                worst = max(compare(kind, pr, peer_top(p_port, pr), tandem_top(t_port, pr)) for pr in PROMPTS)
            finally:
                for proc in (p, t):
                    proc.terminate()
                    proc.wait(timeout=30)
            print(f"{kind} ({share:.0%} of the matrices): top-{TOP} log-probs of {len(PROMPTS)} prompts agree "
                  f"with llama.cpp, largest gap {worst:.4f} nats")
    print("all types agree")


if __name__ == "__main__":
    main()
