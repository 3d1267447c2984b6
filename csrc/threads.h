/* A fixed pool of worker threads that run one task at a time, split n ways.
 * Without pthreads (the single-thread wasm build) the pool has one thread: the caller. */
#ifndef PL_THREADS_H
#define PL_THREADS_H

typedef struct pl_pool pl_pool;

/* fn(arg, ith, nth) is called once for every ith in [0, nth). */
typedef void (*pl_task_fn)(void *arg, int ith, int nth);

/* Starts n_threads - 1 workers (the caller is thread 0). NULL when out of memory or when
 * threads cannot be started. n_threads is clamped to 1 in builds without pthreads. */
pl_pool *pl_pool_create(int n_threads);
void pl_pool_destroy(pl_pool *pool);
int pl_pool_size(const pl_pool *pool);
/* Runs fn on every thread and returns when all are done. When arg lives on the caller's
 * stack, fn should copy it before its loops: the caller (thread 0) writes its own frames
 * next to it meanwhile, and reading that cache line from another thread throughout cost
 * 2 threads ~25 % of a decode step. */
void pl_pool_run(pl_pool *pool, pl_task_fn fn, void *arg);

/* The [begin, end) share of thread ith when n items are split nth ways. */
void pl_split(int n, int ith, int nth, int *begin, int *end);

#endif
