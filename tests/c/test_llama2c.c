/* llama2.c checkpoint reader: stories260K.bin against stories260K.gguf (the two files
 * hold the same weights: checked independently with numpy, element for element, with no
 * Q/K permutation between them), plus size and header damage. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "model.h"

#define BIN_SIZE 1056540

/* Loads from an exact-size heap copy of buf[0..n) (ASan sees any over-read); the copy is
 * owned by m->file afterwards, so pl_model_free releases it. */
static int load_copy(const uint8_t *buf, size_t n, const uint8_t *tok, size_t tok_size,
                     pl_model *m, pl_err *err) {
    memset(m, 0, sizeof *m);
    m->file = exact_copy(buf, n);
    m->file_size = n;
    uint8_t *file = m->file;
    int st = pl_model_from_llama2c(m, m->file, n, tok, tok_size, err);
    CHECK(m->file == file && m->file_size == n);   /* the loader never touches these */
    if (st) CHECK(m->layers == NULL && m->has_vocab == 0 && m->format == NULL);
    return st;
}

/* The llama2.c model's tensor that the GGUF calls name, or NULL. */
static const pl_tensor *by_gguf_name(const pl_model *m, const pl_tensor *gt) {
    static const char *parts[9] = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                   "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"};
    char name[64];
    if (gt->name_len >= sizeof name) return NULL;
    memcpy(name, gt->name, gt->name_len);
    name[gt->name_len] = 0;
    if (strcmp(name, "token_embd.weight") == 0) return &m->tok_embd;
    if (strcmp(name, "output_norm.weight") == 0) return &m->out_norm;
    if (strcmp(name, "output.weight") == 0) return &m->output;
    for (int l = 0; l < m->hp.n_layers; l++) {
        const pl_layer *L = &m->layers[l];
        const pl_tensor *slots[9] = {&L->attn_norm, &L->wq, &L->wk, &L->wv, &L->wo,
                                     &L->ffn_norm, &L->w_gate, &L->w_up, &L->w_down};
        for (int i = 0; i < 9; i++) {
            char want[64];
            snprintf(want, sizeof want, "blk.%d.%s.weight", l, parts[i]);
            if (strcmp(name, want) == 0) return slots[i];
        }
    }
    return NULL;
}

