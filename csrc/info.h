/* The JSON description of a loaded model that pl_info_json returns. */
#ifndef PL_INFO_H
#define PL_INFO_H

#include "model.h"

/* malloc'd NUL-terminated JSON, NULL when out of memory. */
char *pl_model_info_json(const pl_model *m, int n_ctx, int n_threads);
/* The same for a tokenizer loaded alone: format, tokenizer fields, "vocab_only": true. */
char *pl_vocab_info_json(const pl_model *m);

#endif
