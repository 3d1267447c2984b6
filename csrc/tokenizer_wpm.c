/* BERT WordPiece (tokenizer.ggml.model = "bert"), as llama.cpp does it.
 *
 * BERT's normalizer first: each character is replaced by the first character of its NFD
 * decomposition and combining marks are dropped (strip accents), then lowercased; control
 * characters, NUL and U+FFFD vanish. White space separates words; punctuation, ASCII
 * symbols and CJK ideographs are words of their own. Each word, with a leading space (the
 * GGUF vocab marks word starts with U+2581, stored here as ' ', and "##" continuations
 * without it), is cut greedily into the longest pieces in the vocab from left to right;
 * a word with any part that is no piece becomes [UNK]. */
#include "unicode.h"
#include "vocab.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The CJK ranges BERT splits into single characters (as llama.cpp, after HF tokenizers). */
static int is_chinese(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

typedef struct {
    const pl_vocab *v;
    char *word;       /* ' ' + the current word */
    int n_word;
    pl_token_out *out;
} encoder;

/* Longest-match pieces of the word in e->word; [UNK] if some part matches nothing. */
static void flush_word(encoder *e) {
    int n = e->n_word, first = e->out->n;
    if (n <= 1) return;   /* just the leading space: no word */
    e->n_word = 1;
    for (int i = 0; i < n;) {
        int id = -1, j = i + e->v->max_piece_len < n ? i + e->v->max_piece_len : n;
        for (; j > i && (id = pl_vocab_find(e->v, e->word + i, j - i)) < 0; j--) {}
        if (id < 0) {
            e->out->n = first;
            break;
        }
        pl_token_push(e->out, id);
        i = j;
    }
    if (e->out->n == first && e->v->unk >= 0) pl_token_push(e->out, e->v->unk);
}

static void encode_text(encoder *e, const uint8_t *text, int len) {
    for (int i = 0; i < len;) {
        uint32_t cp;
        i += pl_utf8_decode(text + i, len - i, &cp);
        cp = pl_unfd_first(cp);
        int cat = pl_ucat(cp);
        if (pl_uspace_is(cp)) {
            flush_word(e);
            continue;
        }
        if (cp == 0 || cp == PL_UNICODE_REPLACEMENT || cat == PL_UCAT_C || cat == PL_UCAT_M) continue;
        char utf8[4];
        int n = pl_utf8_encode(pl_ulower(cp), utf8);
        int alone = cat == PL_UCAT_P || (cp < 0x7F && cat == PL_UCAT_S) || is_chinese(cp);
        if (alone) flush_word(e);
        memcpy(e->word + e->n_word, utf8, (size_t)n);
        e->n_word += n;
        if (alone) flush_word(e);
    }
    flush_word(e);
}

int pl_wpm_tokenize(const pl_vocab *v, const char *text, int text_len, int add_bos, int parse_special,
                    pl_token_out *out) {
    pl_err *err = out->err;
    size_t n = (size_t)text_len + 1;
    if (n > SIZE_MAX / 16)   /* wasm32's size_t */
        return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "text of %d bytes is too long to tokenize", text_len);
    /* lowercasing keeps a character's UTF-8 length within 4 bytes per input byte */
    encoder e = {v, malloc(4 * n + 4), 1, out};
    pl_fragment *frag = malloc(n * sizeof *frag), *spare = malloc(n * sizeof *spare);
    int st = PL_OK, n_frag = 0;
    if (!e.word || !frag || !spare) st = pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory tokenizing %d bytes", text_len);
    if (st == PL_OK) e.word[0] = ' ';
    if (st == PL_OK && add_bos && v->bos >= 0) pl_token_push(out, v->bos);
    if (st == PL_OK) st = pl_cut_specials(v, text, text_len, parse_special, &frag, &spare, &n_frag, err);
    for (int f = 0; f < n_frag && st == PL_OK; f++) {
        if (frag[f].id >= 0) pl_token_push(out, frag[f].id);
        else encode_text(&e, (const uint8_t *)text + frag[f].start, frag[f].len);
    }
    if (st == PL_OK && add_bos && v->sep >= 0) pl_token_push(out, v->sep);
    free(e.word);
    free(frag);
    free(spare);
    return st;
}

const char *pl_wpm_token_bytes(const pl_vocab *v, int prev, int id, int *len) {
    *len = 0;
    if (id < 0 || id >= v->n_vocab || v->type[id] == PL_TOK_CONTROL || v->type[id] == PL_TOK_UNKNOWN) return "";
    const char *s = v->piece[id];
    int n = v->piece_len[id];
    if (prev >= 0 && prev == v->bos && n > 0 && s[0] == ' ') {   /* no space before the first word */
        s++;
        n--;
    }
    *len = n;
    return s;
}
