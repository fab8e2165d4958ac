//! A secret a pool step reads goes to the worker in its environment, and
//! comes back masked: neither the journal nor the server's store of
//! reports holds it in clear.

use std::path::Path;
use std::time::Duration;

use crate::common::Live;
use crate::harness::{Lab, MARK, NatsServer, invariants, wait_until};

const TOKEN: &str = "s3cr3t-Tok3n-4711";

/// Every file under `dir`, whole.
fn files(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path, bytes));
        }
    }
    out
}

fn holds(bytes: &[u8], text: &str) -> bool {
    bytes.windows(text.len()).any(|w| w == text.as_bytes())
}

#[test]
fn a_secret_comes_back_from_the_worker_masked() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let lab = Lab::new(&nats);
    let _w1 = lab.worker("p", "w1", 1);
    let yaml = format!(
        r#"name: secretive
secrets:
  token: {{ env: SB_TEST_TOKEN }}
steps:
  deploy:
    pool: p
    run: |
      {MARK}
      echo "token={{{{ secrets.token }}}}"
      echo "again $SB_TOKEN" >&2
      echo "k=v-{{{{ secrets.token }}}}" >> "$SIGNALBOX_OUTPUT"
    env: {{ SB_TOKEN: "{{{{ secrets.token }}}}" }}
  here:
    run: echo "nats=${{SIGNALBOX_NATS:-none}}"
"#
    );
    let file = lab.work.write_as("secretive.yaml", &lab.workflow(&yaml));
    let mut cmd = lab.command(&["run", "--headless", "--json"]);
    // The server's address, which may hold a password, reaches no step.
    cmd.arg(file)
        .env("SB_TEST_TOKEN", TOKEN)
        .env("SIGNALBOX_NATS", format!("nats://bob:{TOKEN}@127.0.0.1:9"));
    let done = Live::spawn(cmd).finish();
    done.expect(0, "succeeded");
    let lines: Vec<&str> = (done.of("step_output", "deploy").iter())
        .map(|e| e["line"].as_str().unwrap())
        .collect();
    assert_eq!(lines, ["token=***", "again ***"], "{}", done.dump());
    assert_eq!(
        done.lines("here", "output"),
        ["nats=none"],
        "{}",
        done.dump()
    );
    let ok = done.one("step_succeeded", "deploy");
    assert_eq!(ok["outputs"]["k"], "v-***", "{}", done.dump());
    assert!(!holds(&done.stdout, TOKEN), "{}", done.dump());
    // The run's state dir, the workers' (their logs), the oracle.
    for (path, bytes) in files(lab.work.dir()) {
        assert!(!holds(&bytes, TOKEN), "{} holds the secret", path.display());
    }
    // The server's stream of reports: the masked lines are there (so this
    // reads the right files), the secret is not.
    let reports = || {
        files(&nats.store())
            .into_iter()
            .filter(|(p, _)| p.to_string_lossy().contains("SB_RES"))
            .collect::<Vec<_>>()
    };
    wait_until("the reports on disk", Duration::from_secs(10), || {
        reports()
            .iter()
            .any(|(_, b)| holds(b, "token=***"))
            .then_some(())
    });
    for (path, bytes) in reports() {
        assert!(!holds(&bytes, TOKEN), "{} holds the secret", path.display());
    }
    lab.at_most_once();
    invariants(&lab, done.run_id());
}

#[test]
fn a_cancelled_step_no_worker_took_leaves_no_secret_in_the_server() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let lab = Lab::new(&nats);
    // No worker of pool `p`: the work waits in the server, secret and all.
    let yaml = r#"name: waiting
secrets:
  token: { env: SB_TEST_TOKEN }
steps:
  deploy:
    pool: p
    run: echo "{{ secrets.token }}"
"#;
    let file = lab.work.write_as("waiting.yaml", &lab.workflow(yaml));
    let mut cmd = lab.command(&["run", "--headless", "--json"]);
    cmd.arg(file).env("SB_TEST_TOKEN", TOKEN);
    let live = Live::spawn(cmd);
    let in_store = || files(&nats.store()).iter().any(|(_, b)| holds(b, TOKEN));
    wait_until("the work in the server", Duration::from_secs(10), || {
        in_store().then_some(())
    });
    live.signal("TERM");
    let done = live.finish();
    assert_eq!(done.end("deploy"), "step_cancelled", "{}", done.dump());
    assert!(!in_store(), "the cancelled work was erased from the server");
    invariants(&lab, done.run_id());
}
