/* A fixed pool of worker threads that run one task at a time. A task has n items (row
 * groups, heads); each thread works through an even share of them, front to back, and
 * then takes what is left of the others' shares from their backs: a thread the host slows
 * down hands its last items to the ones that are free instead of holding them up.
 * Without pthreads (the single-thread wasm build) the pool has one thread: the caller. */
#ifndef PL_THREADS_H
#define PL_THREADS_H

typedef struct pl_pool pl_pool;

/* fn(arg, ith) runs once on every thread ith; it takes its items with pl_pool_next. */
typedef void (*pl_task_fn)(void *arg, int ith);

/* Starts n_threads - 1 workers (the caller is thread 0). NULL when out of memory or when
 * threads cannot be started. n_threads is clamped to 1 in builds without pthreads. */
pl_pool *pl_pool_create(int n_threads);
void pl_pool_destroy(pl_pool *pool);
int pl_pool_size(const pl_pool *pool);
/* Runs fn on every thread over items 0..n_items-1 and returns when all are done. When arg
 * lives on the caller's stack, fn should copy it before its loops: the caller (thread 0)
 * writes its own frames next to it meanwhile, and reading that cache line from another
 * thread throughout cost 2 threads ~25 % of a decode step. */
void pl_pool_run(pl_pool *pool, pl_task_fn fn, void *arg, int n_items);
/* The same on the caller alone (fn(arg, 0) takes every item), for tasks too small to be
 * worth waking the others. */
void pl_pool_run_here(pl_pool *pool, pl_task_fn fn, void *arg, int n_items);
/* Inside fn on thread ith: the next items [*begin, *end); 0 when every item of the task
 * has been handed out. Half of what is left of a share at a time, but at least chunk
 * items (or what is left): few claims while a share is long, small ones at its end. */
int pl_pool_next(pl_pool *pool, int ith, int chunk, int *begin, int *end);

#endif
