"""An independent PyTorch forward pass of the Hugging Face Llama, Qwen2 and Phi-3 decoders.

Written from the published architecture descriptions (the Llama / Qwen2 / Phi-3 papers and
the transformers model docs), not from pocketlm's C code, and it takes the weights in the
Hugging Face layout and names, so the GGUF conversion (names, shapes, llama.cpp's Q/K row
permutation) is checked too when the engine's logits match these.

    logits = forward(config, weights, token_ids)   # [n_tokens, vocab] float64

config keys: dim, n_layers, n_heads, n_kv_heads, hidden, vocab, rope_base, rope_dims
(rotated dimensions per head; head_dim for full rotary), norm_eps, family ("llama",
"qwen2", "phi3"). weights: HF state-dict names -> tensors (see names() below); a model
without "lm_head.weight" ties the output to the token embedding.

Per decoder layer (pre-norm residual blocks):
    h = x + o_proj(attention(rmsnorm(x)))
    x = h + down_proj(silu(gate_proj(n)) * up_proj(n)),  n = rmsnorm(h)
RMSNorm: x / sqrt(mean(x^2) + eps) * weight. Attention: causal softmax(q k^T / sqrt(head_dim)) v
with rotary position embeddings on q and k in the "rotate_half" form (the pairs are
dimension i and i + rope_dims/2 of each head) and grouped-query heads (query head h reads
key/value head h // (n_heads / n_kv_heads)). Qwen2 adds biases to q, k and v; Phi-3 computes
q|k|v with one fused matrix and gate|up with another (gate first, then up).

Everything runs in float64, so the reference is the exact result of the (float32) weights
up to float64 rounding: an engine computing in float32 is judged by its own rounding only.
"""
import math

import torch


def names(config):
    """The HF tensor names (and shapes) of a model with this config."""
    d, h, hd = config["dim"], config["hidden"], config["dim"] // config["n_heads"]
    q_dim, kv_dim = config["n_heads"] * hd, config["n_kv_heads"] * hd
    shapes = {"model.embed_tokens.weight": (config["vocab"], d), "model.norm.weight": (d,)}
    if not config.get("tied"):
        shapes["lm_head.weight"] = (config["vocab"], d)
    for l in range(config["n_layers"]):
        p = f"model.layers.{l}."
        shapes[p + "input_layernorm.weight"] = (d,)
        shapes[p + "post_attention_layernorm.weight"] = (d,)
        shapes[p + "self_attn.o_proj.weight"] = (d, q_dim)
        shapes[p + "mlp.down_proj.weight"] = (d, h)
        if config["family"] == "phi3":
            shapes[p + "self_attn.qkv_proj.weight"] = (q_dim + 2 * kv_dim, d)
            shapes[p + "mlp.gate_up_proj.weight"] = (2 * h, d)
            continue
        shapes[p + "self_attn.q_proj.weight"] = (q_dim, d)
        shapes[p + "self_attn.k_proj.weight"] = (kv_dim, d)
        shapes[p + "self_attn.v_proj.weight"] = (kv_dim, d)
        if config["family"] == "qwen2":
            shapes[p + "self_attn.q_proj.bias"] = (q_dim,)
            shapes[p + "self_attn.k_proj.bias"] = (kv_dim,)
            shapes[p + "self_attn.v_proj.bias"] = (kv_dim,)
        shapes[p + "mlp.gate_proj.weight"] = (h, d)
        shapes[p + "mlp.up_proj.weight"] = (h, d)
    return shapes


