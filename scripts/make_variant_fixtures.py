"""Builds the Llama-family variant fixtures: tiny random-weight models (seeded), written as
GGUF the way llama.cpp's convert_hf_to_gguf.py writes them, with the logits that the
independent PyTorch reference (scripts/torch_reference.py) computes for a fixed token
sequence at every position.

    /usr/bin/python3 scripts/make_variant_fixtures.py tests/fixtures/variants

For each model NAME it writes NAME.gguf and NAME.json:
    {"name", "arch", "n_vocab", "context", "tokens": [...], "logits": [[...] per position]}
tests/c/test_variants.c loads the GGUF through the public C API and compares. Two tiny
files, rope_yarn.gguf and rope_longrope.gguf, hold rope variants that must be refused.

llama.cpp's conventions (gguf-py constants.py / tensor_mapping.py, convert_hf_to_gguf.py):
  * names: token_embd, output_norm, output (absent when tied), blk.N.attn_norm,
    attn_q/attn_k/attn_v(.bias for Qwen2)/attn_output, attn_qkv (Phi-3), ffn_norm,
    ffn_gate/ffn_up/ffn_down; Phi-3's gate_up_proj goes unchanged into ffn_up ({dim, 2*hidden},
    gate rows first) and there is no ffn_gate.
  * arch "llama": the converter permutes the rows of q_proj and k_proj of each head from
    HF's rotate_half layout (pairs i, i + head_dim/2) to the interleaved one (pairs 2i, 2i+1)
    because llama.cpp rotates adjacent pairs for llama; "qwen2" and "phi3" are stored as
    they are and run with NeoX-style rotation (llama_model_rope_type).
  * metadata {arch}.context_length, embedding_length, feed_forward_length, block_count,
    attention.head_count(_kv), attention.layer_norm_rms_epsilon, rope.freq_base,
    rope.dimension_count (llama, phi3), phi3's rope.scaling.original_context_length and
    attention.sliding_window.
Weight matrices are float32 for one model and float16 for the others (rounded before the
reference runs, so the file and the reference hold the same values); norms and biases are
float32 as in llama.cpp's files.
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_writer import GGUFWriter, F32, I32   # noqa: E402
import torch_reference                        # noqa: E402

N_TOKENS = 24

MODELS = [
    # Llama 3: rope base 500000, grouped-query attention (2 query heads per KV head)
    dict(name="llama3", family="llama", arch="llama", dim=48, n_layers=2, n_heads=4,
         n_kv_heads=2, hidden=96, vocab=260, rope_base=500000.0, norm_eps=1e-5,
         context=256, tied=False, f16=False, seed=1),
    # Llama 3.1/3.2: Llama 3 plus rope scaling, which llama.cpp's converter stores as
    # per-frequency divisors in the tensor rope_freqs.weight
    dict(name="llama31", family="llama", arch="llama", dim=48, n_layers=2, n_heads=4,
         n_kv_heads=2, hidden=96, vocab=260, rope_base=500000.0, norm_eps=1e-5,
         context=256, tied=True, f16=False, seed=5,
         rope_scaling=dict(factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                           original_max_position_embeddings=64)),
    # SmolLM / TinyLlama: arch llama, tied embeddings (SmolLM), 3 query heads per KV head
    dict(name="smollm", family="llama", arch="llama", dim=48, n_layers=2, n_heads=3,
         n_kv_heads=1, hidden=128, vocab=260, rope_base=100000.0, norm_eps=1e-5,
         context=256, tied=True, f16=True, seed=2),
    # Qwen2: q/k/v biases, NeoX rope, base 1e6, tied embeddings (as Qwen2-0.5B)
    dict(name="qwen2", family="qwen2", arch="qwen2", dim=64, n_layers=2, n_heads=4,
         n_kv_heads=2, hidden=96, vocab=260, rope_base=1000000.0, norm_eps=1e-6,
         context=256, tied=True, f16=True, seed=3),
    # Phi-3 (the Phi-4-mini variant): fused qkv and gate|up, partial rotary (3/4 of each
    # head), GQA; a sliding window shorter than the context
    dict(name="phi3", family="phi3", arch="phi3", dim=64, n_layers=2, n_heads=4,
         n_kv_heads=2, hidden=96, vocab=260, rope_base=10000.0, norm_eps=1e-5,
         context=128, sliding_window=64, rope_fraction=0.75, tied=False, f16=True, seed=4),
]


def make_weights(config):
    """Random weights in HF layout: activations stay O(1) (matrices scaled by 1/sqrt(fan_in)),
    norms are 1 +- 0.2 so that a missing norm weight shows, biases are large as in Qwen2."""
    gen = torch.Generator().manual_seed(config["seed"])
    weights = {}
    for name, shape in torch_reference.names(config).items():
        r = torch.randn(shape, generator=gen, dtype=torch.float32)
        if name.endswith("norm.weight"):
            t = 1 + 0.2 * r
        elif name.endswith(".bias"):
            t = 0.5 * r
        else:
            t = r / shape[1] ** 0.5
            if name in ("lm_head.weight", "model.embed_tokens.weight"):
                t = 2 * t   # a wider logit spread makes greedy picks clear-cut
            if config["f16"]:
                t = t.half().float()
        weights[name] = t
    return weights


def permute_rows(w, n_heads):
    """HF rotate_half row order -> llama.cpp's interleaved order, per head: new rows 2i and
    2i+1 are old rows i and i + head_dim/2 (works for weights [rows, cols] and biases)."""
    rows = w.shape[0]
    hd = rows // n_heads
    return (w.reshape(n_heads, 2, hd // 2, *w.shape[1:]).transpose(1, 2).reshape(w.shape))


def gguf_tensors(config, w):
    """HF weights -> {GGUF name: numpy array}."""
    arch = config["arch"]
    mat = (lambda t: t.numpy().astype(np.float16)) if config["f16"] else (lambda t: t.numpy())
    vec = lambda t: t.numpy().astype(np.float32)
    out = {"token_embd.weight": mat(w["model.embed_tokens.weight"]),
           "output_norm.weight": vec(w["model.norm.weight"])}
    if not config["tied"]:
        out["output.weight"] = mat(w["lm_head.weight"])
    if "rope_scaling" in config:   # as convert_hf_to_gguf.py: original / scaled frequency
        inv_freq = torch_reference.rope_inv_freq(config["rope_dims"], config["rope_base"])
        scaled = torch_reference.rope_inv_freq(config["rope_dims"], config["rope_base"], config["rope_scaling"])
        out["rope_freqs.weight"] = (inv_freq / scaled).numpy().astype(np.float32)
    for l in range(config["n_layers"]):
        p, b = f"model.layers.{l}.", f"blk.{l}."
        out[b + "attn_norm.weight"] = vec(w[p + "input_layernorm.weight"])
        out[b + "ffn_norm.weight"] = vec(w[p + "post_attention_layernorm.weight"])
        out[b + "attn_output.weight"] = mat(w[p + "self_attn.o_proj.weight"])
        out[b + "ffn_down.weight"] = mat(w[p + "mlp.down_proj.weight"])
        if config["family"] == "phi3":
            out[b + "attn_qkv.weight"] = mat(w[p + "self_attn.qkv_proj.weight"])
            out[b + "ffn_up.weight"] = mat(w[p + "mlp.gate_up_proj.weight"])
            continue
        q, k = w[p + "self_attn.q_proj.weight"], w[p + "self_attn.k_proj.weight"]
        if arch == "llama":
            q, k = permute_rows(q, config["n_heads"]), permute_rows(k, config["n_kv_heads"])
        out[b + "attn_q.weight"] = mat(q)
        out[b + "attn_k.weight"] = mat(k)
        out[b + "attn_v.weight"] = mat(w[p + "self_attn.v_proj.weight"])
        if config["family"] == "qwen2":
            for g, h in (("attn_q", "q_proj"), ("attn_k", "k_proj"), ("attn_v", "v_proj")):
                out[f"{b}{g}.bias"] = vec(w[f"{p}self_attn.{h}.bias"])
        out[b + "ffn_gate.weight"] = mat(w[p + "mlp.gate_proj.weight"])
        out[b + "ffn_up.weight"] = mat(w[p + "mlp.up_proj.weight"])
    return out


def add_vocab(writer, n_vocab):
    """A SentencePiece-style vocabulary: <unk> <s> </s> and made-up pieces (the tokenizer is
    not under test here; pl_load needs one with a piece for every row)."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"\u2581w{i}" for i in range(3, n_vocab)]
    writer.add_string("tokenizer.ggml.model", "llama")
    writer.add_string_array("tokenizer.ggml.tokens", tokens)
    writer.add_array("tokenizer.ggml.scores", F32, [0.0, 0.0, 0.0] + [-float(i) for i in range(3, n_vocab)])
    writer.add_array("tokenizer.ggml.token_type", I32, [2, 3, 3] + [1] * (n_vocab - 3))
    writer.add_u32("tokenizer.ggml.bos_token_id", 1)
    writer.add_u32("tokenizer.ggml.eos_token_id", 2)
    writer.add_u32("tokenizer.ggml.unknown_token_id", 0)


