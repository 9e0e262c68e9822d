#!/usr/bin/env bash
# Regenerates protocol/src/generated/tickd_generated.rs from protocol/schema/tickd.fbs with the
# vendored flatc 23.5.26 (crate `flatc`, needs cmake; first build takes a few minutes).
#   protocol/codegen.sh          rewrite the checked-in code
#   protocol/codegen.sh --check  exit 1 if the checked-in code is stale
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cargo build --quiet --release --manifest-path "$here/codegen/Cargo.toml"
"$here/codegen/target/release/tickd-protocol-codegen" "$@" "$here"
