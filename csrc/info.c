/* Builds the model description JSON: hyper-parameters, tensor statistics, tokenizer. */
#include "info.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "unicode.h"

typedef struct {
    char *buf;
    size_t len, cap;
    int oom;
} json_buf;

static void emit(json_buf *j, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(j->buf ? j->buf + j->len : NULL, j->buf ? j->cap - j->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) { j->oom = 1; return; }
        if (j->buf && j->len + (size_t)n < j->cap) { j->len += (size_t)n; return; }
        size_t cap = (j->cap + (size_t)n + 1) * 2;
        char *grown = realloc(j->buf, cap);
        if (!grown) { j->oom = 1; return; }
        j->buf = grown;
        j->cap = cap;
    }
}

/* A JSON string from bytes that may hold quotes, control characters or invalid UTF-8:
 * UTF-8 sequences are copied, a stray byte is written as \u00XX so the JSON stays valid. */
static void emit_string(json_buf *j, const char *s, size_t n) {
    emit(j, "\"");
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        uint32_t cp;
        int len = pl_utf8_decode((const uint8_t *)s + i, n - i > 4 ? 4 : (int)(n - i), &cp);
        if (len > 1) emit(j, "%.*s", len, s + i);
        else if (c == '"' || c == '\\') emit(j, "\\%c", c);
        else if (c < 0x20 || c >= 0x80) emit(j, "\\u%04x", c);
        else emit(j, "%c", c);
        i += (size_t)len;
    }
    emit(j, "\"");
}

#define GLOBAL_TENSORS 8
#define PER_LAYER ((int)(sizeof(pl_layer) / sizeof(pl_tensor)))
_Static_assert(sizeof(pl_layer) == PER_LAYER * sizeof(pl_tensor), "pl_layer holds only pl_tensor fields");

/* The model's tensors that are present (data != NULL; a tied output counts once).
 * pl_layer is made of pl_tensor fields only, so it can be walked as an array. */
static int collect_tensors(const pl_model *m, const pl_tensor **out) {
    const pl_tensor *global[GLOBAL_TENSORS] = {&m->tok_embd, &m->pos_embd, &m->out_norm, &m->out_norm_b,
                                               m->tied_output ? NULL : &m->output, &m->enc_norm,
                                               &m->enc_rel_bias, &m->dec_rel_bias};
    int n = 0;
    for (size_t i = 0; i < GLOBAL_TENSORS; i++)
        if (global[i] && global[i]->data) out[n++] = global[i];
    for (int l = 0; l < m->hp.n_layers + m->hp.n_enc_layers; l++) {
        const pl_tensor *per_layer = (const pl_tensor *)(l < m->hp.n_layers ? &m->layers[l] : &m->enc_layers[l - m->hp.n_layers]);
        for (int i = 0; i < PER_LAYER; i++)
            if (per_layer[i].data) out[n++] = &per_layer[i];
    }
    return n;
}

/* Tokenizer fields, and the chat template (Jinja text) when the GGUF has one. */
static void emit_vocab(json_buf *j, const pl_model *m) {
    const pl_vocab *v = &m->vocab;
    const char *kind = v->kind == PL_VOCAB_BPE ? "bpe" : v->kind == PL_VOCAB_WPM ? "wpm"
                     : v->kind == PL_VOCAB_UGM ? "ugm" : "spm";
    emit(j, ",\"tokenizer\":\"%s\",\"bos\":%d,\"eos\":%d,\"unk\":%d,\"add_bos\":%s,\"add_eos\":%s,"
         "\"add_space_prefix\":%s", kind, v->bos, v->eos, v->unk, v->add_bos ? "true" : "false",
         v->add_eos ? "true" : "false", v->add_space_prefix ? "true" : "false");
    const char *tmpl;
    uint64_t len;
    if (m->gguf.version && pl_gguf_find(&m->gguf, "tokenizer.chat_template") &&
        pl_gguf_get_str(&m->gguf, "tokenizer.chat_template", &tmpl, &len, NULL) == PL_OK) {
        emit(j, ",\"chat_template\":");
        emit_string(j, tmpl, (size_t)len);
    }
}

