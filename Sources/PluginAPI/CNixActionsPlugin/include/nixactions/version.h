/*
 * nixactions/version.h: the plugin ABI version.
 *
 * Rules (SQLite's and CLAP's):
 *  - A host speaks exactly one ABI major. A plugin whose major differs is refused.
 *  - Minor versions only ever append fields to the end of structs or add interfaces.
 *    Each side reads no field beyond the `struct_size` the other side reported.
 *  - An interface (e.g. "nixactions.executor/1") is never edited in place: a change is a new id.
 */
#ifndef NIXACTIONS_VERSION_H
#define NIXACTIONS_VERSION_H

#define NXA_ABI_MAJOR 1u
#define NXA_ABI_MINOR 1u  /* 1.1: the functions interface (nixactions/functions.h) */

/* The one symbol every plugin exports (a function, so that dlsym is guaranteed to find it). */
#define NXA_ENTRY_SYMBOL "nixactions_plugin_entry"

#endif
