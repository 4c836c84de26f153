#!/usr/bin/env bash
# The browser sketch pad's build-time files (book/09a_browser_sketch_pad.md), into _build/webpad/,
# which _config.yml's html_static_path copies into the book's _static/ folder:
#   webpad-runtime/  the three files of onnxruntime-web's single-threaded WASM build, from the pinned npm
#                    package (fetched with `npm pack`, checked against the package's sha512 integrity hash)
#   webpad-models/   the shipped checkpoints the pad offers, exported to ONNX (python -m sketchlib export),
#                    so a re-shipped checkpoint reaches the page at the next build
# Nothing here is committed. Needs npm (apt-get install -y npm) and the npm registry.
# Usage: bash scripts/fetch_webpad.sh [OUT]   (default OUT: _build/webpad)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-_build/webpad}
PY=${PYTHON:-python3}

ORT_VERSION=1.31.1
# npm view onnxruntime-web@1.31.1 dist.integrity
ORT_INTEGRITY=sha512-5GeH+bWQ+HxM10z7erGlsWqryrwMbSvm/1tkIsKTT48g0fI19VXVVC435t4t7VsPdSQeS7NmuZPXrQ73k82URw==
ORT_FILES=(ort.wasm.min.js ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm)

# folder under webpad-models/ : shipped checkpoint (the page's model picker lists the same folders)
MODELS=(
  "quickdraw-face:sketch_rnn-small/quickdraw-face"
  "faces-conditional:conditional_sketch_rnn-small/faces"
  "quickdraw-4:sketch_rnn-small/quickdraw-4"
)

# ---- the runtime
runtime="$OUT/webpad-runtime"
mkdir -p "$runtime"
stamp="$runtime/VERSION"
have_runtime() {
  [[ -f "$stamp" && "$(cat "$stamp")" == "onnxruntime-web@$ORT_VERSION $ORT_INTEGRITY" ]] || return 1
  local f
  for f in "${ORT_FILES[@]}"; do [[ -s "$runtime/$f" ]] || return 1; done
}
if have_runtime; then
  echo "fetch_webpad: onnxruntime-web $ORT_VERSION already in $runtime"
else
  if ! command -v npm >/dev/null && command -v apt-get >/dev/null && [[ "$(id -u)" == 0 ]]; then
    echo "fetch_webpad: installing npm (Debian's package)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null) || true
  fi
  command -v npm >/dev/null || { echo "fetch_webpad: npm is missing (apt-get install -y npm)" >&2; exit 1; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "onnxruntime-web@$ORT_VERSION" >/dev/null)
  tarball="$tmp/onnxruntime-web-$ORT_VERSION.tgz"
  [[ -f "$tarball" ]] || { echo "fetch_webpad: npm pack did not produce $tarball" >&2; exit 1; }
  got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [[ "$got" != "$ORT_INTEGRITY" ]]; then
    echo "fetch_webpad: onnxruntime-web-$ORT_VERSION.tgz has integrity $got, expected $ORT_INTEGRITY;" \
         "refusing it (a tampered or different package)" >&2
    exit 1
  fi
  tar -xzf "$tarball" -C "$tmp" "${ORT_FILES[@]/#/package/dist/}"
  for f in "${ORT_FILES[@]}"; do cp "$tmp/package/dist/$f" "$runtime/$f"; done
  echo "onnxruntime-web@$ORT_VERSION $ORT_INTEGRITY" > "$stamp"
  echo "fetch_webpad: onnxruntime-web $ORT_VERSION (integrity checked) -> $runtime"
fi

# ---- the models (kept when the checkpoint and the exporter are unchanged)
for entry in "${MODELS[@]}"; do
  folder=${entry%%:*}
  name=${entry#*:}
  OMP_NUM_THREADS=1 "$PY" -m sketchlib export --checkpoint "$name" --out "$OUT/webpad-models/$folder" --if-changed
done
