/* Building a pl_vocab from GGUF metadata or a llama2.c tokenizer.bin, and piece lookup. */
#include "vocab.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* "<0xNN>" (two upper- or lower-case hex digits) → NN, anything else → -1. */
static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static int byte_piece_value(const char *s, int len) {
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int hi = hex_digit(s[3]), lo = hex_digit(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* An entry of the lookup table being sorted (see piece_key_cmp). */
typedef struct {
    const char *s;
    int len, id;
} piece_key;

/* Allocates the per-token arrays and the piece block (all pieces live in one block of
 * text_bytes + n_vocab bytes that starts at piece[0]; see pl_vocab_free). */
static int vocab_alloc(pl_vocab *v, int n_vocab, size_t text_bytes, pl_err *err) {
    memset(v, 0, sizeof *v);
    if ((size_t)n_vocab > SIZE_MAX / sizeof(piece_key) || text_bytes > SIZE_MAX - (size_t)n_vocab)
        return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "a %d-token vocabulary does not fit in memory", n_vocab);
    v->kind = PL_VOCAB_SPM;
    v->n_vocab = n_vocab;
    v->piece = calloc((size_t)n_vocab, sizeof *v->piece);
    v->piece_len = calloc((size_t)n_vocab, sizeof *v->piece_len);
    v->score = calloc((size_t)n_vocab, sizeof *v->score);
    v->type = calloc((size_t)n_vocab, sizeof *v->type);
    v->sorted = calloc((size_t)n_vocab, sizeof *v->sorted);
    char *text = malloc(text_bytes + (size_t)n_vocab);
    if (!v->piece || !v->piece_len || !v->score || !v->type || !v->sorted || !text) {
        free(text);
        pl_vocab_free(v);
        return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory for a %d-token vocabulary", n_vocab);
    }
    v->piece[0] = text;
    return PL_OK;
}

/* Copies the piece of token id into the block right after the previous piece (ids are
 * filled in order), turning SentencePiece's U+2581 into a plain space when asked. */
static void vocab_set_piece(pl_vocab *v, int id, const char *s, size_t len, int unescape_space) {
    char *dst = id == 0 ? v->piece[0] : v->piece[id - 1] + v->piece_len[id - 1] + 1;
    int n = 0;
    for (size_t i = 0; i < len; i++) {
        if (unescape_space && i + 2 < len && (uint8_t)s[i] == 0xE2 && (uint8_t)s[i + 1] == 0x96 &&
            (uint8_t)s[i + 2] == 0x81) {
            dst[n++] = ' ';
            i += 2;
        } else {
            dst[n++] = s[i];
        }
    }
    dst[n] = '\0';
    v->piece[id] = dst;
    v->piece_len[id] = n;
}


/* Piece order for the lookup table: bytewise, shorter first on a common prefix, then id
 * (so duplicates resolve to the lowest id). */
static int piece_key_cmp(const void *pa, const void *pb) {
    const piece_key *a = pa, *b = pb;
    int n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->s, b->s, (size_t)n);
    if (c) return c;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

/* Derived tables: sorted ids, byte tokens, longest piece. */
static int vocab_finish(pl_vocab *v, pl_err *err) {
    piece_key *keys = malloc((size_t)v->n_vocab * sizeof *keys);
    if (!keys) return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory sorting the vocabulary");
    for (int i = 0; i < 256; i++) v->byte_token[i] = -1;
    v->max_piece_len = 0;
    for (int id = 0; id < v->n_vocab; id++) {
        keys[id] = (piece_key){v->piece[id], v->piece_len[id], id};
        if (v->piece_len[id] > v->max_piece_len) v->max_piece_len = v->piece_len[id];
        if (v->type[id] == PL_TOK_BYTE) {
            int b = byte_piece_value(v->piece[id], v->piece_len[id]);
            if (b < 0) {
                free(keys);
                return pl_fail(err, PL_ERR_BAD_FORMAT, "byte token %d has piece '%.16s', not <0xNN>",
                               id, v->piece[id]);
            }
            if (v->byte_token[b] < 0) v->byte_token[b] = id;
        }
    }
    qsort(keys, (size_t)v->n_vocab, sizeof *keys, piece_key_cmp);
    for (int i = 0; i < v->n_vocab; i++) v->sorted[i] = keys[i].id;
    free(keys);
    return PL_OK;
}

int pl_vocab_find(const pl_vocab *v, const char *s, int len) {
    if (len < 0 || len > v->max_piece_len) return -1;
    piece_key key = {s, len, -1};   /* id -1 sorts before every equal piece: lower bound */
    int lo = 0, hi = v->n_vocab;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2, id = v->sorted[mid];
        piece_key k = {v->piece[id], v->piece_len[id], id};
        if (piece_key_cmp(&k, &key) < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo == v->n_vocab) return -1;
    int id = v->sorted[lo];
    return v->piece_len[id] == len && memcmp(v->piece[id], s, (size_t)len) == 0 ? id : -1;
}

void pl_vocab_free(pl_vocab *v) {
    if (v->piece) free(v->piece[0]);
    free(v->piece);
    free(v->piece_len);
    free(v->score);
    free(v->type);
    free(v->sorted);
    memset(v, 0, sizeof *v);
}

/* ---- GGUF ---- */

static int special_id(const pl_gguf *g, const char *key, int dflt, int n_vocab, int *out,
                      pl_err *err) {
    int64_t id;
    int st = pl_gguf_i64_or(g, key, dflt, &id, err);
    if (st != PL_OK) return st;
    *out = id >= 0 && id < n_vocab ? (int)id : -1;   /* e.g. 0xFFFFFFFF means "none" */
    return PL_OK;
}

/* An optional per-token numeric array must have exactly n_vocab numeric elements. */
static int check_token_array(const pl_gguf_kv *kv, const char *key, uint64_t n_vocab, pl_err *err) {
    if (kv->type != GGUF_ARRAY || kv->arr_type == GGUF_STRING || kv->arr_type == GGUF_ARRAY)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "%s is not a numeric array", key);
    if (kv->arr_n != n_vocab)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "%s has %llu elements, tokenizer.ggml.tokens has %llu",
                       key, (unsigned long long)kv->arr_n, (unsigned long long)n_vocab);
    return PL_OK;
}

