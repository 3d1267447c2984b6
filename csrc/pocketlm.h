/* pocketlm — public C API.
 *
 * One opaque handle (pl_ctx) holds a loaded model, its KV cache, the sampler and the
 * last error. Every call that can fail returns a pl_status; pl_last_error(ctx) gives a
 * human-readable message and pl_status_code(status) a stable string code (the JS
 * PocketLMError.code and the CLI "pocketlm: <code>: <message>" line use it).
 * Nothing here calls exit() or abort() on bad input.
 *
 * Typical use:
 *   pl_ctx *ctx = pl_create(n_threads);
 *   void *buf = pl_alloc(size); ...fill buf with the model file...
 *   pl_load(ctx, buf, size, NULL, 0, 0);          // ctx now owns buf
 *   pl_tokenize(ctx, text, len, 1, 0, ids, cap, &n);
 *   pl_set_sampler(ctx, 0.8f, 40, 0.95f, 0.05f, 1.1f, 64, 42);
 *   pl_eval(ctx, ids, n);                        // batched prefill
 *   loop: pl_sample(ctx, &id); pl_decode_stream(ctx, id, ...); pl_eval(ctx, &id, 1);
 *   pl_destroy(ctx);
 */
#ifndef POCKETLM_H
#define POCKETLM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __EMSCRIPTEN__
#include <emscripten/emscripten.h>
#define PL_API EMSCRIPTEN_KEEPALIVE
#else
#define PL_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    PL_OK = 0,
    PL_ERR_INVALID_ARGUMENT = 1,   /* "invalid_argument": bad id, NULL pointer, buffer too small */
    PL_ERR_OUT_OF_MEMORY = 2,      /* "out_of_memory" */
    PL_ERR_TRUNCATED = 3,          /* "truncated_file": the file ends before its own sizes say */
    PL_ERR_BAD_FORMAT = 4,         /* "bad_format": not a GGUF / llama2.c file, or corrupt */
    PL_ERR_UNSUPPORTED_ARCH = 5,   /* "unsupported_architecture" */
    PL_ERR_UNSUPPORTED_TYPE = 6,   /* "unsupported_tensor_type": names the type and tensor */
    PL_ERR_NO_TOKENIZER = 7,       /* "missing_tokenizer": a llama2.c checkpoint without tokenizer.bin */
    PL_ERR_CONTEXT_OVERFLOW = 8,   /* "context_overflow": more tokens than the context holds */
    PL_ERR_INVALID_STATE = 9,      /* "invalid_state": e.g. eval before load, sample before eval */
    PL_STATUS_COUNT
} pl_status;

typedef struct pl_ctx pl_ctx;

/* Stable string code for a status ("ok", "bad_format", ...). */
PL_API const char *pl_status_code(int status);

/* n_threads >= 1; more than one needs a pthreads build (else it is clamped to 1).
 * Returns NULL only when out of memory. */
PL_API pl_ctx *pl_create(int n_threads);
PL_API void pl_destroy(pl_ctx *ctx);
PL_API const char *pl_last_error(const pl_ctx *ctx);

/* Buffers the caller fills in place (JS writes the model file straight into one). */
PL_API void *pl_alloc(size_t size);
PL_API void pl_dealloc(void *ptr);

/* Loads a GGUF or llama2.c checkpoint from model_buf. The context takes ownership of
 * model_buf whether or not loading succeeds (weights are used in place, never copied).
 * tok_buf (a llama2.c tokenizer.bin, or NULL) is only read during the call; the caller
 * keeps ownership. n_ctx: KV cache length, 0 = min(model context, 2048). */
PL_API int pl_load(pl_ctx *ctx, void *model_buf, size_t model_size,
                   const void *tok_buf, size_t tok_size, int n_ctx);

