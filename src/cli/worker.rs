//! `worker` and `workers`: the command line of SPEC §7's workers.

use std::path::PathBuf;

use clap::Args;

use super::exit;
use crate::distributed::{connect, worker, workers};

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// A pool whose steps this worker runs (repeat for more).
    #[arg(long, value_name = "NAME", required = true)]
    pub pool: Vec<String>,
    /// The NATS server (default $SIGNALBOX_NATS, else nats://127.0.0.1:4222).
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,
    /// Attempts run at once (default: CPU count).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// How runs name this worker (default <hostname>-<pid>).
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// Where the worker keeps its files (default $SIGNALBOX_STATE_DIR, else .signalbox).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct WorkersArgs {
    /// The NATS server (default $SIGNALBOX_NATS, else nats://127.0.0.1:4222).
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,
    /// One JSON array of the workers.
    #[arg(long)]
    pub json: bool,
}

pub fn worker(args: WorkerArgs) -> u8 {
    for pool in &args.pool {
        if !crate::workflow::pool_name_ok(pool) {
            crate::safe::say!(
                "error: --pool {:?}: a pool name is 1 to 64 letters, digits, `_` or `-`",
                crate::safe::line(pool)
            );
            return exit::INVALID;
        }
    }
    let id = args.id.unwrap_or_else(worker::default_id);
    if !worker::id_ok(&id) {
        crate::safe::say!(
            "error: --id {:?}: an id is 1 to 64 letters, digits, `_`, `-` or `.`",
            crate::safe::line(&id)
        );
        return exit::INVALID;
    }
    let server = connect::server(args.nats.as_deref());
    if let Err(e) = connect::check(&server) {
        crate::safe::say!("error: {e}");
        return exit::INVALID;
    }
    let state_dir = super::run::state_dir(args.state_dir);
    if let Err(e) = std::fs::create_dir_all(&state_dir) {
        crate::safe::say!("error: cannot make {}: {e}", state_dir.display());
        return exit::INVALID;
    }
    let _log = super::logging::init(&state_dir);
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let mut pools = args.pool;
    pools.dedup();
    runtime.block_on(worker::serve(worker::Options {
        pools,
        server,
        jobs: args.jobs.map_or(cpus, |j| j as usize),
        id,
        state_dir,
    }))
}

pub fn workers(args: WorkersArgs) -> u8 {
    let server = connect::server(args.nats.as_deref());
    if let Err(e) = connect::check(&server) {
        crate::safe::say!("error: {e}");
        return exit::INVALID;
    }
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(workers::live(&server)) {
        Ok(list) => {
            let out = if args.json {
                format!("{}\n", workers::json(&list))
            } else {
                workers::text(&list)
            };
            crate::safe::write_exact(out.as_bytes());
            exit::OK
        }
        Err(e) => {
            crate::safe::say!("error: {e}");
            exit::FAILED
        }
    }
}
