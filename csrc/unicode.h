/* Unicode support for the tokenizers: UTF-8 decoding and the character properties their
 * pre-tokenizer patterns test (\p{L}, \p{N}, \s, ...). Tables: unicode_tables.c, made by
 * tests/fixtures/gen_unicode_tables.py. */
#ifndef PL_UNICODE_H
#define PL_UNICODE_H

#include <stdint.h>

/* Major general categories (Unicode's first letter of the category). */
enum { PL_UCAT_L, PL_UCAT_N, PL_UCAT_P, PL_UCAT_S, PL_UCAT_M, PL_UCAT_Z, PL_UCAT_C };

typedef struct {
    uint32_t start;   /* first code point of the range; it runs to the next range's start */
    uint8_t cat;      /* PL_UCAT_* */
} pl_ucat_range;

extern const int pl_ucat_n_ranges, pl_uspace_n, pl_ulower_map_n, pl_unfd_map_n;
extern const pl_ucat_range pl_ucat_ranges[];
extern const uint32_t pl_uspace[], pl_ulower_map[][2], pl_unfd_map[][2];

#define PL_UNICODE_REPLACEMENT 0xFFFDu

/* Decodes the UTF-8 sequence at s (n > 0 bytes left) into *cp and returns its length.
 * Bytes that do not start a complete sequence (by lead-byte pattern and continuation
 * bytes, as llama.cpp reads them) give U+FFFD and length 1. */
int pl_utf8_decode(const uint8_t *s, int n, uint32_t *cp);
/* Well-formed UTF-8 per RFC 3629 (no overlong forms, surrogates or code points past
 * U+10FFFF), for the strict readers (streaming decode, the unigram normalizer): the length
 * of the sequence a lead byte starts (0: not a lead byte); whether b may follow lead byte c
 * as the second byte (later continuation bytes need only be 10xxxxxx); and the length of
 * the well-formed character at s (n > 0 bytes left), 0 if it is not one. */
int pl_utf8_lead_len(uint8_t c);
int pl_utf8_second_ok(uint8_t c, uint8_t b);
int pl_utf8_valid_len(const uint8_t *s, int n);
/* Writes cp as UTF-8 into out (room for 4) and returns the length (U+FFFD for cp > 0x10FFFF). */
int pl_utf8_encode(uint32_t cp, char *out);

int pl_ucat(uint32_t cp);          /* PL_UCAT_*; C beyond U+10FFFF */
int pl_uspace_is(uint32_t cp);     /* White_Space property */
uint32_t pl_ulower(uint32_t cp);   /* simple lowercase, cp itself when none */
uint32_t pl_unfd_first(uint32_t cp);  /* first code point of cp's NFD decomposition */

#endif
