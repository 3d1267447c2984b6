/* Row-interleaved ("x4") kernels for Q8_0, Q4_0, Q5_0, Q4_1, Q5_1 and the K types Q2_K ..
 * Q6_K.
 *
 * At load, each group of 4 consecutive rows is reordered so that block b of the 4 rows
 * sits together, scales first: {d[4], qs[4][...]} (Q4_1, Q5_1: {d[4], m[4], qs[4][...]}),
 * the same bytes as the 4 blocks it replaces (PL_LAYOUT_X4). One pass over a group then
 * gives 4 outputs per token: the 4 scales convert to floats as one vector, each
 * activation block is read once for 4 rows, and the 4 rows' integer block sums fold into
 * one vector (a 4x4 transpose) that is scaled and accumulated with one multiply and one
 * add. The per-block float work, which bounds a one-row kernel, is shared by 4 rows, and
 * the weights stream as one sequence.
 *
 * Q4_0's 16 quant bytes are also reordered, byte k of the first half then byte k of the
 * second, so that each 16-bit lane holds the nibbles of elements k, k+16, k+8 and k+24
 * (low bits first). The lowest and the top nibble are stored XOR 8: as 4-bit two's
 * complement numbers they are then the quant minus its zero point 8, and the top nibble
 * masked in place, or the lowest shifted to the top, is that value times 4096 as an int16.
 * The two middle nibbles stay as the file has them (0..15): masked in place they are
 * q·256 and q·16, and multiplied by activations stored times 16 and 256 (pl_act_mid)
 * they give q·4096 too, 8·4096 per unit of activation more than the other two: the
 * block's sum_mid takes that off. So a lone token's decode costs one mask or one shift
 * per 8 quants: no byte shifts, widening or per-row zero-point work, and the kernels take
 * the 4096 off with the scales (an exact power of two).
 *
 * Q5_0 keeps each row's 16 nibble bytes as the file has them; the 4 rows' fifth bits go
 * into one 16-byte plane ahead of them, byte j holding, at bit 2i + h, the fifth bit of
 * row i's element j + 16h. A 16-bit shift by at most 4 and a mask bring one row's bits of
 * a half to bit 4 of each byte, next to the nibbles (a row's half is then the file's
 * unsigned quants, 0..31): no byte swizzles or compares per block, as the plain layout
 * needs, and the zero point 16 comes off the 4 rows' integer sums at once (16·Σx). Q4_1
 * and Q5_1 keep the rows' offsets m after their scales, then the quants as Q4_0 and Q5_0
 * do; the offsets come in as m·Σx (plus zero·d·Σx where the kernels take the quants as
 * q - zero), their halves rescaled with the scales (below).
 *
 * Q4_K's group super-block (pack_q4_K) holds the 4 rows' d and dmin, their 6-bit
 * sub-block scales and mins re-laid so that a few 16-bit shifts and masks give all 32 of
 * each as bytes, and each sub-block's nibbles as Q4_0 keeps a block's. A decode step
 * converts the halves and scales once per super-block; per sub-block it takes Q4_0's
 * nibble sums (plus 8·Σx: Q4_K's quants have no zero point), multiplies the 4 rows' sums
 * by their scales in integers and adds them times the activation scale, and the mins
 * times the activation sums, in floats; d and dmin come in once per super-block. Q5_K's
 * begins as Q4_K's and lays each sub-block's quants out as a Q5_0 group block's, whose
 * sums it takes.
 *
 * Q6_K's (pack_q6_K) holds the rows' d, their int8 scales as [sub-block][row], and per
 * block of 32 each row's low 4 bits as Q5_0 keeps its nibbles, the top 2 bits of 2 rows in
 * one plane: a half-block's bytes come out as Q5_0's do (q - 32 here), and the 4 rows'
 * sums of each half (one scale each) are folded and multiplied by their scales in
 * integers. Q3_K's (pack_q3_K) goes the same way with 3-bit quants: two planes of low
 * 2 bits, one of third bits, its 6-bit scales re-laid as Q4_K's are; Q2_K's (pack_q2_K)
 * with the two planes alone, its 4-bit scales and mins as nibbles. Q2_K's mins belong to
 * 16-value halves: they take the activations' half sums (pl_act_mid).
 *
 * The scales: a half's bits shifted into a float's place give its value times 2^-112,
 * exactly, when the half is normal (or zero) -- three instructions for 4 scales, against
 * about fifteen for a conversion that must also handle subnormal halves without forming a
 * subnormal float (simd.h). So the repack multiplies a matrix's grouped scales (and
 * offsets) by the power of two that makes the smallest nonzero one normal (scale_shift,
 * often 0) and the kernels multiply by 2^(112 - shift): the same floats as the file's, bit
 * for bit (for Q4_0 and Q4_1, times 2^-12 as well: their integer sums carry the 4096).
 * The K types' halves, 4 or 8 a super-block, take the full conversion.
 *
 * Prompt tokens go through a group two at a time (kernels_tile.h's 4 x 2 tile): the
 * weights come from a panel on the stack, the group's blocks unpacked to int16 once for
 * all token pairs. The 4 steps of a block (8 elements of each row each) run as a loop,
 * not unrolled, for a lone token too: unrolled, V8 hoists all of a block's weight loads
 * ahead of their use and spills them.
 *
 * The per-block integer sums are those of the row kernels (kernels_quant.c,
 * kernels_kquant.c): the scalar x4 kernels give the row kernels' results bit for bit, the
 * SIMD ones differ only in the order float block results are added and multiplied (and,
 * for Q4_0 and Q4_1, where a block's scale times the activations' scale times 2^-12 would
 * be a subnormal float; for Q4_1 and Q5_1, whose offsets may come in as m + zero·d; for
 * Q2_K, whose mins times the activations' half sums are float products, where the row
 * kernel sums them in integers). */
#include "kernels.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "util.h"

#ifdef __wasm_simd128__
#include "kernels_tile.h"
#endif

#define GROUP 4

/* Q4_1 and Q5_1 add an offset m to each block (w = d·q + m): a group block keeps the rows'
 * m after their d, then the quants as Q4_0's and Q5_0's group blocks do. */
static int has_min(uint32_t type) { return type == PL_TYPE_Q4_1 || type == PL_TYPE_Q5_1; }
static uint32_t without_min(uint32_t type) { return type == PL_TYPE_Q4_1 ? PL_TYPE_Q4_0 : PL_TYPE_Q5_0; }

/* Bytes of one block after its 2-byte scale (the offset, then the quants). */
static int qs_bytes(uint32_t type) {
    if (has_min(type)) return 2 + qs_bytes(without_min(type));
    return type == PL_TYPE_Q8_0 ? PL_QK : type == PL_TYPE_Q5_0 ? 4 + PL_QK / 2 : PL_QK / 2;
}

#define Q5_PLANE 16   /* bytes of a Q5_0 group block's fifth-bit plane (see the top) */

/* The plane bit of row i's element j + 16·half, in byte j. */
static int plane_bit(int i, int half) { return 2 * i + half; }

/* --- layout ------------------------------------------------------------------------- */

/* A block's 32 nibble values (0..15, in element order) as the groups keep them: byte 2k
 * holds elements k and k + 16, byte 2k + 1 elements k + 8 and k + 24, the lowest and the
 * top nibble of that 16-bit lane XOR 8 (see the top); and back. */
static void pack_nibbles(const uint8_t q[PL_QK], uint8_t *dst) {
    for (int k = 0; k < PL_QK / 4; k++) {
        dst[2 * k] = (uint8_t)((q[k] | q[k + 16] << 4) ^ 0x08);
        dst[2 * k + 1] = (uint8_t)((q[k + 8] | q[k + 24] << 4) ^ 0x80);
    }
}

static void unpack_nibbles(const uint8_t *src, uint8_t q[PL_QK]) {
    for (int k = 0; k < PL_QK / 4; k++) {
        uint8_t lo = src[2 * k] ^ 0x08, hi = src[2 * k + 1] ^ 0x80;
        q[k] = lo & 15;
        q[k + 16] = lo >> 4;
        q[k + 8] = hi & 15;
        q[k + 24] = hi >> 4;
    }
}

/* Element e's low 4 bits in a Q4_0/Q5_0 block's 16 quant bytes (byte j: elements j and
 * j + 16, low nibble first). */
static int qs_nibble(const uint8_t *qs, int e) { return e < 16 ? qs[e] & 15 : qs[e - 16] >> 4; }

/* Row i's 32 five-bit quants (0..31, in element order) into a block laid out as Q5_0's
 * groups keep one (quants: the plane, zeroed beforehand, then the rows' nibble bytes; see
 * the top); and back. */
static void put_q5_row(const uint8_t q[PL_QK], int i, uint8_t *quants) {
    uint8_t *nib = quants + Q5_PLANE + i * PL_QK / 2;
    for (int l = 0; l < PL_QK / 2; l++) nib[l] = (uint8_t)((q[l] & 15) | (q[l + 16] & 15) << 4);
    for (int e = 0; e < PL_QK; e++) quants[e % 16] |= (uint8_t)((q[e] >> 4 & 1) << plane_bit(i, e / 16));
}

static void get_q5_row(const uint8_t *quants, int i, uint8_t q[PL_QK]) {
    const uint8_t *nib = quants + Q5_PLANE + i * PL_QK / 2;
    for (int e = 0; e < PL_QK; e++)
        q[e] = (uint8_t)((nib[e % 16] >> (4 * (e / 16)) & 15) | (quants[e % 16] >> plane_bit(i, e / 16) & 1) << 4);
}

/* The quants of block b (offset block_off) of 4 plain rows, as the group block keeps them
 * after its scales (Q4_1, Q5_1: after the offsets m too); and row i's back as the plain
 * block has them after d. Q4_0: pack_nibbles; Q5_0: the plane, then the rows' nibble
 * bytes (see the top). */
static void pack_quants(uint32_t type, const uint8_t *rows, size_t row_bytes, size_t block_off, uint8_t *dst) {
    if (has_min(type)) {   /* the plain block's m, then what follows it as the _0 type's block */
        for (int i = 0; i < GROUP; i++) memcpy(dst + 2 * i, rows + i * row_bytes + block_off + 2, 2);
        pack_quants(without_min(type), rows, row_bytes, block_off + 2, dst + 2 * GROUP);
        return;
    }
    int qs = qs_bytes(type);
    if (type == PL_TYPE_Q5_0) memset(dst, 0, Q5_PLANE);
    for (int i = 0; i < GROUP; i++) {
        const uint8_t *src = rows + i * row_bytes + block_off + 2;
        if (type == PL_TYPE_Q8_0) {
            memcpy(dst + i * qs, src, PL_QK);
        } else if (type == PL_TYPE_Q4_0) {   /* byte j: elements j, j + 16 */
            uint8_t q[PL_QK];
            for (int l = 0; l < PL_QK; l++) q[l] = (uint8_t)qs_nibble(src, l);
            pack_nibbles(q, dst + i * qs);
        } else {   /* Q5_0: qh[4] (bit e: element e), qs[16] as Q4_0's */
            uint8_t q[PL_QK];
            for (int e = 0; e < PL_QK; e++)
                q[e] = (uint8_t)(qs_nibble(src + 4, e) | (src[e / 8] >> (e % 8) & 1) << 4);
            put_q5_row(q, i, dst);
        }
    }
}

