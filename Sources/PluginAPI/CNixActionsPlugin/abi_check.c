/* Compiles every header with -Wall -Wextra -Werror -std=c11 so the headers stay valid C. */
#include "nixactions.h"

_Static_assert(sizeof(nxa_op_id) == 8, "operation ids are 64-bit");
_Static_assert(NXA_ABI_MAJOR == 1u, "this tree speaks ABI 1");

/* The version the headers were compiled with, for debuggers and `strings`. */
const char nxa_abi_check_marker[] = "nixactions-abi-1";
