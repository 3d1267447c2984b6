/* Byte-level BPE (GPT-2 style, tokenizer.ggml.model = "gpt2"), as llama.cpp does it.
 *
 * Encoding a text:
 *  1. Added tokens are cut out of the raw text first: user-defined tokens always, control
 *     and unknown tokens too with parse_special. Like llama.cpp, the longest token is
 *     cut everywhere first, then the next longest in what is left, and so on.
 *  2. Each stretch of text in between is split into words by the pre-tokenizer that
 *     tokenizer.ggml.pre names: a list of patterns (regexes in the original tokenizers,
 *     hand-written matchers here) applied one after another, each one splitting every
 *     piece left by the previous one into its matches and the gaps between them.
 *  3. Each word's bytes are mapped to GPT-2's printable characters (byte_to_unicode), and
 *     merged pairwise: always the adjacent pair with the lowest merge rank (leftmost on
 *     ties), until no pair is in the merge list. Each resulting piece is a token.
 * Decoding maps a token's characters back to bytes; the bytes of every token are made at
 * load time. */
#include "merge_queue.h"
#include "unicode.h"
#include "vocab.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- pre-tokenizers ---- */

enum {
    PRE_DEFAULT, PRE_GPT2, PRE_LLAMA3, PRE_QWEN2, PRE_DEEPSEEK_LLM, PRE_DEEPSEEK_CODER,
    PRE_FALCON, PRE_STARCODER, PRE_BLOOM, PRE_VIKING
};

typedef struct {
    const char *name;
    int pre;
    int ignore_merges;   /* a word that is itself a token is not merged (llama 3) */
    int add_bos;         /* llama.cpp's default for tokenizer.ggml.add_bos_token */
} pre_name;

/* tokenizer.ggml.pre values and what llama.cpp does for them. */
static const pre_name pre_names[] = {
    {"default", PRE_DEFAULT, 0, 0},
    {"gpt-2", PRE_GPT2, 0, 0}, {"phi-2", PRE_GPT2, 0, 0}, {"mpt", PRE_GPT2, 0, 0},
    {"olmo", PRE_GPT2, 0, 0}, {"jais", PRE_GPT2, 0, 0}, {"jina-es", PRE_GPT2, 0, 0},
    {"jina-de", PRE_GPT2, 0, 0}, {"jina-v1-en", PRE_GPT2, 0, 0}, {"jina-v2-es", PRE_GPT2, 0, 0},
    {"jina-v2-de", PRE_GPT2, 0, 0}, {"jina-v2-code", PRE_GPT2, 0, 0}, {"roberta-bpe", PRE_GPT2, 0, 0},
    {"gigachat", PRE_GPT2, 0, 0}, {"exaone4", PRE_GPT2, 0, 0}, {"trillion", PRE_GPT2, 0, 0},
    {"granite-docling", PRE_GPT2, 0, 0}, {"mellum", PRE_GPT2, 0, 0}, {"modern-bert", PRE_GPT2, 0, 0},
    {"a.x-4.0", PRE_GPT2, 0, 0},
    {"llama3", PRE_LLAMA3, 1, 1}, {"llama-v3", PRE_LLAMA3, 1, 1}, {"llama-bpe", PRE_LLAMA3, 1, 1},
    {"falcon3", PRE_LLAMA3, 1, 1}, {"falcon-h1", PRE_LLAMA3, 1, 1}, {"pixtral", PRE_LLAMA3, 1, 1},
    {"midm-2.0", PRE_LLAMA3, 1, 1}, {"lfm2", PRE_LLAMA3, 1, 1},
    {"dbrx", PRE_LLAMA3, 0, 0}, {"smaug-bpe", PRE_LLAMA3, 0, 0}, {"chatglm-bpe", PRE_LLAMA3, 0, 0},
    {"glm4", PRE_LLAMA3, 0, 0},
    {"qwen2", PRE_QWEN2, 0, 0}, {"deepseek-r1-qwen", PRE_QWEN2, 0, 0}, {"stablelm2", PRE_QWEN2, 0, 0},
    {"megrez", PRE_QWEN2, 0, 0}, {"hunyuan", PRE_QWEN2, 0, 0}, {"kormo", PRE_QWEN2, 0, 0},
    {"deepseek-llm", PRE_DEEPSEEK_LLM, 0, 0}, {"deepseek-coder", PRE_DEEPSEEK_CODER, 0, 0},
    {"falcon", PRE_FALCON, 0, 0},
    {"starcoder", PRE_STARCODER, 0, 0}, {"refact", PRE_STARCODER, 0, 0},
    {"command-r", PRE_STARCODER, 0, 0}, {"smollm", PRE_STARCODER, 0, 0},
    {"codeshell", PRE_STARCODER, 0, 0}, {"exaone", PRE_STARCODER, 0, 0},
    {"minerva-7b", PRE_STARCODER, 0, 0},
    {"bloom", PRE_BLOOM, 0, 0}, {"poro-chat", PRE_BLOOM, 0, 0}, {"gpt3-finnish", PRE_BLOOM, 0, 0},
    {"viking", PRE_VIKING, 0, 0},
};

