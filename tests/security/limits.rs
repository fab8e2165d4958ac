//! Input edge cases (SPEC §6): a workflow file that is not a regular file,
//! names too long for the files they become, and inputs large enough to
//! make a quadratic loader or drawing hang. Each is refused at once with
//! its reason, or works.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{BIN, Done, Live};

fn signalbox(args: &[&str], dir: &Path) -> Done {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .env("SIGNALBOX_STATE_DIR", dir.join("state"));
    Live::spawn(cmd).finish()
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/invalid")
        .join(name)
}

/// `validate`, `graph` and `run` of a FIFO no one writes to used to block
/// forever in `open`; now each is refused at once, as are a device and a
/// folder. `finish` gives up (and fails) if the process does not end.
#[test]
fn a_workflow_file_that_is_not_a_regular_file_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("flow.yaml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let link = dir.path().join("link.yaml");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    let folder = dir.path().join("folder.yaml");
    std::fs::create_dir(&folder).unwrap();
    let cases = [
        (fifo.to_str().unwrap(), "a named pipe (FIFO)"),
        (link.to_str().unwrap(), "a named pipe (FIFO)"),
        ("/dev/zero", "a device"),
        (folder.to_str().unwrap(), "a folder"),
    ];
    for (file, what) in cases {
        for args in [
            vec!["validate", file],
            vec!["graph", file],
            vec!["graph", file, "--format", "dot"],
            vec!["run", file, "--headless"],
        ] {
            let done = signalbox(&args, dir.path());
            done.expect_refused(&format!(
                "{file}:1:1: error: this is {what}, not a workflow file"
            ));
        }
    }
}

/// A 300-byte step id loaded, then failed at run time with ENAMETOOLONG
/// (its log file name); a 300-byte workflow name made `run` exit 2 after
/// `validate` passed. Both are load errors now, on `run` as on `validate`
/// (the exact `validate` output is in the fixtures' `.stderr`).
#[test]
fn ids_and_names_longer_than_100_bytes_are_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    for (name, message) in [
        (
            "step_id_too_long.yaml",
            ":5:3: error: step id `sxxxxxxxxxxxxxxxxxxxxxxx…` is 300 bytes long; a step id is at most 100 bytes",
        ),
        (
            "workflow_name_too_long.yaml",
            ":1:7: error: workflow name `naaaaaaaaaaaaaaaaaaaaaaa…` is 300 bytes long; a workflow name is at most 100 bytes",
        ),
    ] {
        let file = fixture(name);
        let file = file.to_str().unwrap();
        for args in [vec!["validate", file], vec!["run", file, "--headless"]] {
            signalbox(&args, dir.path()).expect_refused(&format!("{file}{message}"));
        }
    }
    assert!(!dir.path().join("state").exists(), "nothing may run");
}

/// At the limit, a 100-byte workflow name and a 100-byte step id run: the
/// run folder, the log file and the run id all fit.
#[test]
fn an_id_and_a_name_of_100_bytes_run() {
    let dir = tempfile::tempdir().unwrap();
    let (name, id) = ("n".repeat(100), "s".repeat(100));
    let file = dir.path().join("edge.yaml");
    std::fs::write(
        &file,
        format!("name: {name}\nsteps:\n  {id}:\n    run: echo fits\n"),
    )
    .unwrap();
    let done = signalbox(
        &["run", file.to_str().unwrap(), "--headless", "--json"],
        dir.path(),
    );
    done.expect(0, "succeeded");
    assert_eq!(done.lines(&id, "output"), ["fits"], "{}", done.dump());
}