int pl_vocab_from_gguf(pl_vocab *v, const pl_gguf *g, pl_err *err) {
    memset(v, 0, sizeof *v);
    if (!pl_gguf_find(g, "tokenizer.ggml.model"))
        return pl_fail(err, PL_ERR_NO_TOKENIZER, "GGUF has no tokenizer (tokenizer.ggml.model missing)");
    const char *model;
    uint64_t model_len;
    int st = pl_gguf_get_str(g, "tokenizer.ggml.model", &model, &model_len, err);
    if (st != PL_OK) return st;
    if (model_len != 5 || memcmp(model, "llama", 5) != 0)
        return pl_fail(err, PL_ERR_UNSUPPORTED_ARCH, "tokenizer model '%.*s' is not supported yet",
                       (int)(model_len > 64 ? 64 : model_len), model);

    const pl_gguf_kv *tokens = pl_gguf_find(g, "tokenizer.ggml.tokens");
    if (!tokens || tokens->type != GGUF_ARRAY || tokens->arr_type != GGUF_STRING)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "tokenizer.ggml.tokens is missing or not a string array");
    if (tokens->arr_n == 0 || tokens->arr_n > INT_MAX / 2)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "tokenizer.ggml.tokens has %llu entries",
                       (unsigned long long)tokens->arr_n);
    int n = (int)tokens->arr_n;
    const pl_gguf_kv *scores = pl_gguf_find(g, "tokenizer.ggml.scores");
    const pl_gguf_kv *types = pl_gguf_find(g, "tokenizer.ggml.token_type");
    if (scores && (st = check_token_array(scores, "tokenizer.ggml.scores", tokens->arr_n, err))) return st;
    if (types && (st = check_token_array(types, "tokenizer.ggml.token_type", tokens->arr_n, err))) return st;

    /* Sizing pass over the strings (their bounds were validated by the GGUF parser). */
    size_t text_bytes = 0;
    const uint8_t *cursor = tokens->value;
    for (int id = 0; id < n; id++) {
        const char *s;
        uint64_t len;
        pl_gguf_str_next(&cursor, &s, &len);
        if (len > INT_MAX / 2)
            return pl_fail(err, PL_ERR_BAD_FORMAT, "token %d is %llu bytes long", id, (unsigned long long)len);
        text_bytes += (size_t)len;
    }
    if ((st = vocab_alloc(v, n, text_bytes, err)) != PL_OK) return st;

    cursor = tokens->value;
    for (int id = 0; id < n; id++) {
        const char *s;
        uint64_t len;
        pl_gguf_str_next(&cursor, &s, &len);
        vocab_set_piece(v, id, s, (size_t)len, 1);
        double score = 0.0, type = PL_TOK_NORMAL;
        if ((scores && pl_gguf_arr_num(scores, (uint64_t)id, &score) != PL_OK) ||
            (types && pl_gguf_arr_num(types, (uint64_t)id, &type) != PL_OK)) {
            pl_vocab_free(v);
            return pl_fail(err, PL_ERR_BAD_FORMAT, "token %d: unreadable score or type", id);
        }
        if (type == 0) type = PL_TOK_NORMAL;   /* 0 = "undefined" in llama.cpp's numbering */
        if (!(type >= PL_TOK_NORMAL && type <= PL_TOK_BYTE)) {
            pl_vocab_free(v);
            return pl_fail(err, PL_ERR_BAD_FORMAT, "token %d has unknown type %g", id, type);
        }
        v->score[id] = (float)score;
        v->type[id] = (uint8_t)type;
    }

    /* llama.cpp's defaults for SPM vocabularies when the ids are absent. */
    if ((st = special_id(g, "tokenizer.ggml.bos_token_id", 1, n, &v->bos, err)) ||
        (st = special_id(g, "tokenizer.ggml.eos_token_id", 2, n, &v->eos, err)) ||
        (st = special_id(g, "tokenizer.ggml.unknown_token_id", 0, n, &v->unk, err)) ||
        (st = pl_gguf_bool_or(g, "tokenizer.ggml.add_bos_token", 1, &v->add_bos, err)) ||
        (st = pl_gguf_bool_or(g, "tokenizer.ggml.add_space_prefix", 1, &v->add_space_prefix, err)) ||
        (st = vocab_finish(v, err))) {
        pl_vocab_free(v);
        return st;
    }
    return PL_OK;
}

