"""Converts llm-viz's gpt-nano sort model (a minGPT GPT-2, weights in JSON) to GGUF.

    /usr/bin/python3 scripts/convert_gpt_nano.py \
        ../shared/models/gpt-nano-sort-llmviz/gpt-nano-sort-model.json models/gpt-nano-sort.gguf

The JSON holds each tensor as {"shape", "dtype": "torch.float32", "data": base64 of
little-endian float32 in C order}; linear weights are PyTorch nn.Linear [out, in], which is
exactly ggml's {in, out} once the writer lists dimensions fastest first, so nothing is
transposed. Tensor and key names follow llama.cpp's gpt2 architecture
(gguf-py/gguf/constants.py). Weights stay float32 so the engine can match the reference
activations to float32 rounding.

Tokenizer: the model's vocabulary is the three digits "0", "1", "2" (token id = digit). It is
stored as a SentencePiece-style ("llama") vocabulary of three normal single-character
pieces with no dummy-prefix space, no BOS/EOS/unknown token (ids 0xFFFFFFFF = none) and no
automatic BOS, so the text "021" tokenizes to [0, 2, 1] and ids detokenize to the digits.
"""
import base64
import json
import sys

import numpy as np

from gguf_writer import GGUFWriter, F32, I32

NO_TOKEN = 0xFFFFFFFF   # llama.cpp's "no such token" for the special token ids


def load_tensors(path):
    with open(path) as f:
        doc = json.load(f)
    config = doc.pop("config")
    tensors = {}
    for name, t in doc.items():
        if t["dtype"] != "torch.float32":
            raise ValueError(f"{name}: dtype {t['dtype']}")
        data = np.frombuffer(base64.b64decode(t["data"]), dtype="<f4")
        tensors[name] = data.reshape(t["shape"])
    return config, tensors


def convert(config, t):
    n_layer, n_embd = config["n_layer"], config["n_embd"]
    vocab = [str(d) for d in range(config["vocab_size"])]
    w = GGUFWriter()
    w.add_string("general.architecture", "gpt2")
    w.add_string("general.name", "gpt-nano-sort (llm-viz, minGPT sort demo)")
    w.add_u32("gpt2.context_length", config["block_size"])
    w.add_u32("gpt2.embedding_length", n_embd)
    w.add_u32("gpt2.block_count", n_layer)
    w.add_u32("gpt2.feed_forward_length", t["transformer.h.0.mlp.c_fc.weight"].shape[0])
    w.add_u32("gpt2.attention.head_count", config["n_head"])
    w.add_f32("gpt2.attention.layer_norm_epsilon", 1e-5)   # torch.nn.LayerNorm's default

    w.add_string("tokenizer.ggml.model", "llama")
    w.add_string_array("tokenizer.ggml.tokens", vocab)
    w.add_array("tokenizer.ggml.scores", F32, [0.0] * len(vocab))
    w.add_array("tokenizer.ggml.token_type", I32, [1] * len(vocab))   # normal
    for key in ("bos", "eos", "unknown"):
        w.add_u32(f"tokenizer.ggml.{key}_token_id", NO_TOKEN)
    w.add_bool("tokenizer.ggml.add_bos_token", False)
    w.add_bool("tokenizer.ggml.add_eos_token", False)
    w.add_bool("tokenizer.ggml.add_space_prefix", False)

    names = {
        "token_embd.weight": "transformer.wte.weight",
        "position_embd.weight": "transformer.wpe.weight",
        "output_norm.weight": "transformer.ln_f.weight",
        "output_norm.bias": "transformer.ln_f.bias",
        "output.weight": "lm_head.weight",   # minGPT does not tie it to wte
    }
    per_layer = {
        "attn_norm": "ln_1", "attn_qkv": "attn.c_attn", "attn_output": "attn.c_proj",
        "ffn_norm": "ln_2", "ffn_up": "mlp.c_fc", "ffn_down": "mlp.c_proj",
    }
    for l in range(n_layer):
        for gguf_name, torch_name in per_layer.items():
            for part in ("weight", "bias"):
                names[f"blk.{l}.{gguf_name}.{part}"] = f"transformer.h.{l}.{torch_name}.{part}"
    for gguf_name, torch_name in names.items():
        w.add_tensor(gguf_name, t[torch_name])

    # everything but the attention masks (attn.bias, a constant buffer) must be used
    unused = set(t) - set(names.values()) - {f"transformer.h.{l}.attn.bias" for l in range(n_layer)}
    if unused:
        raise ValueError(f"tensors not converted: {sorted(unused)}")
    return w


def main():
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} gpt-nano-sort-model.json out.gguf")
    config, tensors = load_tensors(sys.argv[1])
    convert(config, tensors).write(sys.argv[2])


if __name__ == "__main__":
    main()
