//! The Grafana dashboard (`assets/grafana/signalbox.json`) and the alert
//! rules (`assets/prometheus/`) ask only for the metrics and labels a run
//! serves (SPEC §8), plus the `instance` and `job` a scrape adds; each
//! panel shows what its legend names, each alert what its annotations name;
//! promtool checks the rules and runs their tests.

mod promql;

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use promql::{METRICS, read, shown_labels};

#[test]
fn the_reader_finds_what_is_wrong_with_a_query() {
    let ok = [
        r#"sum by (status) (signalbox_steps{workflow=~"$workflow"})"#,
        r#"histogram_quantile(0.95, sum by (le, kind) (rate(signalbox_wait_duration_seconds_bucket[5m])))"#,
        r#"max by (breaker) (signalbox_breaker_state{state="open"} * 2 or signalbox_breaker_state{state="half_open"})"#,
        r#"sum by (workflow) (rate(signalbox_attempts_total{outcome=~"failed|timed_out"}[15m])) / sum by (workflow) (rate(signalbox_attempts_total[15m])) > 0.5"#,
    ];
    for expr in ok {
        assert!(read(expr).is_ok(), "{:?}", read(expr));
    }
    let wrong = [
        ("signalbox_step", "not a metric"),
        ("signalbox_attempt_duration_seconds", "not a metric"),
        (r#"signalbox_steps{outcome="failed"}"#, "no label `outcome`"),
        (r#"signalbox_steps{status="runing"}"#, "never \"runing\""),
        (
            r#"signalbox_attempts_total{outcome=~"failed|killed"}"#,
            "never \"killed\"",
        ),
        ("sum by (kind) (signalbox_steps)", "which its series lack"),
        ("rate(signalbox_waits_open[5m])", "of a gauge"),
        ("rate(signalbox_events_total)", "wants a range vector"),
        (
            "histogram_quantile(0.5, sum by (workflow) (rate(signalbox_attempt_duration_seconds_bucket[5m])))",
            "without `le`",
        ),
        (
            "sum by (status) (signalbox_steps) / sum(signalbox_steps)",
            "nothing matches",
        ),
        (
            "signalbox_steps and on (kind) signalbox_waits_open",
            "which one side lacks",
        ),
        ("frobnicate(signalbox_steps)", "not a function"),
    ];
    for (expr, says) in wrong {
        let problems = read(expr)
            .err()
            .unwrap_or_else(|| panic!("`{expr}` passes"))
            .join("\n");
        assert!(problems.contains(says), "`{expr}`: {problems}");
    }
    assert_eq!(shown_labels("{{kind}} by {{ by }}", "{{"), ["kind", "by"]);
    assert_eq!(
        shown_labels("{{ $labels.workflow }}: {{ $value }}", "$labels."),
        ["workflow"]
    );
}

// ---------------------------------------------------------------------------
// The files
// ---------------------------------------------------------------------------

fn asset(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets")
        .join(path)
}

fn dashboard() -> Value {
    let text = std::fs::read_to_string(asset("grafana/signalbox.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(asset(path)).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string `{key}` in {value}"))
}

/// Every panel, those inside collapsed rows too.
fn panels(list: &Value) -> Vec<&Value> {
    let mut all = Vec::new();
    for panel in list.as_array().unwrap() {
        all.push(panel);
        if let Some(inner) = panel.get("panels") {
            all.extend(panels(inner));
        }
    }
    all
}

/// Each panel's queries, as promtool and Prometheus see them once Grafana
/// has put its variables in.
fn queries(dash: &Value) -> Vec<(String, &Value)> {
    let mut all = Vec::new();
    for panel in panels(&dash["panels"]) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            all.push((
                format!("panel {} `{}`", panel["id"], text(panel, "title")),
                target,
            ));
        }
    }
    all
}

