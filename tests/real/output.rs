//! Tests of output (SPEC §4, §5).
