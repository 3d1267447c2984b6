/* UTF-8 decoding and table lookups for unicode.h. */
#include "unicode.h"

int pl_utf8_decode(const uint8_t *s, int n, uint32_t *cp) {
    int len = s[0] < 0x80 ? 1 : s[0] < 0xC0 ? 0 : s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : s[0] < 0xF8 ? 4 : 0;
    if (len == 0 || len > n) {
        *cp = PL_UNICODE_REPLACEMENT;
        return 1;
    }
    uint32_t c = len == 1 ? s[0] : (uint32_t)(s[0] & (0x7F >> len));
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = PL_UNICODE_REPLACEMENT;
            return 1;
        }
        c = c << 6 | (s[i] & 0x3F);
    }
    *cp = c;
    return len;
}

int pl_utf8_lead_len(uint8_t c) {
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) return 2;
    if (c >= 0xe0 && c <= 0xef) return 3;
    if (c >= 0xf0 && c <= 0xf4) return 4;
    return 0;
}

int pl_utf8_second_ok(uint8_t c, uint8_t b) {
    if ((b & 0xc0) != 0x80) return 0;
    if (c == 0xe0) return b >= 0xa0;
    if (c == 0xed) return b <= 0x9f;
    if (c == 0xf0) return b >= 0x90;
    if (c == 0xf4) return b <= 0x8f;
    return 1;
}

int pl_utf8_valid_len(const uint8_t *s, int n) {
    int len = pl_utf8_lead_len(s[0]);
    if (len == 0 || len > n || (len > 1 && !pl_utf8_second_ok(s[0], s[1]))) return 0;
    for (int i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return len;
}

int pl_utf8_encode(uint32_t cp, char *out) {
    if (cp > 0x10FFFF) cp = PL_UNICODE_REPLACEMENT;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

int pl_ucat(uint32_t cp) {
    if (cp > 0x10FFFF) return PL_UCAT_C;
    int lo = 0, hi = pl_ucat_n_ranges - 1;   /* last range whose start <= cp */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (pl_ucat_ranges[mid].start <= cp) lo = mid;
        else hi = mid - 1;
    }
    return pl_ucat_ranges[lo].cat;
}

int pl_uspace_is(uint32_t cp) {
    for (int i = 0; i < pl_uspace_n && pl_uspace[i] <= cp; i++)   /* 25 entries */
        if (pl_uspace[i] == cp) return 1;
    return 0;
}

/* Value paired with cp in a sorted (cp, value) table, or cp itself. */
static uint32_t pair_lookup(const uint32_t (*pairs)[2], int n, uint32_t cp) {
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (pairs[mid][0] < cp) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && pairs[lo][0] == cp ? pairs[lo][1] : cp;
}

uint32_t pl_ulower(uint32_t cp) { return pair_lookup(pl_ulower_map, pl_ulower_map_n, cp); }
uint32_t pl_unfd_first(uint32_t cp) { return pair_lookup(pl_unfd_map, pl_unfd_map_n, cp); }
