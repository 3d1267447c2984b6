/* Vocabulary and tokenizers. A pl_vocab is built from GGUF metadata or from a llama2.c
 * tokenizer.bin; encode/decode work from it alone. */
#ifndef PL_VOCAB_H
#define PL_VOCAB_H

#include "gguf.h"
#include "util.h"

/* Token types (GGUF tokenizer.ggml.token_type numbering). */
enum {
    PL_TOK_NORMAL = 1, PL_TOK_UNKNOWN = 2, PL_TOK_CONTROL = 3,
    PL_TOK_USER_DEFINED = 4, PL_TOK_UNUSED = 5, PL_TOK_BYTE = 6
};

enum {
    PL_VOCAB_SPM = 1,   /* SentencePiece-style BPE (tokenizer.ggml.model = "llama") */
    PL_VOCAB_BPE = 2,   /* byte-level BPE (tokenizer.ggml.model = "gpt2"; GPT-2's encoder.json) */
    PL_VOCAB_WPM = 3,   /* BERT WordPiece (tokenizer.ggml.model = "bert") */
    PL_VOCAB_UGM = 4    /* SentencePiece unigram (tokenizer.ggml.model = "t5") */
};

/* Merges, pre-tokenizer and decoded token bytes of a BPE vocab (tokenizer_bpe.c). */
typedef struct pl_bpe pl_bpe;
/* Character map and scores of a unigram vocab (tokenizer_ugm.c). */
typedef struct pl_ugm pl_ugm;

typedef struct {
    int kind;                /* PL_VOCAB_* */
    int n_vocab;
    char **piece;            /* text of each token, owned, NUL-terminated; SentencePiece's
                                U+2581 is stored as a plain space, byte tokens as "<0xNN>" */
    int *piece_len;
    float *score;
    uint8_t *type;           /* PL_TOK_* */
    int bos, eos, unk;       /* -1 when absent */
    int add_bos;             /* metadata: prepend BOS when encoding a prompt */
    int add_eos;             /* metadata: append EOS to a prompt (unigram vocabs, T5) */
    int add_space_prefix;    /* SentencePiece dummy prefix: " " before the text */
    int byte_token[256];     /* id of <0xNN>, -1 when absent */
    int *sorted;             /* ids sorted by piece bytes, for lookup */
    int max_piece_len;
    /* BPE: pieces are GPT-2's byte stand-in text as stored; byte_token[b] is the token of
       byte b's stand-in. WPM: pieces have U+2581 as ' ' (word starts), like SPM. */
    pl_bpe *bpe;             /* PL_VOCAB_BPE only */
    pl_ugm *ugm;             /* PL_VOCAB_UGM only */
    int sep;                 /* WPM: [SEP], appended after [CLS] text when add_bos; else -1 */
} pl_vocab;

int pl_vocab_from_gguf(pl_vocab *v, const pl_gguf *g, pl_err *err);
/* llama2.c tokenizer.bin: int32 max_token_length, then per token f32 score, int32 len,
 * bytes. n_vocab comes from the checkpoint header. BOS=1, EOS=2, UNK=0, byte tokens are
 * <0xNN> at ids 3..258 when present (llama2.c convention). */
int pl_vocab_from_llama2c(pl_vocab *v, const uint8_t *buf, size_t size, int n_vocab, pl_err *err);
/* GPT-2's encoder.json (a JSON object of piece -> id) and vocab.bpe (a "#version" line,
 * then one merge "left right" per line). "<|endoftext|>" is the control, BOS and EOS token;
 * pre-tokenizer gpt-2. */
int pl_vocab_from_gpt2_files(pl_vocab *v, const char *encoder_json, size_t json_size,
                             const char *vocab_bpe, size_t bpe_size, pl_err *err);
void pl_vocab_free(pl_vocab *v);

/* Id of the token whose piece is exactly s[0..len), or -1. */
int pl_vocab_find(const pl_vocab *v, const char *s, int len);

/* Where an encoder writes ids: room for cap of them; n counts every id pushed, those
 * past the room too (pl_tokenize_text then reports how many the text needs). */
typedef struct {
    int *ids;
    int n, cap;
    pl_err *err;
} pl_token_out;