/* The text being split: one entry per code point. Invalid UTF-8 bytes are U+FFFD here
 * (as llama.cpp reads them) but keep their own byte in the output. */
typedef struct {
    const uint32_t *cp;
    const uint8_t *cat;     /* PL_UCAT_* */
    const uint8_t *space;   /* White_Space */
} pretext;

/* Character tests at position i of a piece ending at end; outside it, nothing matches.
 * Non-ASCII white space is never a letter, number or punctuation (llama.cpp runs its
 * regexes on a copy of the text where it is replaced by \v). */
static int at_space(const pretext *t, int i, int end) { return i < end && t->space[i]; }
static int at_letter(const pretext *t, int i, int end) { return i < end && !t->space[i] && t->cat[i] == PL_UCAT_L; }
static int at_number(const pretext *t, int i, int end) { return i < end && !t->space[i] && t->cat[i] == PL_UCAT_N; }
/* [^\s\p{L}\p{N}] */
static int at_other(const pretext *t, int i, int end) {
    return i < end && !t->space[i] && t->cat[i] != PL_UCAT_L && t->cat[i] != PL_UCAT_N;
}
static int at_cp(const pretext *t, int i, int end, uint32_t c) { return i < end && t->cp[i] == c; }
static int at_newline(const pretext *t, int i, int end) { return at_cp(t, i, end, '\r') || at_cp(t, i, end, '\n'); }

/* \p{P} as llama.cpp's regexes see it: for ASCII, the characters Unicode calls
 * punctuation; beyond ASCII, category P. */
static int at_punct(const pretext *t, int i, int end) {
    if (i >= end) return 0;
    uint32_t c = t->cp[i];
    if (c < 128) return c && strchr("!\"#%&'()*,-./:;?@[\\]_{}", (int)c) != NULL;
    return !t->space[i] && t->cat[i] == PL_UCAT_P;
}

static int count_run(const pretext *t, int i, int end, int (*is)(const pretext *, int, int)) {
    int n = 0;
    while (is(t, i + n, end)) n++;
    return n;
}

