//! The run's side: a [`Dispatch`](crate::engine::remote::Dispatch) over NATS.
