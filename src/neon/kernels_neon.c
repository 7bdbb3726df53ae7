#include "kernels.h"
void smr_neon_install(struct smr_kernels *t) { (void)t; }