/* 's|'t|'re|'ve|'m|'ll|'d, optionally ignoring case (llama 3's (?i:...)) */
static int match_contraction(const pretext *t, int p, int end, int any_case) {
    if (!at_cp(t, p, end, '\'') || p + 1 >= end) return 0;
    uint32_t a = t->cp[p + 1], b = p + 2 < end ? t->cp[p + 2] : 0;
    if (any_case) {
        a = a >= 'A' && a <= 'Z' ? a + 32 : a;
        b = b >= 'A' && b <= 'Z' ? b + 32 : b;
    }
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * (GPT-2; every position matches something) */
static int match_gpt2(const pretext *t, int p, int end) {
    int n = match_contraction(t, p, end, 0);
    if (n) return n;
    int q = p + (t->cp[p] == ' ');   /* the optional leading space */
    if (at_letter(t, q, end)) return q - p + count_run(t, q, end, at_letter);
    if (at_number(t, q, end)) return q - p + count_run(t, q, end, at_number);
    if (at_other(t, q, end)) return q - p + count_run(t, q, end, at_other);
    n = count_run(t, p, end, at_space);
    if (n > 1 && p + n < end) return n - 1;   /* \s+(?!\S): leave the last one to the word */
    return n > 0 ? n : 1;
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}|
 *  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * (llama 3 with max_digits 3; Qwen 2 with max_digits 1) */
static int match_llama3(const pretext *t, int p, int end, int max_digits) {
    int n = match_contraction(t, p, end, 1);
    if (n) return n;
    if (!at_newline(t, p, end) && !at_number(t, p, end) &&
        (at_letter(t, p, end) || at_letter(t, p + 1, end)))
        return 1 + count_run(t, p + 1, end, at_letter);
    if (at_number(t, p, end)) {
        n = count_run(t, p, end, at_number);
        return n < max_digits ? n : max_digits;
    }
    int q = p + (t->cp[p] == ' ');
    if (at_other(t, q, end)) {
        q += count_run(t, q, end, at_other);
        return q - p + count_run(t, q, end, at_newline);
    }
    int last_newline_end = 0;   /* \s*[\r\n]+ ends after the run's last newline */
    for (n = 0; at_space(t, p + n, end); n++)
        if (at_newline(t, p + n, end)) last_newline_end = n + 1;
    if (last_newline_end) return last_newline_end;
    if (n > 1 && p + n < end) return n - 1;
    return n > 0 ? n : 1;
}

static int match_llama3_3(const pretext *t, int p, int end) { return match_llama3(t, p, end, 3); }
static int match_qwen2(const pretext *t, int p, int end) { return match_llama3(t, p, end, 1); }

/* [\p{P}\$\+<=>\^~\|]+ (default) */
static int is_default_punct(const pretext *t, int i, int end) {
    return at_punct(t, i, end) || (i < end && t->cp[i] && t->cp[i] < 128 && strchr("$+<=>^~|", (int)t->cp[i]));
}
static int match_default_punct(const pretext *t, int p, int end) { return count_run(t, p, end, is_default_punct); }

/* [\p{P}\$\+<=>\^~\|`]+ (falcon) */
static int is_falcon_punct(const pretext *t, int i, int end) {
    return is_default_punct(t, i, end) || at_cp(t, i, end, '`');
}
static int match_falcon_punct(const pretext *t, int p, int end) { return count_run(t, p, end, is_falcon_punct); }

/* \p{N}+ */
static int match_numbers(const pretext *t, int p, int end) { return count_run(t, p, end, at_number); }
/* \p{N} */
static int match_number(const pretext *t, int p, int end) { return at_number(t, p, end); }

static int is_digit(const pretext *t, int i, int end) { return i < end && t->cp[i] >= '0' && t->cp[i] <= '9'; }
/* [0-9][0-9][0-9] */
static int match_3digits(const pretext *t, int p, int end) {
    return is_digit(t, p, end) && is_digit(t, p + 1, end) && is_digit(t, p + 2, end) ? 3 : 0;
}

/* [\r\n] */
static int match_newline(const pretext *t, int p, int end) { return at_newline(t, p, end); }

/* \s?X+ for a class X */
static int match_space_run(const pretext *t, int p, int end, int (*is)(const pretext *, int, int)) {
    if (is(t, p, end)) return count_run(t, p, end, is);
    if (at_space(t, p, end) && is(t, p + 1, end)) return 1 + count_run(t, p + 1, end, is);
    return 0;
}

/* \s?\p{L}+ */
static int match_space_letters(const pretext *t, int p, int end) { return match_space_run(t, p, end, at_letter); }
/* \s?\p{P}+ */
static int match_space_punct(const pretext *t, int p, int end) { return match_space_run(t, p, end, at_punct); }

/* [一-龥ࠀ-一가-퟿]+ : U+4E00-U+9FA5, U+0800-U+4E00, U+AC00-U+D7FF */
static int is_cjk(const pretext *t, int i, int end) {
    if (i >= end || t->space[i]) return 0;
    uint32_t c = t->cp[i];
    return (c >= 0x0800 && c <= 0x9FA5) || (c >= 0xAC00 && c <= 0xD7FF);
}
static int match_cjk(const pretext *t, int p, int end) { return count_run(t, p, end, is_cjk); }

/* DeepSeek LLM's letter class [A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-Ⴥ
 * Ꭰ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿ
 * ⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃] as code point ranges */
static const uint32_t deepseek_letters[][2] = {
    {0x0041, 0x005A}, {0x0061, 0x007A}, {0x00B5, 0x00B5}, {0x00C0, 0x00D6}, {0x00D8, 0x00F6},
    {0x00F8, 0x01BA}, {0x01BC, 0x01BF}, {0x01C4, 0x0293}, {0x0295, 0x02AF}, {0x0370, 0x0373},
    {0x0376, 0x0377}, {0x037B, 0x037D}, {0x037F, 0x037F}, {0x0386, 0x0386}, {0x0388, 0x038A},
    {0x038C, 0x038C}, {0x038E, 0x03A1}, {0x03A3, 0x03F5}, {0x03F7, 0x0481}, {0x048A, 0x052F},
    {0x0531, 0x0556}, {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD}, {0x1C90, 0x1CBA},
    {0x1CBD, 0x1CBF}, {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15},
    {0x1F18, 0x1F1D}, {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59},
    {0x1F5B, 0x1F5B}, {0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC},
    {0x1FBE, 0x1FBE}, {0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB},
    {0x1FE0, 0x1FEC}, {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC}, {0x2102, 0x2102}, {0x2107, 0x2107},
    {0x210A, 0x2113}, {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124}, {0x2126, 0x2126},
    {0x2128, 0x2128}, {0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F},
    {0x2145, 0x2149}, {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4},
    {0x2CEB, 0x2CEE}, {0x2CF2, 0x2CF3}, {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F},
    {0xA771, 0xA787}, {0xA78B, 0xA78E}, {0xAB70, 0xABBF}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17},
    {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A}, {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};

static int in_ranges(uint32_t c, const uint32_t (*r)[2], int n) {
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (r[mid][1] < c) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && r[lo][0] <= c;
}

static int is_deepseek_letter(const pretext *t, int i, int end) {
    return i < end && !t->space[i] &&
           in_ranges(t->cp[i], deepseek_letters, (int)(sizeof deepseek_letters / sizeof deepseek_letters[0]));
}
/* \s?[A-Za-zµÀ-Ö...]+ (the class above) */
static int match_deepseek_letters(const pretext *t, int p, int end) { return match_space_run(t, p, end, is_deepseek_letter); }

/* [!-/:-~！-／：-～‘-‟　-。] */
static int is_deepseek_punct(const pretext *t, int i, int end) {
    if (i >= end || t->space[i]) return 0;
    uint32_t c = t->cp[i];
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x7E) || (c >= 0xFF01 && c <= 0xFF0F) ||
           (c >= 0xFF1A && c <= 0xFF5E) || (c >= 0x2018 && c <= 0x201F) || (c >= 0x3000 && c <= 0x3002);
}
/* \s?[!-/:-~！-／：-～‘-‟　-。]+ */
static int match_deepseek_punct(const pretext *t, int p, int end) { return match_space_run(t, p, end, is_deepseek_punct); }