static void unpack_quants(uint32_t type, const uint8_t *quants, int i, uint8_t *dst) {
    uint8_t q[PL_QK];
    if (has_min(type)) {
        memcpy(dst, quants + 2 * i, 2);
        unpack_quants(without_min(type), quants + 2 * GROUP, i, dst + 2);
        return;
    }
    if (type == PL_TYPE_Q8_0) {
        memcpy(dst, quants + i * PL_QK, PL_QK);
        return;
    }
    if (type == PL_TYPE_Q4_0) {
        unpack_nibbles(quants + i * PL_QK / 2, q);
    } else {
        get_q5_row(quants, i, q);
        memset(dst, 0, 4);
        for (int e = 0; e < PL_QK; e++) dst[e / 8] |= (uint8_t)((q[e] >> 4) << (e % 8));
        dst += 4;
    }
    for (int j = 0; j < PL_QK / 2; j++) dst[j] = (uint8_t)((q[j] & 15) | (q[j + 16] & 15) << 4);
}

/* A Q4_K group super-block (4 rows' 144-byte blocks, 576 bytes): the rows' d and dmin
 * (halves), their 6-bit sub-block scales sc and mins mn re-laid for vectors, then for
 * each sub-block s the 4 rows' 32 nibbles (pack_nibbles, 16 bytes a row). Value v = 4s + i
 * of the scales is row i's of sub-block s: byte k of SC_LO holds the low 4 bits of sc[k]
 * and sc[k + 16], of MN_LO those of mn[k] and mn[k + 16], and byte k of HI the top 2 bits
 * of sc[k], sc[k + 16], mn[k], mn[k + 16] (bits 0, 2, 4, 6). Q5_K's (4 x 176 = 704 bytes)
 * begins the same; each sub-block's quants are then laid out as a Q5_0 group block's
 * (a fifth-bit plane, then each row's nibble bytes: 80 bytes). */
enum { Q4K_D = 0, Q4K_DMIN = 8, Q4K_SC_LO = 16, Q4K_MN_LO = 32, Q4K_HI = 48, Q4K_QS = 64 };
#define K_SUB (PL_QK_K / PL_QK)   /* activation blocks (Q4_K's sub-blocks) in a super-block */
#define Q5K_SUB_BYTES (Q5_PLANE + GROUP * PL_QK / 2)

/* The halves and scales of Q4_K/Q5_K blocks (they begin alike: pl_block_q4_K's fields)
 * into a group super-block; and row i's back into its block. */
static void pack_k_scales(const uint8_t *rows, size_t row_bytes, size_t block_off, uint8_t *dst) {
    uint8_t sc[GROUP * K_SUB], mn[GROUP * K_SUB];
    for (int i = 0; i < GROUP; i++) {
        pl_block_q4_K head;   /* d, dmin, scales; no quants */
        memcpy(&head, rows + i * row_bytes + block_off, offsetof(pl_block_q4_K, qs));
        memcpy(dst + Q4K_D + 2 * i, &head.d, 2);
        memcpy(dst + Q4K_DMIN + 2 * i, &head.dmin, 2);
        for (int s = 0; s < K_SUB; s++) pl_k_scale_min(s, head.scales, &sc[4 * s + i], &mn[4 * s + i]);
    }
    for (int k = 0; k < 16; k++) {
        dst[Q4K_SC_LO + k] = (uint8_t)((sc[k] & 15) | (sc[k + 16] & 15) << 4);
        dst[Q4K_MN_LO + k] = (uint8_t)((mn[k] & 15) | (mn[k + 16] & 15) << 4);
        dst[Q4K_HI + k] = (uint8_t)(sc[k] >> 4 | (sc[k + 16] >> 4) << 2 | (mn[k] >> 4) << 4 | (mn[k + 16] >> 4) << 6);
    }
}

/* The scales re-encoded as pl_k_scale_min reads them: every one of the 96 bits has one
 * place, so the bytes come back as they were. */
