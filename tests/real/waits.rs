//! Tests of waits (SPEC §4, §5).
