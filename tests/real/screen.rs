//! Tests of screen (SPEC §4, §5).