static void unpack_k_scales(const uint8_t *gb, int i, pl_block_q4_K *head) {
    uint8_t sc[K_SUB], mn[K_SUB];
    memcpy(&head->d, gb + Q4K_D + 2 * i, 2);
    memcpy(&head->dmin, gb + Q4K_DMIN + 2 * i, 2);
    for (int s = 0; s < K_SUB; s++) {
        int k = (4 * s + i) % 16, hi = 4 * s + i >= 16;
        sc[s] = (uint8_t)((gb[Q4K_SC_LO + k] >> (4 * hi) & 15) | (gb[Q4K_HI + k] >> (2 * hi) & 3) << 4);
        mn[s] = (uint8_t)((gb[Q4K_MN_LO + k] >> (4 * hi) & 15) | (gb[Q4K_HI + k] >> (4 + 2 * hi) & 3) << 4);
    }
    for (int j = 0; j < 4; j++) {
        head->scales[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
        head->scales[j + 4] = (uint8_t)(mn[j] | (mn[j + 4] >> 4) << 6);
        head->scales[j + 8] = (uint8_t)((sc[j + 4] & 15) | (mn[j + 4] & 15) << 4);
    }
}

/* Element l of sub-block s of a Q4_K/Q5_K block keeps its low 4 bits in qs[32·(s/2) + l],
 * the low nibble for even s; Q5_K its fifth at bit s of qh[l] (quant.h). */
static int k_nibble(const uint8_t *qs, int s, int l) { return qs[PL_QK * (s / 2) + l] >> (4 * (s & 1)) & 15; }

static void pack_q4_K(const uint8_t *rows, size_t row_bytes, size_t block_off, uint8_t *dst) {
    pack_k_scales(rows, row_bytes, block_off, dst);
    for (int i = 0; i < GROUP; i++) {
        const pl_block_q4_K *blk = (const pl_block_q4_K *)(rows + i * row_bytes + block_off);
        for (int s = 0; s < K_SUB; s++) {
            uint8_t q[PL_QK];
            for (int l = 0; l < PL_QK; l++) q[l] = (uint8_t)k_nibble(blk->qs, s, l);
            pack_nibbles(q, dst + Q4K_QS + (GROUP * s + i) * PL_QK / 2);
        }
    }
}

static void unpack_q4_K(const uint8_t *gb, int i, pl_block_q4_K *blk) {
    unpack_k_scales(gb, i, blk);
    memset(blk->qs, 0, sizeof blk->qs);
    for (int s = 0; s < K_SUB; s++) {
        uint8_t q[PL_QK];
        unpack_nibbles(gb + Q4K_QS + (GROUP * s + i) * PL_QK / 2, q);
        for (int l = 0; l < PL_QK; l++) blk->qs[PL_QK * (s / 2) + l] |= (uint8_t)(q[l] << (4 * (s & 1)));
    }
}

static void pack_q5_K(const uint8_t *rows, size_t row_bytes, size_t block_off, uint8_t *dst) {
    pack_k_scales(rows, row_bytes, block_off, dst);
    memset(dst + Q4K_QS, 0, K_SUB * Q5K_SUB_BYTES);
    for (int i = 0; i < GROUP; i++) {
        const pl_block_q5_K *blk = (const pl_block_q5_K *)(rows + i * row_bytes + block_off);
        for (int s = 0; s < K_SUB; s++) {
            uint8_t q[PL_QK];
            for (int l = 0; l < PL_QK; l++) q[l] = (uint8_t)(k_nibble(blk->qs, s, l) | (blk->qh[l] >> s & 1) << 4);
            put_q5_row(q, i, dst + Q4K_QS + Q5K_SUB_BYTES * s);
        }
    }
}

/* Q5_K begins as Q4_K: unpack_k_scales fills that part. */
_Static_assert(offsetof(pl_block_q5_K, qh) == offsetof(pl_block_q4_K, qs), "Q5_K begins as Q4_K");

static void unpack_q5_K(const uint8_t *gb, int i, pl_block_q5_K *blk) {
    pl_block_q4_K head;
    unpack_k_scales(gb, i, &head);
    memcpy(blk, &head, offsetof(pl_block_q4_K, qs));
    memset(blk->qh, 0, sizeof blk->qh);
    memset(blk->qs, 0, sizeof blk->qs);
    for (int s = 0; s < K_SUB; s++) {
        uint8_t q[PL_QK];
        get_q5_row(gb + Q4K_QS + Q5K_SUB_BYTES * s, i, q);
        for (int l = 0; l < PL_QK; l++) {
            blk->qs[PL_QK * (s / 2) + l] |= (uint8_t)((q[l] & 15) << (4 * (s & 1)));
            blk->qh[l] |= (uint8_t)((q[l] >> 4) << s);
        }
    }
}

/* A Q6_K group super-block (4 rows' 210-byte blocks, 840 bytes): the rows' d (halves),
 * their 16 int8 scales as [sub-block][row], then per activation block j the 4 rows' 32
 * quants: each row's low 4 bits as 16 bytes (byte l: elements 32j + l and 32j + l + 16,
 * low nibble first), then two 16-byte planes of the top 2 bits, plane m for rows 2m and
 * 2m + 1: byte l holds those of row 2m's elements l and l + 16 at bits 0 and 2, row
 * 2m + 1's at bits 4 and 6. */
enum { Q6K_D = 0, Q6K_SC = 8, Q6K_QS = 72, Q6K_BLOCK = 96 };

/* Where a K block keeps two bit fields of element e (low and high bits: byte offsets in
 * the block and shifts), or where a group super-block keeps row i's; and the copy of a
 * block's fields from one layout into the other's zeroed bytes (hi_mask 0: no high
 * field). */
typedef void (*field_place)(int i, int e, int *lo, int *lo_shift, int *hi, int *hi_shift);

static void move_fields(const uint8_t *src, field_place from, uint8_t *dst, field_place to, int i, int lo_mask,
                        int hi_mask) {
    for (int e = 0; e < PL_QK_K; e++) {
        int lo, lo_shift, hi, hi_shift, tlo, tlo_shift, thi, thi_shift;
        from(i, e, &lo, &lo_shift, &hi, &hi_shift);
        to(i, e, &tlo, &tlo_shift, &thi, &thi_shift);
        dst[tlo] |= (uint8_t)((src[lo] >> lo_shift & lo_mask) << tlo_shift);
        if (hi_mask) dst[thi] |= (uint8_t)((src[hi] >> hi_shift & hi_mask) << thi_shift);
    }
}

/* Q6_K (quant.h): the low 4 bits in ql, the top 2 in qh. */
static void q6_K_place(int i, int e, int *lo, int *lo_shift, int *hi, int *hi_shift) {
    (void)i;
    int h = e / 128, k = e % 128 / 32, l = e % 32;
    *lo = (int)offsetof(pl_block_q6_K, ql) + 64 * h + 32 * (k & 1) + l;
    *lo_shift = 4 * (k >> 1);
    *hi = (int)offsetof(pl_block_q6_K, qh) + 32 * h + l;
    *hi_shift = 2 * k;
}

static void q6_K_group_place(int i, int e, int *lo, int *lo_shift, int *hi, int *hi_shift) {
    int j = e / PL_QK, l = e % 16, half = e % PL_QK / 16;
    *lo = Q6K_QS + Q6K_BLOCK * j + 16 * i + l;
    *lo_shift = 4 * half;
    *hi = Q6K_QS + Q6K_BLOCK * j + 64 + 16 * (i / 2) + l;
    *hi_shift = 4 * (i & 1) + 2 * half;
}

static void pack_q6_K(const uint8_t *rows, size_t row_bytes, size_t block_off, uint8_t *dst) {
    memset(dst, 0, GROUP * sizeof(pl_block_q6_K));
    for (int i = 0; i < GROUP; i++) {
        pl_block_q6_K blk;
        memcpy(&blk, rows + i * row_bytes + block_off, sizeof blk);
        memcpy(dst + Q6K_D + 2 * i, &blk.d, 2);
        for (int s = 0; s < PL_QK_K / 16; s++) dst[Q6K_SC + GROUP * s + i] = (uint8_t)blk.scales[s];
        move_fields((const uint8_t *)&blk, q6_K_place, dst, q6_K_group_place, i, 15, 3);
    }
}

static void unpack_q6_K(const uint8_t *gb, int i, pl_block_q6_K *blk) {
    memset(blk, 0, sizeof *blk);
    memcpy(&blk->d, gb + Q6K_D + 2 * i, 2);
    for (int s = 0; s < PL_QK_K / 16; s++) blk->scales[s] = (int8_t)gb[Q6K_SC + GROUP * s + i];
    move_fields(gb, q6_K_group_place, (uint8_t *)blk, q6_K_place, i, 15, 3);
}

/* A Q3_K group super-block (4 x 110 = 440 bytes): the rows' d (halves); their 16 6-bit
 * scales (stored as sc + 32) re-laid, value v = 4s + i being row i's of sub-block s: its
 * low 4 bits in byte v % 32 of LO (the low nibble for v < 32), its top 2 bits at bit
 * 2·(v / 16) of byte v % 16 of HI; then per block j of 32 the 4 rows' quants: two 16-byte
 * planes of the low 2 bits, plane m for rows 2m and 2m + 1 (byte l: row 2m's elements
 * l and l + 16 at bits 0 and 2, row 2m + 1's at bits 4 and 6), and one plane of the third
 * bits laid out as Q5_0's fifth (bit 2i + h of byte l: row i's element l + 16h). */
enum { Q3K_D = 0, Q3K_LO = 8, Q3K_HI = 40, Q3K_QS = 56, Q3K_BLOCK = 48 };

/* Element e's low 2 bits in a Q2_K/Q3_K block whose qs begin at byte qs (quant.h); and
 * row i's in a group super-block whose block j's two planes begin at byte qs + block·j. */
static void low2_place(int qs, int e, int *lo, int *lo_shift) {
    *lo = qs + 32 * (e / 128) + e % 32;
    *lo_shift = 2 * (e % 128 / 32);
}

static void low2_group_place(int qs, int block, int i, int e, int *lo, int *lo_shift) {
    *lo = qs + block * (e / PL_QK) + 16 * (i / 2) + e % 16;
    *lo_shift = 4 * (i & 1) + 2 * (e % PL_QK / 16);
}

/* Q3_K (quant.h): the low 2 bits in qs, the third in hmask. */
static void q3_K_place(int i, int e, int *lo, int *lo_shift, int *hi, int *hi_bit) {
    (void)i;
    low2_place((int)offsetof(pl_block_q3_K, qs), e, lo, lo_shift);
    *hi = (int)offsetof(pl_block_q3_K, hmask) + e % 32;
    *hi_bit = e / 32;
}

static void q3_K_group_place(int i, int e, int *lo, int *lo_shift, int *hi, int *hi_bit) {
    low2_group_place(Q3K_QS, Q3K_BLOCK, i, e, lo, lo_shift);
    *hi = Q3K_QS + Q3K_BLOCK * (e / PL_QK) + 32 + e % 16;
    *hi_bit = plane_bit(i, e % PL_QK / 16);
}

/* Nibble v (0..63) of a 32-byte run: the low nibble of byte v for v < 32, else the high
 * one of byte v - 32 (a group's 4-bit scale fields, v = 4s + i for row i's of sub-block
 * s); put into zeroed bytes. */
static void put_nibble(uint8_t *run, int v, int u) { run[v % 32] |= (uint8_t)((u & 15) << (4 * (v / 32))); }
static int get_nibble(const uint8_t *run, int v) { return run[v % 32] >> (4 * (v / 32)) & 15; }

static void pack_q3_K(const uint8_t *rows, size_t row_bytes, size_t block_off, uint8_t *dst) {
    memset(dst, 0, GROUP * sizeof(pl_block_q3_K));
    for (int i = 0; i < GROUP; i++) {
        pl_block_q3_K blk;
        memcpy(&blk, rows + i * row_bytes + block_off, sizeof blk);
        memcpy(dst + Q3K_D + 2 * i, &blk.d, 2);
        int8_t sc[16];
        pl_q3_K_scales(blk.scales, sc);
        for (int s = 0; s < 16; s++) {
            int v = 4 * s + i, u = sc[s] + 32;
            put_nibble(dst + Q3K_LO, v, u);
            dst[Q3K_HI + v % 16] |= (uint8_t)((u >> 4) << (2 * (v / 16)));
        }
        move_fields((const uint8_t *)&blk, q3_K_place, dst, q3_K_group_place, i, 3, 1);
    }
}

static void unpack_q3_K(const uint8_t *gb, int i, pl_block_q3_K *blk) {
    memset(blk, 0, sizeof *blk);
    memcpy(&blk->d, gb + Q3K_D + 2 * i, 2);
    for (int s = 0; s < 16; s++) {   /* the packing pl_q3_K_scales reads */
        int v = 4 * s + i;
        int u = get_nibble(gb + Q3K_LO, v) | (gb[Q3K_HI + v % 16] >> (2 * (v / 16)) & 3) << 4;
        blk->scales[s % 8] |= (uint8_t)((u & 15) << (4 * (s / 8)));
        blk->scales[8 + s % 4] |= (uint8_t)((u >> 4) << (2 * (s / 4)));
    }
    move_fields(gb, q3_K_group_place, (uint8_t *)blk, q3_K_place, i, 3, 1);
}

/* A Q2_K group super-block (4 x 84 = 336 bytes): the rows' d and dmin (halves); their 16
 * 4-bit sub-block scales in SC and mins in MN, as put_nibble lays them out (the low bits
 * of Q3_K's scales go the same way); then per block j of 32 the 4 rows' quants as Q3_K's
 * two planes of low 2 bits. */
enum { Q2K_D = 0, Q2K_DMIN = 8, Q2K_SC = 16, Q2K_MN = 48, Q2K_QS = 80, Q2K_BLOCK = 32 };

/* Q2_K has only the low 2 bits (no high field: moved with mask 0). */
static void q2_K_place(int i, int e, int *lo, int *lo_shift, int *hi, int *hi_shift) {
    (void)i;
    low2_place((int)offsetof(pl_block_q2_K, qs), e, lo, lo_shift);
    *hi = *hi_shift = 0;
}

static void q2_K_group_place(int i, int e, int *lo, int *lo_shift, int *hi, int *hi_shift) {
    low2_group_place(Q2K_QS, Q2K_BLOCK, i, e, lo, lo_shift);
    *hi = *hi_shift = 0;
}

static void pack_q2_K(const uint8_t *rows, size_t row_bytes, size_t block_off, uint8_t *dst) {
    memset(dst, 0, GROUP * sizeof(pl_block_q2_K));
    for (int i = 0; i < GROUP; i++) {
        pl_block_q2_K blk;
        memcpy(&blk, rows + i * row_bytes + block_off, sizeof blk);
        memcpy(dst + Q2K_D + 2 * i, &blk.d, 2);
        memcpy(dst + Q2K_DMIN + 2 * i, &blk.dmin, 2);
        for (int s = 0; s < 16; s++) {
            put_nibble(dst + Q2K_SC, 4 * s + i, blk.scales[s] & 15);
            put_nibble(dst + Q2K_MN, 4 * s + i, blk.scales[s] >> 4);
        }
        move_fields((const uint8_t *)&blk, q2_K_place, dst, q2_K_group_place, i, 3, 0);
    }
}

static void unpack_q2_K(const uint8_t *gb, int i, pl_block_q2_K *blk) {
    memset(blk, 0, sizeof *blk);
    memcpy(&blk->d, gb + Q2K_D + 2 * i, 2);
    memcpy(&blk->dmin, gb + Q2K_DMIN + 2 * i, 2);
    for (int s = 0; s < 16; s++)
        blk->scales[s] = (uint8_t)(get_nibble(gb + Q2K_SC, 4 * s + i) | get_nibble(gb + Q2K_MN, 4 * s + i) << 4);
    move_fields(gb, q2_K_group_place, (uint8_t *)blk, q2_K_place, i, 3, 0);
}

/* The K types' groups are super-blocks of their own layout; their kernels convert any
 * half (once per super-block), so their scales need no scale_shift. */
static int k_group(uint32_t type) { return type >= PL_TYPE_Q2_K && type <= PL_TYPE_Q6_K; }

typedef void (*k_pack)(const uint8_t *rows, size_t row_bytes, size_t block_off, uint8_t *dst);
static const k_pack k_packs[] = {pack_q2_K, pack_q3_K, pack_q4_K, pack_q5_K, pack_q6_K};
_Static_assert(PL_TYPE_Q6_K - PL_TYPE_Q2_K == 4, "the K types' ids are Q2_K .. Q6_K in a row");

/* Interleaves the 4 plain rows in `rows` into group block order at dst. */
static void interleave(uint32_t type, const uint8_t *rows, uint8_t *dst, size_t row_bytes, int n_blocks) {
    int elems, block;
    pl_type_block(type, &elems, &block);
    for (int b = 0; b < n_blocks; b++, dst += GROUP * block) {
        if (k_group(type)) {
            k_packs[type - PL_TYPE_Q2_K](rows, row_bytes, (size_t)b * block, dst);
            continue;
        }
        for (int i = 0; i < GROUP; i++) memcpy(dst + 2 * i, rows + i * row_bytes + (size_t)b * block, 2);
        pack_quants(type, rows, row_bytes, (size_t)b * block, dst + 2 * GROUP);
    }
}

/* 2^e as a float, for -126 <= e <= 127. */
static float pow2(int e) {
    union { uint32_t u; float f; } v = {(uint32_t)(e + 127) << 23};
    return v.f;
}

/* A finite half times 2^e, as a half (exact when the result is one). */
static uint16_t half_times_pow2(uint16_t h, int e) {
    return pl_f32_to_f16(pl_f16_to_f32_finite(h) * pow2(e));
}

/* floor(log2 |h|) of a nonzero half; above 15 for infinities and NaNs. */
static int half_exponent(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 0x3ff;
    if (e) return e - 15 + (e == 31);
    int k = -25;   /* a subnormal is m·2^-24 */
    for (; m; m >>= 1) k++;
    return k;
}

/* The power of two that makes every nonzero block scale of the grouped rows a normal half
 * (2^-14 and up) without passing the largest half; -1 when there is none. A block begins
 * with `halves` of them (Q4_1, Q5_1: d and m, which the kernels convert alike). */
static int scale_shift(const uint8_t *data, size_t grouped_bytes, int block, int halves) {
    int lo = 16, hi = -25;
    for (size_t off = 0; off < grouped_bytes; off += (size_t)block)
        for (int k = 0; k < halves; k++) {
            uint16_t h;
            memcpy(&h, data + off + 2 * k, 2);
            if ((h & 0x7fff) == 0) continue;
            int e = half_exponent(h);
            if (e < lo) lo = e;
            if (e > hi) hi = e;
        }
    int shift = lo < -14 ? -14 - lo : 0;
    return hi + shift <= 15 ? shift : -1;
}

/* Those halves of the grouped rows times 2^shift (exact: the results are halves). */
static void rescale(uint8_t *data, size_t grouped_bytes, int block, int halves, int shift) {
    for (size_t off = 0; off < grouped_bytes; off += (size_t)block)
        for (int k = 0; k < halves; k++) {
            uint16_t h;
            memcpy(&h, data + off + 2 * k, 2);
            h = half_times_pow2(h, shift);
            memcpy(data + off + 2 * k, &h, 2);
        }
}

int pl_repack_x4(pl_tensor *t) {
    int cols = (int)t->ne[0], rows = (int)t->ne[1], elems, block;
    if (t->layout != PL_LAYOUT_ROWS || !pl_x4_kernel(t->type, 0) || rows < GROUP) return 0;
    pl_type_block(t->type, &elems, &block);
    size_t row_bytes = pl_row_bytes(t->type, cols), grouped = (size_t)(rows / GROUP) * GROUP * row_bytes;
    uint8_t *data = (uint8_t *)t->data;   /* the model's own buffer */
    int halves = 1 + has_min(t->type), shift = k_group(t->type) ? 0 : scale_shift(data, grouped, block, halves);
    uint8_t *rows4 = shift < 0 ? NULL : malloc(GROUP * row_bytes);
    if (!rows4) return 0;   /* the plain layout works too, only slower */
    if (shift) rescale(data, grouped, block, halves, shift);
    for (size_t off = 0; off < grouped; off += GROUP * row_bytes) {
        memcpy(rows4, data + off, GROUP * row_bytes);
        interleave(t->type, rows4, data + off, row_bytes, cols / elems);
    }
    free(rows4);
    t->layout = PL_LAYOUT_X4;
    t->scale_shift = shift;
    return 1;
}

void pl_x4_get_row(float *out, const pl_tensor *t, int r) {
    int cols = (int)t->ne[0], elems, block;
    pl_type_block(t->type, &elems, &block);
    size_t row_bytes = pl_row_bytes(t->type, cols);
    const uint8_t *src = (const uint8_t *)t->data + (size_t)r * row_bytes;
    if (r >= (int)t->ne[1] / GROUP * GROUP) {   /* a row past the groups: plain */
        pl_dequantize_row(t->type, src, out, cols);
        return;
    }
    int i = r % GROUP;
    const uint8_t *gb = src - (size_t)i * row_bytes;   /* the group's first block */
    for (int b = 0; b < cols / elems; b++, gb += GROUP * block) {
        union {   /* block b of row r as the file had it */
            pl_block_q2_K q2_K;
            pl_block_q3_K q3_K;
            pl_block_q4_K q4_K;
            pl_block_q5_K q5_K;
            pl_block_q6_K q6_K;
            uint8_t bytes[2 + PL_QK];
        } plain;
        if (t->type == PL_TYPE_Q2_K) {
            unpack_q2_K(gb, i, &plain.q2_K);
        } else if (t->type == PL_TYPE_Q3_K) {
            unpack_q3_K(gb, i, &plain.q3_K);
        } else if (t->type == PL_TYPE_Q4_K) {
            unpack_q4_K(gb, i, &plain.q4_K);
        } else if (t->type == PL_TYPE_Q5_K) {
            unpack_q5_K(gb, i, &plain.q5_K);
        } else if (t->type == PL_TYPE_Q6_K) {
            unpack_q6_K(gb, i, &plain.q6_K);
        } else {
            unpack_quants(t->type, gb + 2 * GROUP, i, plain.bytes + 2);
            memcpy(plain.bytes, gb + 2 * i, 2);
            for (int k = 0; k < 1 + has_min(t->type); k++) {   /* d (and m) as the file had them */
                uint16_t h;
                memcpy(&h, plain.bytes + 2 * k, 2);
                h = half_times_pow2(h, -t->scale_shift);
                memcpy(plain.bytes + 2 * k, &h, 2);
            }
        }
        pl_dequantize_row(t->type, &plain, out + b * elems, elems);
    }
}

/* --- scalar ------------------------------------------------------------------------- */

/* Row i's quants in a group block (after the scales; Q4_1, Q5_1: after the offsets) as
 * int8 values. */
static void unpack_q8_0(const uint8_t *quants, int i, int8_t *q) { memcpy(q, quants + i * PL_QK, PL_QK); }
static void unpack_q4_0(const uint8_t *quants, int i, int8_t *q) {
    uint8_t u[PL_QK];
    unpack_nibbles(quants + i * PL_QK / 2, u);
    for (int l = 0; l < PL_QK; l++) q[l] = (int8_t)(u[l] - 8);
}
static void unpack_q5_0(const uint8_t *quants, int i, int8_t *q) {
    uint8_t u[PL_QK];
    get_q5_row(quants, i, u);
    for (int l = 0; l < PL_QK; l++) q[l] = (int8_t)(u[l] - 16);
}
static void unpack_q4_1(const uint8_t *quants, int i, int8_t *q) {   /* after the rows' m */
    unpack_nibbles(quants + 2 * GROUP + i * PL_QK / 2, (uint8_t *)q);
}
static void unpack_q5_1(const uint8_t *quants, int i, int8_t *q) { get_q5_row(quants + 2 * GROUP, i, (uint8_t *)q); }

/* As the row kernels (kernels_quant.c): block results summed, then for Q4_1/Q5_1 (MIN)
 * the offsets m·s, summed apart. */
#define DEFINE_SCALAR_X4(name, QS, UNPACK, MIN)                                                 \
    static void name(const void *group, const void *x, size_t x_row_bytes, int n_tok, int cols, \
                     float *y, int ldy, int shift) {                                            \
        int stride = GROUP * (2 + QS);                                                          \
        float unscale = pow2(-shift);                                                           \
        for (int t = 0; t < n_tok; t++) {                                                       \
            const pl_act_block *xb = pl_act_row(x, x_row_bytes, t);                             \
            for (int i = 0; i < GROUP; i++) {                                                   \
                const uint8_t *gb = group;                                                      \
                float sum = 0, msum = 0;                                                        \
                for (int b = 0; b < cols / PL_QK; b++, gb += stride) {                          \
                    int8_t q[PL_QK];                                                            \
                    uint16_t d, m;                                                              \
                    memcpy(&d, gb + 2 * i, 2);                                                  \
                    UNPACK(gb + 2 * GROUP, i, q);                                               \
                    float dw = pl_f16_to_f32_finite(d) * unscale;   /* the file's scale */      \
                    sum += (float)pl_act_dot(q, xb[b].q) * (dw * xb[b].d);                      \
                    if (MIN) {                                                                  \
                        memcpy(&m, gb + 2 * GROUP + 2 * i, 2);                                  \
                        msum += pl_f16_to_f32_finite(m) * unscale * xb[b].s;                    \
                    }                                                                           \
                }                                                                               \
                y[(size_t)t * ldy + i] = MIN ? sum + msum : sum;                                \
            }                                                                                   \
        }                                                                                       \
    }

DEFINE_SCALAR_X4(group_q8_0, PL_QK, unpack_q8_0, 0)
DEFINE_SCALAR_X4(group_q4_0, PL_QK / 2, unpack_q4_0, 0)
DEFINE_SCALAR_X4(group_q5_0, 4 + PL_QK / 2, unpack_q5_0, 0)
DEFINE_SCALAR_X4(group_q4_1, 2 + PL_QK / 2, unpack_q4_1, 1)
DEFINE_SCALAR_X4(group_q5_1, 2 + 4 + PL_QK / 2, unpack_q5_1, 1)

/* Q2_K .. Q6_K: each row's super-blocks back in the file's form, through the row
 * kernel's arithmetic (pl_kq_superblock), so the results are its bits. Rows outside, so
 * that a block is rebuilt once for up to K_TOKENS tokens: their sums are carried in y,
 * their mins terms beside it. */
#define K_TOKENS 64
#define DEFINE_SCALAR_K_GROUP(name, TYPE, BLOCK, UNPACK)                                          \
    static void name(const void *group, const void *x, size_t x_row_bytes, int n_tok, int cols,   \
                     float *y, int ldy, int shift) {                                              \
        (void)shift;                                                                              \
        for (int t0 = 0; t0 < n_tok; t0 += K_TOKENS) {                                            \
            int nt = n_tok - t0 < K_TOKENS ? n_tok - t0 : K_TOKENS;                               \
            for (int i = 0; i < GROUP; i++) {                                                     \
                float msum[K_TOKENS] = {0};                                                       \
                for (int t = 0; t < nt; t++) y[(size_t)(t0 + t) * ldy + i] = 0;                   \
                const uint8_t *gb = group;                                                        \
                for (int sb = 0; sb < cols / PL_QK_K; sb++, gb += GROUP * sizeof(BLOCK)) {        \
                    BLOCK blk;                                                                    \
                    UNPACK(gb, i, &blk);                                                          \
                    for (int t = 0; t < nt; t++)                                                  \
                        pl_kq_superblock(TYPE, &blk, pl_act_row(x, x_row_bytes, t0 + t) + K_SUB * sb, \
                                         &y[(size_t)(t0 + t) * ldy + i], &msum[t]);               \
                }                                                                                 \
                for (int t = 0; t < nt; t++) y[(size_t)(t0 + t) * ldy + i] -= msum[t];            \
            }                                                                                     \
        }                                                                                         \
    }

DEFINE_SCALAR_K_GROUP(group_q2_K, PL_TYPE_Q2_K, pl_block_q2_K, unpack_q2_K)
DEFINE_SCALAR_K_GROUP(group_q3_K, PL_TYPE_Q3_K, pl_block_q3_K, unpack_q3_K)
DEFINE_SCALAR_K_GROUP(group_q4_K, PL_TYPE_Q4_K, pl_block_q4_K, unpack_q4_K)
DEFINE_SCALAR_K_GROUP(group_q5_K, PL_TYPE_Q5_K, pl_block_q5_K, unpack_q5_K)
DEFINE_SCALAR_K_GROUP(group_q6_K, PL_TYPE_Q6_K, pl_block_q6_K, unpack_q6_K)

/* --- SIMD128 ------------------------------------------------------------------------ */
#ifdef __wasm_simd128__

/* log2 of the factor the SIMD kernels' Q4_0 quants carry (see the top). */
#define Q4_0_UNIT 12

/* Row i's block of quants as four int16 vectors (elements 0..7, 8..15, 16..23, 24..31).
 * Q8_0: the bytes widened. Q4_0: the 16-bit lanes' four nibbles (see the top), the middle
 * two flipped to XOR 8 as well, each moved to the top of the lane: (q - 8)·4096. Q5_0:
 * q - 16. */
static inline void unpack16_q8_0(const uint8_t *quants, int i, v128_t w16[4]) {
    const v128_t w[2] = {wasm_v128_load(quants + i * PL_QK), wasm_v128_load(quants + i * PL_QK + 16)};
    pl_widen_i8x32(w, w16);
}

static inline void unpack16_q4_0(const uint8_t *quants, int i, v128_t w16[4]) {
    v128_t v = wasm_v128_xor(wasm_v128_load(quants + i * PL_QK / 2), wasm_i16x8_splat(0x0880)),
           top = wasm_i16x8_splat((int16_t)0xf000);
    w16[0] = wasm_i16x8_shl(v, 12);
    w16[1] = wasm_v128_and(wasm_i16x8_shl(v, 4), top);
    w16[2] = wasm_v128_and(wasm_i16x8_shl(v, 8), top);
    w16[3] = wasm_v128_and(v, top);
}

/* Q5_0 row i's quants of one half (elements 16·half ..), as the file's unsigned quants
 * 0..31 in bytes: the nibbles, and the fifth bits from the plane shifted right by half
 * (bit 2i of each byte is then row i's: the bit a 16-bit shift moves between bytes lands
 * on bit 7, never read) moved to bit 4 (see the top). */
static inline v128_t q5_half(const uint8_t *quants, v128_t plane, int i, int half) {
    const v128_t low4 = wasm_i8x16_splat(15), bit4 = wasm_i8x16_splat(16);
    v128_t nib = wasm_v128_and(wasm_u16x8_shr(wasm_v128_load(quants + Q5_PLANE + i * PL_QK / 2), 4 * half), low4);
    v128_t fifth = 2 * i < 4 ? wasm_i16x8_shl(plane, 4 - 2 * i) : wasm_u16x8_shr(plane, 2 * i - 4);
    return wasm_v128_or(nib, wasm_v128_and(fifth, bit4));
}

/* Row i's quants minus zero (Q5_0: 16; Q5_K: 0) as four int16 vectors. */
static inline void unpack16_q5(const uint8_t *quants, int i, int zero, v128_t w16[4]) {
    v128_t plane = wasm_v128_load(quants), bias = wasm_i8x16_splat((int8_t)zero);
    const v128_t w[2] = {wasm_i8x16_sub(q5_half(quants, plane, i, 0), bias),
                         wasm_i8x16_sub(q5_half(quants, wasm_u16x8_shr(plane, 1), i, 1), bias)};
    pl_widen_i8x32(w, w16);
}

static inline void unpack16_q5_0(const uint8_t *quants, int i, v128_t w16[4]) { unpack16_q5(quants, i, 16, w16); }

/* Q4_1, Q5_1: their quants (after the rows' m) as Q4_0's and Q5_0's, the zero point 8 or
 * 16 taken off too (group_offsets adds it back). */
static inline void unpack16_q4_1(const uint8_t *quants, int i, v128_t w16[4]) {
    unpack16_q4_0(quants + 2 * GROUP, i, w16);
}
static inline void unpack16_q5_1(const uint8_t *quants, int i, v128_t w16[4]) {
    unpack16_q5_0(quants + 2 * GROUP, i, w16);
}

/* The 4 rows' scales (or Q4_1/Q5_1 offsets) of a group block as floats (normal halves or
 * zeros, see the top): the sign-extended halves shifted into a float's sign, exponent and
 * fraction, times fix = 2^(112 - scale_shift), times 2^-12 more for Q4_0 and Q4_1. */
static inline v128_t group_scales(const uint8_t *gb, v128_t fix) {
    v128_t bits = wasm_i32x4_shl(wasm_i32x4_load16x4(gb), 13);
    return wasm_f32x4_mul(wasm_v128_and(bits, wasm_i32x4_splat((int32_t)0x8fffe000)), fix);
}

/* The 4 rows' integer sums over one block of nibbles (quants: the rows' 16 bytes each, as
 * pack_nibbles leaves them) with one token's activation block, in units of 4096, each
 * nibble counted as q - 8: 4 steps (3 of them a loop, so that V8 does not hoist and spill
 * the loads), each masking one nibble of every 16-bit lane in place, the top one first,
 * against the activations that bring it to units of 4096 (see the top): elements 24..31,
 * then from xm elements 8..15 times 16 and 16..23 times 256; then the lowest nibble,
 * shifted up, with elements 0..7. The middle nibbles' zero points come off as
 * 8·4096·sum_mid. */
static inline v128_t nibble_sums(const uint8_t *quants, const pl_act_block *xb, const pl_act_mid *xm) {
    v128_t v0 = wasm_v128_load(quants), v1 = wasm_v128_load(quants + 16), v2 = wasm_v128_load(quants + 32),
           v3 = wasm_v128_load(quants + 48), mask = wasm_i16x8_splat((int16_t)0xf000);
    v128_t a = wasm_v128_load(xb->q + 24);
    v128_t s0 = wasm_i32x4_dot_i16x8(wasm_v128_and(v0, mask), a);
    v128_t s1 = wasm_i32x4_dot_i16x8(wasm_v128_and(v1, mask), a);
    v128_t s2 = wasm_i32x4_dot_i16x8(wasm_v128_and(v2, mask), a);
    v128_t s3 = wasm_i32x4_dot_i16x8(wasm_v128_and(v3, mask), a);
#pragma clang loop unroll(disable)
    for (int j = 1; j < 3; j++) {
        mask = wasm_u16x8_shr(mask, 4);
        a = wasm_v128_load(xm->q + 8 * (j - 1));
        s0 = wasm_i32x4_add(s0, wasm_i32x4_dot_i16x8(wasm_v128_and(v0, mask), a));
        s1 = wasm_i32x4_add(s1, wasm_i32x4_dot_i16x8(wasm_v128_and(v1, mask), a));
        s2 = wasm_i32x4_add(s2, wasm_i32x4_dot_i16x8(wasm_v128_and(v2, mask), a));
        s3 = wasm_i32x4_add(s3, wasm_i32x4_dot_i16x8(wasm_v128_and(v3, mask), a));
    }
    a = wasm_v128_load(xb->q);
    s0 = wasm_i32x4_add(s0, wasm_i32x4_dot_i16x8(wasm_i16x8_shl(v0, 12), a));
    s1 = wasm_i32x4_add(s1, wasm_i32x4_dot_i16x8(wasm_i16x8_shl(v1, 12), a));
    s2 = wasm_i32x4_add(s2, wasm_i32x4_dot_i16x8(wasm_i16x8_shl(v2, 12), a));
    s3 = wasm_i32x4_add(s3, wasm_i32x4_dot_i16x8(wasm_i16x8_shl(v3, 12), a));
    return wasm_i32x4_sub(pl_transpose_sum_i32x4(s0, s1, s2, s3), wasm_i32x4_splat(8 * 4096 * xm->sum_mid));
}

/* The 4 rows' offsets m of a Q4_1/Q5_1 group block (converted as group_scales converts
 * them, into units of 2^unit) plus zero times their scales d (group_scales'), in real units:
 * the offsets of weights taken as d·(q - zero). */
static inline v128_t group_offsets(const uint8_t *gb, v128_t fix, v128_t d, int zero, int unit) {
    v128_t m = group_scales(gb + 2 * GROUP, fix);
    if (zero) m = wasm_f32x4_add(m, wasm_f32x4_mul(d, wasm_f32x4_splat((float)zero)));
    return unit ? wasm_f32x4_mul(m, wasm_f32x4_splat(pow2(unit))) : m;
}

/* acc + 4 rows' integer block sums times their scales d and the activations' scale. */
static inline v128_t group_block_sum(v128_t acc, v128_t isum, v128_t d, const pl_act_block *xb) {
    return wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_mul(d, wasm_f32x4_splat(xb->d))));
}