/* [^(\s|.,!?…。，、।۔،)] */
static int is_bloom_word(const pretext *t, int i, int end) {
    static const uint32_t stop[] = {'(', '|', '.', ',', '!', '?', ')', 0x2026, 0x3002, 0xFF0C, 0x3001, 0x0964, 0x06D4, 0x060C};
    if (i >= end || t->space[i]) return 0;
    for (size_t k = 0; k < sizeof stop / sizeof stop[0]; k++)
        if (t->cp[i] == stop[k]) return 0;
    return 1;
}
/*  ?[^(\s|.,!?…。，、।۔،)]+ */
static int match_bloom(const pretext *t, int p, int end) {
    int q = p + (t->cp[p] == ' ');
    return is_bloom_word(t, q, end) ? q - p + count_run(t, q, end, is_bloom_word) : 0;
}

/* A pattern: the length of its match at p (0: none). NULL stands for \s+$, the one
 * pattern not tried position by position. */
typedef int (*matcher)(const pretext *t, int p, int end);

/* \s+$ in [pos, end): its length (0 if none), start in *start. */
static int trailing_space(const pretext *t, int pos, int end, int *start) {
    int s = end;
    while (s > pos && t->space[s - 1]) s--;
    *start = s;
    return end - s;
}

#define MAX_PATTERNS 6
static void pre_patterns(int pre, matcher *pat, int *n) {
    int k = 0;
    switch (pre) {
    case PRE_GPT2:
        pat[k++] = match_gpt2;
        break;
    case PRE_LLAMA3:
        pat[k++] = match_llama3_3;
        break;
    case PRE_QWEN2:
        pat[k++] = match_qwen2;
        break;
    case PRE_DEEPSEEK_LLM:
        pat[k++] = match_newline;
        pat[k++] = match_deepseek_letters;
        pat[k++] = match_deepseek_punct;
        pat[k++] = NULL;   /* \s+$ */
        pat[k++] = match_cjk;
        pat[k++] = match_numbers;
        break;
    case PRE_DEEPSEEK_CODER:
        pat[k++] = match_newline;
        pat[k++] = match_space_letters;
        pat[k++] = match_space_punct;
        pat[k++] = match_cjk;
        pat[k++] = match_number;
        break;
    case PRE_FALCON:
        pat[k++] = match_falcon_punct;
        pat[k++] = match_gpt2;
        pat[k++] = match_3digits;
        break;
    case PRE_STARCODER:
        pat[k++] = match_number;
        pat[k++] = match_gpt2;
        break;
    case PRE_BLOOM:
        pat[k++] = match_bloom;
        break;
    case PRE_VIKING:
        pat[k++] = match_bloom;
        pat[k++] = match_number;
        break;
    default:   /* PRE_DEFAULT */
        pat[k++] = match_default_punct;
        pat[k++] = match_gpt2;
        pat[k++] = match_numbers;
        pat[k++] = match_3digits;
        break;
    }
    *n = k;
}

/* Splits every piece (ends[0..*n) are the piece ends, in code points) into the pattern's
 * matches and the gaps between them, writing the new ends to out. */
