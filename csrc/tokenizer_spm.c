/* SentencePiece-style BPE encoding (as llama2.c's encode and llama.cpp's SPM tokenizer do
 * it) and the bytes of a token for decoding.
 *
 * Encoding a piece of text: prepend the dummy-prefix space, split into UTF-8 characters,
 * start each character as its token (or as "unknown" when it is not a piece), then keep
 * merging the adjacent pair whose concatenation is the highest-scoring piece (leftmost on
 * ties) until no pair is a piece. A binary heap of candidate pairs with lazy deletion
 * makes that O(n log n). Characters that never became a piece come out as their bytes'
 * <0xNN> tokens (byte fallback), or as the unknown token when the vocab has no byte tokens. */
#include "vocab.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "merge_queue.h"

typedef struct {
    int start, len;   /* span of the work buffer; len 0 once merged into its left neighbour */
    int id;           /* token id, -1 for a character that is not a piece */
    int prev, next;   /* linked list of live symbols, -1 at the ends */
} symbol;

typedef struct {
    const pl_vocab *v;
    char *work;       /* dummy prefix + the fragment being encoded */
    symbol *sym;
    pl_merge *heap;
    int n_heap;
    pl_token_out *out;
} encoder;

/* Pieces SentencePiece may produce from text: control, unknown, byte and unused pieces
 * are never the result of a merge. */
static int text_piece(const pl_vocab *v, const char *s, int len) {
    int id = pl_vocab_find(v, s, len);
    if (id < 0) return -1;
    return v->type[id] == PL_TOK_NORMAL || v->type[id] == PL_TOK_USER_DEFINED ? id : -1;
}

/* Length of the UTF-8 character at s (n bytes left); anything that is not a complete,
 * well-formed sequence head + continuation bytes is a one-byte symbol. */
static int utf8_char_len(const uint8_t *s, int n) {
    int len = s[0] < 0x80 ? 1
            : s[0] >= 0xC2 && s[0] <= 0xDF ? 2
            : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
            : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 1;
    if (len > n) return 1;
    for (int i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 1;
    return len;
}

/* Queues the merge of left and right if their text together is a piece. As in
 * SentencePiece, a character that is not a piece itself may still merge into one. */
static void try_bigram(encoder *e, int left, int right) {
    if (left < 0 || right < 0) return;
    const symbol *l = &e->sym[left], *r = &e->sym[right];
    int len = l->len + r->len;
    if (len > e->v->max_piece_len) return;
    int id = text_piece(e->v, e->work + l->start, len);
    if (id >= 0)
        pl_merge_push(e->heap, &e->n_heap, (pl_merge){.left = left, .right = right, .len = len, .id = id, .key = -e->v->score[id]});
}

/* Encodes text[0..len) with an optional dummy-prefix space in front. */
static int encode_fragment(encoder *e, const char *text, int len, int prefix) {
    const pl_vocab *v = e->v;
    int n_work = 0;
    if (prefix) e->work[n_work++] = ' ';
    memcpy(e->work + n_work, text, (size_t)len);
    n_work += len;
    if (n_work == 0) return PL_OK;

    int n_sym = 0;
    for (int i = 0; i < n_work;) {
        int clen = utf8_char_len((const uint8_t *)e->work + i, n_work - i);
        e->sym[n_sym] = (symbol){i, clen, text_piece(v, e->work + i, clen), n_sym - 1, n_sym + 1};
        n_sym++;
        i += clen;
    }
    e->sym[n_sym - 1].next = -1;

    e->n_heap = 0;
    for (int i = 1; i < n_sym; i++) try_bigram(e, i - 1, i);
    while (e->n_heap > 0) {
        pl_merge b = pl_merge_pop(e->heap, &e->n_heap);
        symbol *l = &e->sym[b.left], *r = &e->sym[b.right];
        if (l->len == 0 || r->len == 0 || l->next != b.right || l->len + r->len != b.len) continue;
        l->len = b.len;
        l->id = b.id;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) e->sym[r->next].prev = b.left;
        try_bigram(e, l->prev, b.left);
        try_bigram(e, b.left, l->next);
    }

    for (int i = 0; i >= 0; i = e->sym[i].next) {
        const symbol *s = &e->sym[i];
        int st = PL_OK;
        if (s->id >= 0) {
            pl_token_push(e->out, s->id);
        } else {
            const uint8_t *bytes = (const uint8_t *)e->work + s->start;
            int all_bytes = 1;
            for (int j = 0; j < s->len; j++) all_bytes &= v->byte_token[bytes[j]] >= 0;
            if (all_bytes) {
                for (int j = 0; j < s->len; j++) pl_token_push(e->out, v->byte_token[bytes[j]]);
            } else if (v->unk >= 0) {
                pl_token_push(e->out, v->unk);
            } else {
                st = pl_fail(e->out->err, PL_ERR_INVALID_ARGUMENT,
                             "text has a character the vocabulary cannot encode (no byte or unknown tokens)");
            }
        }
        if (st != PL_OK) return st;
    }
    return PL_OK;
}

