/* SentencePiece unigram encoding (tokenizer.ggml.model = "t5"), as SentencePiece itself
 * does it (normalizer.cc, unigram_model.cc), and the bytes of a token for decoding.
 *
 * Normalizing: at each point of the text the longest key of the precompiled character map
 * (the model's NFKC-style rules, a darts-clone double array followed by its replacement
 * strings) that starts there is replaced; a user-defined piece is kept as it is; a byte
 * that starts no well-formed UTF-8 character (RFC 3629, as SentencePiece checks it)
 * becomes U+FFFD; anything else is copied.
 * With remove_extra_whitespaces, spaces at the start and end go and runs of spaces become
 * one. A space is put in front (the dummy prefix), and every space is U+2581 for the
 * pieces (stored here as ' ', as the vocab keeps it; a U+2581 in the text is one too).
 *
 * Encoding: the segmentation of the normalized text into pieces with the highest total
 * score (Viterbi over character positions, float sums as SentencePiece adds them). A
 * user-defined piece scores its length in bytes times SentencePiece's max_score_ minus
 * 0.1: that member starts at FLT_MIN and only a positive normal score would raise it, so
 * with the usual negative log-probability scores it is -0.1, above almost any normal
 * piece. A character that no one-character piece covers is the unknown token, scoring
 * the worst normal piece's score minus 10. On equal totals the path found first wins, as
 * in SentencePiece: the piece starting earliest. A run of unknown characters is one
 * unknown token, or with byte pieces in the vocab (SentencePiece's byte fallback) the
 * bytes of each.
 *
 * Decoding as SentencePiece does: the unknown token reads " \u2047 ", byte pieces their
 * byte, control tokens nothing, and while nothing has come out yet a piece loses its
 * leading space (the dummy prefix's; a lone space piece then gives nothing, and the next
 * one loses its space too).
 *
 * llama.cpp's unigram tokenizer differs from SentencePiece at the edges (user-defined
 * pieces score 0 there, unused pieces are matched, scores add up in double, overlong
 * UTF-8 passes); where they differ this follows SentencePiece, the tokenizer's
 * definition. For T5's own vocabularies they agree. */
#include "unicode.h"
#include "vocab.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct pl_ugm {
    uint32_t *units;          /* the character map's double array */
    uint32_t n_units;
    char *strings;            /* its replacements, NUL-terminated, indexed by unit values */
    uint32_t n_strings;
    int remove_extra_spaces;
    int byte_fallback;        /* all 256 byte pieces are in the vocab */
    float min_score;          /* the worst normal piece's score */
    float max_score;          /* SentencePiece's max_score_ (see the top) */
    int *user;                /* ids of the user-defined pieces */
    int n_user;
};

#define UNK_PENALTY 10.0f

