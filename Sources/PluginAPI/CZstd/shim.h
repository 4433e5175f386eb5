/* libzstd (Debian's libzstd-dev): the cache backends compress entries with it. */
#include <zstd.h>
