//! Matrix load errors (SPEC §1 "Matrix"): each at its place as
//! `FILE:LINE:COL: error: ...`, every one at once.

use super::{on_file, text};

/// `validate` refuses `yaml` with exactly these lines on stderr.
fn refused(yaml: &str, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = on_file(dir.path(), yaml, &["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    assert_eq!(text(&out.stderr), expected.join("\n") + "\n", "{yaml}");
}

#[test]
fn two_instances_with_one_id_are_refused_at_the_matrix_or_instance_key() {
    refused(
        "name: e\nsteps:\n  v:\n    matrix: { n: [1.5, 1_5] }\n    run: echo\n",
        &[
            "wf.yaml:4:5: error: two instances of step `v` have the id `v:1_5`: set `instance:` to a template that tells them apart, such as `{{ matrix.X }}-{{ matrix.Y }}`",
        ],
    );
    refused(
        "name: e\nsteps:\n  v:\n    matrix: { a: [x, y], b: [1, 2] }\n    instance: '{{ matrix.a }}'\n    run: echo\n",
        &[
            "wf.yaml:5:15: error: two instances of step `v` have the id `v:x`: set `instance:` to a template that tells them apart, such as `{{ matrix.X }}-{{ matrix.Y }}`",
            "wf.yaml:5:15: error: two instances of step `v` have the id `v:y`: set `instance:` to a template that tells them apart, such as `{{ matrix.X }}-{{ matrix.Y }}`",
        ],
    );
}

#[test]
fn an_empty_axis_is_refused_at_its_key() {
    refused(
        "name: e\nsteps:\n  v:\n    matrix:\n      ok: [1]\n      none: []\n    run: echo {{ matrix.ok }}\n",
        &[
            "wf.yaml:6:7: error: axis `none` in `matrix` of step `v` is empty: an axis needs at least one value",
        ],
    );
}

#[test]
fn matrix_x_that_some_instances_lack_lists_them() {
    refused(
        "\
name: e
steps:
  v:
    matrix:
      fruit: [apple, pear]
      include: [{ fruit: apple, color: red }, { fruit: kiwi }]
    run: echo {{ matrix.color }} {{ matrix.colour }}
    when: matrix.color == 'red'
",
        &[
            "wf.yaml:7:15: error: `matrix.color` is not set in every instance of `v`: v:pear, v:kiwi lack it; give it a value in each (an axis, or `include`)",
            "wf.yaml:7:34: error: step `v` has no matrix key `colour` (did you mean `color`?); its keys are `fruit`, `color`",
            "wf.yaml:8:11: error: `matrix.color` is not set in every instance of `v`: v:pear, v:kiwi lack it; give it a value in each (an axis, or `include`)",
        ],
    );
}

#[test]
fn more_than_ten_thousand_instances_are_refused_with_the_count() {
    let hundred: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    let axis = format!("[{}]", hundred.join(", "));
    let yaml = format!(
        "name: e\nsteps:\n  v:\n    matrix:\n      a: {axis}\n      b: {axis}\n      include: [{{ a: x }}]\n    run: echo\n"
    );
    refused(
        &yaml,
        &[
            "wf.yaml:4:5: error: the matrix of step `v` makes 10001 instances; a matrix step has at most 10000 (use fewer values, or `exclude`)",
        ],
    );
    // Exactly 10,000 is fine.
    let dir = tempfile::tempdir().unwrap();
    let out = on_file(
        dir.path(),
        &yaml.replace("      include: [{ a: x }]\n", ""),
        &["validate"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn matrix_x_outside_a_matrix_step_is_refused_where_it_is_written() {
    refused(
        "\
name: e
env: { A: '{{ matrix.a }}' }
steps:
  plain:
    run: echo {{ matrix.a }}
    when: matrix.a == '1'
    max_parallel: 2
",
        &[
            "wf.yaml:2:12: error: the workflow's `env` cannot use `matrix.a`: only a matrix step's own keys can",
            "wf.yaml:5:15: error: step `plain` has no `matrix`, so `matrix.a` means nothing there",
            "wf.yaml:6:11: error: in `when`: step `plain` has no `matrix`, so `matrix.a` means nothing there",
            "wf.yaml:7:19: error: step `plain` has no `matrix`: only a matrix step takes `max_parallel`",
        ],
    );
}

#[test]
fn a_matrix_key_over_100_bytes_is_refused() {
    let long = "k".repeat(101);
    refused(
        &format!("name: e\nsteps:\n  v:\n    matrix:\n      {long}: [1]\n    run: echo\n"),
        &[&format!(
            "wf.yaml:5:7: error: matrix key `{}…` is 101 bytes long; a matrix key is at most 100 bytes",
            "k".repeat(24)
        )],
    );
    refused(
        &format!("name: e\nsteps:\n  v:\n    matrix:\n      a: [{long}]\n    run: echo\n"),
        &[&format!(
            "wf.yaml:4:5: error: in step `v`: matrix key `{}…` is 101 bytes long; a matrix key is at most 100 bytes; set `instance:` to a shorter one",
            "k".repeat(24)
        )],
    );
}

#[test]
fn an_instance_id_cannot_be_another_steps_id() {
    // A written id cannot hold `:`, so an instance's id is never a step's.
    refused(
        "name: e\nsteps:\n  v:\n    matrix: { n: [1] }\n    run: echo\n  v:1:\n    run: echo\n",
        &[
            "wf.yaml:6:3: error: invalid step id `v:1`: use letters, digits, `_` and `-`, not starting with `-`",
            "wf.yaml:6:3: error: the id `v:1` of a matrix instance is also the id of another step; rename one",
        ],
    );
}

#[test]
fn reading_a_matrix_steps_outputs_or_pairing_wrongly_names_what_to_write() {
    refused(
        "\
name: e
steps:
  build:
    matrix: { target: [x86, arm] }
    run: echo
  plain:
    run: echo
  test:
    matrix: { target: [x86], os: [linux] }
    needs: [build, plain, { step: plain, same: [target] }, { step: build, same: [os] }]
    run: echo {{ steps.build.outputs.sha }}
  gate:
    needs: [build, { step: build, same: [target] }]
    when: steps.build.status == 'succeeded'
    run: echo
",
        &[
            "wf.yaml:10:27: error: step `plain` is not a matrix step, so `same` cannot pair its instances with `test`'s; write `needs: [plain]`",
            "wf.yaml:10:60: error: `same: [os]` in the needs of `test`: `os` is not a matrix key of step `build`; `same` names keys both matrices have",
            "wf.yaml:11:15: error: step `build` is a matrix of 2 instances, so `steps.build.outputs.sha` could be any of theirs; name one, such as `steps.build:x86.outputs.sha`",
            "wf.yaml:13:20: error: step `gate` has no `matrix`, so it has no axes for `same` to pair with `build`'s",
        ],
    );
}

#[test]
fn a_matrix_needing_a_whole_matrix_past_four_million_dependencies_is_refused_once() {
    let axis: Vec<String> = (0..100).map(|n| n.to_string()).collect();
    let axis = axis.join(", ");
    let yaml = format!(
        "name: e\nsteps:\n  b:\n    matrix: {{ x: [{axis}], y: [{axis}] }}\n    run: echo\n  d:\n    matrix: {{ x: [{axis}], y: [{axis}] }}\n    needs: [b]\n    run: echo\n"
    );
    refused(
        &yaml,
        &[
            "wf.yaml:8:13: error: the steps' needs come to more than 4000000 dependencies from `d` on: a matrix step needing a whole matrix step makes one per pair of instances; name instances, or pair them with `{ step: X, same: [AXIS] }`",
        ],
    );
}

#[test]
fn one_instance_lacking_a_value_and_a_matrix_of_nothing_are_said_plainly() {
    refused(
        "name: e\nsteps:\n  b:\n    matrix:\n      include: []\n    run: \"true\"\n  c:\n    matrix: { x: [a], include: [{ x: b, y: 1 }] }\n    run: echo {{ matrix.y }}\n",
        &[
            "wf.yaml:4:5: error: the matrix of step `b` has no instances: `exclude` removes every combination, or there are no axes and no `include` entries",
            "wf.yaml:9:15: error: `matrix.y` is not set in every instance of `c`: c:a lacks it; give it a value in each (an axis, or `include`)",
        ],
    );
}