static void split_pieces(const pretext *t, matcher match, const int *ends, int n, int *out, int *n_out) {
    int k = 0, begin = 0;
    for (int i = 0; i < n; i++) {
        int end = ends[i], pos = begin;
        while (pos < end) {
            int start = pos, len = 0;
            if (match) {   /* leftmost match */
                for (; start < end && !(len = match(t, start, end)); start++) {}
            } else {
                len = trailing_space(t, pos, end, &start);
            }
            if (len == 0) break;
            if (start > pos) out[k++] = start;
            out[k++] = start + len;
            pos = start + len;
        }
        if (pos < end) out[k++] = end;
        begin = end;
    }
    *n_out = k;
}

/* ---- the BPE tables ---- */

struct pl_bpe {
    int pre, ignore_merges;
    char byte_char[256][2];    /* byte -> its printable stand-in, UTF-8 */
    uint8_t byte_char_len[256];
    int16_t char_byte[324];    /* stand-in code point (< 324) -> byte, -1 if none */
    /* merges: "left right" strings back to back; rank = index */
    int n_merges;
    char *merge_text;
    int *merge_off, *merge_left, *merge_len;   /* offset of "left right", length of left, of both */
    int *table;                /* open addressing hash of merge ranks, -1 empty */
    uint32_t table_mask;
    /* decoded bytes of each token */
    char *dec;
    int *dec_off, *dec_len;
};

/* FNV-1a over left, a separator, right. */
static uint32_t pair_hash(const char *l, int nl, const char *r, int nr) {
    uint32_t h = 2166136261u;
    for (int i = 0; i < nl; i++) h = (h ^ (uint8_t)l[i]) * 16777619u;
    h = (h ^ 0xFFu) * 16777619u;
    for (int i = 0; i < nr; i++) h = (h ^ (uint8_t)r[i]) * 16777619u;
    return h;
}

/* Rank of merging left with right, or -1. */
static int merge_rank(const struct pl_bpe *b, const char *l, int nl, const char *r, int nr) {
    for (uint32_t h = pair_hash(l, nl, r, nr) & b->table_mask;; h = (h + 1) & b->table_mask) {
        int m = b->table[h];
        if (m < 0) return -1;
        const char *s = b->merge_text + b->merge_off[m];
        if (b->merge_left[m] == nl && b->merge_len[m] == nl + nr && memcmp(s, l, (size_t)nl) == 0 &&
            memcmp(s + nl + 1, r, (size_t)nr) == 0)
            return m;
    }
}

/* GPT-2's byte_to_unicode: printable Latin-1 bytes stand for themselves, the others
 * (controls, space, 0x7F-0xA0, 0xAD) become U+0100, U+0101, ... in byte order. */
