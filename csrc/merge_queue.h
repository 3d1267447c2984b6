/* The queue of candidate merges both BPE-style encoders use (SentencePiece and byte-level
 * BPE): a binary heap of adjacent symbol pairs in which the lowest key pops first, the
 * leftmost pair on ties. A merge makes some queued pairs stale; they stay queued and the
 * encoder skips them when they pop (their lengths no longer match the symbols'). */
#ifndef PL_MERGE_QUEUE_H
#define PL_MERGE_QUEUE_H

typedef struct {
    int left, right;     /* symbol indices: left and its right neighbour */
    int left_len, len;   /* the left symbol's and the pair's byte length when queued */
    int id;              /* the merged token (SentencePiece) */
    float key;           /* SentencePiece: -score; byte-level BPE: merge rank (exact below 2^24) */
} pl_merge;

static inline int pl_merge_before(const pl_merge *a, const pl_merge *b) {
    return a->key < b->key || (a->key == b->key && a->left < b->left);
}

static inline void pl_merge_push(pl_merge *heap, int *n, pl_merge m) {
    int i = (*n)++;
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (!pl_merge_before(&m, &heap[parent])) break;
        heap[i] = heap[parent];
        i = parent;
    }
    heap[i] = m;
}

static inline pl_merge pl_merge_pop(pl_merge *heap, int *n) {
    pl_merge top = heap[0], last = heap[--*n];
    int i = 0;
    for (;;) {
        int child = 2 * i + 1;
        if (child >= *n) break;
        if (child + 1 < *n && pl_merge_before(&heap[child + 1], &heap[child])) child++;
        if (!pl_merge_before(&heap[child], &last)) break;
        heap[i] = heap[child];
        i = child;
    }
    if (*n > 0) heap[i] = last;
    return top;
}

#endif
