//! Tests of small (SPEC §4, §5).
