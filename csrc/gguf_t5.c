/* T5 encoder-decoders from GGUF, with llama.cpp's names, keys and shapes (src/models/t5.cpp,
 * src/llama-arch.cpp; gguf-py's tensor_mapping.py maps Hugging Face's names):
 *   t5.block_count (encoder), t5.decoder_block_count (default: the same),
 *   t5.attention.key_length (head size; heads x head size may differ from
 *   embedding_length, as in FLAN-T5), t5.attention.relative_buckets_count,
 *   t5.decoder_start_token_id (default 0, <pad>), t5.attention.layer_norm_rms_epsilon;
 *   enc.blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_o, ffn_norm, ffn_gate (absent in
 *   ReLU models), ffn_up, ffn_down}, enc.blk.0.attn_rel_b {n_heads, n_buckets};
 *   dec.blk.N the same plus cross_attn_norm and cross_attn_q/k/v/o; dec.blk.0.attn_rel_b;
 *   enc.output_norm, dec.output_norm, token_embd, output (absent, or the same bytes as
 *   token_embd: tied, and then scaled as Hugging Face does, see t5.c). */
#include "model.h"

#include <stdio.h>
#include <string.h>

/* The fewest tensors a layer has: an encoder layer without ffn_gate, a decoder one. */
#define T5_ENC_LAYER_TENSORS 8
#define T5_DEC_LAYER_TENSORS 13

/* One layer of prefix ("enc" or "dec"); cross-attention in decoder layers only. */
static int read_t5_layer(const pl_gguf *g, const pl_hparams *hp, const char *prefix, int l, pl_layer *L,
                         pl_err *err) {
    const int64_t dim = hp->dim, hidden = hp->hidden_dim, inner = (int64_t)hp->n_heads * hp->head_dim;
    const int dec = prefix[0] == 'd';
    char name[64];
    snprintf(name, sizeof name, "%s.blk.%d.ffn_gate.weight", prefix, l);
    const int gated = pl_gguf_tensor(g, name) != NULL;
    const struct { const char *name; pl_tensor *t; int64_t ne0, ne1; int read; } tensors[] = {
        {"attn_norm.weight", &L->attn_norm, dim, 1, 1},
        {"attn_q.weight", &L->wq, dim, inner, 1},
        {"attn_k.weight", &L->wk, dim, inner, 1},
        {"attn_v.weight", &L->wv, dim, inner, 1},
        {"attn_o.weight", &L->wo, inner, dim, 1},
        {"cross_attn_norm.weight", &L->cross_norm, dim, 1, dec},
        {"cross_attn_q.weight", &L->cwq, dim, inner, dec},
        {"cross_attn_k.weight", &L->cwk, dim, inner, dec},
        {"cross_attn_v.weight", &L->cwv, dim, inner, dec},
        {"cross_attn_o.weight", &L->cwo, inner, dim, dec},
        {"ffn_norm.weight", &L->ffn_norm, dim, 1, 1},
        {"ffn_gate.weight", &L->w_gate, dim, hidden, gated},
        {"ffn_up.weight", &L->w_up, dim, hidden, 1},
        {"ffn_down.weight", &L->w_down, hidden, dim, 1},
    };
    for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; i++) {
        if (!tensors[i].read) continue;
        snprintf(name, sizeof name, "%s.blk.%d.%s", prefix, l, tensors[i].name);
        int st = pl_gguf_weight(g, name, tensors[i].ne0, tensors[i].ne1, tensors[i].t, err);
        if (st) return st;
    }
    return PL_OK;
}

static int read_enc_layer(const pl_gguf *g, const pl_hparams *hp, int l, pl_layer *L, pl_err *err) {
    return read_t5_layer(g, hp, "enc", l, L, err);
}

static int read_dec_layer(const pl_gguf *g, const pl_hparams *hp, int l, pl_layer *L, pl_err *err) {
    return read_t5_layer(g, hp, "dec", l, L, err);
}