def write_gguf(config, w, path):
    a = config["arch"]
    hd = config["dim"] // config["n_heads"]
    g = GGUFWriter()
    g.add_string("general.architecture", a)
    g.add_string("general.name", f"pocketlm {config['name']} fixture (random weights)")
    g.add_u32("general.file_type", 1 if config["f16"] else 0)   # MOSTLY_F16 / ALL_F32
    g.add_u32(f"{a}.context_length", config["context"])
    g.add_u32(f"{a}.embedding_length", config["dim"])
    g.add_u32(f"{a}.feed_forward_length", config["hidden"])
    g.add_u32(f"{a}.block_count", config["n_layers"])
    g.add_u32(f"{a}.attention.head_count", config["n_heads"])
    g.add_u32(f"{a}.attention.head_count_kv", config["n_kv_heads"])
    g.add_f32(f"{a}.attention.layer_norm_rms_epsilon", config["norm_eps"])
    g.add_f32(f"{a}.rope.freq_base", config["rope_base"])
    if a == "llama":
        g.add_u32(f"{a}.vocab_size", config["vocab"])
        g.add_u32(f"{a}.rope.dimension_count", hd)
    if a == "phi3":
        g.add_u32(f"{a}.rope.dimension_count", config["rope_dims"])
        g.add_u32(f"{a}.rope.scaling.original_context_length", config["context"])
        g.add_u32(f"{a}.attention.sliding_window", config["sliding_window"])
    add_vocab(g, config["vocab"])
    for name, array in gguf_tensors(config, w).items():
        g.add_tensor(name, array)
    g.write(path)