int pl_ugm_init(pl_vocab *v, const uint8_t *charsmap, size_t size, int remove_extra_spaces, pl_err *err) {
    if (v->unk < 0) return pl_fail(err, PL_ERR_BAD_FORMAT, "unigram vocabulary has no unknown token");
    pl_ugm *u = calloc(1, sizeof *u);
    if (!u) return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory for the unigram tokenizer");
    v->ugm = u;
    u->remove_extra_spaces = remove_extra_spaces;
    u->byte_fallback = 1;
    for (int b = 0; b < 256; b++) u->byte_fallback &= v->byte_token[b] >= 0;
    if (size > 0) {   /* uint32 size of the double array in bytes, the array, the strings */
        uint32_t trie_bytes = size >= 4 ? (uint32_t)charsmap[0] | (uint32_t)charsmap[1] << 8 |
                                              (uint32_t)charsmap[2] << 16 | (uint32_t)charsmap[3] << 24 : 0;
        if (size < 4 || trie_bytes % 4 || trie_bytes == 0 || trie_bytes > size - 4)
            return pl_fail(err, PL_ERR_BAD_FORMAT, "tokenizer.ggml.precompiled_charsmap is corrupt");
        u->n_units = trie_bytes / 4;
        u->n_strings = (uint32_t)(size - 4 - trie_bytes);
        u->units = malloc(trie_bytes);
        u->strings = malloc(u->n_strings + 1);
        if (!u->units || !u->strings) return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory for the character map");
        for (uint32_t i = 0; i < u->n_units; i++) {
            const uint8_t *p = charsmap + 4 + 4 * (size_t)i;
            u->units[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        }
        memcpy(u->strings, charsmap + 4 + trie_bytes, u->n_strings);
        u->strings[u->n_strings] = 0;
    }
    u->min_score = FLT_MAX;
    u->max_score = FLT_MIN;
    for (int id = 0; id < v->n_vocab; id++) {
        if (v->type[id] == PL_TOK_USER_DEFINED) u->n_user++;
        if (v->type[id] != PL_TOK_NORMAL) continue;
        if (v->score[id] < u->min_score) u->min_score = v->score[id];
        if (v->score[id] > u->max_score) u->max_score = v->score[id];
    }
    u->user = malloc(((size_t)u->n_user + 1) * sizeof *u->user);
    if (!u->user) return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory for the unigram tokenizer");
    u->n_user = 0;
    for (int id = 0; id < v->n_vocab; id++)
        if (v->type[id] == PL_TOK_USER_DEFINED && v->piece_len[id] > 0) u->user[u->n_user++] = id;
    return PL_OK;
}

void pl_ugm_free(pl_ugm *u) {
    if (!u) return;
    free(u->units);
    free(u->strings);
    free(u->user);
    free(u);
}

/* darts-clone's unit fields: the child offset, the label a unit was reached by (leaf
 * units have bit 31 set, so they match no byte), and whether a key ends here. */
static uint32_t unit_offset(uint32_t unit) { return (unit >> 10) << ((unit & (1u << 9)) >> 6); }
static uint32_t unit_label(uint32_t unit) { return unit & ((1u << 31) | 0xFF); }
static int unit_has_leaf(uint32_t unit) { return (unit >> 8) & 1; }

/* The longest key of the character map that s[0..n) starts with: its length (0: none)
 * and its replacement's offset in *value. */
static int charsmap_match(const pl_ugm *u, const uint8_t *s, int n, uint32_t *value) {
    if (u->n_units == 0) return 0;
    uint32_t pos = unit_offset(u->units[0]);
    int best = 0;
    for (int i = 0; i < n; i++) {
        pos ^= s[i];
        if (pos >= u->n_units || unit_label(u->units[pos]) != s[i]) break;
        uint32_t unit = u->units[pos];
        pos ^= unit_offset(unit);
        if (pos >= u->n_units) break;
        if (unit_has_leaf(unit)) {
            best = i + 1;
            *value = u->units[pos] & 0x7FFFFFFF;
        }
    }
    return best;
}

typedef struct {
    char *s;
    int n, cap;
} text_buf;

static int buf_append(text_buf *b, const char *s, int n, pl_err *err) {
    if (n > b->cap - b->n) {
        if (n > INT32_MAX / 2 - b->n) return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "normalized text too long");
        int cap = 2 * (b->n + n) + 16;
        char *p = realloc(b->s, (size_t)cap);
        if (!p) return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory normalizing text");
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, (size_t)n);
    b->n += n;
    return PL_OK;
}

/* What the text at s (n > 0 bytes left) normalizes to (*rep, *rep_len) and the bytes that
 * takes (*used). */
