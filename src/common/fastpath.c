/* The fast paths' test switch (fastpath.h). */
#include "common/fastpath.h"

int rc__fast_paths_off;