static inline void pl_token_push(pl_token_out *o, int id) {
    if (o->n < o->cap) o->ids[o->n] = id;
    if (o->n < INT32_MAX) o->n++;   /* INT32_MAX: too many to count (pl_tokenize_text fails) */
}

/* Encodes text into out[cap]; *n_out = the ids it needs. More than cap (never for plain
 * text with cap >= text_len + 2, except where a unigram vocabulary's normalization
 * expands it): PL_ERR_INVALID_ARGUMENT, out holding the first cap. */
int pl_tokenize_text(const pl_vocab *v, const char *text, int text_len, int add_bos,
                     int parse_special, int *out, int cap, int *n_out, pl_err *err);

/* Bytes a token stands for when decoding: byte tokens give their byte, control tokens
 * nothing, others their piece. prev is the token before it (-1 if none): after BOS the
 * leading space of the dummy prefix is dropped. at_start: nothing visible was decoded
 * before this token (unigram vocabs drop the space then, as SentencePiece does). Returns
 * a pointer to the bytes (into the vocab or into byte_buf) and sets *len. */
const char *pl_token_bytes(const pl_vocab *v, int prev, int at_start, int id, char byte_buf[1], int *len);

/* Per-kind implementations behind pl_tokenize_text (pushing into out, errors into
 * out->err) and pl_token_bytes (same contract). */
int pl_spm_tokenize(const pl_vocab *v, const char *text, int text_len, int add_bos,
                    int parse_special, pl_token_out *out);
const char *pl_spm_token_bytes(const pl_vocab *v, int prev, int id, char byte_buf[1], int *len);
int pl_bpe_tokenize(const pl_vocab *v, const char *text, int text_len, int add_bos,
                    int parse_special, pl_token_out *out);
const char *pl_bpe_token_bytes(const pl_vocab *v, int id, int *len);
int pl_wpm_tokenize(const pl_vocab *v, const char *text, int text_len, int add_bos,
                    int parse_special, pl_token_out *out);
const char *pl_wpm_token_bytes(const pl_vocab *v, int prev, int id, int *len);
/* Unigram: add_bos also appends EOS when v->add_eos. Decoding as SentencePiece does
 * (tokenizer_ugm.c). */
int pl_ugm_tokenize(const pl_vocab *v, const char *text, int text_len, int add_bos,
                    int parse_special, pl_token_out *out);
const char *pl_ugm_token_bytes(const pl_vocab *v, int at_start, int id, char byte_buf[1], int *len);

/* A stretch of the text to tokenize: special token id, or -1 for text to encode. */
typedef struct {
    int start, len, id;
} pl_fragment;

/* Cuts added tokens out of text as llama.cpp does: user-defined tokens always, control and
 * unknown ones with parse_special; longest token first, everywhere, then the next. frag
 * and spare hold text_len + 1 entries each (they may be swapped); *n_frag on return. */
int pl_cut_specials(const pl_vocab *v, const char *text, int text_len, int parse_special,
                    pl_fragment **frag, pl_fragment **spare, int *n_frag, pl_err *err);

/* Attaches the BPE tables to a vocab whose pieces, types and ids are loaded: the
 * pre-tokenizer named pre (tokenizer.ggml.pre; empty = "default", an unknown name is
 * PL_ERR_UNSUPPORTED_ARCH) and the merges, rank = index. Sets v->bpe (freed by
 * pl_vocab_free, also on failure), v->add_bos to the pre-tokenizer's default and
 * v->byte_token. */
int pl_bpe_init(pl_vocab *v, const char *pre, int pre_len, int n_merges, const char *const *merge,
                const int *merge_len, pl_err *err);
void pl_bpe_free(pl_bpe *b);

/* Attaches the unigram tables to a vocab whose pieces, scores, types and ids are loaded:
 * charsmap[0..size) is tokenizer.ggml.precompiled_charsmap (size 0: no normalization
 * rules). Sets v->ugm (freed by pl_vocab_free, also on failure). */
int pl_ugm_init(pl_vocab *v, const uint8_t *charsmap, size_t size, int remove_extra_spaces, pl_err *err);
void pl_ugm_free(pl_ugm *u);

#endif