/* ---- special tokens in the text (parse_special) ---- */

typedef struct {
    const char *s;
    int len, id;
} special;

/* Grouped by first byte, longest first (the longest special piece at a position wins). */
static int special_cmp(const void *pa, const void *pb) {
    const special *a = pa, *b = pb;
    if ((uint8_t)a->s[0] != (uint8_t)b->s[0]) return (uint8_t)a->s[0] - (uint8_t)b->s[0];
    if (a->len != b->len) return b->len - a->len;
    return a->id - b->id;
}

/* Control, user-defined and unknown pieces are matched in the text, as llama.cpp does. */
static int is_special(const pl_vocab *v, int id) {
    int t = v->type[id];
    return v->piece_len[id] > 0 && (t == PL_TOK_CONTROL || t == PL_TOK_USER_DEFINED || t == PL_TOK_UNKNOWN);
}

/* Splits text at special pieces; each stretch of ordinary text in between is encoded on
 * its own, with the dummy prefix at the start and after every special token (llama.cpp's
 * SPM rule; without parse_special the whole text is one stretch). */
static int encode_with_specials(encoder *e, const char *text, int text_len, int parse_special) {
    const pl_vocab *v = e->v;
    special *sp = NULL;
    int n_sp = 0, first[257] = {0};   /* sp[first[b] .. first[b+1]) start with byte b */
    if (parse_special) {
        for (int id = 0; id < v->n_vocab; id++) n_sp += is_special(v, id);
        sp = malloc((size_t)(n_sp ? n_sp : 1) * sizeof *sp);
        if (!sp) return pl_fail(e->out->err, PL_ERR_OUT_OF_MEMORY, "out of memory for special tokens");
        n_sp = 0;
        for (int id = 0; id < v->n_vocab; id++)
            if (is_special(v, id)) sp[n_sp++] = (special){v->piece[id], v->piece_len[id], id};
        qsort(sp, (size_t)n_sp, sizeof *sp, special_cmp);
        for (int i = 0; i < n_sp; i++) first[(uint8_t)sp[i].s[0] + 1]++;
        for (int b = 0; b < 256; b++) first[b + 1] += first[b];
    }

    int st = PL_OK, frag = 0, after_special = 1;
    for (int pos = 0; pos < text_len && st == PL_OK;) {
        const special *hit = NULL;
        uint8_t b = (uint8_t)text[pos];
        for (int i = first[b]; i < first[b + 1] && !hit; i++)
            if (sp[i].len <= text_len - pos && memcmp(text + pos, sp[i].s, (size_t)sp[i].len) == 0) hit = &sp[i];
        if (!hit) {
            pos++;
            continue;
        }
        if (pos > frag) st = encode_fragment(e, text + frag, pos - frag, v->add_space_prefix && after_special);
        if (st == PL_OK) pl_token_push(e->out, hit->id);
        after_special = 1;
        pos += hit->len;
        frag = pos;
    }
    if (st == PL_OK && text_len > frag)
        st = encode_fragment(e, text + frag, text_len - frag, v->add_space_prefix && after_special);
    free(sp);
    return st;
}

int pl_spm_tokenize(const pl_vocab *v, const char *text, int text_len, int add_bos,
                    int parse_special, pl_token_out *out) {
    pl_err *err = out->err;
    /* Scratch sized for the worst fragment: the whole text plus the prefix; each merge
     * queues at most two new pairs, so 3 entries per symbol bound the heap. */
    size_t n_max = (size_t)text_len + 1;
    if (n_max > SIZE_MAX / (3 * sizeof(pl_merge)))   /* wasm32's size_t */
        return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "text of %d bytes is too long to tokenize", text_len);
    encoder e = {v, malloc(n_max), malloc(n_max * sizeof(symbol)), malloc(3 * n_max * sizeof(pl_merge)),
                 0, out};
    int st = PL_OK;
    if (!e.work || !e.sym || !e.heap) st = pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory tokenizing %d bytes", text_len);
    if (st == PL_OK && add_bos && v->bos >= 0) pl_token_push(out, v->bos);
    if (st == PL_OK) st = encode_with_specials(&e, text, text_len, parse_special);
    free(e.work);
    free(e.sym);
    free(e.heap);
    return st;
}

const char *pl_spm_token_bytes(const pl_vocab *v, int prev, int id, char byte_buf[1], int *len) {
    *len = 0;
    if (id < 0 || id >= v->n_vocab || v->type[id] == PL_TOK_CONTROL) return "";
    const char *s = v->piece[id];
    int n = v->piece_len[id];
    if (v->type[id] == PL_TOK_BYTE) {
        byte_buf[0] = (char)strtol(s + 3, NULL, 16);   /* "<0xNN>", checked when loaded */
        s = byte_buf;
        n = 1;
    }
    /* The first piece after BOS begins with the encoder's dummy-prefix space. */
    if (prev >= 0 && prev == v->bos && v->add_space_prefix && n > 0 && s[0] == ' ') {
        s++;
        n--;
    }
    *len = n;
    return s;
}
