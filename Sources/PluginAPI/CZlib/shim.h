/* zlib (Debian's zlib1g-dev): the s3 cache backend sends each part's CRC32 (crc32_z) so that the
   store checks the bytes before it keeps them. */
#include <zlib.h>
