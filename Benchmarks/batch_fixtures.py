"""Writes the dataset of Benchmarks/batch_scale.sh: NEURONS neurons over the planted-concept
vocabulary of the built-in example (SyntheticDataset's words), neuron n firing on the words of
class n % 5 (animals, numbers, colours, verbs, places) with a graded strength, 0 elsewhere, so
the scripted model of `autointerp-dev serve-test --batch` gives each unit a sensible, varied
explanation (five different ones, none shared by more than a fifth of the units).

Usage: python3 batch_fixtures.py OUT [--neurons 2000] [--contexts 160] [--context-len 32]
"""

import argparse
import json
import os

import numpy as np

import safetensors_np

SPECIAL = ["[PAD]", "[CLS]", "[SEP]"]
FUNCTION = ["the", "a", "in", "and", "of", ",", "."]
CLASSES = [
    ["cat", "dog", "horse", "owl", "fox", "whale", "mouse", "tiger"],
    ["one", "two", "three", "seven", "ten", "twelve"],
    ["red", "green", "blue", "yellow", "purple"],
    ["runs", "sees", "eats", "finds", "likes", "hears"],
    ["park", "river", "house", "forest", "city"],
]
# SyntheticDataset.vocabulary's order: special, function, animals, numbers, colours, verbs, places.
VOCAB = SPECIAL + FUNCTION + CLASSES[0] + CLASSES[1] + CLASSES[2] + CLASSES[3] + CLASSES[4]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--neurons", type=int, default=2000)
    parser.add_argument("--contexts", type=int, default=160)
    parser.add_argument("--context-len", type=int, default=32)
    args = parser.parse_args()
    rng = np.random.default_rng(20)
    folder = os.path.join(args.out, "shards")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "vocab.json"), "w") as f:
        json.dump(VOCAB, f)
    index = {w: i for i, w in enumerate(VOCAB)}
    words = [w for c in CLASSES for w in c] + FUNCTION
    tokens = np.array([[index[words[k]] for k in rng.integers(0, len(words), args.context_len)] for _ in range(args.contexts)], dtype=np.int32)
    tokens[:, 0] = index["[CLS]"]
    cls_of = np.full(len(VOCAB), -1)
    for c, ws in enumerate(CLASSES):
        for w in ws:
            cls_of[index[w]] = c
    token_class = cls_of[tokens]  # [contexts, len]
    strength = 1.0 + (tokens % 4) * 0.5
    acts = np.zeros((args.contexts, args.context_len, args.neurons), dtype=np.float16)
    for n in range(args.neurons):
        fires = token_class == n % 5
        acts[:, :, n] = np.where(fires, strength * (1 + 0.01 * (n % 7)), 0)
    safetensors_np.write(os.path.join(folder, "part-0.safetensors"), {"tokens": tokens, "activations": acts})
    print(f"{args.contexts} contexts x {args.context_len} tokens, {args.neurons} neurons")


if __name__ == "__main__":
    main()