static void make_byte_map(struct pl_bpe *b) {
    int next = 256;
    for (int i = 0; i < 324; i++) b->char_byte[i] = -1;
    for (int c = 0; c < 256; c++) {
        int keep = (c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
        int cp = keep ? c : next++;
        b->byte_char_len[c] = (uint8_t)pl_utf8_encode((uint32_t)cp, b->byte_char[c]);
        b->char_byte[cp] = (int16_t)c;
    }
}

void pl_bpe_free(pl_bpe *b) {
    if (!b) return;
    free(b->merge_text);
    free(b->merge_off);
    free(b->merge_left);
    free(b->merge_len);
    free(b->table);
    free(b->dec);
    free(b->dec_off);
    free(b->dec_len);
    free(b);
}

/* Bytes a token decodes to, written to dst (room for piece_len bytes); returns the count. */
static int decode_piece(const struct pl_bpe *b, const pl_vocab *v, int id, char *dst) {
    const char *s = v->piece[id];
    int n = v->piece_len[id], t = v->type[id];
    if (t == PL_TOK_CONTROL || t == PL_TOK_UNKNOWN) return 0;
    if (t == PL_TOK_USER_DEFINED || (t == PL_TOK_BYTE && n != 6)) {   /* added tokens are raw text */
        memcpy(dst, s, (size_t)n);
        return n;
    }
    if (t == PL_TOK_BYTE) {   /* <0xNN>, checked at load */
        dst[0] = (char)strtol(s + 3, NULL, 16);
        return 1;
    }
    int len = 0;
    for (int i = 0; i < n;) {
        uint32_t cp;
        int cl = pl_utf8_decode((const uint8_t *)s + i, n - i, &cp);
        if (cp < 324 && b->char_byte[cp] >= 0) {
            dst[len++] = (char)b->char_byte[cp];
        } else {   /* not a byte stand-in: keep the character as it is */
            memcpy(dst + len, s + i, (size_t)cl);
            len += cl;
        }
        i += cl;
    }
    return len;
}

int pl_bpe_init(pl_vocab *v, const char *pre, int pre_len, int n_merges, const char *const *merge,
                const int *merge_len, pl_err *err) {
    const pre_name *pn = NULL;
    if (pre_len == 0) pre = "default", pre_len = 7;   /* llama.cpp's fallback for old files */
    for (size_t i = 0; i < sizeof pre_names / sizeof pre_names[0] && !pn; i++)
        if ((int)strlen(pre_names[i].name) == pre_len && memcmp(pre_names[i].name, pre, (size_t)pre_len) == 0)
            pn = &pre_names[i];
    if (!pn)
        return pl_fail(err, PL_ERR_UNSUPPORTED_ARCH, "pre-tokenizer '%.*s' (tokenizer.ggml.pre) is not supported",
                       pre_len > 64 ? 64 : pre_len, pre);

    struct pl_bpe *b = calloc(1, sizeof *b);
    if (!b) return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory for the BPE tables");
    v->bpe = b;
    b->pre = pn->pre;
    b->ignore_merges = pn->ignore_merges;
    v->add_bos = pn->add_bos;
    make_byte_map(b);

    size_t text_bytes = 0, dec_bytes = 0;
    for (int i = 0; i < n_merges; i++) text_bytes += (size_t)merge_len[i] + 1;
    for (int id = 0; id < v->n_vocab; id++) dec_bytes += (size_t)v->piece_len[id];
    uint32_t table_size = 16;
    while (table_size < 2u * (uint32_t)n_merges) table_size *= 2;
    b->table_mask = table_size - 1;
    b->merge_text = malloc(text_bytes + 1);
    b->merge_off = malloc(((size_t)n_merges + 1) * sizeof(int));
    b->merge_left = malloc(((size_t)n_merges + 1) * sizeof(int));
    b->merge_len = malloc(((size_t)n_merges + 1) * sizeof(int));
    b->table = malloc(table_size * sizeof(int));
    b->dec = malloc(dec_bytes + 1);
    b->dec_off = malloc((size_t)v->n_vocab * sizeof(int));
    b->dec_len = malloc((size_t)v->n_vocab * sizeof(int));
    if (!b->merge_text || !b->merge_off || !b->merge_left || !b->merge_len || !b->table || !b->dec ||
        !b->dec_off || !b->dec_len)
        return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory for %d BPE merges", n_merges);
    memset(b->table, 0xFF, table_size * sizeof(int));

    /* "left right": split at the first space after the first byte (a merge may begin with
     * a space in vocabularies without the byte mapping). The first rank of a pair wins. */
    size_t at = 0;
    for (int i = 0; i < n_merges; i++) {
        const char *m = merge[i];
        int n = merge_len[i], sp = 1;
        while (sp < n && m[sp] != ' ') sp++;
        if (sp >= n)
            return pl_fail(err, PL_ERR_BAD_FORMAT, "BPE merge %d ('%.*s') is not two tokens separated by a space",
                           i, n > 40 ? 40 : n, m);
        memcpy(b->merge_text + at, m, (size_t)n);
        b->merge_off[i] = (int)at;
        b->merge_left[i] = sp;
        b->merge_len[i] = n - 1;
        at += (size_t)n + 1;
        if (merge_rank(b, m, sp, m + sp + 1, n - sp - 1) >= 0) continue;
        uint32_t h = pair_hash(m, sp, m + sp + 1, n - sp - 1) & b->table_mask;
        while (b->table[h] >= 0) h = (h + 1) & b->table_mask;
        b->table[h] = i;
    }
    b->n_merges = n_merges;

    int dec_at = 0;
    for (int id = 0; id < v->n_vocab; id++) {
        b->dec_off[id] = dec_at;
        b->dec_len[id] = decode_piece(b, v, id, b->dec + dec_at);
        dec_at += b->dec_len[id];
    }
    /* byte_token: the token of a single byte's stand-in */
    for (int c = 0; c < 256; c++) v->byte_token[c] = pl_vocab_find(v, b->byte_char[c], b->byte_char_len[c]);
    return PL_OK;
}

const char *pl_bpe_token_bytes(const pl_vocab *v, int id, int *len) {
    if (id < 0 || id >= v->n_vocab) {
        *len = 0;
        return "";
    }
    *len = v->bpe->dec_len[id];
    return v->bpe->dec + v->bpe->dec_off[id];
}

/* ---- encoding ---- */

typedef struct {
    int start, len;   /* span of the word buffer; len 0 once merged into the left neighbour */
    int prev, next;
} symbol;

typedef struct {
    const pl_vocab *v;
    const struct pl_bpe *b;
    char *word;          /* the current word in byte stand-ins */
    symbol *sym;
    pl_merge *heap;
    int n_heap;
    pl_token_out *out;
} encoder;

static void try_bigram(encoder *e, int left, int right) {
    if (left < 0 || right < 0) return;
    const symbol *l = &e->sym[left], *r = &e->sym[right];
    int rank = merge_rank(e->b, e->word + l->start, l->len, e->word + r->start, r->len);
    if (rank >= 0)
        pl_merge_push(e->heap, &e->n_heap, (pl_merge){.left = left, .right = right, .left_len = l->len,
                                                      .len = l->len + r->len, .key = (float)rank});
}

/* Emits the token of word[start..start+len); a piece the merges made that is not in the
 * vocabulary comes out character by character (characters without a token are dropped,
 * as llama.cpp does). */
static void emit_piece(encoder *e, int start, int len) {
    int id = pl_vocab_find(e->v, e->word + start, len);
    if (id >= 0) {
        pl_token_push(e->out, id);
        return;
    }
    for (int i = start; i < start + len;) {
        uint32_t cp;
        int cl = pl_utf8_decode((const uint8_t *)e->word + i, start + len - i, &cp);
        int cid = pl_vocab_find(e->v, e->word + i, cl);
        if (cid >= 0) pl_token_push(e->out, cid);
        i += cl;
    }
}

/* Encodes one pre-tokenizer word (raw bytes). */
static void encode_word(encoder *e, const uint8_t *raw, int raw_len) {
    const struct pl_bpe *b = e->b;
    int n = 0, n_sym = 0;
    for (int i = 0; i < raw_len; i++) {   /* each byte's stand-in is one symbol */
        memcpy(e->word + n, b->byte_char[raw[i]], b->byte_char_len[raw[i]]);
        e->sym[n_sym] = (symbol){n, b->byte_char_len[raw[i]], n_sym - 1, n_sym + 1};
        n += b->byte_char_len[raw[i]];
        n_sym++;
    }
    if (n_sym == 0) return;
    e->sym[n_sym - 1].next = -1;
    if (b->ignore_merges) {
        int id = pl_vocab_find(e->v, e->word, n);
        if (id >= 0) {
            pl_token_push(e->out, id);
            return;
        }
    }

    e->n_heap = 0;
    for (int i = 1; i < n_sym; i++) try_bigram(e, i - 1, i);
    while (e->n_heap > 0) {
        pl_merge g = pl_merge_pop(e->heap, &e->n_heap);
        symbol *l = &e->sym[g.left], *r = &e->sym[g.right];
        if (l->len != g.left_len || r->len == 0 || l->len + r->len != g.len || l->next != g.right) continue;
        l->len = g.len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) e->sym[r->next].prev = g.left;
        try_bigram(e, l->prev, g.left);
        try_bigram(e, g.left, l->next);
    }
    for (int i = 0; i >= 0; i = e->sym[i].next) emit_piece(e, e->sym[i].start, e->sym[i].len);
}