fn grafana_to_promql(expr: &str) -> String {
    expr.replace("$__rate_interval", "5m")
        .replace("$__interval", "1m")
        .replace("$__range", "1h")
        .replace("$workflow", ".+")
}

#[test]
fn the_dashboard_is_one_grafana_imports() {
    let dash = dashboard();
    assert_eq!(text(&dash, "title"), "signalbox");
    assert!(!text(&dash, "uid").is_empty());
    assert!(
        dash["schemaVersion"].as_u64().unwrap() >= 36,
        "{}",
        dash["schemaVersion"]
    );

    let vars = dash["templating"]["list"].as_array().unwrap();
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no variable `{name}`"))
    };
    assert_eq!(var("datasource")["type"], "datasource");
    assert_eq!(var("datasource")["query"], "prometheus");
    let workflow = var("workflow");
    assert_eq!(workflow["type"], "query");
    assert_eq!(
        workflow["query"]["query"],
        "label_values(signalbox_steps, workflow)"
    );
    assert_eq!(workflow["datasource"]["uid"], "${datasource}");

    let mut ids = HashSet::new();
    let mut cells = HashSet::new();
    let known = [
        "row",
        "timeseries",
        "stat",
        "state-timeline",
        "gauge",
        "bargauge",
        "table",
        "text",
    ];
    for panel in panels(&dash["panels"]) {
        let title = text(panel, "title");
        let kind = text(panel, "type");
        assert!(known.contains(&kind), "`{title}`: type {kind}");
        assert!(
            ids.insert(panel["id"].as_u64().unwrap()),
            "`{title}`: id {} twice",
            panel["id"]
        );
        let grid = &panel["gridPos"];
        let [h, w, x, y] = ["h", "w", "x", "y"].map(|k| {
            grid[k]
                .as_u64()
                .unwrap_or_else(|| panic!("`{title}`: gridPos.{k}"))
        });
        assert!(h > 0 && w > 0 && x + w <= 24, "`{title}`: {grid}");
        for cell in (x..x + w).flat_map(|cx| (y..y + h).map(move |cy| (cx, cy))) {
            assert!(
                cells.insert(cell),
                "`{title}` overlaps another panel at {cell:?}"
            );
        }
        if kind == "row" {
            continue;
        }
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "`{title}`");
        let targets = panel["targets"]
            .as_array()
            .unwrap_or_else(|| panic!("`{title}` has no targets"));
        assert!(!targets.is_empty(), "`{title}` has no targets");
        let refs: HashSet<&str> = targets.iter().map(|t| text(t, "refId")).collect();
        assert_eq!(refs.len(), targets.len(), "`{title}`: a refId twice");
        for target in targets {
            assert!(
                !text(target, "expr").trim().is_empty(),
                "`{title}`: an empty expr"
            );
            assert_eq!(target["datasource"]["uid"], "${datasource}", "`{title}`");
        }
    }
}

