//! Tests of finding (SPEC §4, §5).
