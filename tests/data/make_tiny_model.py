#!/usr/bin/env python3
"""Writes tiny_model_momentum.safetensors: the momentum buffers of a tiny
model after a short training run, the test data of `polar-express analyze`.

The model is a token classifier: an embedding E (100 x 32), a hidden layer
h = relu(W1 e + b1) with W1 (64 x 32), and logits W2 h with W2 (16 x 64),
trained with cross-entropy on a fixed synthetic task (the label is a fixed
random function of the token) by SGD with momentum 0.95, batch 32, 60
steps. The buffers are what Muon orthogonalises: E's is rank-deficient
(only the tokens seen recently move it), W1's and W2's are full matrices
with a spread spectrum, b1's is a vector (skipped by analyze). W2's buffer
is also stored in BF16 and W1's in F16, the other dtypes analyze reads.

Pure Python (no numpy), seeded, and IEEE arithmetic throughout, so the file
is the same byte for byte on every machine:

    python3 tests/data/make_tiny_model.py [--output PATH] [--check PATH]

--check regenerates and exits 1 if PATH differs (0 if equal).
"""
import argparse
import json
import math
import random
import struct
import sys

VOCAB, WIDTH, HIDDEN, CLASSES = 100, 32, 64, 16
STEPS, BATCH, MOMENTUM, LR = 60, 32, 0.95, 0.1


def matrix(rows, cols, rng, scale):
    return [[rng.gauss(0.0, scale) for _ in range(cols)] for _ in range(rows)]


def zeros(rows, cols):
    return [[0.0] * cols for _ in range(rows)]


def train():
    rng = random.Random(13)
    labels = [rng.randrange(CLASSES) for _ in range(VOCAB)]
    params = {
        "embed.weight": matrix(VOCAB, WIDTH, rng, 1.0),
        "hidden.weight": matrix(HIDDEN, WIDTH, rng, 1.0 / math.sqrt(WIDTH)),
        "hidden.bias": [[0.0] * HIDDEN],
        "out.weight": matrix(CLASSES, HIDDEN, rng, 1.0 / math.sqrt(HIDDEN)),
    }
    momentum = {name: zeros(len(p), len(p[0])) for name, p in params.items()}
    E, W1, b1, W2 = (params[n] for n in ("embed.weight", "hidden.weight", "hidden.bias", "out.weight"))
    for _ in range(STEPS):
        grads = {name: zeros(len(p), len(p[0])) for name, p in params.items()}
        gE, gW1, gb1, gW2 = (grads[n] for n in ("embed.weight", "hidden.weight", "hidden.bias", "out.weight"))
        for _ in range(BATCH):
            t = rng.randrange(VOCAB)
            e = E[t]
            pre = [sum(W1[i][j] * e[j] for j in range(WIDTH)) + b1[0][i] for i in range(HIDDEN)]
            h = [max(0.0, v) for v in pre]
            logits = [sum(W2[c][i] * h[i] for i in range(HIDDEN)) for c in range(CLASSES)]
            top = max(logits)
            exp = [math.exp(v - top) for v in logits]
            total = sum(exp)
            dlogits = [v / total / BATCH for v in exp]
            dlogits[labels[t]] -= 1.0 / BATCH
            dh = [sum(W2[c][i] * dlogits[c] for c in range(CLASSES)) for i in range(HIDDEN)]
            dpre = [dh[i] if pre[i] > 0 else 0.0 for i in range(HIDDEN)]
            for c in range(CLASSES):
                for i in range(HIDDEN):
                    gW2[c][i] += dlogits[c] * h[i]
            for i in range(HIDDEN):
                gb1[0][i] += dpre[i]
                for j in range(WIDTH):
                    gW1[i][j] += dpre[i] * e[j]
            for j in range(WIDTH):
                gE[t][j] += sum(W1[i][j] * dpre[i] for i in range(HIDDEN))
        for name, p in params.items():
            for r, row in enumerate(p):
                for c in range(len(row)):
                    m = momentum[name][r][c] = MOMENTUM * momentum[name][r][c] + grads[name][r][c]
                    row[c] -= LR * m
    return momentum


def f32_bytes(values):
    return struct.pack("<%df" % len(values), *values)


def f16_bytes(values):
    return struct.pack("<%de" % len(values), *values)


def bf16_bytes(values):
    out = bytearray()
    for v in values:
        bits = struct.unpack("<I", struct.pack("<f", v))[0]
        # round to nearest even on the 16 dropped bits
        bits += 0x7FFF + ((bits >> 16) & 1)
        out += struct.pack("<H", (bits >> 16) & 0xFFFF)
    return bytes(out)


def safetensors(tensors):
    """tensors: list of (name, dtype, shape, bytes) in data order."""
    header, data, offset = {}, b"", 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        data += raw
        offset += len(raw)
    header["__metadata__"] = {"source": "tests/data/make_tiny_model.py (momentum buffers after 60 steps)"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def build():
    m = train()
    flat = {name: [v for row in rows for v in row] for name, rows in m.items()}
    return safetensors([
        ("embed.weight", "F32", [VOCAB, WIDTH], f32_bytes(flat["embed.weight"])),
        ("hidden.weight", "F32", [HIDDEN, WIDTH], f32_bytes(flat["hidden.weight"])),
        ("hidden.bias", "F32", [HIDDEN], f32_bytes(flat["hidden.bias"])),
        ("out.weight", "F32", [CLASSES, HIDDEN], f32_bytes(flat["out.weight"])),
        ("out.weight.bf16", "BF16", [CLASSES, HIDDEN], bf16_bytes(flat["out.weight"])),
        ("hidden.weight.f16", "F16", [HIDDEN, WIDTH], f16_bytes(flat["hidden.weight"])),
    ])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=None)
    parser.add_argument("--check", default=None)
    args = parser.parse_args()
    content = build()
    if args.check:
        with open(args.check, "rb") as f:
            same = f.read() == content
        print("%s %s" % (args.check, "matches" if same else "differs from the regenerated data"))
        return 0 if same else 1
    path = args.output or __file__.rsplit("/", 1)[0] + "/tiny_model_momentum.safetensors"
    with open(path, "wb") as f:
        f.write(content)
    print("wrote %s (%d bytes)" % (path, len(content)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