static void test_stories_bin(void) {
    size_t size, gsize, tsize;
    uint8_t *bin = read_file("models/stories260K.bin", &size);
    uint8_t *gguf = read_file("models/stories260K.gguf", &gsize);
    uint8_t *tok = read_file("models/tok512.bin", &tsize);
    pl_model m;
    pl_err err = {0};
    CHECK_EQ_INT(size, BIN_SIZE);
    CHECK_EQ_INT(load_copy(bin, size, NULL, 0, &m, &err), PL_OK);
    CHECK(m.format && strcmp(m.format, "llama2c") == 0);
    CHECK(m.hp.arch == PL_ARCH_LLAMA && strcmp(m.hp.arch_name, "llama") == 0);
    CHECK_EQ_INT(m.hp.dim, 64);
    CHECK_EQ_INT(m.hp.hidden_dim, 172);
    CHECK_EQ_INT(m.hp.n_layers, 5);
    CHECK_EQ_INT(m.hp.n_heads, 8);
    CHECK_EQ_INT(m.hp.n_kv_heads, 4);
    CHECK_EQ_INT(m.hp.head_dim, 8);
    CHECK_EQ_INT(m.hp.n_vocab, 512);
    CHECK_EQ_INT(m.hp.n_ctx_train, 512);
    CHECK_EQ_INT(m.hp.rope_dims, 8);
    CHECK_EQ_INT(m.hp.rope_type, PL_ROPE_NORMAL);
    CHECK(m.hp.norm_eps == 1e-5f && m.hp.rope_base == 10000 && m.hp.rope_pos_scale == 1);
    CHECK(m.tied_output == 1 && m.output.data == m.tok_embd.data);
    CHECK(m.has_vocab == 0);
    CHECK(m.tok_embd.data == m.file + 28);
    /* the final norm sits right before the two freq_cis tables and the end of the file */
    CHECK((const uint8_t *)m.out_norm.data + 64 * 4 + 2 * 512 * 4 * 4 == m.file + size);
    CHECK(m.layers[3].wq.name_len == 19 && memcmp(m.layers[3].wq.name, "blk.3.attn_q.weight", 19) == 0);

    /* every GGUF tensor has the same shape, type and bytes in the llama2.c model */
    pl_gguf g;
    CHECK_EQ_INT(pl_gguf_parse(&g, gguf, gsize, &err), PL_OK);
    int compared = 0, same = 0;
    for (uint64_t i = 0; i < g.n_tensors; i++) {
        const pl_tensor *gt = &g.tensors[i];
        const pl_tensor *t = by_gguf_name(&m, gt);
        CHECK(t != NULL);
        if (!t) continue;
        compared++;
        /* the tied output is the embedding, named after it */
        int same_name = t == &m.output ||
                        (t->name_len == gt->name_len && memcmp(t->name, gt->name, t->name_len) == 0);
        if (t->type == gt->type && t->n_dims == gt->n_dims && t->nbytes == gt->nbytes && same_name &&
            memcmp(t->ne, gt->ne, sizeof t->ne) == 0 && memcmp(t->data, gt->data, t->nbytes) == 0)
            same++;
        else
            fprintf(stderr, "differs: %.*s\n", (int)gt->name_len, gt->name);
    }
    CHECK_EQ_INT(compared, 48);
    CHECK_EQ_INT(same, 48);
    pl_gguf_free(&g);
    pl_model_free(&m);
    CHECK(m.file == NULL && m.layers == NULL);

    /* with the tokenizer */
    CHECK_EQ_INT(load_copy(bin, size, tok, tsize, &m, &err), PL_OK);
    CHECK(m.has_vocab == 1 && m.vocab.n_vocab == 512);
    pl_model_free(&m);
    free(tok);
    free(gguf);
    free(bin);
}

static void test_sizes(void) {
    size_t size;
    uint8_t *bin = read_file("models/stories260K.bin", &size);
    pl_model m;
    pl_err err = {0};
    const size_t short_sizes[] = {0, 3, 27, 28, 29, 1000, BIN_SIZE - 4, BIN_SIZE - 1};
    for (size_t i = 0; i < sizeof short_sizes / sizeof short_sizes[0]; i++) {
        CHECK_EQ_INT(load_copy(bin, short_sizes[i], NULL, 0, &m, &err), PL_ERR_TRUNCATED);
        pl_model_free(&m);
    }
    CHECK(contains(err.msg, "expected 1056540 bytes") && contains(err.msg, "1056539"));
    CHECK_EQ_INT(load_copy(bin, 10, NULL, 0, &m, &err), PL_ERR_TRUNCATED);
    CHECK(contains(err.msg, "header"));
    pl_model_free(&m);

    uint8_t *longer = calloc(1, size + 4);
    memcpy(longer, bin, size);
    CHECK_EQ_INT(load_copy(longer, size + 4, NULL, 0, &m, &err), PL_ERR_BAD_FORMAT);
    CHECK(contains(err.msg, "1056544") && contains(err.msg, "1056540"));
    pl_model_free(&m);
    free(longer);

    /* weights must be 4-byte aligned in memory: load from an odd address */
    uint8_t *shifted = malloc(size + 1);
    memcpy(shifted + 1, bin, size);
    memset(&m, 0, sizeof m);
    CHECK_EQ_INT(pl_model_from_llama2c(&m, shifted + 1, size, NULL, 0, &err), PL_ERR_BAD_FORMAT);
    CHECK(contains(err.msg, "aligned") && m.layers == NULL);
    free(shifted);
    free(bin);
}

