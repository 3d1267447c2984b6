"""Builds the T5 fixtures: tiny random-weight encoder-decoders (seeded), written as GGUF the
way llama.cpp's converter writes T5 (convert_hf_to_gguf.py T5Model, gguf-py's
tensor_mapping.py), with the logits an independent PyTorch forward pass computes.

    /usr/bin/python3 scripts/make_t5_fixtures.py tests/fixtures/t5

The forward pass below is written from the T5 paper (Raffel et al. 2020) and Hugging
Face's modeling_t5.py semantics, in float64, not from pocketlm's C code:
  * T5's LayerNorm is RMSNorm without bias: w * x / sqrt(mean(x^2) + eps);
  * attention scores are q·k with no 1/sqrt(d) scale, plus a learned bias per head and
    relative-position bucket (Hugging Face's _relative_position_bucket: key - query,
    both directions in the encoder, only the past in the decoder, max distance 128),
    computed by block 0 of each stack and added in every layer; cross-attention has none;
  * feed-forward: gated GELU (tanh form, "gelu_new") for T5 v1.1 / FLAN-T5, ReLU for v1.0;
  * a tied output multiplies the last hidden state by d_model^-0.5 first.
Each model uses the unigram vocabulary of tests/fixtures/gen_ugm_fixtures.py (400 tokens).

For each model NAME it writes NAME.gguf (a tied one also as NAME_copy.gguf, with the
output matrix written out as a copy of the embedding, as a converter may) and NAME.json:
    {"name", "encoder": [ids], "decoder": [ids], "positions": [p...], "logits": [[...] per p],
     "prompt", "greedy": [ids], "greedy_text", "expanding", "expanding_ids"}
the decoder's logits after position p for each p in positions (tests/c/test_t5.c feeds the
decoder tokens in batches that end at those positions), and a greedy generation from
PROMPT as SentencePiece tokenizes it (with </s>) until </s> or GREEDY tokens, with the
text SentencePiece decodes from it (tests/t5.test.js runs generate on the prompt), and the
ids of a text the normalization makes longer than its bytes.
"""
import json
import math
import os
import sys

import numpy as np
import sentencepiece as spm
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "fixtures"))
from gguf_writer import GGUFWriter  # noqa: E402
from gen_ugm_fixtures import add_vocab, load_proto  # noqa: E402

MODELS = [
    # FLAN-T5 style: gated GELU, untied output, heads x head size (4 x 24) != d_model
    dict(name="t5_gated", d_model=64, n_heads=4, d_kv=24, d_ff=96, n_enc=2, n_dec=3, buckets=32,
         gated=True, tied=False, f16=False, seed=1),
    # T5 v1.0 style: ReLU, tied output (scaled), float16 matrices
    dict(name="t5_relu_tied", d_model=64, n_heads=4, d_kv=16, d_ff=128, n_enc=2, n_dec=2, buckets=32,
         gated=False, tied=True, f16=True, seed=6),
]
EPS = 1e-6
N_ENCODER = 150        # past max_distance 128: the largest buckets are reached
POSITIONS = [0, 1, 7, 63, 64, 129, 139]   # batch ends: 1, 1, 6, 56, 1, 65 and 10 tokens
PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play outside."
GREEDY = 24
EXPANDING = "\ufdfa\ufdfa a"   # NFKC makes 18 characters of each U+FDFA: more ids than bytes


