#!/usr/bin/env python3
"""The embedding scorer's similarities against sentence-transformers (Benchmarks/embedding_scorer.sh).

    embedding_parity.py texts WORK_DIR            writes WORK_DIR/texts.txt: 1 explanation + 200 contexts
    embedding_parity.py compare MODEL WORK_DIR    reads WORK_DIR/swift.f32, embeds the same texts with
                                                  SentenceTransformer(MODEL), prints the max abs differences

The contexts are the docstrings of Python's standard library (prose, code, lists), cut to at most
400 characters: real text of mixed lengths that needs no download. Needs sentence-transformers
(and torch) for `compare` only.
"""
import inspect
import os
import sys


def texts():
    import argparse, collections, json, os.path, pathlib, re, string, textwrap, urllib.parse
    seen, out = set(), []
    for module in (os, os.path, json, re, string, textwrap, collections, argparse, pathlib, urllib.parse, inspect):
        for name in sorted(dir(module)):
            doc = inspect.getdoc(getattr(module, name, None)) or ""
            doc = " ".join(doc.split())[:400]
            if len(doc) < 40 or doc in seen:
                continue
            seen.add(doc)
            out.append(doc)
    if len(out) < 200:
        sys.exit(f"only {len(out)} docstrings found")
    return ["functions that read, write or join file system paths"] + out[:200]


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "texts":
        with open(os.path.join(sys.argv[2], "texts.txt"), "w", encoding="utf-8") as f:
            for t in texts():
                f.write(t.replace("\n", " ") + "\n")
        return
    if len(sys.argv) != 4 or sys.argv[1] != "compare":
        sys.exit(__doc__)
    import numpy as np
    from sentence_transformers import SentenceTransformer

    model_dir, work = sys.argv[2], sys.argv[3]
    with open(os.path.join(work, "texts.txt"), encoding="utf-8") as f:
        lines = f.read().split("\n")[:-1]
    swift = np.fromfile(os.path.join(work, "swift.f32"), dtype="<f4").reshape(len(lines), -1)
    model = SentenceTransformer(model_dir, device="cpu")
    reference = model.encode(lines, batch_size=32, convert_to_numpy=True)
    assert reference.shape == swift.shape, (reference.shape, swift.shape)

    def cosines(e):
        e = e.astype(np.float64)
        e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
        return e[1:] @ e[0]

    sim_swift, sim_ref = cosines(swift), cosines(reference)
    diff = np.abs(sim_swift - sim_ref).max()
    print(f"sentence-transformers: {model_dir} (max_seq_length {model.max_seq_length}), {len(lines) - 1} contexts")
    print(f"max abs difference of embeddings: {np.abs(swift - reference).max():.2e}")
    print(f"max abs difference of similarities to the explanation: {diff:.2e} ({'ok' if diff <= 1e-4 else 'ABOVE 1e-4'})")
    sys.exit(0 if diff <= 1e-4 else 1)


if __name__ == "__main__":
    main()
