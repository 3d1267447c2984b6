/* Thread pool: workers sleep on a condition variable between tasks; a task is published
 * with a generation counter so a worker never runs the same task twice. The caller works
 * as thread 0 and then waits for the others. Items are handed out from per-thread shares
 * (threads.h). */
#include "threads.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
#define PL_NO_THREADS 1
#endif

/* One thread's items [front, back) as front | back << 32. Its owner takes from the front,
 * the others from the back, each with a compare-exchange of both ends, so each item goes
 * to exactly one thread. A cache line each: an owner's claims contend only with a thread
 * stealing from it. */
typedef struct {
    _Atomic uint64_t range;
    char pad[64 - sizeof(uint64_t)];
} share;

static uint64_t pack(uint32_t front, uint32_t back) { return (uint64_t)back << 32 | front; }

/* Even shares of n items for the first n_active threads, none for the rest. Relaxed: the
 * task's publication orders them before any thread reads them. */
static void share_out(share *shares, int n_threads, int n_items, int n_active) {
    if (n_items < 0) n_items = 0;
    for (int i = 0; i < n_threads; i++) {
        uint32_t b = i < n_active ? (uint32_t)((int64_t)n_items * i / n_active) : (uint32_t)n_items;
        uint32_t e = i < n_active ? (uint32_t)((int64_t)n_items * (i + 1) / n_active) : (uint32_t)n_items;
        atomic_store_explicit(&shares[i].range, pack(b, e), memory_order_relaxed);
    }
}

/* Half of what is left of a share, but at least chunk (threads.h): a claim is an atomic
 * on a line another thread may hold, so few while a share is long; small ones at its end
 * even out the threads' finishing times. */
static uint32_t take(uint32_t left, int chunk) {
    uint32_t n = left - left / 2;
    if (n < (uint32_t)chunk) n = (uint32_t)chunk;
    return n < left ? n : left;
}

/* From the front of thread ith's own share, then from the backs of the others'. */
static int next_item(share *shares, int n_threads, int ith, int chunk, int *begin, int *end) {
    for (int k = 0; k < n_threads; k++) {
        share *sh = &shares[(ith + k) % n_threads];
        uint64_t r = atomic_load_explicit(&sh->range, memory_order_relaxed);
        for (;;) {   /* until a claim succeeds or the share is empty; a failed one reloads r */
            uint32_t front = (uint32_t)r, back = (uint32_t)(r >> 32);
            if (front >= back) break;
            uint32_t n = take(back - front, chunk), first = k == 0 ? front : back - n;
            uint64_t rest = k == 0 ? pack(front + n, back) : pack(front, back - n);
            if (atomic_compare_exchange_weak(&sh->range, &r, rest)) {
                *begin = (int)first;
                *end = (int)(first + n);
                return 1;
            }
        }
    }
    return 0;
}

#ifdef PL_NO_THREADS

struct pl_pool {
    int n_threads;               /* 1 */
    share shares[1];
};

pl_pool *pl_pool_create(int n_threads) {
    (void)n_threads;
    pl_pool *pool = calloc(1, sizeof(pl_pool));
    if (pool) pool->n_threads = 1;
    return pool;
}
void pl_pool_destroy(pl_pool *pool) { free(pool); }
void pl_pool_run(pl_pool *pool, pl_task_fn fn, void *arg, int n_items) {
    pl_pool_run_here(pool, fn, arg, n_items);
}

#else

#include <pthread.h>

/* Polls of a shared counter (about a millisecond) before a thread falls back to sleeping
 * on the condition variable. A decode step hands the pool ~150 tasks with serial work
 * (norms, attention at short contexts) between them; a worker that fell asleep in those
 * gaps costs a futex wake-up per task, which made 2 threads slower than 1. */
#define SPIN_POLLS (1 << 21)

typedef struct {
    pl_pool *pool;
    int ith;
} worker_arg;

struct pl_pool {
    int n_threads;
    share *shares;               /* one per thread */
    pthread_t *threads;          /* n_threads - 1 workers */
    worker_arg *args;
    pthread_mutex_t lock;
    pthread_cond_t start;        /* signalled when a new task (generation) is published */
    pthread_cond_t done;         /* signalled when the last worker finishes a task */
    atomic_int sleepers;         /* workers waiting on `start` */
    atomic_int waiting;          /* 1 while the caller sleeps on `done` */
    int quit;
    /* A task's publication on a line of its own, read by every worker once per task, and
     * the count the workers write at its end on another: with both on one line, each task
     * moved it between cores twice more (an empty task at 2 threads: 1.5 -> 1.27 us). */
    _Alignas(64) atomic_uint generation;   /* bumped once per task */
    pl_task_fn fn;
    void *arg;
    _Alignas(64) atomic_int pending;       /* workers still running the current task */
};

