#!/usr/bin/env python3
"""Writes Tests/AutoInterpTests/Fixtures/GGUF/quants.gguf for GGUFTests.

One small tensor per ggml type the reader dequantises (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0,
Q5_1, Q4_K, Q5_K, Q6_K), each beside an F32 tensor `ref.<name>` holding what the `gguf` package's numpy
dequantiser (a port of ggml-quants.c's dequantize_row_*) makes of it, and one metadata key of
every GGUF value type, arrays included. K-quant blocks are random bytes with finite f16 scales
(the package has no K-quantiser); the others are quantised from random floats.

Run once by hand: python3 -m pip install gguf numpy && python3 Tests/Scripts/make_gguf_fixtures.py
"""
from pathlib import Path

import gguf
import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGUFValueType as V

OUT = Path(__file__).resolve().parent.parent / "AutoInterpTests" / "Fixtures" / "GGUF" / "quants.gguf"
rng = np.random.default_rng(18)


def random_k_blocks(qtype, n_blocks):
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    halves = rng.uniform(0.001, 0.05, size=(n_blocks, 2)).astype(np.float16).view(np.uint8)
    if qtype == T.Q6_K:
        raw[:, type_size - 2:] = halves[:, 0:2]      # d is the block's last 2 bytes
    else:
        raw[:, 0:4] = halves                           # d, dmin lead the block
    return raw


def main():
    w = gguf.GGUFWriter(str(OUT), arch="test")
    # One key per value type (the writer adds general.architecture itself).
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -30000)
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -2000000000)
    w.add_float32("t.f32", 0.15625)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "héllo ▁ 世界")
    w.add_uint64("t.u64", 2**40 + 7)
    w.add_int64("t.i64", -(2**40))
    w.add_float64("t.f64", -1.5e-10)
    w.add_array("t.strs", ["a", "", "Ġthe", "<|endoftext|>"])
    w.add_array("t.ints", [1, -2, 3])
    w.add_key_value("t.nested", [[1, 2], [3]], V.ARRAY, sub_type=V.ARRAY)

    tensors = {}
    x = rng.standard_normal((3, 5)).astype(np.float32)
    tensors["f32"] = (x, None, T.F32)
    tensors["f16"] = (x.astype(np.float16), None, T.F16)
    tensors["bf16"] = (gguf.quants.quantize(x, T.BF16), (3, 5), T.BF16)
    tensors["f32_3d"] = (rng.standard_normal((2, 3, 4)).astype(np.float32), None, T.F32)
    small = rng.standard_normal((2, 64)).astype(np.float32)
    for name, qtype in [("q8_0", T.Q8_0), ("q4_0", T.Q4_0), ("q4_1", T.Q4_1)]:
        tensors[name] = (gguf.quants.quantize(small, qtype), (2, 64), qtype)
    for name, qtype in [("q4_k", T.Q4_K), ("q5_k", T.Q5_K), ("q6_k", T.Q6_K)]:
        raw = random_k_blocks(qtype, 2)                       # 2 rows of one 256-block
        tensors[name] = (raw.reshape(2, -1), (2, 256), qtype)
    for name, qtype in [("q5_0", T.Q5_0), ("q5_1", T.Q5_1)]:    # Gemma 3 GGUFs use Q5_0
        tensors[name] = (gguf.quants.quantize(small, qtype), (2, 64), qtype)

    for name, (data, shape, qtype) in tensors.items():
        if shape is None:
            w.add_tensor(name, data)
            ref = data.astype(np.float32)
        else:
            w.add_tensor(name, data, raw_dtype=qtype)  # data is (rows, bytes per row)
            ref = gguf.quants.dequantize(data, qtype).reshape(shape).astype(np.float32)
        assert np.all(np.isfinite(ref)), name
        w.add_tensor("ref." + name, np.ascontiguousarray(ref))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(OUT, OUT.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
