//! A real nats-server with JetStream on a free loopback port, for the
//! distributed tests.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::harness::wait_until;

/// A nats-server with JetStream, its store in a folder of its own; killed
/// when dropped.
pub struct NatsServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    child: Option<Child>,
    url: String,
    port: u16,
}

impl NatsServer {
    /// Starts one, or says the test is skipped and gives `None` when no
    /// binary is named (a failure under CI, which installs one).
    pub fn start() -> Option<NatsServer> {
        let bin = match std::env::var_os("SIGNALBOX_NATS_SERVER").filter(|v| !v.is_empty()) {
            Some(bin) => PathBuf::from(bin),
            None if std::env::var_os("CI").is_some() => {
                panic!("nats-server is needed: .ci/run installs it and sets SIGNALBOX_NATS_SERVER")
            }
            None => {
                eprintln!("skipped: SIGNALBOX_NATS_SERVER is not set");
                return None;
            }
        };
        let dir = tempfile::tempdir().unwrap();
        let mut server = NatsServer {
            bin,
            dir,
            child: None,
            url: String::new(),
            port: 0,
        };
        let child = server.spawn(None);
        let ports = server
            .dir
            .path()
            .join(format!("nats-server_{}.ports", child.id()));
        server.child = Some(child);
        let text = wait_until("the server's ports file", Duration::from_secs(10), || {
            std::fs::read_to_string(&ports)
                .ok()
                .filter(|t| t.contains("nats://"))
        });
        let value: Value = serde_json::from_str(&text).unwrap();
        server.url = value["nats"][0].as_str().unwrap().to_string();
        server.port = server.url.rsplit(':').next().unwrap().parse().unwrap();
        Some(server)
    }

    fn spawn(&self, port: Option<u16>) -> Child {
        let port = port.map_or("-1".to_string(), |p| p.to_string());
        let d = self.dir.path();
        Command::new(&self.bin)
            .args(["-a", "127.0.0.1", "-p", &port, "--ports_file_dir"])
            .arg(d)
            .args(["-js", "-sd"])
            .arg(d.join("js"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("server.log")).unwrap())
            .spawn()
            .expect("nats-server starts")
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Where it keeps its JetStream store (`-sd`).
    pub fn store(&self) -> PathBuf {
        self.dir.path().join("js")
    }

    /// `kill -9`, and reaped.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same store, and waits
    /// until it takes connections.
    pub fn restart(&mut self) {
        self.kill9();
        self.child = Some(self.spawn(Some(self.port)));
        let addr = format!("127.0.0.1:{}", self.port);
        wait_until("the restarted server", Duration::from_secs(10), || {
            std::net::TcpStream::connect(&addr).ok()
        });
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill9();
    }
}