static void test_bad_headers(void) {
    size_t size;
    uint8_t *bin = read_file("models/stories260K.bin", &size);
    pl_model m;
    pl_err err = {0};
    /* field index, value, expected message part */
    static const struct { int field; int32_t value; const char *msg; } cases[] = {
        {0, 0, "dim out of range"},
        {0, -64, "dim out of range"},
        {0, 0x7fffffff, "dim out of range"},
        {0, 0x616b3432, "ak42"},
        {1, 0, "hidden_dim out of range"},
        {2, -5, "n_layers out of range"},
        {2, 0x7fffffff, "n_layers out of range"},
        {3, 0, "n_heads does not divide dim"},
        {3, 7, "n_heads does not divide dim"},
        {3, 64, "head size is odd"},
        {4, 3, "n_kv_heads does not divide n_heads"},
        {4, 0, "n_kv_heads does not divide n_heads"},
        {4, 16, "n_kv_heads does not divide n_heads"},
        {5, 0, "vocab_size out of range"},
        {5, (int32_t)0x80000000, "vocab_size out of range"},
        {5, 0x7fffffff, "vocab_size out of range"},
        {6, 0, "seq_len out of range"},
        {6, -1, "seq_len out of range"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(bin + 4 * cases[i].field, &cases[i].value, 4);
        CHECK_EQ_INT(load_copy(bin, size, NULL, 0, &m, &err), PL_ERR_BAD_FORMAT);
        CHECK(contains(err.msg, cases[i].msg));
        if (!contains(err.msg, cases[i].msg)) fprintf(stderr, "  case %zu: %s\n", i, err.msg);
        pl_model_free(&m);
        free(bin);
        bin = read_file("models/stories260K.bin", &size);
    }
    /* plausible header, wrong sizes: n_layers 6 wants more bytes than the file has */
    int32_t six = 6;
    memcpy(bin + 8, &six, 4);
    CHECK_EQ_INT(load_copy(bin, size, NULL, 0, &m, &err), PL_ERR_TRUNCATED);
    pl_model_free(&m);
    free(bin);

    /* a GGUF file is not a llama2.c checkpoint ("GGUF" read as dim is absurd) */
    uint8_t *gguf = read_file("models/stories260K.gguf", &size);
    CHECK_EQ_INT(load_copy(gguf, size, NULL, 0, &m, &err), PL_ERR_BAD_FORMAT);
    CHECK(contains(err.msg, "not a llama2.c checkpoint"));
    pl_model_free(&m);
    free(gguf);
}

/* vocab_size < 0: an unshared classifier wcls[vocab][dim] follows the freq_cis tables. */
static void test_unshared_classifier(void) {
    size_t size;
    uint8_t *bin = read_file("models/stories260K.bin", &size);
    const size_t wcls_bytes = 512 * 64 * 4;
    uint8_t *buf = malloc(size + wcls_bytes);
    memcpy(buf, bin, size);
    int32_t neg = -512;
    memcpy(buf + 20, &neg, 4);
    /* wcls = -token_embedding, so it differs from the embedding everywhere it is nonzero */
    for (size_t i = 0; i < 512 * 64; i++) {
        float v;
        memcpy(&v, bin + 28 + 4 * i, 4);
        v = -v;
        memcpy(buf + size + 4 * i, &v, 4);
    }
    pl_model m;
    pl_err err = {0};
    CHECK_EQ_INT(load_copy(buf, size + wcls_bytes, NULL, 0, &m, &err), PL_OK);
    CHECK(m.hp.n_vocab == 512 && m.tied_output == 0);
    CHECK(m.output.data == m.file + size && m.output.nbytes == wcls_bytes);
    CHECK(m.output.ne[0] == 64 && m.output.ne[1] == 512 && m.output.type == PL_TYPE_F32);
    CHECK(m.output.name_len == 13 && memcmp(m.output.name, "output.weight", 13) == 0);
    int negated = 1;
    for (size_t i = 0; i < 512 * 64; i++)
        negated &= ((const float *)m.output.data)[i] == -((const float *)m.tok_embd.data)[i];
    CHECK(negated);
    pl_model_free(&m);
    /* without the classifier bytes the file is short */
    CHECK_EQ_INT(load_copy(buf, size, NULL, 0, &m, &err), PL_ERR_TRUNCATED);
    pl_model_free(&m);
    free(buf);
    free(bin);
}

int main(void) {
    test_stories_bin();
    test_sizes();
    test_bad_headers();
    test_unshared_classifier();
    return check_report("test_llama2c");
}