#[test]
fn the_dashboard_asks_only_for_what_a_run_serves_and_shows_each_metric() {
    let dash = dashboard();
    let mut problems = Vec::new();
    let mut named = BTreeSet::new();
    for (panel, target) in queries(&dash) {
        match read(&grafana_to_promql(text(target, "expr"))) {
            Ok((out, metrics)) => {
                named.extend(metrics);
                let labels = out.labels.unwrap_or_default();
                for shown in shown_labels(target["legendFormat"].as_str().unwrap_or(""), "{{") {
                    if !labels.contains(&shown) {
                        problems.push(format!(
                            "{panel}: the legend shows `{shown}`, which its query drops"
                        ));
                    }
                }
            }
            Err(found) => problems.extend(found.into_iter().map(|p| format!("{panel}: {p}"))),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let all: BTreeSet<&str> = METRICS.iter().map(|m| m.0).collect();
    let missing: Vec<_> = all.difference(&named).collect();
    assert!(missing.is_empty(), "no panel shows {missing:?}");
}

fn rules() -> Vec<Value> {
    let file = yaml("prometheus/signalbox-alerts.yaml");
    let groups = file["groups"].as_array().unwrap();
    groups
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().clone())
        .collect()
}

#[test]
fn the_alert_rules_ask_only_for_what_a_run_serves() {
    let rules = rules();
    let names: Vec<&str> = rules.iter().map(|r| text(r, "alert")).collect();
    for wanted in [
        "SignalboxWaitOpenTooLong",
        "SignalboxBreakerOpen",
        "SignalboxAttemptFailureRatioHigh",
        "SignalboxSubscribersDropped",
    ] {
        assert!(names.contains(&wanted), "no alert {wanted} in {names:?}");
    }
    let mut problems = Vec::new();
    for rule in &rules {
        let alert = text(rule, "alert");
        assert!(
            rule["labels"]["severity"].is_string(),
            "{alert}: no severity"
        );
        let labels = match read(text(rule, "expr")) {
            Ok((out, _)) => out.labels.unwrap_or_default(),
            Err(found) => {
                problems.extend(found.into_iter().map(|p| format!("{alert}: {p}")));
                continue;
            }
        };
        for (key, template) in rule["annotations"].as_object().unwrap() {
            for shown in shown_labels(template.as_str().unwrap(), "$labels.") {
                if !labels.contains(&shown) {
                    problems.push(format!(
                        "{alert}: its {key} shows `{shown}`, which its query drops"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Each alert has a case where it fires and one where it stays quiet.
#[test]
fn the_rule_tests_make_each_alert_fire_and_stay_quiet() {
    let tests = yaml("prometheus/signalbox-alerts.test.yaml");
    assert_eq!(tests["rule_files"][0], "signalbox-alerts.yaml");
    let cases: Vec<&Value> = tests["tests"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_array().unwrap())
        .collect();
    for rule in rules() {
        let alert = text(&rule, "alert");
        let mine: Vec<_> = cases.iter().filter(|c| c["alertname"] == alert).collect();
        let fires = |c: &&&Value| c["exp_alerts"].as_array().is_some_and(|a| !a.is_empty());
        assert!(mine.iter().any(fires), "no case where {alert} fires");
        assert!(
            mine.iter().any(|c| !fires(c)),
            "no case where {alert} stays quiet"
        );
    }
}

// ---------------------------------------------------------------------------
// promtool
// ---------------------------------------------------------------------------

/// promtool (Debian's `prometheus` package), or why not: in CI (`CI` set)
/// its absence fails the test; elsewhere the test says it is skipped.
fn promtool() -> Option<Command> {
    let found = Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "promtool is missing: `apt-get install prometheus` installs it"
        );
        println!("SKIPPED: promtool is not installed (`apt-get install prometheus`)");
        return None;
    }
    Some(Command::new("promtool"))
}

fn said(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn promtool_checks_the_alert_rules_and_passes_their_tests() {
    let Some(mut check) = promtool() else { return };
    let out = check
        .args(["check", "rules"])
        .arg(asset("prometheus/signalbox-alerts.yaml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", said(&out));
    assert!(
        said(&out).contains("SUCCESS: 4 rules found"),
        "{}",
        said(&out)
    );

    let Some(mut test) = promtool() else { return };
    let out = test
        .args(["test", "rules", "signalbox-alerts.test.yaml"])
        .current_dir(asset("prometheus"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("SUCCESS"), "{}", said(&out));
}

/// Prometheus's own parser reads each panel's query, once Grafana's
/// variables are put in: every query becomes a recording rule.
#[test]
fn promtool_parses_every_dashboard_query() {
    let Some(mut check) = promtool() else { return };
    let dash = dashboard();
    let mut rules = serde_json::Map::new();
    let list: Vec<Value> = queries(&dash)
        .into_iter()
        .enumerate()
        .map(|(i, (_, target))| {
            serde_json::json!({"record": format!("signalbox:dashboard_query_{i}"), "expr": grafana_to_promql(text(target, "expr"))})
        })
        .collect();
    let count = list.len();
    rules.insert(
        "groups".into(),
        serde_json::json!([{"name": "dashboard", "rules": list}]),
    );
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("dashboard-rules.json");
    // JSON is YAML, so promtool reads it as it is
    std::fs::write(&file, Value::Object(rules).to_string()).unwrap();
    let out = check.args(["check", "rules"]).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", said(&out));
    assert!(
        said(&out).contains(&format!("SUCCESS: {count} rules found")),
        "{}",
        said(&out)
    );
}

/// The query of the panel titled `title`, as Prometheus gets it.
fn panel_query(dash: &Value, title: &str) -> String {
    let (_, target) = queries(dash)
        .into_iter()
        .find(|(panel, _)| panel.ends_with(&format!("`{title}`")))
        .unwrap_or_else(|| panic!("no panel `{title}`"));
    grafana_to_promql(text(target, "expr"))
}

/// A series of a scrape of two processes running workflow `deploy`.
fn scraped(metric: &str, labels: &str, instance: &str, values: &str) -> Value {
    let series = format!(
        r#"{metric}{{workflow="deploy", {labels}, instance="{instance}", job="signalbox"}}"#
    );
    serde_json::json!({"series": series, "values": values})
}

/// What two panels show of a synthetic scrape, as Prometheus computes it.
#[test]
fn promtool_computes_what_the_breaker_and_failure_panels_show() {
    let Some(mut test) = promtool() else { return };
    let dash = dashboard();
    let state = |breaker: &str, state: &str, instance: &str, values: &str| {
        let labels = format!(r#"breaker="{breaker}", state="{state}""#);
        scraped("signalbox_breaker_state", &labels, instance, values)
    };
    let attempts = |outcome: &str, values: &str| {
        scraped(
            "signalbox_attempts_total",
            &format!(r#"outcome="{outcome}""#),
            "a",
            values,
        )
    };
    let input = vec![
        // process a: api closed, open, half open, closed again; cache closed
        state("api", "closed", "a", "1 0 0 1"),
        state("api", "open", "a", "0 1 0 0"),
        state("api", "half_open", "a", "0 0 1 0"),
        state("cache", "closed", "a", "1 1 1 1"),
        state("cache", "open", "a", "0 0 0 0"),
        // process b: its api breaker opens last
        state("api", "closed", "b", "1 1 1 0"),
        state("api", "open", "b", "0 0 0 1"),
        attempts("succeeded", "0+1x20"),
        attempts("failed", "0+1x20"),
        attempts("refused", "0+2x20"),
        attempts("timed_out", "0x20"),
    ];
    let breakers = panel_query(&dash, "Breaker states");
    let sample = |labels: &str, value: f64| serde_json::json!({"labels": labels, "value": value});
    let at = |minute: u32, api: f64| {
        serde_json::json!({"expr": breakers, "eval_time": format!("{minute}m"), "exp_samples": [
            sample(r#"{workflow="deploy", breaker="api"}"#, api),
            sample(r#"{workflow="deploy", breaker="cache"}"#, 0.0),
        ]})
    };
    let ratio = serde_json::json!({
        "expr": panel_query(&dash, "Attempt failure ratio"), "eval_time": "10m",
        "exp_samples": [sample(r#"{workflow="deploy"}"#, 0.75)],
    });
    let file = serde_json::json!({
        "rule_files": [], "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": input,
                   // closed 0, open 2, half open 1; the worst of the two processes
                   "promql_expr_test": [at(0, 0.0), at(1, 2.0), at(2, 1.0), at(3, 2.0), ratio]}],
    });
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("panels.test.json"), file.to_string()).unwrap();
    let out = test
        .args(["test", "rules", "panels.test.json"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("SUCCESS"), "{}", said(&out));
}