def write_error_fixtures(out_dir):
    """Tiny files that must fail to load with a message naming the problem: a rope scaling
    type other than none/linear (YaRN) and Phi-3's long-context rope factors (tensor
    rope_factors_long.weight). Hyper-parameters only, plus that tensor."""
    for name in ("rope_yarn", "rope_longrope"):
        g = GGUFWriter()
        g.add_string("general.architecture", "llama")
        for key, value in (("context_length", 64), ("embedding_length", 16), ("block_count", 1),
                           ("feed_forward_length", 32), ("attention.head_count", 2)):
            g.add_u32(f"llama.{key}", value)
        if name == "rope_yarn":
            g.add_string("llama.rope.scaling.type", "yarn")
            g.add_f32("llama.rope.scaling.factor", 4.0)
        else:
            g.add_tensor("rope_factors_long.weight", np.ones(4, dtype=np.float32))
        g.write(os.path.join(out_dir, name + ".gguf"))


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} out_dir")
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    write_error_fixtures(out_dir)
    for config in MODELS:
        hd = config["dim"] // config["n_heads"]
        config["rope_dims"] = int(config.get("rope_fraction", 1.0) * hd) // 2 * 2
        w = make_weights(config)
        gen = torch.Generator().manual_seed(100 + config["seed"])
        tokens = [1] + torch.randint(3, config["vocab"], (N_TOKENS - 1,), generator=gen).tolist()
        with torch.no_grad():
            logits = torch_reference.forward(config, w, tokens)
        write_gguf(config, w, os.path.join(out_dir, config["name"] + ".gguf"))
        doc = {"name": config["name"], "arch": config["arch"], "n_vocab": config["vocab"],
               "context": min(config["context"], config.get("sliding_window", config["context"])),
               "tokens": tokens}
        rows = ",\n".join("  [" + ",".join(f"{v:.8g}" for v in row.tolist()) + "]" for row in logits)
        text = json.dumps(doc)[:-1] + ',\n "logits": [\n' + rows + "\n ]}\n"
        json.loads(text)   # well-formed
        with open(os.path.join(out_dir, config["name"] + ".json"), "w") as f:
            f.write(text)
        top2 = logits.topk(2, dim=-1).values
        print(f"{config['name']}: {len(tokens)} tokens, logits in [{logits.min():.2f}, {logits.max():.2f}], "
              f"smallest top-2 margin {float((top2[:, 0] - top2[:, 1]).min()):.4f}")


if __name__ == "__main__":
    main()