/// A step needing 100,000 others: resolving `needs` compared each entry with
/// every earlier one, and the text graph drew each of the 100,000 edges'
/// vertical separately down a 200,000-row column (11.7 s, then 32 s with
/// `--format text`). Both are linear now. No timing is asserted; the wait is
/// only a guard against a hang (the figure is `benches/limits.sh`).
#[test]
fn a_step_with_100000_needs_validates_and_draws() {
    const N: usize = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("name: wide\nsteps:\n");
    for i in 0..N {
        text.push_str(&format!("  s{i}:\n    run: 'true'\n"));
    }
    let all: Vec<String> = (0..N).map(|i| format!("s{i}")).collect();
    text.push_str(&format!(
        "  last:\n    needs: [{}]\n    run: 'true'\n",
        all.join(", ")
    ));
    let file = dir.path().join("wide.yaml");
    std::fs::write(&file, text).unwrap();
    let out = guarded(&["graph", file.to_str().unwrap()], Duration::from_secs(300));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("wide: 100001 steps in 2 layers\n"),
        "{}",
        &stdout[..200.min(stdout.len())]
    );
    assert!(stdout.contains("▶[▸ last]"));
    assert_eq!(stdout.matches("[▸ s").count(), N);
}

/// Runs the binary to its end, killing it (and failing) after `limit`. The
/// output is read into files so a big stdout cannot fill a pipe.
fn guarded(args: &[&str], limit: Duration) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("signalbox {args:?} did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    std::process::Output {
        status,
        stdout: std::fs::read(out).unwrap(),
        stderr: std::fs::read(err).unwrap(),
    }
}

/// Files that each loaded in time growing with the square of their size:
/// every block scalar (`run: |`) was placed by reading the file from its
/// start (20,000 of them took minutes), and so was every error's position;
/// every unknown `needs` compared itself with every step id for a "did you
/// mean". No timing is asserted; the guard only stops a hang.
#[test]
fn many_block_scalars_and_many_errors_load_without_a_quadratic_cost() {
    const N: usize = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, step: &dyn Fn(usize) -> String| {
        let mut text = String::from("name: many\nsteps:\n");
        (0..N).for_each(|i| text.push_str(&step(i)));
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        file.to_str().unwrap().to_string()
    };
    let blocks = write("blocks.yaml", &|i| {
        format!("  s{i}:\n    run: |\n      echo {i}\n")
    });
    let out = guarded(&["validate", &blocks], Duration::from_secs(120));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let vars = write("vars.yaml", &|i| {
        format!("  s{i}:\n    run: echo {{{{ vars.v{i} }}}}\n")
    });
    let unknown = write("unknown.yaml", &|i| {
        format!("  s{i}:\n    needs: [t{i}]\n    run: 'true'\n")
    });
    for (file, first) in [
        (&vars, format!("{vars}:4:15: error: unknown var `v0`")),
        (
            &unknown,
            format!("{unknown}:4:13: error: step `s0` needs unknown step `t0`"),
        ),
    ] {
        let out = guarded(&["validate", file], Duration::from_secs(120));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), N, "one error per step");
        assert!(
            stderr.starts_with(&first),
            "{}",
            &stderr[..300.min(stderr.len())]
        );
    }
}

/// A 2,000-step chain and 2,000 steps that each need its first and last
/// step: every such edge passes through 2,000 layers, and the text drawing
/// gave each pass a row in every layer (a 200 KB file took seconds and
/// hundreds of MB, and grows with the square). The text graph refuses it
/// with the way out; DOT draws it.
#[test]
fn a_graph_too_big_to_draw_as_text_is_refused_with_the_way_out() {
    const L: usize = 2_000;
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("name: deep\nsteps:\n");
    for i in 0..L {
        let needs = if i > 0 {
            format!("    needs: [c{}]\n", i - 1)
        } else {
            String::new()
        };
        text.push_str(&format!("  c{i}:\n{needs}    run: 'true'\n"));
    }
    for j in 0..L {
        text.push_str(&format!(
            "  x{j}:\n    needs: [c0, c{}]\n    run: 'true'\n",
            L - 1
        ));
    }
    let file = dir.path().join("deep.yaml");
    std::fs::write(&file, text).unwrap();
    let file = file.to_str().unwrap();
    let out = guarded(&["graph", file], Duration::from_secs(120));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.starts_with(&format!(
            "{file}: error: the graph of 4000 steps is too big to draw as text ("
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("draw it with `--format dot` or `--format mermaid`"),
        "{stderr}"
    );
    let out = guarded(
        &["graph", file, "--format", "dot"],
        Duration::from_secs(120),
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).matches(" -> ").count(),
        2 * L + L - 1
    );
}
