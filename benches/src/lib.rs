//! Criterion benchmarks for Vagt live in `benches/`; this library is empty.
