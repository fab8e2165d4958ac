//! Tests of edges (SPEC §4, §5).
