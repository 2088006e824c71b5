//! Benchmarks live in `benches/benches/` and `benches/src/bin/`.