/* ---- llama2.c tokenizer.bin ---- */

int pl_vocab_from_llama2c(pl_vocab *v, const uint8_t *buf, size_t size, int n_vocab, pl_err *err) {
    memset(v, 0, sizeof *v);
    if (n_vocab <= 0 || n_vocab > INT_MAX / 2)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "vocabulary size %d from the checkpoint is invalid", n_vocab);
    pl_reader r = {buf, size, 0};
    int32_t max_len;
    int st = pl_read_i32(&r, &max_len, err);
    if (st != PL_OK) return st;
    if (max_len < 0)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "tokenizer.bin: negative max_token_length %d", (int)max_len);

    /* Sizing pass: validates every record before anything is allocated. */
    size_t text_bytes = 0;
    for (int id = 0; id < n_vocab; id++) {
        float score;
        int32_t len;
        const uint8_t *s;
        if ((st = pl_read_f32(&r, &score, err)) || (st = pl_read_i32(&r, &len, err))) return st;
        if (len < 0 || len > max_len)
            return pl_fail(err, PL_ERR_BAD_FORMAT, "tokenizer.bin: token %d has length %d (max_token_length %d)",
                           id, (int)len, (int)max_len);
        if ((st = pl_read_span(&r, (size_t)len, &s, err))) return st;
        text_bytes += (size_t)len;
    }
    if ((st = vocab_alloc(v, n_vocab, text_bytes, err)) != PL_OK) return st;

    r.pos = 4;   /* second pass: the records were all validated above */
    for (int id = 0; id < n_vocab; id++) {
        int32_t len;
        const uint8_t *s;
        pl_read_f32(&r, &v->score[id], NULL);
        pl_read_i32(&r, &len, NULL);
        pl_read_span(&r, (size_t)len, &s, NULL);
        vocab_set_piece(v, id, (const char *)s, (size_t)len, 0);   /* pieces already use ' ' */
        v->type[id] = byte_piece_value(v->piece[id], len) >= 0 ? PL_TOK_BYTE : PL_TOK_NORMAL;
    }
    /* llama2.c's fixed ids: 0 <unk>, 1 BOS ("\n<s>\n"), 2 EOS ("\n</s>\n"). */
    v->unk = 0;
    v->type[0] = PL_TOK_UNKNOWN;
    v->bos = n_vocab > 1 ? 1 : -1;
    v->eos = n_vocab > 2 ? 2 : -1;
    if (v->bos >= 0) v->type[v->bos] = PL_TOK_CONTROL;
    if (v->eos >= 0) v->type[v->eos] = PL_TOK_CONTROL;
    v->add_bos = 1;
    v->add_space_prefix = 1;
    if ((st = vocab_finish(v, err)) != PL_OK) {
        pl_vocab_free(v);
        return st;
    }
    return PL_OK;
}