def relative_bucket(rel, num_buckets, bidirectional, max_distance=128):
    """Hugging Face's T5Attention._relative_position_bucket (float32 log, truncated)."""
    ret = torch.zeros_like(rel)
    if bidirectional:
        num_buckets //= 2
        ret += (rel > 0).to(torch.long) * num_buckets
        n = torch.abs(rel)
    else:
        n = -torch.min(rel, torch.zeros_like(rel))
    max_exact = num_buckets // 2
    is_small = n < max_exact
    large = max_exact + (torch.log(n.float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return ret + torch.where(is_small, n, large)


def position_bias(table, n_q, n_k, bidirectional):
    """[heads, n_q, n_k] bias of key position - query position."""
    rel = torch.arange(n_k)[None, :] - torch.arange(n_q)[:, None]
    return table[relative_bucket(rel, table.shape[0], bidirectional)].permute(2, 0, 1)


def rmsnorm(x, w):
    return w * x / torch.sqrt((x * x).mean(-1, keepdim=True) + EPS)


def attention(xq, xkv, wq, wk, wv, wo, heads, bias):
    d_kv = wq.shape[0] // heads
    q = (xq @ wq.T).view(-1, heads, d_kv).transpose(0, 1)
    k = (xkv @ wk.T).view(-1, heads, d_kv).transpose(0, 1)
    v = (xkv @ wv.T).view(-1, heads, d_kv).transpose(0, 1)
    scores = q @ k.transpose(1, 2)
    if bias is not None:
        scores = scores + bias
    out = torch.softmax(scores, dim=-1) @ v
    return out.transpose(0, 1).reshape(xq.shape[0], -1) @ wo.T


def gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def feed_forward(x, p):
    if "wi_0" in p:
        return (gelu_tanh(x @ p["wi_0"].T) * (x @ p["wi_1"].T)) @ p["wo"].T
    return torch.relu(x @ p["wi"].T) @ p["wo"].T


def forward(cfg, w, enc_ids, dec_ids):
    """Decoder logits [len(dec_ids), vocab] in float64."""
    heads = cfg["n_heads"]
    h = w["shared"][enc_ids]
    bias = position_bias(w["enc.rel"], len(enc_ids), len(enc_ids), True)
    for l in range(cfg["n_enc"]):
        p = w[f"enc.{l}"]
        n = rmsnorm(h, p["ln0"])
        h = h + attention(n, n, p["q"], p["k"], p["v"], p["o"], heads, bias)
        h = h + feed_forward(rmsnorm(h, p["ln1"]), p)
    enc = rmsnorm(h, w["enc.final"])

    g = w["shared"][dec_ids]
    n_dec = len(dec_ids)
    causal = torch.full((n_dec, n_dec), float("-inf"), dtype=torch.float64).triu(1)
    bias = position_bias(w["dec.rel"], n_dec, n_dec, False) + causal
    for l in range(cfg["n_dec"]):
        p = w[f"dec.{l}"]
        n = rmsnorm(g, p["ln0"])
        g = g + attention(n, n, p["q"], p["k"], p["v"], p["o"], heads, bias)
        g = g + attention(rmsnorm(g, p["ln1"]), enc, p["cq"], p["ck"], p["cv"], p["co"], heads, None)
        g = g + feed_forward(rmsnorm(g, p["ln2"]), p)
    g = rmsnorm(g, w["dec.final"])
    if cfg["tied"]:
        g = g * cfg["d_model"] ** -0.5
    return g @ (w["shared"] if cfg["tied"] else w["lm_head"]).T


def greedy(cfg, w, enc_ids):
    """Decoder ids after <pad>, argmax each step, up to GREEDY of them or </s>."""
    out = [0]
    while len(out) <= GREEDY:
        nxt = int(torch.argmax(forward(cfg, w, torch.tensor(enc_ids), torch.tensor(out))[-1]))
        if nxt == 1:
            break
        out.append(nxt)
    return out[1:]


def make_weights(cfg, vocab):
    rng = np.random.default_rng(cfg["seed"])
    d, inner, ff = cfg["d_model"], cfg["n_heads"] * cfg["d_kv"], cfg["d_ff"]

    def mat(rows, cols, scale=None):
        a = rng.standard_normal((rows, cols)) * (scale or 1 / math.sqrt(cols))
        return a.astype(np.float16 if cfg["f16"] else np.float32).astype(np.float64)

    def norm():
        return 1 + 0.1 * rng.standard_normal(d).astype(np.float32).astype(np.float64)

    def layer(cross):
        p = {"ln0": norm(), "q": mat(inner, d), "k": mat(inner, d), "v": mat(inner, d), "o": mat(d, inner),
             "ln1": norm()}
        if cross:
            p.update({"cq": mat(inner, d), "ck": mat(inner, d), "cv": mat(inner, d), "co": mat(d, inner),
                      "ln2": norm()})
        if cfg["gated"]:
            p.update({"wi_0": mat(ff, d), "wi_1": mat(ff, d)})
        else:
            p["wi"] = mat(ff, d)
        p["wo"] = mat(d, ff)
        return p

    w = {"shared": mat(vocab, d, 1.0), "enc.rel": mat(cfg["buckets"], cfg["n_heads"], 1.0),
         "dec.rel": mat(cfg["buckets"], cfg["n_heads"], 1.0), "enc.final": norm(), "dec.final": norm()}
    for l in range(cfg["n_enc"]):
        w[f"enc.{l}"] = layer(False)
    for l in range(cfg["n_dec"]):
        w[f"dec.{l}"] = layer(True)
    if not cfg["tied"]:
        w["lm_head"] = mat(vocab, d)
    return {k: ({n: torch.tensor(t) for n, t in v.items()} if isinstance(v, dict) else torch.tensor(v))
            for k, v in w.items()}


def write_gguf(cfg, w, proto, path, output_copy=False):
    """output_copy: a tied model with output.weight written out as a copy of token_embd."""
    out = GGUFWriter()
    out.add_string("general.architecture", "t5")
    out.add_u32("t5.context_length", 512)
    out.add_u32("t5.embedding_length", cfg["d_model"])
    out.add_u32("t5.feed_forward_length", cfg["d_ff"])
    out.add_u32("t5.block_count", cfg["n_enc"])
    out.add_u32("t5.decoder_block_count", cfg["n_dec"])
    out.add_u32("t5.attention.head_count", cfg["n_heads"])
    out.add_u32("t5.attention.key_length", cfg["d_kv"])
    out.add_u32("t5.attention.value_length", cfg["d_kv"])
    out.add_f32("t5.attention.layer_norm_epsilon", EPS)
    out.add_f32("t5.attention.layer_norm_rms_epsilon", EPS)
    out.add_u32("t5.attention.relative_buckets_count", cfg["buckets"])
    out.add_u32("t5.decoder_start_token_id", 0)
    add_vocab(out, proto)
    mtype = np.float16 if cfg["f16"] else np.float32

    def put(name, t, matrix=True):
        out.add_tensor(name, t.numpy().astype(mtype if matrix else np.float32))

    put("token_embd.weight", w["shared"])
    if not cfg["tied"] or output_copy:
        put("output.weight", w["shared"] if cfg["tied"] else w["lm_head"])
    put("enc.output_norm.weight", w["enc.final"], False)
    put("dec.output_norm.weight", w["dec.final"], False)
    put("enc.blk.0.attn_rel_b.weight", w["enc.rel"])
    put("dec.blk.0.attn_rel_b.weight", w["dec.rel"])
    names = {"ln0": "attn_norm", "q": "attn_q", "k": "attn_k", "v": "attn_v", "o": "attn_o",
             "wi_0": "ffn_gate", "wi_1": "ffn_up", "wi": "ffn_up", "wo": "ffn_down"}
    for stack, n in (("enc", cfg["n_enc"]), ("dec", cfg["n_dec"])):
        local = dict(names, ln1="ffn_norm" if stack == "enc" else "cross_attn_norm", ln2="ffn_norm",
                     cq="cross_attn_q", ck="cross_attn_k", cv="cross_attn_v", co="cross_attn_o")
        for l in range(n):
            for key, t in w[f"{stack}.{l}"].items():
                put(f"{stack}.blk.{l}.{local[key]}.weight", t, not key.startswith("ln"))
    out.write(path)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "fixtures", "t5")
    os.makedirs(out_dir, exist_ok=True)
    data, proto = load_proto()
    sp = spm.SentencePieceProcessor(model_proto=data)
    vocab = len(proto.pieces)
    for cfg in MODELS:
        w = make_weights(cfg, vocab)
        rng = np.random.default_rng(100 + cfg["seed"])
        enc_ids = [int(i) for i in rng.integers(4, vocab, N_ENCODER - 1)] + [1]   # ends with </s>
        dec_ids = [0] + [int(i) for i in rng.integers(4, vocab, POSITIONS[-1])]    # starts with <pad>
        logits = forward(cfg, w, torch.tensor(enc_ids), torch.tensor(dec_ids))
        write_gguf(cfg, w, proto, os.path.join(out_dir, cfg["name"] + ".gguf"))
        if cfg["tied"]:
            write_gguf(cfg, w, proto, os.path.join(out_dir, cfg["name"] + "_copy.gguf"), output_copy=True)
        prompt_ids = sp.encode(PROMPT) + [1]
        gen = greedy(cfg, w, prompt_ids)
        record = {"name": cfg["name"], "encoder": enc_ids, "decoder": dec_ids, "positions": POSITIONS,
                  "logits": [[round(float(x), 6) for x in logits[p]] for p in POSITIONS],
                  "prompt": PROMPT, "prompt_ids": prompt_ids, "greedy": gen, "greedy_text": sp.decode(gen),
                  "expanding": EXPANDING, "expanding_ids": sp.encode(EXPANDING)}
        with open(os.path.join(out_dir, cfg["name"] + ".json"), "w") as f:
            json.dump(record, f)
        print(cfg["name"], "logit range", float(logits.min()), float(logits.max()), "greedy", gen,
              repr(sp.decode(gen)))


if __name__ == "__main__":
    torch.set_default_dtype(torch.float64)
    main()
