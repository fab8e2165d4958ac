//! The streams and buckets of SPEC §7, made if missing. Both the run and
//! the workers call [`ensure`]: whoever comes first makes them, with the
//! same settings.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, kv, stream};

use super::wire;

/// The handles one side needs.
#[derive(Clone)]
pub struct Handles {
    pub js: jetstream::Context,
    pub work: stream::Stream,
    pub results: stream::Stream,
    pub claims: kv::Store,
    pub leases: kv::Store,
    pub workers: kv::Store,
}

const DAY: Duration = Duration::from_secs(24 * 3600);

/// Makes (or finds) every stream and bucket. Fails while the server
/// cannot be reached; callers try again.
pub async fn ensure(client: &async_nats::Client) -> Result<Handles, String> {
    let js = jetstream::new(client.clone());
    let work = js
        .get_or_create_stream(stream::Config {
            name: wire::WORK_STREAM.into(),
            subjects: vec!["sb.work.>".into()],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            duplicate_window: Duration::from_secs(120),
            max_age: 7 * DAY,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("cannot make stream {}: {e}", wire::WORK_STREAM))?;
    let results = js
        .get_or_create_stream(stream::Config {
            name: wire::RESULTS_STREAM.into(),
            subjects: vec!["sb.res.>".into()],
            retention: stream::RetentionPolicy::Limits,
            storage: stream::StorageType::File,
            duplicate_window: Duration::from_secs(120),
            max_age: 7 * DAY,
            max_bytes: 1 << 30,
            discard: stream::DiscardPolicy::Old,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("cannot make stream {}: {e}", wire::RESULTS_STREAM))?;
    let claims = bucket(&js, wire::CLAIMS, 7 * DAY).await?;
    let leases = bucket(&js, wire::LEASES, Duration::from_secs(600)).await?;
    let workers = bucket(&js, wire::WORKERS, Duration::from_secs(60)).await?;
    Ok(Handles {
        js,
        work,
        results,
        claims,
        leases,
        workers,
    })
}

async fn bucket(
    js: &jetstream::Context,
    name: &str,
    max_age: Duration,
) -> Result<kv::Store, String> {
    if let Ok(store) = js.get_key_value(name).await {
        return Ok(store);
    }
    js.create_key_value(kv::Config {
        bucket: name.into(),
        history: 1,
        max_age,
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(|e| format!("cannot make bucket {name}: {e}"))
}

/// The durable pull consumer of `pool`'s work, shared by its workers.
pub async fn pool_consumer(
    work: &stream::Stream,
    pool: &str,
) -> Result<consumer::PullConsumer, String> {
    let name = wire::pool_consumer(pool);
    work.get_or_create_consumer(
        &name,
        consumer::pull::Config {
            durable_name: Some(name.clone()),
            filter_subject: wire::work_subject(pool),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: Duration::from_secs(30),
            max_deliver: 10,
            ..Default::default()
        },
    )
    .await
    .map_err(|e| format!("cannot make consumer {name}: {e}"))
}