static int normalize_prefix(const pl_vocab *v, const uint8_t *s, int n, const char **rep, int *rep_len,
                            int *used, pl_err *err) {
    const pl_ugm *u = v->ugm;
    int best = 0;
    for (int k = 0; k < u->n_user; k++) {   /* user-defined pieces are not normalized */
        int id = u->user[k], len = v->piece_len[id];
        if (len > best && len <= n && memcmp(s, v->piece[id], (size_t)len) == 0) best = len;
    }
    uint32_t value;
    if (best) {
        *rep = (const char *)s;
        *rep_len = *used = best;
    } else if ((best = charsmap_match(u, s, n, &value)) > 0) {
        if (value >= u->n_strings)
            return pl_fail(err, PL_ERR_BAD_FORMAT, "tokenizer.ggml.precompiled_charsmap is corrupt");
        *rep = u->strings + value;
        *rep_len = (int)strlen(*rep);
        *used = best;
    } else {
        int len = pl_utf8_valid_len(s, n);
        *rep = len ? (const char *)s : "\xEF\xBF\xBD";
        *rep_len = len ? len : 3;
        *used = len ? len : 1;
    }
    return PL_OK;
}

/* SentencePiece's normalization (see the top) of text into out, spaces as ' '. */
static int normalize(const pl_vocab *v, const uint8_t *text, int len, text_buf *out, pl_err *err) {
    const int squeeze = v->ugm->remove_extra_spaces;
    const char *rep;
    int rep_len, i = 0, used, st = PL_OK;
    while (squeeze && i < len) {
        if ((st = normalize_prefix(v, text + i, len - i, &rep, &rep_len, &used, err)) != PL_OK) return st;
        if (rep_len != 1 || rep[0] != ' ') break;
        i += used;
    }
    if (i == len) return PL_OK;
    if (v->add_space_prefix) st = buf_append(out, " ", 1, err);
    int prev_space = squeeze;
    while (i < len && st == PL_OK) {
        if ((st = normalize_prefix(v, text + i, len - i, &rep, &rep_len, &used, err)) != PL_OK) return st;
        i += used;
        while (prev_space && rep_len > 0 && rep[0] == ' ') rep++, rep_len--;
        if (rep_len > 0) prev_space = squeeze && rep[rep_len - 1] == ' ';
        for (int k = 0; k < rep_len && st == PL_OK; k++) {   /* U+2581 is a space too */
            int sym = k + 3 <= rep_len && memcmp(rep + k, "\xE2\x96\x81", 3) == 0;
            st = buf_append(out, sym ? " " : rep + k, 1, err);
            k += sym ? 2 : 0;
        }
    }
    while (squeeze && out->n > 0 && out->s[out->n - 1] == ' ') out->n--;
    return st;
}

/* Best path ending at a position: its score, where its last piece starts, the piece. */
typedef struct {
    float score;
    int start, id;
} node;

static void relax(node *to, float score, int start, int id) {
    if (to->start < 0 || score > to->score) *to = (node){score, start, id};
}

/* Viterbi over the normalized text s[0..n) (see the top): best[n + 1] receives each
 * position's best path, and path[n] the positions where the pieces of the best one end,
 * last first; returns how many. */
static int segment(const pl_vocab *v, const char *s, int n, node *best, int *path) {
    const pl_ugm *u = v->ugm;
    for (int i = 0; i <= n; i++) best[i] = (node){0, i ? -1 : 0, -1};
    for (int i = 0; i < n;) {
        int clen = pl_utf8_valid_len((const uint8_t *)s + i, n - i), single = 0;
        if (clen == 0) clen = 1;
        for (int len = 1; len <= v->max_piece_len && len <= n - i; len++) {
            int id = pl_vocab_find(v, s + i, len);
            if (id < 0 || (v->type[id] != PL_TOK_NORMAL && v->type[id] != PL_TOK_USER_DEFINED)) continue;
            float score = v->type[id] == PL_TOK_USER_DEFINED ? (float)((double)((float)len * u->max_score) - 0.1)
                                                             : v->score[id];
            relax(&best[i + len], best[i].score + score, i, id);
            single |= len == clen;
        }
        if (!single) relax(&best[i + clen], best[i].score + (u->min_score - UNK_PENALTY), i, v->unk);
        i += clen;
    }
    int count = 0;
    for (int end = n; end > 0; end = best[end].start) path[count++] = end;
    return count;
}

/* An unknown stretch s[0..n) as byte tokens (SentencePiece's byte fallback; a space stands
 * for U+2581's bytes), if the vocab has all 256; else as one unknown token after another
 * unknown token's nothing. */
