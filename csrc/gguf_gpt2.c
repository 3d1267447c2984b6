/* GPT-2 models from GGUF, with llama.cpp's names and shapes (gguf-py constants.py,
 * MODEL_ARCH.GPT2): learned positions, LayerNorms with bias, a fused q/k/v projection and
 * biases on every projection except the output. */
#include "model.h"

#include <stdio.h>

#define GPT2_LAYER_TENSORS 12

static int read_hparams(const pl_gguf *g, pl_hparams *hp, pl_err *err) {
    const char *a = hp->arch_name;
    int st;
    if ((st = pl_gguf_hp_int(g, a, "context_length", -1, &hp->n_ctx_train, err)) ||
        (st = pl_gguf_hp_int(g, a, "embedding_length", -1, &hp->dim, err)) ||
        (st = pl_gguf_hp_int(g, a, "block_count", -1, &hp->n_layers, err)) ||
        (st = pl_gguf_hp_int(g, a, "feed_forward_length", -1, &hp->hidden_dim, err)) ||
        (st = pl_gguf_hp_int(g, a, "attention.head_count", -1, &hp->n_heads, err)) ||
        (st = pl_gguf_hp_float(g, a, "attention.layer_norm_epsilon", 1e-5f, &hp->norm_eps, err)))
        return st;
    if (hp->dim % hp->n_heads != 0)
        return pl_fail(err, PL_ERR_BAD_FORMAT,
                       "bad attention shape: embedding_length %d is not a multiple of head_count %d",
                       hp->dim, hp->n_heads);
    hp->n_kv_heads = hp->n_heads;
    hp->head_dim = hp->dim / hp->n_heads;
    /* positions come from position_embd, not rotations */
    hp->rope_dims = 0;
    hp->rope_pos_scale = 1;
    return PL_OK;
}

static int read_layer(const pl_gguf *g, const pl_hparams *hp, int l, pl_layer *L, pl_err *err) {
    const int64_t dim = hp->dim, hidden = hp->hidden_dim;
    const struct { const char *name; pl_tensor *t; int64_t ne0, ne1; } weights[GPT2_LAYER_TENSORS] = {
        {"attn_norm.weight", &L->attn_norm, dim, 1},   {"attn_norm.bias", &L->attn_norm_b, dim, 1},
        {"attn_qkv.weight", &L->wqkv, dim, 3 * dim},   {"attn_qkv.bias", &L->bqkv, 3 * dim, 1},
        {"attn_output.weight", &L->wo, dim, dim},      {"attn_output.bias", &L->bo, dim, 1},
        {"ffn_norm.weight", &L->ffn_norm, dim, 1},     {"ffn_norm.bias", &L->ffn_norm_b, dim, 1},
        {"ffn_up.weight", &L->w_up, dim, hidden},      {"ffn_up.bias", &L->b_up, hidden, 1},
        {"ffn_down.weight", &L->w_down, hidden, dim},  {"ffn_down.bias", &L->b_down, dim, 1},
    };
    char name[64];
    for (int i = 0; i < GPT2_LAYER_TENSORS; i++) {
        snprintf(name, sizeof name, "blk.%d.%s", l, weights[i].name);
        int st = pl_gguf_weight(g, name, weights[i].ne0, weights[i].ne1, weights[i].t, err);
        if (st) return st;
    }
    return PL_OK;
}

int pl_gpt2_from_gguf(pl_model *m, pl_err *err) {
    pl_hparams *hp = &m->hp;
    const pl_gguf *g = &m->gguf;
    int st = read_hparams(g, hp, err);
    if (st) return st;

    /* one learned position row per trained position: pl_load caps the context at
     * n_ctx_train; GPT-2 itself ties the output to the token embedding */
    if ((st = pl_gguf_token_embd(m, err)) ||
        (st = pl_gguf_weight(g, "position_embd.weight", hp->dim, hp->n_ctx_train, &m->pos_embd, err)) ||
        (st = pl_gguf_weight(g, "output_norm.weight", hp->dim, 1, &m->out_norm, err)) ||
        (st = pl_gguf_weight(g, "output_norm.bias", hp->dim, 1, &m->out_norm_b, err)) ||
        (st = pl_gguf_output(m, err)))
        return st;
    return pl_gguf_layers(m, GPT2_LAYER_TENSORS, read_layer, err);
}