static void *worker_main(void *p) {
    worker_arg *wa = p;
    pl_pool *pool = wa->pool;
    unsigned seen = 0;
    for (;;) {
        /* spin for the next task, then sleep until one is published */
        for (int i = 0; i < SPIN_POLLS && atomic_load(&pool->generation) == seen; i++)
            ;
        if (atomic_load(&pool->generation) == seen) {
            pthread_mutex_lock(&pool->lock);
            atomic_fetch_add(&pool->sleepers, 1);
            while (atomic_load(&pool->generation) == seen && !pool->quit)
                pthread_cond_wait(&pool->start, &pool->lock);
            atomic_fetch_sub(&pool->sleepers, 1);
            pthread_mutex_unlock(&pool->lock);
        }
        if (pool->quit) break;
        seen = atomic_load(&pool->generation);
        pool->fn(pool->arg, wa->ith);
        if (atomic_fetch_sub(&pool->pending, 1) == 1 && atomic_load(&pool->waiting)) {
            pthread_mutex_lock(&pool->lock);
            pthread_cond_signal(&pool->done);
            pthread_mutex_unlock(&pool->lock);
        }
    }
    return NULL;
}

pl_pool *pl_pool_create(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    pl_pool *pool = aligned_alloc(64, sizeof(pl_pool));   /* a multiple of 64 (_Alignas) */
    if (!pool) return NULL;
    memset(pool, 0, sizeof *pool);
    pool->n_threads = n_threads;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->start, NULL);
    pthread_cond_init(&pool->done, NULL);
    pool->shares = aligned_alloc(sizeof(share), (size_t)n_threads * sizeof(share));
    if (!pool->shares) {
        pool->n_threads = 1;
        pl_pool_destroy(pool);
        return NULL;
    }
    if (n_threads == 1) return pool;
    pool->threads = calloc((size_t)n_threads - 1, sizeof(pthread_t));
    pool->args = calloc((size_t)n_threads - 1, sizeof(worker_arg));
    if (!pool->threads || !pool->args) {
        pool->n_threads = 1;
        pl_pool_destroy(pool);
        return NULL;
    }
    for (int i = 1; i < n_threads; i++) {
        pool->args[i - 1] = (worker_arg){pool, i};
        if (pthread_create(&pool->threads[i - 1], NULL, worker_main, &pool->args[i - 1]) != 0) {
            pool->n_threads = i;   /* join only the ones that started */
            pl_pool_destroy(pool);
            return NULL;
        }
    }
    return pool;
}

void pl_pool_destroy(pl_pool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->lock);
    pool->quit = 1;
    atomic_fetch_add(&pool->generation, 1);
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 1; i < pool->n_threads; i++) pthread_join(pool->threads[i - 1], NULL);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->start);
    pthread_cond_destroy(&pool->done);
    free(pool->shares);
    free(pool->threads);
    free(pool->args);
    free(pool);
}

void pl_pool_run(pl_pool *pool, pl_task_fn fn, void *arg, int n_items) {
    if (pool->n_threads == 1) {
        pl_pool_run_here(pool, fn, arg, n_items);
        return;
    }
    share_out(pool->shares, pool->n_threads, n_items, pool->n_threads);
    pool->fn = fn;
    pool->arg = arg;
    atomic_store(&pool->pending, pool->n_threads - 1);
    /* publishing the generation releases fn/arg/pending and the shares to the workers */
    atomic_fetch_add(&pool->generation, 1);
    if (atomic_load(&pool->sleepers)) {
        pthread_mutex_lock(&pool->lock);
        pthread_cond_broadcast(&pool->start);
        pthread_mutex_unlock(&pool->lock);
    }

    fn(arg, 0);

    for (int i = 0; i < SPIN_POLLS && atomic_load(&pool->pending) > 0; i++)
        ;
    if (atomic_load(&pool->pending) > 0) {
        pthread_mutex_lock(&pool->lock);
        atomic_store(&pool->waiting, 1);
        while (atomic_load(&pool->pending) > 0) pthread_cond_wait(&pool->done, &pool->lock);
        atomic_store(&pool->waiting, 0);
        pthread_mutex_unlock(&pool->lock);
    }
}

#endif

int pl_pool_size(const pl_pool *pool) { return pool->n_threads; }

int pl_pool_next(pl_pool *pool, int ith, int chunk, int *begin, int *end) {
    return next_item(pool->shares, pool->n_threads, ith, chunk, begin, end);
}

void pl_pool_run_here(pl_pool *pool, pl_task_fn fn, void *arg, int n_items) {
    share_out(pool->shares, pool->n_threads, n_items, 1);
    fn(arg, 0);
}