static void push_unknown(const pl_vocab *v, const char *s, int n, int after_unknown, pl_token_out *out) {
    if (!v->ugm->byte_fallback) {
        if (!after_unknown) pl_token_push(out, v->unk);
        return;
    }
    for (int i = 0; i < n; i++) {
        if (s[i] != ' ') {
            pl_token_push(out, v->byte_token[(uint8_t)s[i]]);
            continue;
        }
        for (int k = 0; k < 3; k++) pl_token_push(out, v->byte_token[(uint8_t)"\xE2\x96\x81"[k]]);
    }
}

static int encode_text(const pl_vocab *v, const char *text, int len, text_buf *norm, pl_token_out *out) {
    norm->n = 0;
    int st = normalize(v, (const uint8_t *)text, len, norm, out->err);
    if (st != PL_OK || norm->n == 0) return st;
    node *best = malloc(((size_t)norm->n + 1) * sizeof *best);
    int *path = malloc((size_t)norm->n * sizeof *path);
    if (!best || !path) st = pl_fail(out->err, PL_ERR_OUT_OF_MEMORY, "out of memory tokenizing %d bytes", len);
    for (int k = st == PL_OK ? segment(v, norm->s, norm->n, best, path) : 0, prev = -1; k-- > 0;) {
        const node *piece = &best[path[k]];
        if (piece->id == v->unk) push_unknown(v, norm->s + piece->start, path[k] - piece->start, prev == v->unk, out);
        else pl_token_push(out, piece->id);
        prev = piece->id;
    }
    free(best);
    free(path);
    return st;
}

int pl_ugm_tokenize(const pl_vocab *v, const char *text, int text_len, int add_bos, int parse_special,
                    pl_token_out *out) {
    text_buf norm = {0};
    int st = PL_OK;
    if (add_bos && v->bos >= 0) pl_token_push(out, v->bos);
    if (!parse_special) {
        st = encode_text(v, text, text_len, &norm, out);
    } else {   /* control tokens cut out first; each stretch between encoded alone */
        size_t n = (size_t)text_len + 1;
        pl_fragment *frag = n <= SIZE_MAX / sizeof *frag ? malloc(n * sizeof *frag) : NULL;
        pl_fragment *spare = frag ? malloc(n * sizeof *spare) : NULL;
        int n_frag = 0;
        st = spare ? pl_cut_specials(v, text, text_len, 1, &frag, &spare, &n_frag, out->err)
                   : pl_fail(out->err, PL_ERR_OUT_OF_MEMORY, "out of memory tokenizing %d bytes", text_len);
        for (int f = 0; f < n_frag && st == PL_OK; f++) {
            if (frag[f].id >= 0) pl_token_push(out, frag[f].id);
            else st = encode_text(v, text + frag[f].start, frag[f].len, &norm, out);
        }
        free(frag);
        free(spare);
    }
    if (st == PL_OK && add_bos && v->add_eos && v->eos >= 0) pl_token_push(out, v->eos);
    free(norm.s);
    return st;
}

const char *pl_ugm_token_bytes(const pl_vocab *v, int at_start, int id, char byte_buf[1], int *len) {
    *len = 0;
    if (id < 0 || id >= v->n_vocab || v->type[id] == PL_TOK_CONTROL) return "";
    if (v->type[id] == PL_TOK_UNKNOWN) {
        *len = 5;
        return " \xE2\x81\x87 ";
    }
    if (v->type[id] == PL_TOK_BYTE) {
        byte_buf[0] = (char)strtol(v->piece[id] + 3, NULL, 16);   /* "<0xNN>", checked when loaded */
        *len = 1;
        return byte_buf;
    }
    const char *s = v->piece[id];
    int n = v->piece_len[id];
    if (at_start && (v->add_space_prefix || v->ugm->remove_extra_spaces) && n > 0 && s[0] == ' ') {
        s++;
        n--;
    }
    *len = n;
    return s;
}
