/* The thread pool's item hand-out (pl_pool_next): every item of a task goes to exactly
 * one thread, within [0, n), for any thread count, chunk and item count; each thread runs
 * the task once; a thread that is held up has its whole share taken by the others, also
 * by several at once; pl_pool_run_here keeps everything on the caller. Natively the pools
 * have real threads; the wasm test build has one. */
#include <stdatomic.h>
#include <stdlib.h>

#include "../../csrc/threads.h"
#include "check.h"

enum { MAX_ITEMS = 1000, MAX_THREADS = 4, NOBODY = -1 };

typedef struct {
    pl_pool *pool;
    int n, chunk;
    int held;                             /* this thread starts once the others are done */
    int spin;                             /* busy work per item, so that claims interleave */
    atomic_int others_done;
    atomic_int taken[MAX_ITEMS];          /* times each item was handed out */
    atomic_int by_thread[MAX_THREADS];    /* items each thread got */
    atomic_int runs[MAX_THREADS];         /* calls of the task per thread */
    atomic_int bad_ranges;                /* empty, reversed or outside [0, n) */
} count_task;

static void count_items(void *arg, int ith) {
    count_task *t = arg;
    volatile unsigned sink = 0;   /* busy work per item, the thread's own */
    atomic_fetch_add(&t->runs[ith], 1);
    if (ith == t->held)
        while (atomic_load(&t->others_done) < pl_pool_size(t->pool) - 1) {}
    for (int b, e; pl_pool_next(t->pool, ith, t->chunk, &b, &e);) {
        if (b >= e || b < 0 || e > t->n) {
            atomic_fetch_add(&t->bad_ranges, 1);
            continue;
        }
        for (int i = b; i < e; i++) {
            atomic_fetch_add(&t->taken[i], 1);
            for (int k = 0; k < t->spin; k++) sink += (unsigned)k;
        }
        atomic_fetch_add(&t->by_thread[ith], e - b);
    }
    if (ith != t->held) atomic_fetch_add(&t->others_done, 1);
    (void)sink;
}

/* Runs one task of n items (on the caller alone when here); returns how many items the
 * held thread got. */
static int run_count(pl_pool *pool, int n, int chunk, int held, int spin, int here) {
    count_task *t = calloc(1, sizeof *t);
    *t = (count_task){.pool = pool, .n = n, .chunk = chunk, .held = held, .spin = spin};
    if (here) pl_pool_run_here(pool, count_items, t, n);
    else pl_pool_run(pool, count_items, t, n);
    int once = 1, sum = 0, threads = pl_pool_size(pool), runs_ok = 1;
    for (int i = 0; i < n; i++) once &= atomic_load(&t->taken[i]) == 1;
    for (int i = 0; i < threads; i++) {
        sum += atomic_load(&t->by_thread[i]);
        runs_ok &= atomic_load(&t->runs[i]) == (here ? i == 0 : 1);
    }
    CHECK(once);
    CHECK_EQ_INT(sum, n);
    CHECK(runs_ok);
    CHECK_EQ_INT(atomic_load(&t->bad_ranges), 0);
    int got = held >= 0 ? atomic_load(&t->by_thread[held]) : 0;
    free(t);
    return got;
}

int main(void) {
    const int counts[] = {0, 1, 7, 100, MAX_ITEMS}, chunks[] = {1, 3, 64, MAX_ITEMS};
    for (int threads = 1; threads <= MAX_THREADS; threads++) {
        pl_pool *pool = pl_pool_create(threads);
        CHECK(pool != NULL);
        if (!pool) continue;
        int size = pl_pool_size(pool);   /* 1 in builds without threads */
        for (int ni = 0; ni < 5; ni++)
            for (int ci = 0; ci < 4; ci++) {
                int n = counts[ni], chunk = chunks[ci];
                run_count(pool, n, chunk, NOBODY, 0, 0);
                /* everything on the caller: thread 0 gets every item */
                run_count(pool, n, chunk, NOBODY, 0, 1);
                if (size == 1) continue;
                /* a held-up worker, then a held-up caller: the others take their shares */
                CHECK_EQ_INT(run_count(pool, n, chunk, size - 1, 0, 0), 0);
                CHECK_EQ_INT(run_count(pool, n, chunk, 0, 0, 0), 0);
            }
        /* many rounds with work per item, so claims and steals race on the same shares */
        for (int round = 0; round < 50 && size > 1; round++) {
            run_count(pool, MAX_ITEMS, 1 + round % 3, NOBODY, 200, 0);
            CHECK_EQ_INT(run_count(pool, MAX_ITEMS, 1 + round % 3, round % size, 200, 0), 0);
        }
        pl_pool_destroy(pool);
    }
    return check_report("threads");
}
