/* nixactions.h: the NixActions plugin ABI, all headers. */
#ifndef NIXACTIONS_H
#define NIXACTIONS_H
#include "nixactions/version.h"
#include "nixactions/types.h"
#include "nixactions/host.h"
#include "nixactions/plugin.h"
#include "nixactions/executor.h"
#include "nixactions/functions.h"
#include "nixactions/stream.h"  /* since ABI 1.2 */
#include "nixactions/files.h"   /* since ABI 1.2 */
#include "nixactions/secrets.h" /* since ABI 1.2 */
#include "nixactions/cache.h"   /* since ABI 1.2 */
#include "nixactions/options.h" /* since ABI 1.4 */
#endif
