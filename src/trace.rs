//! A run as OpenTelemetry spans (SPEC §8): `signalbox trace RUN` builds
//! one OTLP/JSON export request from the journal, so a run that crashed
//! and resumed is still one complete trace.
