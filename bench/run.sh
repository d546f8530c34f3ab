#!/usr/bin/env bash
# Builds the release server and the load generator, then runs the benchmark.
#   bench/run.sh                                   every scenario, SQLite, 10 s each
#   bench/run.sh --peers oidc-provider,django      with the peers, same run
#   bench/run.sh --database-url postgres://…/db    on a fresh PostgreSQL database
#   bench/run.sh --report docs/bench               also write results.json, results.md, chart.svg
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --quiet
target_dir="${CARGO_TARGET_DIR:-target}"
exec "$target_dir/release/portcullis-bench" --binary "$target_dir/release/portcullis" "$@"