/* Scratch for splitting a stretch of text into words. */
typedef struct {
    uint32_t *cp;
    uint8_t *cat, *space;
    int *off;           /* byte offset of each code point, off[n] = length */
    int *ends, *ends2;  /* piece ends, two buffers */
} splitter;

static void encode_text(encoder *e, splitter *s, const uint8_t *text, int len) {
    int n = 0;
    for (int i = 0; i < len;) {
        s->off[n] = i;
        i += pl_utf8_decode(text + i, len - i, &s->cp[n]);
        s->cat[n] = (uint8_t)pl_ucat(s->cp[n]);
        s->space[n] = (uint8_t)pl_uspace_is(s->cp[n]);
        n++;
    }
    s->off[n] = len;
    if (n == 0) return;

    matcher pat[MAX_PATTERNS];
    int n_pat, n_ends = 1;
    pre_patterns(e->b->pre, pat, &n_pat);
    pretext t = {s->cp, s->cat, s->space};
    s->ends[0] = n;
    for (int k = 0; k < n_pat; k++) {
        split_pieces(&t, pat[k], s->ends, n_ends, s->ends2, &n_ends);
        int *swap = s->ends;
        s->ends = s->ends2;
        s->ends2 = swap;
    }
    int begin = 0;
    for (int k = 0; k < n_ends; k++) {
        encode_word(e, text + s->off[begin], s->off[s->ends[k]] - s->off[begin]);
        begin = s->ends[k];
    }
}

/* ---- added tokens in the raw text ---- */

static int special_is_cut(const pl_vocab *v, int id, int parse_special) {
    int t = v->type[id];
    if (v->piece_len[id] == 0) return 0;
    return t == PL_TOK_USER_DEFINED || (parse_special && (t == PL_TOK_CONTROL || t == PL_TOK_UNKNOWN));
}