def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def rotate_half(x):
    """(x1, x2) -> (-x2, x1) over the two halves of the last dimension."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def rope_inv_freq(rope_dims, base, scaling=None):
    """base^(-2i / rope_dims), i < rope_dims/2; with Llama 3.1's rope scaling ("llama3" in
    Hugging Face's config: factor, low_freq_factor, high_freq_factor,
    original_max_position_embeddings) long wavelengths are divided by factor, short ones
    kept, and the band between interpolated smoothly."""
    inv_freq = 1.0 / base ** (torch.arange(0, rope_dims, 2, dtype=torch.float64) / rope_dims)
    if scaling is None:
        return inv_freq
    old_ctx = scaling["original_max_position_embeddings"]
    low, high, factor = scaling["low_freq_factor"], scaling["high_freq_factor"], scaling["factor"]
    wavelen = 2 * math.pi / inv_freq
    smooth = (old_ctx / wavelen - low) / (high - low)
    scaled = torch.where(wavelen > old_ctx / low, inv_freq / factor, inv_freq)
    between = (wavelen <= old_ctx / low) & (wavelen >= old_ctx / high)
    return torch.where(between, (1 - smooth) * inv_freq / factor + smooth * inv_freq, scaled)


def rope_cos_sin(n_tokens, rope_dims, base, scaling=None):
    """cos and sin of position * inv_freq_i (rope_inv_freq), each frequency used for both
    halves: [n_tokens, rope_dims]."""
    inv_freq = rope_inv_freq(rope_dims, base, scaling)
    angles = torch.outer(torch.arange(n_tokens, dtype=torch.float64), inv_freq)
    angles = torch.cat((angles, angles), dim=-1)
    return angles.cos(), angles.sin()


def apply_rope(x, cos, sin):
    """x: [heads, n_tokens, head_dim]; rotates the first rope_dims dimensions (partial
    rotary leaves the rest as they are)."""
    r = cos.shape[-1]
    x_rot, x_pass = x[..., :r], x[..., r:]
    return torch.cat((x_rot * cos + rotate_half(x_rot) * sin, x_pass), dim=-1)


def attention(config, w, p, x, cos, sin):
    n, hd = x.shape[0], config["dim"] // config["n_heads"]
    nh, nkv = config["n_heads"], config["n_kv_heads"]
    if config["family"] == "phi3":
        qkv = x @ w[p + "self_attn.qkv_proj.weight"].T
        q, k, v = qkv.split([nh * hd, nkv * hd, nkv * hd], dim=-1)
    else:
        q = x @ w[p + "self_attn.q_proj.weight"].T
        k = x @ w[p + "self_attn.k_proj.weight"].T
        v = x @ w[p + "self_attn.v_proj.weight"].T
        if config["family"] == "qwen2":
            q = q + w[p + "self_attn.q_proj.bias"]
            k = k + w[p + "self_attn.k_proj.bias"]
            v = v + w[p + "self_attn.v_proj.bias"]
    # [n, heads*hd] -> [heads, n, hd]
    q = q.view(n, nh, hd).transpose(0, 1)
    k = k.view(n, nkv, hd).transpose(0, 1)
    v = v.view(n, nkv, hd).transpose(0, 1)
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    # grouped-query attention: each key/value head serves n_heads / n_kv_heads query heads
    k = k.repeat_interleave(nh // nkv, dim=0)
    v = v.repeat_interleave(nh // nkv, dim=0)
    scores = q @ k.transpose(1, 2) / hd ** 0.5
    causal = torch.ones(n, n, dtype=torch.bool).triu(1)
    scores = scores.masked_fill(causal, float("-inf"))
    out = scores.softmax(dim=-1) @ v                     # [heads, n, hd]
    out = out.transpose(0, 1).reshape(n, nh * hd)
    return out @ w[p + "self_attn.o_proj.weight"].T


def feed_forward(config, w, p, x):
    if config["family"] == "phi3":
        gate, up = (x @ w[p + "mlp.gate_up_proj.weight"].T).chunk(2, dim=-1)
    else:
        gate = x @ w[p + "mlp.gate_proj.weight"].T
        up = x @ w[p + "mlp.up_proj.weight"].T
    return (torch.nn.functional.silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T


def forward(config, weights, tokens):
    """Logits [len(tokens), vocab] (float64) at every position of the sequence."""
    w = {k: v.to(torch.float64) for k, v in weights.items()}
    eps = config["norm_eps"]
    cos, sin = rope_cos_sin(len(tokens), config["rope_dims"], config["rope_base"],
                            config.get("rope_scaling"))
    x = w["model.embed_tokens.weight"][torch.tensor(tokens)]
    for l in range(config["n_layers"]):
        p = f"model.layers.{l}."
        x = x + attention(config, w, p, rms_norm(x, w[p + "input_layernorm.weight"], eps), cos, sin)
        x = x + feed_forward(config, w, p, rms_norm(x, w[p + "post_attention_layernorm.weight"], eps))
    x = rms_norm(x, w["model.norm.weight"], eps)
    out = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return x @ out.T
