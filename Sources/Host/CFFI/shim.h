/* libffi for Swift: Swift 6 rejects direct use of libffi's mutable global type descriptors, so
 * these accessors hand out their addresses. */
#ifndef NIXACTIONS_CFFI_SHIM_H
#define NIXACTIONS_CFFI_SHIM_H
#include <ffi.h>

static inline ffi_type *nxa_ffi_type_sint64(void) { return &ffi_type_sint64; }
static inline ffi_type *nxa_ffi_type_double(void) { return &ffi_type_double; }
static inline ffi_type *nxa_ffi_type_uint8(void) { return &ffi_type_uint8; }
static inline ffi_type *nxa_ffi_type_pointer(void) { return &ffi_type_pointer; }
static inline ffi_type *nxa_ffi_type_void(void) { return &ffi_type_void; }
#endif
