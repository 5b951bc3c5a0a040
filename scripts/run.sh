#!/usr/bin/env bash
# One command from a fresh Debian 12 machine (as root): install what is missing, build, and serve
# the default model on 127.0.0.1:8080. Extra args go to `tandem serve` (e.g. -m other.gguf --port 9000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
model=../shared/models/stories260K.gguf
for a in "$@"; do case "$a" in -m|--model) model="";; esac; done
exec build/server/tandem serve ${model:+-m "$model"} "$@"