/* Loads only a tokenizer, for pl_tokenize/pl_detokenize (pl_eval etc. then fail with
 * PL_ERR_INVALID_STATE): the vocabulary of a GGUF file (weights may be absent, as in
 * llama.cpp's vocab-only files), or GPT-2's encoder.json (model_buf) + vocab.bpe
 * (tok_buf). A llama2.c checkpoint + tokenizer.bin loads as with pl_load. Ownership as
 * pl_load. */
PL_API int pl_load_vocab(pl_ctx *ctx, void *model_buf, size_t model_size,
                         const void *tok_buf, size_t tok_size);

/* JSON text describing the loaded model (arch, hyper-parameters, tensors, vocab, ...).
 * Owned by ctx, valid until the next pl_load/pl_destroy. NULL if nothing is loaded. */
PL_API const char *pl_info_json(pl_ctx *ctx);

/* Text (UTF-8, need not be valid) to token ids in out[cap]. *n_out = the number of ids
 * the text needs; when that is more than cap the status is PL_ERR_INVALID_ARGUMENT (out
 * holds the first cap) and a second call with room for *n_out succeeds. cap = text_len
 * + 2 always suffices for plain text, except with a unigram (T5) vocabulary, whose
 * normalization can expand a character (U+FDFA into 18), and with parse_special, where
 * a text dense with one-byte special tokens can need more. add_bos: add the model's
 * special tokens (BOS before the text; EOS after it where the model says so, as T5's
 * do). parse_special: special-token text in the input becomes the special token (else
 * it is plain text). */
PL_API int pl_tokenize(pl_ctx *ctx, const char *text, int text_len, int add_bos,
                       int parse_special, int32_t *out, int cap, int *n_out);

/* Token ids to text as one string (control tokens render as nothing; the space the
 * tokenizer put before the first word is removed). *len_out = bytes written; when the
 * text needs more than cap bytes, *len_out is the size needed and the status is
 * PL_ERR_INVALID_ARGUMENT. */
PL_API int pl_detokenize(pl_ctx *ctx, const int32_t *ids, int n, char *out, int cap,
                         int *len_out);

/* Clears the KV cache, the token history and the streaming decoder (and an encoder's
 * output). */
PL_API int pl_reset(pl_ctx *ctx);

/* Appends n tokens at the current position, prompt tokens batched as matrix-matrix work;
 * afterwards pl_logits() holds the logits after the last one. */
PL_API int pl_eval(pl_ctx *ctx, const int32_t *ids, int n);

/* Encoder-decoder models (t5): runs the encoder over the prompt's n ids (1..context
 * length; T5 prompts end with EOS, which pl_tokenize's add_bos adds) and empties the
 * decoder: then pl_eval takes decoder tokens, the first one the model's decoder start
 * token (info JSON "decoder_start_token"). pl_eval fails with PL_ERR_INVALID_STATE
 * before pl_encode, and pl_encode on a decoder-only model. */
PL_API int pl_encode(pl_ctx *ctx, const int32_t *ids, int n);

/* Introspection for teaching pages: from the next pl_eval on, the forward pass also
 * copies what it computes for positions 0..positions-1 (1 <= positions <= the context
 * length) into buffers the caller owns and keeps alive until it switches them off or
 * loads another model. NULL leaves a record off; both NULL switch introspection off, and
 * the forward pass then does no extra work.
 *   attention  [n_layers][n_heads][positions][positions] floats: row p of a head is the
 *              attention weights of the token at position p over positions 0..p (the
 *              softmax of its scaled scores); the entries after p are never written
 *   hidden     [positions][n_layers + 1][dim] floats: the residual stream of the token at
 *              position p: its embedding (GPT-2: plus the position's), then after each layer */
PL_API int pl_set_inspect(pl_ctx *ctx, float *attention, float *hidden, int positions);

/* Number of tokens in the KV cache; context length. */
PL_API int pl_position(const pl_ctx *ctx);
PL_API int pl_context_length(const pl_ctx *ctx);

/* n_vocab logits of the last evaluated token (NULL before the first pl_eval). */
PL_API float *pl_logits(pl_ctx *ctx);