/* acc + the 4 Q4_0 rows' sums over one group block with one token's activation block. */
static inline v128_t group_block_q4_0(v128_t acc, const uint8_t *gb, const pl_act_block *xb,
                                      const pl_act_mid *xm, v128_t fix) {
    return group_block_sum(acc, nibble_sums(gb + 2 * GROUP, xb, xm), group_scales(gb, fix), xb);
}

/* The same for Q4_1: its nibbles' sums as Q4_0's (q - 8), the offsets m + 8d times Σx. */
static inline v128_t group_block_q4_1(v128_t acc, const uint8_t *gb, const pl_act_block *xb,
                                      const pl_act_mid *xm, v128_t fix) {
    v128_t d = group_scales(gb, fix);
    acc = group_block_sum(acc, nibble_sums(gb + 4 * GROUP, xb, xm), d, xb);
    return wasm_f32x4_add(acc, wasm_f32x4_mul(group_offsets(gb, fix, d, 8, Q4_0_UNIT), wasm_f32x4_splat(xb->s)));
}

/* The same for Q8_0 (which needs no pl_act_mid): step j widens elements 8j..8j+7 of each
 * row in its load. */
static inline v128_t group_block_q8_0(v128_t acc, const uint8_t *gb, const pl_act_block *xb,
                                      const pl_act_mid *xm, v128_t fix) {
    (void)xm;
    const uint8_t *qs = gb + 2 * GROUP;
    v128_t a = wasm_v128_load(xb->q);
    v128_t s0 = wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(qs), a);
    v128_t s1 = wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(qs + 32), a);
    v128_t s2 = wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(qs + 64), a);
    v128_t s3 = wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(qs + 96), a);