typedef struct {
    int len, id;
} special;

/* Longest first, then lower id. */
static int special_cmp(const void *pa, const void *pb) {
    const special *a = pa, *b = pb;
    return a->len != b->len ? b->len - a->len : a->id - b->id;
}

int pl_cut_specials(const pl_vocab *v, const char *text, int text_len, int parse_special,
                    pl_fragment **frag, pl_fragment **spare, int *n_frag, pl_err *err) {
    int n_sp = 0;
    uint8_t present[256] = {0};   /* bytes in the text: tokens starting otherwise can't match */
    for (int i = 0; i < text_len; i++) present[(uint8_t)text[i]] = 1;
    for (int id = 0; id < v->n_vocab; id++)
        n_sp += special_is_cut(v, id, parse_special) && present[(uint8_t)v->piece[id][0]];
    *n_frag = 0;
    if (text_len > 0) (*frag)[(*n_frag)++] = (pl_fragment){0, text_len, -1};
    if (n_sp == 0) return PL_OK;
    special *sp = malloc((size_t)n_sp * sizeof *sp);
    if (!sp) return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory for special tokens");
    n_sp = 0;
    for (int id = 0; id < v->n_vocab; id++)
        if (special_is_cut(v, id, parse_special) && present[(uint8_t)v->piece[id][0]])
            sp[n_sp++] = (special){v->piece_len[id], id};
    qsort(sp, (size_t)n_sp, sizeof *sp, special_cmp);

    for (int k = 0; k < n_sp; k++) {
        const char *tok = v->piece[sp[k].id];
        int tlen = sp[k].len, n_new = 0;
        pl_fragment *out = *spare;
        for (int f = 0; f < *n_frag; f++) {
            pl_fragment fr = (*frag)[f];
            if (fr.id >= 0) {
                out[n_new++] = fr;
                continue;
            }
            int pos = fr.start, end = fr.start + fr.len;
            for (int i = pos; i + tlen <= end; i++) {
                if (text[i] != tok[0] || memcmp(text + i, tok, (size_t)tlen) != 0) continue;
                if (i > pos) out[n_new++] = (pl_fragment){pos, i - pos, -1};
                out[n_new++] = (pl_fragment){i, tlen, sp[k].id};
                pos = i + tlen;
                i = pos - 1;
            }
            if (pos < end) out[n_new++] = (pl_fragment){pos, end - pos, -1};
        }
        *spare = *frag;
        *frag = out;
        *n_frag = n_new;
    }
    free(sp);
    return PL_OK;
}

int pl_bpe_tokenize(const pl_vocab *v, const char *text, int text_len, int add_bos, int parse_special,
                    pl_token_out *out) {
    pl_err *err = out->err;
    size_t n = (size_t)text_len + 1;
    if (n > SIZE_MAX / (3 * sizeof(pl_merge)))
        return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "text of %d bytes is too long to tokenize", text_len);
    /* Worst cases: every byte a fragment or a piece; a word's stand-ins are 2 bytes each;
     * each merge queues at most two pairs. */
    encoder e = {v, v->bpe, malloc(2 * n), malloc(n * sizeof(symbol)), malloc(3 * n * sizeof(pl_merge)),
                 0, out};
    splitter s = {malloc(n * sizeof(uint32_t)), malloc(n), malloc(n), malloc((n + 1) * sizeof(int)),
                  malloc((n + 1) * sizeof(int)), malloc((n + 1) * sizeof(int))};
    pl_fragment *frag = malloc(n * sizeof *frag), *spare = malloc(n * sizeof *spare);
    int st = PL_OK, n_frag = 0;
    if (!e.word || !e.sym || !e.heap || !s.cp || !s.cat || !s.space || !s.off || !s.ends || !s.ends2 ||
        !frag || !spare)
        st = pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory tokenizing %d bytes", text_len);
    if (st == PL_OK && add_bos && v->bos >= 0) pl_token_push(out, v->bos);
    if (st == PL_OK) st = pl_cut_specials(v, text, text_len, parse_special, &frag, &spare, &n_frag, err);
    for (int f = 0; f < n_frag && st == PL_OK; f++) {
        if (frag[f].id >= 0) pl_token_push(out, frag[f].id);
        else encode_text(&e, &s, (const uint8_t *)text + frag[f].start, frag[f].len);
    }
    free(e.word);
    free(e.sym);
    free(e.heap);
    free(s.cp);
    free(s.cat);
    free(s.space);
    free(s.off);
    free(s.ends);
    free(s.ends2);
    free(frag);
    free(spare);
    return st;
}