/* Returns j's text, or NULL (and frees it) when an allocation failed on the way. */
static char *finish(json_buf *j) {
    if (!j->oom) return j->buf;
    free(j->buf);
    return NULL;
}

char *pl_vocab_info_json(const pl_model *m) {
    json_buf j = {0};
    emit(&j, "{\"format\":\"%s\",\"vocab_only\":true,\"vocab\":%d", m->format, m->vocab.n_vocab);
    emit_vocab(&j, m);
    emit(&j, "}");
    return finish(&j);
}

char *pl_model_info_json(const pl_model *m, int n_ctx, int n_threads) {
    const pl_hparams *hp = &m->hp;
    const pl_tensor **tensors = malloc(sizeof(pl_tensor *) *
                                     (GLOBAL_TENSORS + PER_LAYER * ((size_t)hp->n_layers + hp->n_enc_layers)));
    if (!tensors) return NULL;
    int n_tensors = collect_tensors(m, tensors);
    int64_t params = 0, type_count[PL_TYPE_BF16 + 1] = {0};
    for (int i = 0; i < n_tensors; i++) {
        params += pl_tensor_nelems(tensors[i]);
        if (tensors[i]->type <= PL_TYPE_BF16) type_count[tensors[i]->type]++;
    }
    free(tensors);

    json_buf j = {0};
    emit(&j, "{\"arch\":");
    emit_string(&j, hp->arch_name, strlen(hp->arch_name));
    emit(&j, ",\"format\":\"%s\"", m->format);
    if (m->gguf.version) emit(&j, ",\"gguf_version\":%u", m->gguf.version);
    emit(&j, ",\"params\":%lld,\"bytes\":%zu,\"n_tensors\":%d", (long long)params, m->file_size, n_tensors);
    /* the type of the attention output weights names the model's quantization (every
     * architecture has that matrix unfused) */
    const char *quant = hp->n_layers ? pl_type_name(m->layers[0].wo.type) : NULL;
    emit(&j, ",\"quant\":\"%s\",\"types\":{", quant ? quant : "?");
    for (int t = 0, first = 1; t <= PL_TYPE_BF16; t++)
        if (type_count[t]) {
            emit(&j, "%s\"%s\":%lld", first ? "" : ",", pl_type_name((uint32_t)t), (long long)type_count[t]);
            first = 0;
        }
    emit(&j, "},\"vocab\":%d,\"context\":%d,\"context_train\":%d", hp->n_vocab, n_ctx, hp->n_ctx_train);
    emit(&j, ",\"kv_cache_bytes\":%llu", (unsigned long long)pl_kv_cache_bytes(hp, n_ctx));
    emit(&j, ",\"dim\":%d,\"n_layers\":%d,\"n_heads\":%d,\"n_kv_heads\":%d,\"head_dim\":%d,\"hidden_dim\":%d",
         hp->dim, hp->n_layers, hp->n_heads, hp->n_kv_heads, hp->head_dim, hp->hidden_dim);
    emit(&j, ",\"norm_eps\":%g,\"rope_base\":%g,\"rope_scale\":%g,\"rope_dims\":%d,\"rope_type\":\"%s\"",
         hp->norm_eps, hp->rope_base, hp->rope_pos_scale, hp->rope_dims,
         hp->rope_type == PL_ROPE_NEOX ? "neox" : "normal");
    emit(&j, ",\"tied_output\":%s", m->tied_output ? "true" : "false");
    if (hp->arch == PL_ARCH_T5)
        emit(&j, ",\"encoder_decoder\":true,\"encoder_layers\":%d,\"decoder_start_token\":%d,\"rel_buckets\":%d",
             hp->n_enc_layers, hp->decoder_start, hp->n_rel_buckets);
    emit_vocab(&j, m);
    emit(&j, ",\"threads\":%d}", n_threads);
    return finish(&j);
}
