/* A loaded model: hyper-parameters, weight tensors (views into the file buffer) and
 * vocabulary. Readers (gguf_model.c, llama2c.c) fill it; architectures run it. */
#ifndef PL_MODEL_H
#define PL_MODEL_H

#include "gguf.h"
#include "kernels.h"
#include "vocab.h"

enum { PL_ARCH_LLAMA = 1, PL_ARCH_GPT2, PL_ARCH_QWEN2, PL_ARCH_PHI3, PL_ARCH_T5 };

typedef struct {
    int arch;                /* PL_ARCH_* */
    char arch_name[32];      /* as in the file ("llama") */
    int dim;                 /* embedding width */
    int n_layers;            /* t5: the decoder's */
    int n_enc_layers;        /* t5: the encoder's */
    int n_heads;
    int n_kv_heads;          /* grouped-query attention: n_heads % n_kv_heads == 0 */
    int head_dim;            /* dim / n_heads (t5: attention.key_length) */
    int hidden_dim;          /* FFN width */
    int n_vocab;
    int n_ctx_train;         /* context length the model was trained for */
    float norm_eps;
    float rope_base;         /* freq base (10000 for Llama 2) */
    float rope_pos_scale;    /* positions are multiplied by this (1 / linear scaling factor) */
    int rope_dims;           /* rotated dimensions per head (<= head_dim) */
    int rope_type;           /* PL_ROPE_NORMAL or PL_ROPE_NEOX */
    int n_rel_buckets;       /* t5: relative position buckets */
    int decoder_start;       /* t5: the decoder's first token */
} pl_hparams;

/* A tensor whose data is NULL is absent (optional biases, fused alternatives). */
typedef struct {
    pl_tensor attn_norm;     /* [dim] */
    pl_tensor attn_norm_b;   /* [dim] LayerNorm bias (gpt2) */
    pl_tensor wq;            /* [dim] -> [n_heads*head_dim] */
    pl_tensor wk, wv;        /* [dim] -> [n_kv_heads*head_dim] */
    pl_tensor wqkv;          /* fused q,k,v: [dim] -> [q_dim + 2*kv_dim] (gpt2, phi3) */
    pl_tensor bq, bk, bv;    /* biases of the projections above (qwen2) */
    pl_tensor bqkv;          /* bias of wqkv (gpt2) */
    pl_tensor wo;            /* [n_heads*head_dim] -> [dim] */
    pl_tensor bo;            /* [dim] (gpt2) */
    pl_tensor ffn_norm;      /* [dim] */
    pl_tensor ffn_norm_b;    /* [dim] LayerNorm bias (gpt2) */
    pl_tensor cross_norm;    /* t5 decoder: cross-attention over the encoder's output */
    pl_tensor cwq, cwk, cwv; /* [dim] -> [n_heads*head_dim] */
    pl_tensor cwo;           /* [n_heads*head_dim] -> [dim] */
    pl_tensor w_gate, w_up;  /* [dim] -> [hidden_dim]; gpt2 and ReLU t5 have only w_up */
    pl_tensor w_gate_up;     /* fused gate and up: [dim] -> [2*hidden_dim] (phi3) */
    pl_tensor b_up;          /* [hidden_dim] (gpt2) */
    pl_tensor w_down;        /* [hidden_dim] -> [dim] */
    pl_tensor b_down;        /* [dim] (gpt2) */
} pl_layer;

typedef struct {
    pl_hparams hp;
    const char *format;      /* "gguf" or "llama2c" */
    pl_tensor tok_embd;      /* [n_vocab][dim] */
    pl_tensor pos_embd;      /* [n_ctx_train][dim] learned positions (gpt2) */
    pl_tensor out_norm;      /* [dim] */
    pl_tensor out_norm_b;    /* [dim] (gpt2) */
    pl_tensor rope_freqs;    /* [rope_dims/2] divisors of the rope frequencies (Llama 3.1) */
    pl_tensor output;        /* [dim] -> [n_vocab]; same data as tok_embd when tied */
    int tied_output;
    pl_layer *layers;        /* n_layers (t5: the decoder's) */
    pl_layer *enc_layers;    /* t5: n_enc_layers */
    pl_tensor enc_norm;      /* t5: [dim] after the encoder */
    pl_tensor enc_rel_bias, dec_rel_bias;   /* t5: [n_rel_buckets][n_heads] */
    pl_vocab vocab;
    int has_vocab;
    pl_gguf gguf;            /* GGUF files: metadata kept for info */
    uint8_t *file;           /* owned: the whole model file, weights point into it */
    size_t file_size;
} pl_model;

/* Reads a GGUF model (architecture from general.architecture). Takes no ownership. */
int pl_model_from_gguf(pl_model *m, const uint8_t *buf, size_t size, pl_err *err);
/* For the GGUF architecture readers (gguf_model.c, gguf_gpt2.c): {arch}.{suffix} as an int
 * in 1..INT32_MAX (dflt < 0 makes the key required), as a positive finite float (dflt when
 * absent), and a required weight checked for shape {ne0, ne1} and type. */
int pl_gguf_hp_int(const pl_gguf *g, const char *arch, const char *suffix, int64_t dflt, int *out,
                   pl_err *err);
int pl_gguf_hp_float(const pl_gguf *g, const char *arch, const char *suffix, float dflt,
                     float *out, pl_err *err);
int pl_gguf_weight(const pl_gguf *g, const char *name, int64_t ne0, int64_t ne1, pl_tensor *out,
                   pl_err *err);
/* Also for them: token_embd.weight into m->tok_embd, its row count setting hp.n_vocab;
 * output.weight into m->output, or the token embedding (tied) when the file has none; and
 * m->layers, allocated and each filled by read_layer, once block_count is shown plausible
 * (every layer has at least min_tensors tensors in the file). */
typedef int (*pl_layer_reader)(const pl_gguf *g, const pl_hparams *hp, int l, pl_layer *L,
                               pl_err *err);
int pl_gguf_token_embd(pl_model *m, pl_err *err);
int pl_gguf_output(pl_model *m, pl_err *err);
int pl_gguf_layers(pl_model *m, int min_tensors, pl_layer_reader read_layer, pl_err *err);
/* The same for n layers into *out (t5's encoder and decoder). */
int pl_gguf_layer_set(pl_model *m, int n, int min_tensors, pl_layer_reader read_layer, pl_layer **out,
                      pl_err *err);
/* GPT-2 hyper-parameters and weights from m->gguf (parsed, general.architecture "gpt2",
 * m->hp.arch and arch_name set); the vocabulary is read by the caller. */
int pl_gpt2_from_gguf(pl_model *m, pl_err *err);
/* The same for T5 encoder-decoders (gguf_t5.c, general.architecture "t5"). */
int pl_t5_from_gguf(pl_model *m, pl_err *err);
/* Reads a llama2.c checkpoint (+ optional tokenizer.bin; without it has_vocab = 0). */
int pl_model_from_llama2c(pl_model *m, const uint8_t *buf, size_t size,
                          const uint8_t *tok, size_t tok_size, pl_err *err);
/* Checks a weight tensor's type and shape {ne0, ne1} (ne1 = 1 for vectors); the error
 * names the tensor. */
int pl_check_tensor(const pl_tensor *t, int64_t ne0, int64_t ne1, pl_err *err);
/* Frees what the model allocated, including the file buffer. */
void pl_model_free(pl_model *m);

#endif