static int read_hparams(const pl_gguf *g, pl_hparams *hp, pl_err *err) {
    const char *a = hp->arch_name;
    int st;
    if ((st = pl_gguf_hp_int(g, a, "context_length", 512, &hp->n_ctx_train, err)) ||
        (st = pl_gguf_hp_int(g, a, "embedding_length", -1, &hp->dim, err)) ||
        (st = pl_gguf_hp_int(g, a, "block_count", -1, &hp->n_enc_layers, err)) ||
        (st = pl_gguf_hp_int(g, a, "decoder_block_count", hp->n_enc_layers, &hp->n_layers, err)) ||
        (st = pl_gguf_hp_int(g, a, "feed_forward_length", -1, &hp->hidden_dim, err)) ||
        (st = pl_gguf_hp_int(g, a, "attention.head_count", -1, &hp->n_heads, err)) ||
        (st = pl_gguf_hp_int(g, a, "attention.key_length", -1, &hp->head_dim, err)) ||
        (st = pl_gguf_hp_int(g, a, "attention.relative_buckets_count", 32, &hp->n_rel_buckets, err)) ||
        (st = pl_gguf_hp_float(g, a, "attention.layer_norm_rms_epsilon", 1e-6f, &hp->norm_eps, err)))
        return st;
    int value_len;
    if ((st = pl_gguf_hp_int(g, a, "attention.value_length", hp->head_dim, &value_len, err))) return st;
    if (value_len != hp->head_dim)
        return pl_fail(err, PL_ERR_UNSUPPORTED_ARCH, "t5.attention.value_length %d differs from key_length %d",
                       value_len, hp->head_dim);
    if ((int64_t)hp->n_heads * hp->head_dim > INT32_MAX / 64 || hp->n_rel_buckets < 4 || hp->n_rel_buckets > 4096)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "t5 attention shape out of range: %d heads of %d, %d buckets",
                       hp->n_heads, hp->head_dim, hp->n_rel_buckets);
    char key[96];
    int64_t id;
    snprintf(key, sizeof key, "%s.decoder_start_token_id", a);
    if ((st = pl_gguf_i64_or(g, key, 0, &id, err))) return st;
    if (id < 0 || id >= INT32_MAX)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "%s = %lld is out of range", key, (long long)id);
    hp->decoder_start = (int)id;
    hp->n_kv_heads = hp->n_heads;
    hp->rope_dims = 0;   /* positions enter as the relative attention bias */
    hp->rope_pos_scale = 1;
    return PL_OK;
}

/* An output matrix with the token embedding's type, shape and bytes is the tied one that
 * a converter wrote out again. */
static void detect_tied_copy(pl_model *m) {
    const pl_tensor *o = &m->output, *e = &m->tok_embd;
    if (!m->tied_output && o->type == e->type && o->ne[0] == e->ne[0] && o->ne[1] == e->ne[1] &&
        o->nbytes == e->nbytes && memcmp(o->data, e->data, e->nbytes) == 0) {
        m->output = m->tok_embd;
        m->tied_output = 1;
    }
}

int pl_t5_from_gguf(pl_model *m, pl_err *err) {
    pl_hparams *hp = &m->hp;
    const pl_gguf *g = &m->gguf;
    int st = read_hparams(g, hp, err);
    if (st) return st;
    /* both stacks' block counts shown plausible before anything is allocated for them */
    if ((uint64_t)T5_ENC_LAYER_TENSORS * hp->n_enc_layers + (uint64_t)T5_DEC_LAYER_TENSORS * hp->n_layers >
        m->gguf.n_tensors)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "t5 has %d encoder and %d decoder blocks but the file has only %llu tensors",
                       hp->n_enc_layers, hp->n_layers, (unsigned long long)m->gguf.n_tensors);
    if ((st = pl_gguf_token_embd(m, err)) || (st = pl_gguf_output(m, err)) ||
        (st = pl_gguf_weight(g, "enc.output_norm.weight", hp->dim, 1, &m->enc_norm, err)) ||
        (st = pl_gguf_weight(g, "dec.output_norm.weight", hp->dim, 1, &m->out_norm, err)) ||
        (st = pl_gguf_weight(g, "enc.blk.0.attn_rel_b.weight", hp->n_heads, hp->n_rel_buckets, &m->enc_rel_bias, err)) ||
        (st = pl_gguf_weight(g, "dec.blk.0.attn_rel_b.weight", hp->n_heads, hp->n_rel_buckets, &m->dec_rel_bias, err)) ||
        (st = pl_gguf_layer_set(m, hp->n_enc_layers, T5_ENC_LAYER_TENSORS, read_enc_layer, &m->enc_layers, err)))
        return st;
    detect_tied_copy(m);
    if (hp->decoder_start >= hp->n_vocab)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "t5.decoder_start_token_id %d is outside the vocabulary",
                       hp->decoder_start);
    return pl_gguf_layer_set(m, hp->n_layers, T5_DEC_LAYER_TENSORS, read_dec_layer, &m->layers, err);
}