#pragma clang loop unroll(disable)
    for (int j = 1; j < 4; j++) {
        a = wasm_v128_load(xb->q + 8 * j);
        s0 = wasm_i32x4_add(s0, wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(qs + 8 * j), a));
        s1 = wasm_i32x4_add(s1, wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(qs + 32 + 8 * j), a));
        s2 = wasm_i32x4_add(s2, wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(qs + 64 + 8 * j), a));
        s3 = wasm_i32x4_add(s3, wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(qs + 96 + 8 * j), a));
    }
    return group_block_sum(acc, pl_transpose_sum_i32x4(s0, s1, s2, s3), group_scales(gb, fix), xb);
}

/* Σ w·x over 16 int8 weights and their int16 activations (a_lo, a_hi): 4 partial sums. */
static inline v128_t dot_i8x16(v128_t w, v128_t a_lo, v128_t a_hi) {
    return wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(w), a_lo),
                          wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(w), a_hi));
}

static inline v128_t q5_dot(const uint8_t *quants, v128_t plane, int i, int half, v128_t a_lo, v128_t a_hi) {
    return dot_i8x16(q5_half(quants, plane, i, half), a_lo, a_hi);
}

/* The 4 rows' Σ q·x over a block of 5-bit quants laid out as a Q5_0 group block's
 * (quants: its plane, then the rows' nibble bytes), q unsigned (0..31): each row's bytes
 * of a half (q5_half) widened against the half's activations. The halves are written
 * out: a loop over them would shift by a variable amount, which clang turns into
 * lane-by-lane code. */
