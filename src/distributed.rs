//! Many machines (SPEC §7): attempts of steps with a `pool` travel to
//! workers over NATS JetStream. This is a front end of the engine: the
//! engine hands attempts to a [`Dispatch`](crate::engine::remote::Dispatch)
//! and hears back through `Reports`; this module is that dispatch
//! ([`dispatch`]), the worker that runs the attempts ([`worker`]), and the
//! listing of live workers ([`workers`]). [`wire`] is what travels, and
//! [`setup`] the streams and buckets both sides use.

pub mod connect;
pub mod dispatch;
pub mod setup;
pub mod wire;
pub mod worker;
pub mod workers;
