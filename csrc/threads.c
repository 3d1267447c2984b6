/* Thread pool: workers sleep on a condition variable between tasks; a task is published
 * with a generation counter so a worker never runs the same task twice. The caller works
 * as thread 0 and then waits for the others. */
#include "threads.h"

#include <stdlib.h>

#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
#define PL_NO_THREADS 1
#endif

void pl_split(int n, int ith, int nth, int *begin, int *end) {
    int chunk = n / nth, extra = n % nth;
    *begin = ith * chunk + (ith < extra ? ith : extra);
    *end = *begin + chunk + (ith < extra ? 1 : 0);
}

#ifdef PL_NO_THREADS

struct pl_pool { int unused; };

pl_pool *pl_pool_create(int n_threads) {
    (void)n_threads;
    return calloc(1, sizeof(pl_pool));
}
void pl_pool_destroy(pl_pool *pool) { free(pool); }
int pl_pool_size(const pl_pool *pool) { (void)pool; return 1; }
void pl_pool_run(pl_pool *pool, pl_task_fn fn, void *arg) { (void)pool; fn(arg, 0, 1); }

#else

#include <pthread.h>
#include <stdatomic.h>

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
    pthread_t *threads;          /* n_threads - 1 workers */
    worker_arg *args;
    pthread_mutex_t lock;
    pthread_cond_t start;        /* signalled when a new task (generation) is published */
    pthread_cond_t done;         /* signalled when the last worker finishes a task */
    atomic_uint generation;      /* bumped once per task */
    atomic_int pending;          /* workers still running the current task */
    atomic_int sleepers;         /* workers waiting on `start` */
    atomic_int waiting;          /* 1 while the caller sleeps on `done` */
    int quit;
    pl_task_fn fn;
    void *arg;
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
        pool->fn(pool->arg, wa->ith, pool->n_threads);
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
    pl_pool *pool = calloc(1, sizeof(pl_pool));
    if (!pool) return NULL;
    pool->n_threads = n_threads;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->start, NULL);
    pthread_cond_init(&pool->done, NULL);
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
    free(pool->threads);
    free(pool->args);
    free(pool);
}

int pl_pool_size(const pl_pool *pool) { return pool->n_threads; }

void pl_pool_run(pl_pool *pool, pl_task_fn fn, void *arg) {
    if (pool->n_threads == 1) {
        fn(arg, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->arg = arg;
    atomic_store(&pool->pending, pool->n_threads - 1);
    /* publishing the generation releases fn/arg/pending to the spinning workers */
    atomic_fetch_add(&pool->generation, 1);
    if (atomic_load(&pool->sleepers)) {
        pthread_mutex_lock(&pool->lock);
        pthread_cond_broadcast(&pool->start);
        pthread_mutex_unlock(&pool->lock);
    }

    fn(arg, 0, pool->n_threads);

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