static inline v128_t q5_sums(const uint8_t *quants, const pl_act_block *xb) {
    v128_t plane = wasm_v128_load(quants), a_lo = wasm_v128_load(xb->q), a_hi = wasm_v128_load(xb->q + 8);
    v128_t s0 = q5_dot(quants, plane, 0, 0, a_lo, a_hi), s1 = q5_dot(quants, plane, 1, 0, a_lo, a_hi),
           s2 = q5_dot(quants, plane, 2, 0, a_lo, a_hi), s3 = q5_dot(quants, plane, 3, 0, a_lo, a_hi);
    plane = wasm_u16x8_shr(plane, 1);
    a_lo = wasm_v128_load(xb->q + 16);
    a_hi = wasm_v128_load(xb->q + 24);
    s0 = wasm_i32x4_add(s0, q5_dot(quants, plane, 0, 1, a_lo, a_hi));
    s1 = wasm_i32x4_add(s1, q5_dot(quants, plane, 1, 1, a_lo, a_hi));
    s2 = wasm_i32x4_add(s2, q5_dot(quants, plane, 2, 1, a_lo, a_hi));
    s3 = wasm_i32x4_add(s3, q5_dot(quants, plane, 3, 1, a_lo, a_hi));
    return pl_transpose_sum_i32x4(s0, s1, s2, s3);
}

/* The same for Q5_0 (as group_block_q4_0): the zero point 16 comes off the 4 rows' sums
 * at once. */
static inline v128_t group_block_q5_0(v128_t acc, const uint8_t *gb, const pl_act_block *xb,
                                      const pl_act_mid *xm, v128_t fix) {
    (void)xm;
    v128_t isum = wasm_i32x4_sub(q5_sums(gb + 2 * GROUP, xb), wasm_i32x4_splat(16 * xb->sum));
    return group_block_sum(acc, isum, group_scales(gb, fix), xb);
}

/* And Q5_1: the unsigned quants' sums, the offsets m times Σx. */
static inline v128_t group_block_q5_1(v128_t acc, const uint8_t *gb, const pl_act_block *xb,
                                      const pl_act_mid *xm, v128_t fix) {
    (void)xm;
    v128_t d = group_scales(gb, fix);
    acc = group_block_sum(acc, q5_sums(gb + 4 * GROUP, xb), d, xb);
    return wasm_f32x4_add(acc, wasm_f32x4_mul(group_offsets(gb, fix, d, 0, 0), wasm_f32x4_splat(xb->s)));
}

/* Prompt tokens (see the top) read a group's weights from a panel on the stack: up to
 * PANEL_BLOCKS blocks of the group's 4 rows unpacked to int16, in element order, once for
 * all token pairs, so the tile's inner loop loads weight vectors as they are. */
#define PANEL_BLOCKS 64   /* 64 blocks x 4 rows x 32 int16: 16 KiB */

#define DEFINE_PANEL(name, QS, UNPACK)                                                          \
    static void name(const uint8_t *group, int b0, int n, int16_t *panel) {                     \
        const uint8_t *gb = group + (size_t)b0 * GROUP * (2 + QS);                              \
        for (int b = 0; b < n; b++, gb += GROUP * (2 + QS))                                     \
            _Pragma("clang loop unroll(full)") /* constant rows: Q5_0's shifts */               \
            for (int i = 0; i < GROUP; i++) {                                                   \
                v128_t w16[4];                                                                  \
                UNPACK(gb + 2 * GROUP, i, w16);                                                 \
                for (int k = 0; k < 4; k++)                                                     \
                    wasm_v128_store(panel + (b * GROUP + i) * PL_QK + 8 * k, w16[k]);           \
            }                                                                                   \
    }

/* Four or more tokens go two at a time through the 4 rows (kernels_tile.h's 4 x 2 tile),
 * PANEL_BLOCKS blocks at a time, each pair's sums carried in y from one run of blocks to
 * the next (stored and reloaded floats: the same additions in the same order); Q4_1's and
 * Q5_1's panels hold q - ZERO, their offsets m + ZERO·d. A last odd token, or fewer than
 * 4, takes the 4 rows alone, with two accumulators over alternate blocks. */
#define DEFINE_SIMD_X4(name, QS, UNIT, GROUP_BLOCK, PANEL, ZERO)                                \
    static void name(const void *group, const void *x, size_t x_row_bytes, int n_tok, int cols, \
                     float *y, int ldy, int shift) {                                            \
        const int stride = GROUP * (2 + QS), n_blocks = cols / PL_QK;                           \
        const v128_t fix = wasm_f32x4_splat(pow2(112 - shift - UNIT));   /* quants times 2^UNIT */ \
        int16_t panel[PANEL_BLOCKS * GROUP * PL_QK];                                            \
        v128_t d4[PANEL_BLOCKS], m4[PANEL_BLOCKS];                                              \
        int paired = n_tok >= 4 ? n_tok & ~1 : 0;   /* fewer: the panel costs more than it saves */ \
        for (int b0 = 0; paired && b0 < n_blocks; b0 += PANEL_BLOCKS) {                         \
            int n = n_blocks - b0 < PANEL_BLOCKS ? n_blocks - b0 : PANEL_BLOCKS;                \
            PANEL((const uint8_t *)group, b0, n, panel);                                        \
            for (int b = 0; b < n; b++) {                                                       \
                const uint8_t *gb = (const uint8_t *)group + (size_t)(b0 + b) * stride;         \
                d4[b] = group_scales(gb, fix);                                                  \
                if (ZERO) m4[b] = group_offsets(gb, fix, d4[b], ZERO, UNIT);                    \
            }                                                                                   \
            pl_tile_pairs(panel, d4, ZERO ? m4 : NULL, n, x, x_row_bytes, b0, b0 > 0, paired, y, ldy); \
        }                                                                                       \
        for (int t = paired; t < n_tok; t++) {                                                  \
            const pl_act_block *xb = pl_act_row(x, x_row_bytes, t);                             \
            const pl_act_mid *xm = pl_act_mids(xb, cols);                                       \
            /* two accumulators, named: an indexed pair would live in memory */                 \
            v128_t acc0 = wasm_f32x4_splat(0), acc1 = acc0;                                     \
            const uint8_t *gb = group;                                                          \
            int b = 0;                                                                          \
            for (; b + 2 <= n_blocks; b += 2, gb += 2 * stride) {                               \
                acc0 = GROUP_BLOCK(acc0, gb, &xb[b], &xm[b], fix);                              \
                acc1 = GROUP_BLOCK(acc1, gb + stride, &xb[b + 1], &xm[b + 1], fix);             \
            }                                                                                   \
            if (b < n_blocks) acc0 = GROUP_BLOCK(acc0, gb, &xb[b], &xm[b], fix);                \
            wasm_v128_store(y + (size_t)t * ldy, wasm_f32x4_add(acc0, acc1));                   \
        }                                                                                       \
    }

DEFINE_PANEL(panel_q8_0, PL_QK, unpack16_q8_0)
DEFINE_PANEL(panel_q4_0, PL_QK / 2, unpack16_q4_0)
DEFINE_PANEL(panel_q5_0, 4 + PL_QK / 2, unpack16_q5_0)
DEFINE_PANEL(panel_q4_1, 2 + PL_QK / 2, unpack16_q4_1)
DEFINE_PANEL(panel_q5_1, 2 + 4 + PL_QK / 2, unpack16_q5_1)
DEFINE_SIMD_X4(group_q8_0_simd, PL_QK, 0, group_block_q8_0, panel_q8_0, 0)
DEFINE_SIMD_X4(group_q4_0_simd, PL_QK / 2, Q4_0_UNIT, group_block_q4_0, panel_q4_0, 0)
DEFINE_SIMD_X4(group_q5_0_simd, 4 + PL_QK / 2, 0, group_block_q5_0, panel_q5_0, 0)
DEFINE_SIMD_X4(group_q4_1_simd, 2 + PL_QK / 2, Q4_0_UNIT, group_block_q4_1, panel_q4_1, 8)
DEFINE_SIMD_X4(group_q5_1_simd, 2 + 4 + PL_QK / 2, 0, group_block_q5_1, panel_q5_1, 16)

/* K types (Q2_K .. Q6_K) --------------------------------------------------------------- */

/* A K group super-block's scales (the 4 rows' in lanes): d as floats (any half); for Q2_K
 * .. Q5_K, sc[s] as int32, and for Q2_K, Q4_K and Q5_K -dmin·mn[s] as floats. The re-laid
 * fields (pack_k_scales, put_nibble) come out with 16-bit shifts and masks that keep each
 * byte's bits within it. */
typedef struct {
    v128_t d, sc[16], m[16];   /* 8 sub-blocks (Q4_K, Q5_K) or 16 (Q2_K, Q3_K) */
} k_scales;

/* The 64 nibbles of a 32-byte run (put_nibble) as bytes: v[k] holds nibbles 16k .. 16k+15,
 * the 4 rows' of sub-blocks 4k .. 4k+3. */
static inline void nibble_run(const uint8_t *run, v128_t v[4]) {
    const v128_t low4 = wasm_i8x16_splat(15);
    v128_t l0 = wasm_v128_load(run), l1 = wasm_v128_load(run + 16);
    v[0] = wasm_v128_and(l0, low4);
    v[1] = wasm_v128_and(l1, low4);
    v[2] = wasm_v128_and(wasm_u16x8_shr(l0, 4), low4);
    v[3] = wasm_v128_and(wasm_u16x8_shr(l1, 4), low4);
}

/* -dmin times integer mins 0..63 in int32 lanes, through 2^23's mantissa:
 * f32x4.convert_i32x4 of these lanes came out lane by lane from clang. */
static inline v128_t k_min(v128_t neg_dmin, v128_t mn) {
    return wasm_f32x4_mul(neg_dmin, wasm_f32x4_sub(wasm_v128_or(mn, wasm_i32x4_splat(0x4b000000)), wasm_f32x4_splat(0x1p23f)));
}

static inline void q4k_widen_u8(v128_t v, v128_t out[4]) {
    v128_t lo = wasm_u16x8_extend_low_u8x16(v), hi = wasm_u16x8_extend_high_u8x16(v);
    out[0] = wasm_u32x4_extend_low_u16x8(lo);
    out[1] = wasm_u32x4_extend_high_u16x8(lo);
    out[2] = wasm_u32x4_extend_low_u16x8(hi);
    out[3] = wasm_u32x4_extend_high_u16x8(hi);
}

static inline void q4k_decode(const uint8_t *gb, k_scales *ks) {
    const v128_t low4 = wasm_i8x16_splat(15), bits45 = wasm_i8x16_splat(0x30);
    v128_t l = wasm_v128_load(gb + Q4K_SC_LO), m = wasm_v128_load(gb + Q4K_MN_LO), h = wasm_v128_load(gb + Q4K_HI);
    v128_t neg_dmin = wasm_f32x4_neg(pl_f16x4_to_f32x4(wasm_u32x4_load16x4(gb + Q4K_DMIN))), mn[K_SUB];
    ks->d = pl_f16x4_to_f32x4(wasm_u32x4_load16x4(gb + Q4K_D));
    q4k_widen_u8(wasm_v128_or(wasm_v128_and(l, low4), wasm_v128_and(wasm_i16x8_shl(h, 4), bits45)), ks->sc);
    q4k_widen_u8(wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(l, 4), low4), wasm_v128_and(wasm_i16x8_shl(h, 2), bits45)),
                 ks->sc + 4);
    q4k_widen_u8(wasm_v128_or(wasm_v128_and(m, low4), wasm_v128_and(h, bits45)), mn);
    q4k_widen_u8(wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(m, 4), low4), wasm_v128_and(wasm_u16x8_shr(h, 2), bits45)),
                 mn + 4);
    for (int s = 0; s < K_SUB; s++) ks->m[s] = k_min(neg_dmin, mn[s]);
}

