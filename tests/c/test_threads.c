/* The thread pool's item hand-out (pl_pool_next): every item of a task goes to exactly
 * one thread for any thread count, chunk and item count; a thread that is held up has
 * its share taken by the others; pl_pool_run_here keeps everything on the caller. Natively
 * the pools have real threads; the wasm test build has one. */
#include <stdatomic.h>
#include <stdlib.h>

#include "../../csrc/threads.h"
#include "check.h"

enum { MAX_ITEMS = 1000, MAX_THREADS = 4 };

typedef struct {
    pl_pool *pool;
    int chunk;
    int hold_others;                      /* threads > 0 start once thread 0 is done */
    atomic_int thread0_done;
    atomic_int taken[MAX_ITEMS];          /* times each item was handed out */
    atomic_int by_thread[MAX_THREADS];    /* items each thread got */
    atomic_int runs[MAX_THREADS];         /* calls of the task per thread */
    atomic_int bad_ranges;                /* empty or reversed ranges */
} count_task;

static void count_items(void *arg, int ith) {
    count_task *t = arg;
    atomic_fetch_add(&t->runs[ith], 1);
    if (t->hold_others && ith > 0)
        while (!atomic_load(&t->thread0_done)) {}
    for (int b, e; pl_pool_next(t->pool, ith, t->chunk, &b, &e);) {
        if (b >= e || b < 0) atomic_fetch_add(&t->bad_ranges, 1);
        for (int i = b; i < e && i >= 0 && i < MAX_ITEMS; i++) atomic_fetch_add(&t->taken[i], 1);
        atomic_fetch_add(&t->by_thread[ith], e - b);
    }
    if (ith == 0) atomic_store(&t->thread0_done, 1);
}

/* Runs one task of n items; returns how many items thread 0 got. */
static int run_count(pl_pool *pool, int n, int chunk, int hold_others, int here) {
    count_task *t = calloc(1, sizeof *t);
    t->pool = pool;
    t->chunk = chunk;
    t->hold_others = hold_others;
    if (here) pl_pool_run_here(pool, count_items, t, n);
    else pl_pool_run(pool, count_items, t, n);
    int once = 1;
    for (int i = 0; i < n; i++) once &= atomic_load(&t->taken[i]) == 1;
    CHECK(once);
    CHECK_EQ_INT(atomic_load(&t->bad_ranges), 0);
    int threads = pl_pool_size(pool), ran = 0;
    for (int i = 0; i < threads; i++) ran += atomic_load(&t->runs[i]);
    CHECK_EQ_INT(ran, here ? 1 : threads);
    int got0 = atomic_load(&t->by_thread[0]);
    free(t);
    return got0;
}

int main(void) {
    const int counts[] = {0, 1, 7, 100, MAX_ITEMS}, chunks[] = {1, 3, 64, MAX_ITEMS};
    for (int threads = 1; threads <= MAX_THREADS; threads++) {
        pl_pool *pool = pl_pool_create(threads);
        CHECK(pool != NULL);
        if (!pool) continue;
        for (int ni = 0; ni < 5; ni++)
            for (int ci = 0; ci < 4; ci++) {
                run_count(pool, counts[ni], chunks[ci], 0, 0);
                /* the others wait until thread 0 has run out: it must have taken their shares */
                CHECK_EQ_INT(run_count(pool, counts[ni], chunks[ci], 1, 0), counts[ni]);
                CHECK_EQ_INT(run_count(pool, counts[ni], chunks[ci], 0, 1), counts[ni]);
            }
        pl_pool_destroy(pool);
    }
    return check_report("threads");
}
