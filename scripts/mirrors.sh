# Sourced by scripts/test.sh and scripts/book.sh: point the loaders at the real offline data beside the
# repository (../shared/data) when it is there and no mirror is set; otherwise they download and cache.
_shared="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/../shared/data"
if [ -d "$_shared/quickdraw" ]; then export SKETCHLIB_QUICKDRAW_MIRROR="${SKETCHLIB_QUICKDRAW_MIRROR:-$(cd "$_shared/quickdraw" && pwd)}"; fi
if [ -d "$_shared/spg" ]; then export SKETCHLIB_SPG_MIRROR="${SKETCHLIB_SPG_MIRROR:-$(cd "$_shared/spg" && pwd)}"; fi
if [ -d "$_shared/sketch-rnn-datasets" ]; then export SKETCHLIB_SKETCHRNN_MIRROR="${SKETCHLIB_SKETCHRNN_MIRROR:-$(cd "$_shared/sketch-rnn-datasets" && pwd)}"; fi
unset _shared