/* The 4 rows' Σ q·x over sub-block s of a Q4_K group super-block: Q4_0's nibble sums,
 * which count q - 8 in units of 4096, plus 8·4096·Σx, out of those units (exactly); and
 * of a Q5_K one. */
static inline v128_t q4k_sums(const uint8_t *gb, int s, const pl_act_block *xb, const pl_act_mid *xm) {
    v128_t isum = nibble_sums(gb + Q4K_QS + s * GROUP * PL_QK / 2, xb, xm);
    return wasm_i32x4_shr(wasm_i32x4_add(isum, wasm_i32x4_splat(8 * 4096 * xb->sum)), 12);
}

static inline v128_t q5k_sums(const uint8_t *gb, int s, const pl_act_block *xb, const pl_act_mid *xm) {
    (void)xm;
    return q5_sums(gb + Q4K_QS + s * Q5K_SUB_BYTES, xb);
}

/* An int32 lane by a variable index (a constant one once inlined and unrolled). */
static inline int32_t lane_i32(v128_t v, int i) {
    int32_t a[4];
    wasm_v128_store(a, v);
    return a[i];
}

/* Row i's 32 weights of sub-block s times their scale, as int16, for a prompt panel. */
static inline void q4k_panel_row(const uint8_t *gb, const k_scales *ks, int s, int i, int16_t *out) {
    v128_t w16[4], sc = wasm_i16x8_splat((int16_t)lane_i32(ks->sc[s], i));
    unpack16_q4_0(gb + Q4K_QS + s * GROUP * PL_QK / 2, i, w16);   /* (q - 8)·4096 */
    for (int k = 0; k < 4; k++)
        wasm_v128_store(out + 8 * k, wasm_i16x8_mul(wasm_i16x8_add(wasm_i16x8_shr(w16[k], 12), wasm_i16x8_splat(8)), sc));
}

static inline void q5k_panel_row(const uint8_t *gb, const k_scales *ks, int s, int i, int16_t *out) {
    v128_t w16[4], sc = wasm_i16x8_splat((int16_t)lane_i32(ks->sc[s], i));
    unpack16_q5(gb + Q4K_QS + s * Q5K_SUB_BYTES, i, 0, w16);
    for (int k = 0; k < 4; k++) wasm_v128_store(out + 8 * k, wasm_i16x8_mul(w16[k], sc));
}

/* The 4 rows' Σ sc·q·x over sub-block s. */
static inline v128_t q4k_scaled(const uint8_t *gb, const k_scales *ks, int s, const pl_act_block *xb,
                                const pl_act_mid *xm) {
    return wasm_i32x4_mul(q4k_sums(gb, s, xb, xm), ks->sc[s]);
}

static inline v128_t q5k_scaled(const uint8_t *gb, const k_scales *ks, int s, const pl_act_block *xb,
                                const pl_act_mid *xm) {
    return wasm_i32x4_mul(q5k_sums(gb, s, xb, xm), ks->sc[s]);
}

/* Q6_K ---------------------------------------------------------------------------------- */

/* Row i's quants of one half (16 elements) of a Q6_K group block as bytes q - 32: its
 * nibbles (nib: the row's 16 bytes, already shifted right by 4 for the second half) and
 * the top 2 bits from its plane (already shifted right by 2 for the second half), moved
 * to bits 4..5 by a 16-bit shift that keeps them within their byte. */
static inline v128_t q6_half(v128_t nib, v128_t plane, int i) {
    v128_t top = i & 1 ? plane : wasm_i16x8_shl(plane, 4);
    v128_t q = wasm_v128_or(wasm_v128_and(nib, wasm_i8x16_splat(15)), wasm_v128_and(top, wasm_i8x16_splat(0x30)));
    return wasm_i8x16_sub(q, wasm_i8x16_splat(32));
}

/* Σ (q - 32)·x over row i's half against its 16 activations (a_lo, a_hi). */
static inline v128_t q6_dot(v128_t nib, v128_t plane, int i, v128_t a_lo, v128_t a_hi) {
    return dot_i8x16(q6_half(nib, plane, i), a_lo, a_hi);
}

/* The 4 rows' int8 scales of sub-block s as int32 lanes. */
static inline v128_t q6_scales(const uint8_t *gb, int s) {
    return wasm_i32x4_extend_low_i16x8(wasm_i16x8_load8x8(gb + Q6K_SC + GROUP * s));
}

/* The 4 rows' sums over activation block j of a group super-block, each half (one scale
 * per row) folded by a transpose and multiplied by its scales in integers. The halves are
 * written out: a loop over them would shift by a variable amount, which clang turns into
 * lane-by-lane code. */
static inline v128_t q6_block(const uint8_t *gb, int j, const pl_act_block *xb) {
    const uint8_t *qb = gb + Q6K_QS + Q6K_BLOCK * j;
    v128_t p0 = wasm_v128_load(qb + 64), p1 = wasm_v128_load(qb + 80);
    v128_t a_lo = wasm_v128_load(xb->q), a_hi = wasm_v128_load(xb->q + 8);
    v128_t n0 = wasm_v128_load(qb), n1 = wasm_v128_load(qb + 16), n2 = wasm_v128_load(qb + 32),
           n3 = wasm_v128_load(qb + 48);
    v128_t first = pl_transpose_sum_i32x4(q6_dot(n0, p0, 0, a_lo, a_hi), q6_dot(n1, p0, 1, a_lo, a_hi),
                                          q6_dot(n2, p1, 2, a_lo, a_hi), q6_dot(n3, p1, 3, a_lo, a_hi));
    p0 = wasm_u16x8_shr(p0, 2);
    p1 = wasm_u16x8_shr(p1, 2);
    a_lo = wasm_v128_load(xb->q + 16);
    a_hi = wasm_v128_load(xb->q + 24);
    v128_t second = pl_transpose_sum_i32x4(
        q6_dot(wasm_u16x8_shr(n0, 4), p0, 0, a_lo, a_hi), q6_dot(wasm_u16x8_shr(n1, 4), p0, 1, a_lo, a_hi),
        q6_dot(wasm_u16x8_shr(n2, 4), p1, 2, a_lo, a_hi), q6_dot(wasm_u16x8_shr(n3, 4), p1, 3, a_lo, a_hi));
    return wasm_i32x4_add(wasm_i32x4_mul(first, q6_scales(gb, 2 * j)), wasm_i32x4_mul(second, q6_scales(gb, 2 * j + 1)));
}

/* Q6_K's d (its int8 scales are read per block). */
static inline void q6k_decode(const uint8_t *gb, k_scales *ks) {
    ks->d = pl_f16x4_to_f32x4(wasm_u32x4_load16x4(gb + Q6K_D));
}

static inline v128_t q6k_scaled(const uint8_t *gb, const k_scales *ks, int j, const pl_act_block *xb,
                                const pl_act_mid *xm) {
    (void)ks;
    (void)xm;
    return q6_block(gb, j, xb);
}

/* Row i's 32 weights of block j, (q - 32) times each half's scale. */
static inline void q6k_panel_row(const uint8_t *gb, const k_scales *ks, int j, int i, int16_t *out) {
    (void)ks;
    const uint8_t *qb = gb + Q6K_QS + Q6K_BLOCK * j;
    v128_t nib = wasm_v128_load(qb + 16 * i), plane = wasm_v128_load(qb + 64 + 16 * (i / 2)), w16[4];
    const v128_t w[2] = {q6_half(nib, plane, i), q6_half(wasm_u16x8_shr(nib, 4), wasm_u16x8_shr(plane, 2), i)};
    pl_widen_i8x32(w, w16);
    for (int k = 0; k < 4; k++)
        wasm_v128_store(out + 8 * k, wasm_i16x8_mul(w16[k], wasm_i16x8_splat((int8_t)gb[Q6K_SC + GROUP * (2 * j + k / 2) + i])));
}

/* Q3_K ---------------------------------------------------------------------------------- */

/* d and the 16 scales minus 32 (see pack_q3_K: 16-bit shifts and masks that keep each
 * byte's bits within it), sign-extended. */
static inline void q3k_decode(const uint8_t *gb, k_scales *ks) {
    const v128_t bits45 = wasm_i8x16_splat(0x30), bias = wasm_i8x16_splat(32);
    v128_t h = wasm_v128_load(gb + Q3K_HI), v[4];
    const v128_t top[4] = {wasm_i16x8_shl(h, 4), wasm_i16x8_shl(h, 2), h, wasm_u16x8_shr(h, 2)};
    nibble_run(gb + Q3K_LO, v);
    ks->d = pl_f16x4_to_f32x4(wasm_u32x4_load16x4(gb + Q3K_D));
    for (int k = 0; k < 4; k++) {   /* sub-blocks 4k .. 4k+3 */
        v128_t sc = wasm_i8x16_sub(wasm_v128_or(v[k], wasm_v128_and(top[k], bits45)), bias);
        v128_t lo = wasm_i16x8_extend_low_i8x16(sc), hi = wasm_i16x8_extend_high_i8x16(sc);
        ks->sc[4 * k] = wasm_i32x4_extend_low_i16x8(lo);
        ks->sc[4 * k + 1] = wasm_i32x4_extend_high_i16x8(lo);
        ks->sc[4 * k + 2] = wasm_i32x4_extend_low_i16x8(hi);
        ks->sc[4 * k + 3] = wasm_i32x4_extend_high_i16x8(hi);
    }
}

/* Row i's quants of one half of a Q2_K or Q3_K (third) group block: the low 2 bits from its
 * rows' plane (low), for Q3_K the third from the bit plane (high) and minus 4, each moved
 * into place by a 16-bit shift that keeps it within its byte. */
static inline v128_t low2_half(v128_t low, v128_t high, int third, int i, int half) {
    int p = 4 * (i & 1) + 2 * half, hp = plane_bit(i, half);
    v128_t lo = wasm_v128_and(p ? wasm_u16x8_shr(low, p) : low, wasm_i8x16_splat(3));
    if (!third) return lo;
    v128_t hi = hp < 2 ? wasm_i16x8_shl(high, 2 - hp) : hp > 2 ? wasm_u16x8_shr(high, hp - 2) : high;
    return wasm_i8x16_sub(wasm_v128_or(lo, wasm_v128_and(hi, wasm_i8x16_splat(4))), wasm_i8x16_splat(4));
}

/* The 4 rows' sums over one half (its 16 activations: a_lo, a_hi), folded by a transpose. */
static inline v128_t low2_sums(v128_t p0, v128_t p1, v128_t h, int third, int half, v128_t a_lo, v128_t a_hi) {
    return pl_transpose_sum_i32x4(dot_i8x16(low2_half(p0, h, third, 0, half), a_lo, a_hi),
                                  dot_i8x16(low2_half(p0, h, third, 1, half), a_lo, a_hi),
                                  dot_i8x16(low2_half(p1, h, third, 2, half), a_lo, a_hi),
                                  dot_i8x16(low2_half(p1, h, third, 3, half), a_lo, a_hi));
}

