//! `signalbox workers`: the live workers.