/* The next-token distribution for teaching pages: softmax(logits / temperature) of the
 * last evaluated token into out[n_vocab]; temperature > 0 (1: the model's own). Before
 * any sampling filter or penalty. */
PL_API int pl_probabilities(pl_ctx *ctx, float temperature, float *out);

/* Sampler settings for the next pl_sample calls; also reseeds the RNG.
 * temperature <= 0: greedy. top_k <= 0, top_p >= 1, min_p <= 0, repeat_penalty == 1:
 * that filter is off. repeat_last_n: penalty window over the token history (-1 = all).
 * seed: integer (as a double so JS can pass it) for a reproducible run. */
PL_API int pl_set_sampler(pl_ctx *ctx, float temperature, int top_k, float top_p,
                          float min_p, float repeat_penalty, int repeat_last_n, double seed);

/* Picks the next token from the current logits (which it leaves unchanged). */
PL_API int pl_sample(pl_ctx *ctx, int32_t *id_out);

/* What the last pl_sample drew from, for teaching pages: its candidates best first, with
 * their probabilities after the repetition penalty, temperature and filters
 * (renormalised; greedy: the chosen token alone, with 1). Up to cap of them go into
 * ids/probs; *n_out = how many there were in all (0 before the first pl_sample). */
PL_API int pl_sample_candidates(pl_ctx *ctx, int32_t *ids, float *probs, int cap, int *n_out);

/* Text of one generated token for streaming: bytes of a UTF-8 character split across
 * tokens are held back until complete; invalid sequences come out as U+FFFD.
 * flush != 0 also emits whatever is held back (end of generation). */
PL_API int pl_decode_stream(pl_ctx *ctx, int32_t id, int flush, char *out, int cap,
                            int *len_out);

/* 1 = wasm SIMD128 kernels (where built), 0 = the scalar reference kernels. */
PL_API int pl_set_simd(pl_ctx *ctx, int enable);

/* --- Tools (csrc/tools.c): write GGUF files without a context ---------------------------
 * The output file goes out in order, in chunks, through write(user, data, n), which
 * returns 0 to go on (anything else stops the tool with PL_ERR_INVALID_STATE). In wasm
 * builds write may be NULL: each chunk then goes to the JS function
 * Module.plWrite(user, bytes) (bytes: a Uint8Array view of wasm memory, valid during the
 * call), so JS writes the file and no complete output is held in memory. On failure msg
 * (msg_cap bytes, may be NULL) gets a NUL-terminated message. Type names are ggml's:
 * F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K (case-insensitive). */
typedef int (*pl_write_fn)(void *user, const void *data, size_t n);

/* Rewrites the GGUF file in[in_size] with its 2-D weight matrices ("*weight", n_dims >= 2)
 * in the given type, like llama-quantize --pure: other tensors and all metadata are kept
 * (general.file_type and general.quantization_version are set). A K type falls back for
 * rows that are not a multiple of 256 (Q2_K/Q3_K -> Q4_0, Q4_K -> Q5_0, Q5_K -> Q5_1,
 * Q6_K -> Q8_0), any type to F16 for rows that are not a multiple of 32. */
PL_API int pl_quantize_gguf(const void *in, size_t in_size, const char *type, pl_write_fn write,
                            void *user, char *msg, int msg_cap);

/* Writes a llama-architecture GGUF with random weights (seeded, reproducible) and an SPM
 * tokenizer: <unk> <s> </s>, the 256 byte tokens, then printable pieces up to n_vocab.
 * 2-D weights get the given type (fallbacks as pl_quantize_gguf), norms are F32 ones. */
PL_API int pl_synth_gguf(int dim, int n_layers, int n_heads, int n_kv_heads, int ffn_dim,
                         int n_vocab, int n_ctx, const char *type, double seed,
                         pl_write_fn write, void *user, char *msg, int msg_cap);

#ifdef __cplusplus
}
#endif
#endif