/* As q6_block: each half's 4 row sums multiplied by their scales in integers (block qb). */
static inline v128_t low2_scaled(const uint8_t *qb, int third, const k_scales *ks, int j, const pl_act_block *xb) {
    v128_t p0 = wasm_v128_load(qb), p1 = wasm_v128_load(qb + 16), h = third ? wasm_v128_load(qb + 32) : p0;
    v128_t first = low2_sums(p0, p1, h, third, 0, wasm_v128_load(xb->q), wasm_v128_load(xb->q + 8));
    v128_t second = low2_sums(p0, p1, h, third, 1, wasm_v128_load(xb->q + 16), wasm_v128_load(xb->q + 24));
    return wasm_i32x4_add(wasm_i32x4_mul(first, ks->sc[2 * j]), wasm_i32x4_mul(second, ks->sc[2 * j + 1]));
}

static inline v128_t q3k_scaled(const uint8_t *gb, const k_scales *ks, int j, const pl_act_block *xb,
                                const pl_act_mid *xm) {
    (void)xm;
    return low2_scaled(gb + Q3K_QS + Q3K_BLOCK * j, 1, ks, j, xb);
}

/* Row i's 32 weights of block j, (q - 4 for Q3_K) times each half's scale. */
static inline void low2_panel_row(const uint8_t *qb, int third, const k_scales *ks, int j, int i, int16_t *out) {
    v128_t low = wasm_v128_load(qb + 16 * (i / 2)), high = third ? wasm_v128_load(qb + 32) : low, w16[4];
    const v128_t w[2] = {low2_half(low, high, third, i, 0), low2_half(low, high, third, i, 1)};
    pl_widen_i8x32(w, w16);
    for (int k = 0; k < 4; k++)
        wasm_v128_store(out + 8 * k, wasm_i16x8_mul(w16[k], wasm_i16x8_splat((int16_t)lane_i32(ks->sc[2 * j + k / 2], i))));
}

static inline void q3k_panel_row(const uint8_t *gb, const k_scales *ks, int j, int i, int16_t *out) {
    low2_panel_row(gb + Q3K_QS + Q3K_BLOCK * j, 1, ks, j, i, out);
}

/* Q2_K ---------------------------------------------------------------------------------- */

/* d, the 16 scales and -dmin times the 16 mins (each belongs to 16 values). */
static inline void q2k_decode(const uint8_t *gb, k_scales *ks) {
    v128_t sc[4], mn[4], neg_dmin = wasm_f32x4_neg(pl_f16x4_to_f32x4(wasm_u32x4_load16x4(gb + Q2K_DMIN)));
    nibble_run(gb + Q2K_SC, sc);
    nibble_run(gb + Q2K_MN, mn);
    ks->d = pl_f16x4_to_f32x4(wasm_u32x4_load16x4(gb + Q2K_D));
    for (int k = 0; k < 4; k++) {
        v128_t m[4];
        q4k_widen_u8(sc[k], ks->sc + 4 * k);
        q4k_widen_u8(mn[k], m);
        for (int l = 0; l < 4; l++) ks->m[4 * k + l] = k_min(neg_dmin, m[l]);
    }
}

static inline v128_t q2k_scaled(const uint8_t *gb, const k_scales *ks, int j, const pl_act_block *xb,
                                const pl_act_mid *xm) {
    (void)xm;
    return low2_scaled(gb + Q2K_QS + Q2K_BLOCK * j, 0, ks, j, xb);
}

static inline void q2k_panel_row(const uint8_t *gb, const k_scales *ks, int j, int i, int16_t *out) {
    low2_panel_row(gb + Q2K_QS + Q2K_BLOCK * j, 0, ks, j, i, out);
}

/* The K groups: one token through a group super-block takes per block of 32 the 4 rows'
 * Σ sc·q·x in integers (SCALED), times the activation scale in floats, with the mins
 * times the activation sums (MINS: NO_MINS; WIDE_MINS, Q4_K and Q5_K, one per block;
 * HALF_MINS, Q2_K, one per half); d once per super-block. Prompt tokens as the other
 * groups (DEFINE_SIMD_X4), K_PANEL_SB super-blocks at a time: each block's weights times
 * their scales (int16, PANEL_ROW) in the panel, d per row as its scale and -dmin·mn as
 * its offset (pl_tile_pairs' m4; Q2_K's through pl_tile_half_mins). */
#define K_PANEL_SB 4
enum { NO_MINS, WIDE_MINS, HALF_MINS };

#define DEFINE_SIMD_K_GROUP(name, BLOCK, DECODE, SCALED, PANEL_ROW, MINS)                         \
    static void name(const void *group, const void *x, size_t x_row_bytes, int n_tok, int cols,   \
                     float *y, int ldy, int shift) {                                              \
        (void)shift;                                                                              \
        const uint8_t *g = group;                                                                 \
        const int n_sb = cols / PL_QK_K, stride = GROUP * sizeof(BLOCK);                          \
        int16_t panel[K_PANEL_SB * K_SUB][GROUP][PL_QK];                                          \
        v128_t d4[K_PANEL_SB * K_SUB], m4[2][K_PANEL_SB * K_SUB];   /* HALF_MINS: both halves' */  \
        int paired = n_tok >= 4 ? n_tok & ~1 : 0;                                                 \
        for (int sb0 = 0; paired && sb0 < n_sb; sb0 += K_PANEL_SB) {                              \
            int n = n_sb - sb0 < K_PANEL_SB ? n_sb - sb0 : K_PANEL_SB;                            \
            for (int sb = 0; sb < n; sb++) {                                                      \
                const uint8_t *gb = g + (size_t)(sb0 + sb) * stride;                              \
                k_scales ks;                                                                      \
                DECODE(gb, &ks);                                                                  \
                for (int s = 0; s < K_SUB; s++) {                                                 \
                    int b = K_SUB * sb + s;                                                       \
                    _Pragma("clang loop unroll(full)") /* constant rows for the shifts */         \
                    for (int i = 0; i < GROUP; i++) PANEL_ROW(gb, &ks, s, i, panel[b][i]);        \
                    d4[b] = ks.d;                                                                 \
                    if (MINS == WIDE_MINS) m4[0][b] = ks.m[s];                                    \
                    if (MINS == HALF_MINS) m4[0][b] = ks.m[2 * s], m4[1][b] = ks.m[2 * s + 1];    \
                }                                                                                 \
            }                                                                                     \
            pl_tile_pairs(panel[0][0], d4, MINS == WIDE_MINS ? m4[0] : NULL, n * K_SUB, x, x_row_bytes, \
                          sb0 * K_SUB, sb0 > 0, paired, y, ldy);                                  \
            if (MINS == HALF_MINS)                                                                \
                pl_tile_half_mins(m4[0], m4[1], n * K_SUB, x, x_row_bytes, sb0 * K_SUB, cols, paired, y, ldy); \
        }                                                                                         \
        for (int t = paired; t < n_tok; t++) {                                                    \
            const pl_act_block *xb = pl_act_row(x, x_row_bytes, t);                               \
            const pl_act_mid *xm = pl_act_mids(xb, cols);                                         \
            v128_t acc = wasm_f32x4_splat(0);                                                     \
            for (int sb = 0; sb < n_sb; sb++, xb += K_SUB, xm += K_SUB) {                         \
                const uint8_t *gb = g + (size_t)sb * stride;                                      \
                k_scales ks;                                                                      \
                DECODE(gb, &ks);                                                                  \
                v128_t fd = wasm_f32x4_splat(0), fm = fd;                                         \
                _Pragma("clang loop unroll(disable)")                                             \
                for (int s = 0; s < K_SUB; s++) {                                                 \
                    v128_t scaled = SCALED(gb, &ks, s, &xb[s], &xm[s]);                           \
                    fd = wasm_f32x4_add(fd, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(scaled),      \
                                                           wasm_f32x4_splat(xb[s].d)));           \
                    if (MINS == WIDE_MINS)                                                        \
                        fm = wasm_f32x4_add(fm, wasm_f32x4_mul(ks.m[s], wasm_f32x4_splat(xb[s].s)));  \
                    if (MINS == HALF_MINS)                                                        \
                        fm = wasm_f32x4_add(fm, wasm_f32x4_add(wasm_f32x4_mul(ks.m[2 * s], wasm_f32x4_splat(xm[s].s_lo)), \
                                                               wasm_f32x4_mul(ks.m[2 * s + 1], wasm_f32x4_splat(xm[s].s_hi)))); \
                }                                                                                 \
                acc = wasm_f32x4_add(acc, wasm_f32x4_mul(ks.d, fd));                              \
                if (MINS != NO_MINS) acc = wasm_f32x4_add(acc, fm);                               \
            }                                                                                     \
            wasm_v128_store(y + (size_t)t * ldy, acc);                                            \
        }                                                                                         \
    }

DEFINE_SIMD_K_GROUP(group_q2_K_simd, pl_block_q2_K, q2k_decode, q2k_scaled, q2k_panel_row, HALF_MINS)
DEFINE_SIMD_K_GROUP(group_q3_K_simd, pl_block_q3_K, q3k_decode, q3k_scaled, q3k_panel_row, NO_MINS)
DEFINE_SIMD_K_GROUP(group_q4_K_simd, pl_block_q4_K, q4k_decode, q4k_scaled, q4k_panel_row, WIDE_MINS)
DEFINE_SIMD_K_GROUP(group_q5_K_simd, pl_block_q5_K, q4k_decode, q5k_scaled, q5k_panel_row, WIDE_MINS)
DEFINE_SIMD_K_GROUP(group_q6_K_simd, pl_block_q6_K, q6k_decode, q6k_scaled, q6k_panel_row, NO_MINS)

#endif

#ifdef __wasm_simd128__
#define SIMD_KERNEL(k) k
#else
#define SIMD_KERNEL(k) NULL
#endif

static const struct {
    uint32_t type;
    pl_group_kernel scalar, simd;
} x4_kernels[] = {
    {PL_TYPE_Q8_0, group_q8_0, SIMD_KERNEL(group_q8_0_simd)},
    {PL_TYPE_Q4_0, group_q4_0, SIMD_KERNEL(group_q4_0_simd)},
    {PL_TYPE_Q5_0, group_q5_0, SIMD_KERNEL(group_q5_0_simd)},
    {PL_TYPE_Q4_1, group_q4_1, SIMD_KERNEL(group_q4_1_simd)},
    {PL_TYPE_Q5_1, group_q5_1, SIMD_KERNEL(group_q5_1_simd)},
    {PL_TYPE_Q2_K, group_q2_K, SIMD_KERNEL(group_q2_K_simd)},
    {PL_TYPE_Q3_K, group_q3_K, SIMD_KERNEL(group_q3_K_simd)},
    {PL_TYPE_Q4_K, group_q4_K, SIMD_KERNEL(group_q4_K_simd)},
    {PL_TYPE_Q5_K, group_q5_K, SIMD_KERNEL(group_q5_K_simd)},
    {PL_TYPE_Q6_K, group_q6_K, SIMD_KERNEL(group_q6_K_simd)},
};

pl_group_kernel pl_x4_kernel(uint32_t type, int simd) {
    for (size_t k = 0; k < sizeof x4_kernels / sizeof *x4_kernels; k++)
        if (x4_kernels[k].type == type) return simd && x4_kernels[k].simd ? x4_kernels[k].simd : x4_kernels[k].scalar;
    return NULL;
}
