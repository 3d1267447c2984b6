/* Building a pl_vocab from GGUF metadata or a llama2.c tokenizer.bin, and piece lookup. */
#include "vocab.h"
#include "unicode.h"

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

int pl_tokenize_text(const pl_vocab *v, const char *text, int text_len, int add_bos,
                     int parse_special, int *out, int cap, int *n_out, pl_err *err) {
    if (!v || !out || !n_out || text_len < 0 || cap < 0 || (text_len > 0 && !text))
        return pl_fail(err, PL_ERR_INVALID_ARGUMENT, "pl_tokenize_text: bad arguments");
    *n_out = 0;
    pl_token_out o = {out, 0, cap, err};
    int st;
    switch (v->kind) {
    case PL_VOCAB_SPM: st = pl_spm_tokenize(v, text, text_len, add_bos, parse_special, &o); break;
    case PL_VOCAB_BPE: st = pl_bpe_tokenize(v, text, text_len, add_bos, parse_special, &o); break;
    case PL_VOCAB_WPM: st = pl_wpm_tokenize(v, text, text_len, add_bos, parse_special, &o); break;
    case PL_VOCAB_UGM: st = pl_ugm_tokenize(v, text, text_len, add_bos, parse_special, &o); break;
    default: return pl_fail(err, PL_ERR_INVALID_ARGUMENT, "pl_tokenize_text: unknown vocab kind %d", v->kind);
    }
    if (st != PL_OK) return st;
    if (o.n == INT32_MAX) return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "the text needs too many ids");
    *n_out = o.n;
    return o.n > cap ? pl_fail(err, PL_ERR_INVALID_ARGUMENT, "the text needs %d ids, there is room for %d", o.n, cap)
                     : PL_OK;
}

const char *pl_token_bytes(const pl_vocab *v, int prev, int at_start, int id, char byte_buf[1], int *len) {
    switch (v->kind) {
    case PL_VOCAB_BPE: return pl_bpe_token_bytes(v, id, len);
    case PL_VOCAB_WPM: return pl_wpm_token_bytes(v, prev, id, len);
    case PL_VOCAB_UGM: return pl_ugm_token_bytes(v, at_start, id, byte_buf, len);
    default: return pl_spm_token_bytes(v, prev, id, byte_buf, len);
    }
}

