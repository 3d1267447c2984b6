"""A small GGUF (version 3) writer with numpy only, for the model converters in scripts/.

Usage:
    w = GGUFWriter()
    w.add_string("general.architecture", "gpt2")
    w.add_u32("gpt2.block_count", 3)
    w.add_string_array("tokenizer.ggml.tokens", ["a", "b"])
    w.add_tensor("token_embd.weight", array)   # numpy array, C order
    w.write("model.gguf")

Layout (the GGUF spec in ggml's docs/gguf.md): header (magic, version, tensor count, kv
count), the key-value pairs, the tensor infos, padding to the alignment, then the tensor
data, each tensor starting at a multiple of the alignment. A tensor's dimensions are
written fastest-varying first, so a numpy array of shape (rows, cols) gets ne = [cols, rows]
-- for a PyTorch nn.Linear weight [out, in] that is ggml's {in, out}.
"""
import struct

import numpy as np

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
DEFAULT_ALIGNMENT = 32

# metadata value types
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
_SCALAR_FORMATS = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i",
                   F32: "<f", BOOL: "<?", U64: "<Q", I64: "<q", F64: "<d"}

# ggml tensor types this writer can store, by numpy dtype
GGML_TYPE_F32, GGML_TYPE_F16 = 0, 1
_TENSOR_TYPES = {np.dtype("<f4"): GGML_TYPE_F32, np.dtype("<f2"): GGML_TYPE_F16}


def _string(s):
    data = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("<Q", len(data)) + data


class GGUFWriter:
    def __init__(self, alignment=DEFAULT_ALIGNMENT):
        self.alignment = alignment
        self.kv = []        # (key, encoded type + value)
        self.tensors = []   # (name, contiguous little-endian array)
        if alignment != DEFAULT_ALIGNMENT:
            self.add_u32("general.alignment", alignment)

    def _add(self, key, value_type, payload):
        if any(k == key for k, _ in self.kv):
            raise ValueError(f"duplicate key {key}")
        self.kv.append((key, struct.pack("<I", value_type) + payload))

    def add_scalar(self, key, value_type, value):
        self._add(key, value_type, struct.pack(_SCALAR_FORMATS[value_type], value))

    def add_u32(self, key, value): self.add_scalar(key, U32, value)
    def add_i32(self, key, value): self.add_scalar(key, I32, value)
    def add_f32(self, key, value): self.add_scalar(key, F32, value)
    def add_bool(self, key, value): self.add_scalar(key, BOOL, value)

    def add_string(self, key, value):
        self._add(key, STRING, _string(value))

    def add_array(self, key, elem_type, values):
        body = b"".join(struct.pack(_SCALAR_FORMATS[elem_type], v) for v in values)
        self._add(key, ARRAY, struct.pack("<IQ", elem_type, len(values)) + body)

    def add_string_array(self, key, values):
        body = b"".join(_string(v) for v in values)
        self._add(key, ARRAY, struct.pack("<IQ", STRING, len(values)) + body)

    def add_tensor(self, name, array):
        array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
        if array.dtype not in _TENSOR_TYPES:
            raise ValueError(f"{name}: dtype {array.dtype} is not supported (float32, float16)")
        if not 1 <= array.ndim <= 4:
            raise ValueError(f"{name}: {array.ndim} dimensions")
        if any(n == name for n, _ in self.tensors):
            raise ValueError(f"duplicate tensor {name}")
        self.tensors.append((name, array))

    def _pad(self, n):
        return -n % self.alignment

    def to_bytes(self):
        out = bytearray(GGUF_MAGIC)
        out += struct.pack("<IQQ", GGUF_VERSION, len(self.tensors), len(self.kv))
        for key, value in self.kv:
            out += _string(key) + value
        offset = 0   # of each tensor's data, relative to the data section
        for name, array in self.tensors:
            out += _string(name) + struct.pack("<I", array.ndim)
            out += b"".join(struct.pack("<Q", n) for n in reversed(array.shape))
            out += struct.pack("<IQ", _TENSOR_TYPES[array.dtype], offset)
            offset += array.nbytes + self._pad(array.nbytes)
        out += bytes(self._pad(len(out)))
        for _, array in self.tensors:
            out += array.tobytes() + bytes(self._pad(array.nbytes))
        return bytes(out)

    def write(self, path):
        with open(path, "wb") as f:
            f.write(self.to_bytes())
