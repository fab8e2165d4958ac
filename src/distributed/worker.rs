//! `signalbox worker`: runs the attempts of its pools.