void pl_vocab_free(pl_vocab *v) {
    pl_bpe_free(v->bpe);
    pl_ugm_free(v->ugm);
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

/* BPE tables from tokenizer.ggml.pre and tokenizer.ggml.merges. */
static int gguf_bpe_init(pl_vocab *v, const pl_gguf *g, const pl_gguf_kv *merges, pl_err *err) {
    const char *pre = "";
    uint64_t pre_len = 0;
    int st = PL_OK;
    if (pl_gguf_find(g, "tokenizer.ggml.pre") &&
        (st = pl_gguf_get_str(g, "tokenizer.ggml.pre", &pre, &pre_len, err)) != PL_OK)
        return st;
    int n = (int)merges->arr_n;
    const char **merge = malloc(((size_t)n + 1) * sizeof *merge);
    int *merge_len = malloc(((size_t)n + 1) * sizeof *merge_len);
    if (!merge || !merge_len) st = pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory for %d merges", n);
    const uint8_t *cursor = merges->value;
    for (int i = 0; i < n && st == PL_OK; i++) {
        uint64_t len;
        pl_gguf_str_next(&cursor, &merge[i], &len);
        if (len > INT_MAX / 2) st = pl_fail(err, PL_ERR_BAD_FORMAT, "BPE merge %d is %llu bytes long", i,
                                            (unsigned long long)len);
        merge_len[i] = (int)len;
    }
    if (st == PL_OK)
        st = pl_bpe_init(v, pre, (int)(pre_len > 256 ? 256 : pre_len), n, merge, merge_len, err);
    free(merge);
    free(merge_len);
    return st;
}

/* Unigram tables from tokenizer.ggml.precompiled_charsmap (a byte array; absent: no
 * normalization rules) and tokenizer.ggml.remove_extra_whitespaces. */
static int gguf_ugm_init(pl_vocab *v, const pl_gguf *g, pl_err *err) {
    const pl_gguf_kv *map = pl_gguf_find(g, "tokenizer.ggml.precompiled_charsmap");
    if (map && (map->type != GGUF_ARRAY || (map->arr_type != GGUF_U8 && map->arr_type != GGUF_I8)))
        return pl_fail(err, PL_ERR_BAD_FORMAT, "tokenizer.ggml.precompiled_charsmap is not a byte array");
    int squeeze, st = pl_gguf_bool_or(g, "tokenizer.ggml.remove_extra_whitespaces", 1, &squeeze, err);
    return st ? st : pl_ugm_init(v, map ? map->value : NULL, map ? (size_t)map->arr_n : 0, squeeze, err);
}

int pl_vocab_from_gguf(pl_vocab *v, const pl_gguf *g, pl_err *err) {
    memset(v, 0, sizeof *v);
    if (!pl_gguf_find(g, "tokenizer.ggml.model"))
        return pl_fail(err, PL_ERR_NO_TOKENIZER, "GGUF has no tokenizer (tokenizer.ggml.model missing)");
    const char *model;
    uint64_t model_len;
    int st = pl_gguf_get_str(g, "tokenizer.ggml.model", &model, &model_len, err);
    if (st != PL_OK) return st;
    int kind = model_len == 5 && memcmp(model, "llama", 5) == 0 ? PL_VOCAB_SPM
             : model_len == 4 && memcmp(model, "gpt2", 4) == 0 ? PL_VOCAB_BPE
             : model_len == 4 && memcmp(model, "bert", 4) == 0 ? PL_VOCAB_WPM
             : model_len == 2 && memcmp(model, "t5", 2) == 0 ? PL_VOCAB_UGM : 0;
    if (!kind)
        return pl_fail(err, PL_ERR_UNSUPPORTED_ARCH, "tokenizer model '%.*s' is not supported",
                       (int)(model_len > 64 ? 64 : model_len), model);
    const pl_gguf_kv *merges = pl_gguf_find(g, "tokenizer.ggml.merges");
    if (kind == PL_VOCAB_BPE && (!merges || merges->type != GGUF_ARRAY || merges->arr_type != GGUF_STRING ||
                                 merges->arr_n > INT_MAX / 2))
        return pl_fail(err, PL_ERR_BAD_FORMAT, "tokenizer.ggml.merges is missing or not a string array");

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
    v->kind = kind;

    cursor = tokens->value;
    for (int id = 0; id < n; id++) {
        const char *s;
        uint64_t len;
        pl_gguf_str_next(&cursor, &s, &len);
        vocab_set_piece(v, id, s, (size_t)len, kind != PL_VOCAB_BPE);
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

    /* llama.cpp's defaults when the ids are absent: SPM <unk> <s> </s> = 0 1 2; BPE
     * 11 (Falcon's <|endoftext|>); BERT [UNK] [CLS] [SEP] = 100 101 102; T5 (unigram)
     * <pad> </s> <unk> = 0 1 2 and no BOS. */
    int spm = kind == PL_VOCAB_SPM, wpm = kind == PL_VOCAB_WPM, ugm = kind == PL_VOCAB_UGM;
    if ((st = special_id(g, "tokenizer.ggml.bos_token_id", spm ? 1 : wpm ? 101 : ugm ? -1 : 11, n, &v->bos, err)) ||
        (st = special_id(g, "tokenizer.ggml.eos_token_id", spm ? 2 : wpm ? -1 : ugm ? 1 : 11, n, &v->eos, err)) ||
        (st = special_id(g, "tokenizer.ggml.unknown_token_id", spm ? 0 : wpm ? 100 : ugm ? 2 : -1, n, &v->unk, err)) ||
        (st = special_id(g, "tokenizer.ggml.seperator_token_id", wpm ? 102 : -1, n, &v->sep, err)) ||
        (st = pl_gguf_bool_or(g, "tokenizer.ggml.add_space_prefix", spm || ugm, &v->add_space_prefix, err)) ||
        (st = vocab_finish(v, err)) ||
        (st = kind == PL_VOCAB_BPE ? gguf_bpe_init(v, g, merges, err) : PL_OK) ||
        (st = ugm ? gguf_ugm_init(v, g, err) : PL_OK) ||
        (st = pl_gguf_bool_or(g, "tokenizer.ggml.add_bos_token", kind == PL_VOCAB_BPE ? v->add_bos : !ugm,
                              &v->add_bos, err)) ||
        (st = ugm ? pl_gguf_bool_or(g, "tokenizer.ggml.add_eos_token", 1, &v->add_eos, err) : PL_OK)) {
        pl_vocab_free(v);
        return st;
    }
    if (kind == PL_VOCAB_BPE) v->add_space_prefix = 0;   /* byte-level BPE has no dummy prefix */
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
    v->sep = -1;
    v->add_bos = 1;
    v->add_space_prefix = 1;
    if ((st = vocab_finish(v, err)) != PL_OK) {
        pl_vocab_free(v);
        return st;
    }
    return PL_OK;
}

/* ---- GPT-2 encoder.json + vocab.bpe ---- */

static size_t json_skip_space(const char *s, size_t size, size_t pos) {
    while (pos < size && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r')) pos++;
    return pos;
}

static int json_hex4(const char *s, size_t size, size_t pos, uint32_t *out) {
    if (pos + 4 > size) return 0;
    uint32_t x = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(s[pos + (size_t)i]);
        if (d < 0) return 0;
        x = x << 4 | (uint32_t)d;
    }
    *out = x;
    return 1;
}

/* Decodes the JSON string starting at the quote s[*pos] into dst (NULL: only measure)
 * and moves *pos past the closing quote. Returns the decoded length, -1 if malformed.
 * A \u escape that is a lone surrogate becomes U+FFFD. */
static long json_string(const char *s, size_t size, size_t *pos, char *dst) {
    size_t i = *pos;
    long n = 0;
    if (i >= size || s[i] != '"') return -1;
    for (i++; i < size && s[i] != '"'; i++) {
        char c = s[i], buf[4];
        int len = 1;
        if ((uint8_t)c < 0x20) return -1;
        if (c == '\\') {
            if (++i >= size) return -1;
            const char *esc = strchr("\"\\/bfnrt", s[i]);
            if (s[i] != 'u') {
                if (!esc || !s[i]) return -1;
                buf[0] = "\"\\/\b\f\n\r\t"[esc - "\"\\/bfnrt"];
            } else {
                uint32_t cp, lo;
                if (!json_hex4(s, size, i + 1, &cp)) return -1;
                i += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && i + 2 < size && s[i + 1] == '\\' && s[i + 2] == 'u' &&
                    json_hex4(s, size, i + 3, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                } else if (cp >= 0xD800 && cp < 0xE000) {
                    cp = PL_UNICODE_REPLACEMENT;
                }
                len = pl_utf8_encode(cp, buf);
            }
        } else {
            buf[0] = c;
        }
        if (dst) memcpy(dst + n, buf, (size_t)len);
        n += len;
    }
    if (i >= size) return -1;
    *pos = i + 1;
    return n;
}

/* One pass over encoder.json's {"piece": id, ...}. Without text: counts the entries and
 * their decoded bytes. With text: decodes piece k to text + off[k], length len[k], id[k]. */
static int json_encoder_pass(const char *s, size_t size, int *n_entries, size_t *n_bytes, char *text,
                             int *off, int *len, int *id, pl_err *err) {
    size_t pos = json_skip_space(s, size, 0), bytes = 0;
    int n = 0;
    if (pos >= size || s[pos] != '{') return pl_fail(err, PL_ERR_BAD_FORMAT, "encoder.json is not a JSON object");
    pos = json_skip_space(s, size, pos + 1);
    if (pos < size && s[pos] == '}') pos++;
    else for (;;) {
        size_t at = pos;
        long slen = json_string(s, size, &pos, text ? text + bytes : NULL);
        if (slen < 0 || slen > INT_MAX / 2 || n == INT_MAX / 2)
            return pl_fail(err, PL_ERR_BAD_FORMAT, "encoder.json: bad string at byte %zu", at);
        pos = json_skip_space(s, size, pos);
        if (pos >= size || s[pos] != ':') return pl_fail(err, PL_ERR_BAD_FORMAT, "encoder.json: ':' expected at byte %zu", pos);
        pos = json_skip_space(s, size, pos + 1);
        long value = 0;
        size_t digits = pos;
        while (pos < size && s[pos] >= '0' && s[pos] <= '9' && value <= INT_MAX / 2) value = value * 10 + (s[pos++] - '0');
        if (pos == digits || value > INT_MAX / 2)
            return pl_fail(err, PL_ERR_BAD_FORMAT, "encoder.json: token id expected at byte %zu", digits);
        if (text) {
            off[n] = (int)bytes;
            len[n] = (int)slen;
            id[n] = (int)value;
        }
        n++;
        bytes += (size_t)slen;
        pos = json_skip_space(s, size, pos);
        if (pos < size && s[pos] == ',') {
            pos = json_skip_space(s, size, pos + 1);
            continue;
        }
        if (pos < size && s[pos] == '}') {
            pos++;
            break;
        }
        return pl_fail(err, PL_ERR_BAD_FORMAT, "encoder.json: ',' or '}' expected at byte %zu", pos);
    }
    if (json_skip_space(s, size, pos) != size)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "encoder.json: text after the object at byte %zu", pos);
    *n_entries = n;
    *n_bytes = bytes;
    return PL_OK;
}

/* vocab.bpe lines after "#version ...": pointers into the buffer. NULL arrays: count only. */
static int bpe_merge_lines(const char *s, size_t size, const char **merge, int *merge_len) {
    int n = 0;
    for (size_t pos = 0; pos < size;) {
        size_t end = pos;
        while (end < size && s[end] != '\n') end++;
        size_t stop = end > pos && s[end - 1] == '\r' ? end - 1 : end;
        if (stop > pos && !(pos == 0 && s[0] == '#')) {
            if (merge) {
                merge[n] = s + pos;
                merge_len[n] = (int)(stop - pos > INT_MAX / 2 ? INT_MAX / 2 : stop - pos);
            }
            n++;
        }
        pos = end + 1;
    }
    return n;
}

int pl_vocab_from_gpt2_files(pl_vocab *v, const char *encoder_json, size_t json_size,
                             const char *vocab_bpe, size_t bpe_size, pl_err *err) {
    memset(v, 0, sizeof *v);
    int n = 0, st;
    size_t text_bytes = 0;
    if ((st = json_encoder_pass(encoder_json, json_size, &n, &text_bytes, NULL, NULL, NULL, NULL, err))) return st;
    if (n == 0) return pl_fail(err, PL_ERR_BAD_FORMAT, "encoder.json has no tokens");
    char *text = malloc(text_bytes + 1);
    int *off = malloc((size_t)n * sizeof *off), *len = malloc((size_t)n * sizeof *len);
    int *id = malloc((size_t)n * sizeof *id), *entry_of = malloc((size_t)n * sizeof *entry_of);
    int n_merges = bpe_merge_lines(vocab_bpe, bpe_size, NULL, NULL);
    const char **merge = malloc(((size_t)n_merges + 1) * sizeof *merge);
    int *merge_len = malloc(((size_t)n_merges + 1) * sizeof *merge_len);
    if (!text || !off || !len || !id || !entry_of || !merge || !merge_len)
        st = pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory reading encoder.json");
    if (st == PL_OK) st = json_encoder_pass(encoder_json, json_size, &n, &text_bytes, text, off, len, id, err);
    /* the ids must be exactly 0..n-1 */
    for (int i = 0; st == PL_OK && i < n; i++) entry_of[i] = -1;
    for (int k = 0; st == PL_OK && k < n; k++) {
        if (id[k] >= n || entry_of[id[k]] >= 0)
            st = pl_fail(err, PL_ERR_BAD_FORMAT, "encoder.json: token id %d is %s", id[k],
                         id[k] >= n ? "out of range" : "used twice");
        else entry_of[id[k]] = k;
    }
    if (st == PL_OK) st = vocab_alloc(v, n, text_bytes, err);
    if (st == PL_OK) {
        v->kind = PL_VOCAB_BPE;
        for (int i = 0; i < n; i++) {
            int k = entry_of[i];
            vocab_set_piece(v, i, text + off[k], (size_t)len[k], 0);
            v->type[i] = PL_TOK_NORMAL;
        }
        v->bos = v->eos = v->unk = v->sep = -1;
        st = vocab_finish(v, err);
    }
    if (st == PL_OK) {
        int eot = pl_vocab_find(v, "<|endoftext|>", 13);   /* GPT-2's only special token */
        if (eot >= 0) v->type[eot] = PL_TOK_CONTROL;
        bpe_merge_lines(vocab_bpe, bpe_size, merge, merge_len);
        st = pl_bpe_init(v, "gpt-2", 5, n_merges, merge, merge_len, err);
        v->bos = v->eos = eot;
    }
    free(text);
    free(off);
    free(len);
    free(id);
    free(entry_of);
    free(merge);
    free(merge_len);
    if (st != PL_OK) pl_vocab_free(v);
    return st;
}
