// The web UI bundle compiled into the binary (webui/dist, gzip-compressed files, by
// cmake/embed_files.cmake): each file's path relative to dist, e.g. "assets/index-AbC1.js.gz".
#pragma once

#include <span>

#include "common/embedded_file.h"

namespace tandem {

std::span<const embedded_file> embedded_webui_files();

}  // namespace tandem
