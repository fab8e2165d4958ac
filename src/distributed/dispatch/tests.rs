//! A run with a pool step against a real nats-server, the worker's part
//! played by hand.
