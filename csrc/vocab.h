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

enum { PL_VOCAB_SPM = 1 };   /* SentencePiece-style BPE (tokenizer.ggml.model = "llama") */

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
    int add_space_prefix;    /* SentencePiece dummy prefix: " " before the text */
    int byte_token[256];     /* id of <0xNN>, -1 when absent */
    int *sorted;             /* ids sorted by piece bytes, for lookup */
    int max_piece_len;
} pl_vocab;

int pl_vocab_from_gguf(pl_vocab *v, const pl_gguf *g, pl_err *err);
/* llama2.c tokenizer.bin: int32 max_token_length, then per token f32 score, int32 len,
 * bytes. n_vocab comes from the checkpoint header. BOS=1, EOS=2, UNK=0, byte tokens are
 * <0xNN> at ids 3..258 when present (llama2.c convention). */
int pl_vocab_from_llama2c(pl_vocab *v, const uint8_t *buf, size_t size, int n_vocab, pl_err *err);
void pl_vocab_free(pl_vocab *v);

/* Id of the token whose piece is exactly s[0..len), or -1. */
int pl_vocab_find(const pl_vocab *v, const char *s, int len);

/* Encodes text; out must hold text_len + 2 ids. */
int pl_tokenize_text(const pl_vocab *v, const char *text, int text_len, int add_bos,
                     int parse_special, int *out, int *n_out, pl_err *err);

/* Bytes a token stands for when decoding: byte tokens give their byte, control tokens
 * nothing, others their piece. prev is the token before it (-1 if none): after BOS the
 * leading space of the dummy prefix is dropped. Returns a pointer to the bytes (into the
 * vocab or into byte_buf) and sets *len. */
const char *pl_token_bytes(const pl_vocab *v, int prev, int id, char byte_buf[1], int *len);

#endif
