use super::*;
use crate::workflow::spec::{Combo, ScalarText};

fn combo(pairs: &[(&str, &str)]) -> Combo {
    Combo(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), ScalarText(v.to_string())))
            .collect(),
    )
}

fn matrix(
    axes: &[(&str, &[&str])],
    include: &[&[(&str, &str)]],
    exclude: &[&[(&str, &str)]],
) -> MatrixSpec {
    MatrixSpec {
        axes: axes
            .iter()
            .map(|(k, vs)| {
                (
                    k.to_string(),
                    vs.iter().map(|v| ScalarText(v.to_string())).collect(),
                )
            })
            .collect(),
        include: include.iter().map(|c| combo(c)).collect(),
        exclude: exclude.iter().map(|c| combo(c)).collect(),
    }
}

/// Each combination as `k=v` pairs joined by `,`, in key order.
fn shown(e: &Expansion) -> Vec<String> {
    e.combinations
        .iter()
        .map(|c| {
            e.keys
                .iter()
                .zip(c)
                .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

#[test]
fn the_cross_product_runs_in_axis_order_then_value_order() {
    // GitHub's documented order for `version: [10, 12, 14]`, `os: [...]`.
    let m = matrix(
        &[
            ("version", &["10", "12", "14"]),
            ("os", &["ubuntu", "windows"]),
        ],
        &[],
        &[],
    );
    let e = expand(&m).unwrap();
    assert_eq!(
        shown(&e),
        [
            "version=10,os=ubuntu",
            "version=10,os=windows",
            "version=12,os=ubuntu",
            "version=12,os=windows",
            "version=14,os=ubuntu",
            "version=14,os=windows",
        ]
    );
    let keys: Vec<String> = e.combinations.iter().map(|c| e.key(c)).collect();
    assert_eq!(keys[0], "10-ubuntu");
}

#[test]
fn include_follows_githubs_documented_example() {
    // GitHub Actions docs, "Expanding or adding matrix configurations".
    let m = matrix(
        &[("fruit", &["apple", "pear"]), ("animal", &["cat", "dog"])],
        &[
            &[("color", "green")],
            &[("color", "pink"), ("animal", "cat")],
            &[("fruit", "apple"), ("shape", "circle")],
            &[("fruit", "banana")],
            &[("fruit", "banana"), ("animal", "cat")],
        ],
        &[],
    );
    let e = expand(&m).unwrap();
    assert_eq!(
        shown(&e),
        [
            "fruit=apple,animal=cat,color=pink,shape=circle",
            "fruit=apple,animal=dog,color=green,shape=circle",
            "fruit=pear,animal=cat,color=pink",
            "fruit=pear,animal=dog,color=green",
            "fruit=banana",
            "fruit=banana,animal=cat",
        ]
    );
    assert_eq!(e.keys, ["fruit", "animal", "color", "shape"]);
    assert_eq!(e.made_by, [None, None, None, None, Some(3), Some(4)]);
    let keys: Vec<String> = e.combinations.iter().map(|c| e.key(c)).collect();
    assert_eq!(
        keys,
        [
            "apple-cat",
            "apple-dog",
            "pear-cat",
            "pear-dog",
            "banana",
            "banana-cat"
        ]
    );
}

#[test]
fn include_adds_to_one_combination_and_only_include_is_a_list() {
    // GitHub docs: `npm: 6` joins the one windows-latest / 16 job.
    let m = matrix(
        &[
            ("os", &["windows-latest", "ubuntu-latest"]),
            ("node", &["14", "16"]),
        ],
        &[&[("os", "windows-latest"), ("node", "16"), ("npm", "6")]],
        &[],
    );
    assert_eq!(
        shown(&expand(&m).unwrap()),
        [
            "os=windows-latest,node=14",
            "os=windows-latest,node=16,npm=6",
            "os=ubuntu-latest,node=14",
            "os=ubuntu-latest,node=16",
        ]
    );
    // GitHub docs: a matrix of `include` alone is its entries.
    let m = matrix(
        &[],
        &[
            &[("site", "production"), ("datacenter", "site-a")],
            &[("site", "staging"), ("datacenter", "site-b")],
        ],
        &[],
    );
    let e = expand(&m).unwrap();
    assert_eq!(
        shown(&e),
        [
            "site=production,datacenter=site-a",
            "site=staging,datacenter=site-b"
        ]
    );
    // No axes, so the KEY has nothing to join.
    assert_eq!(e.key(&e.combinations[0]), "");
}

#[test]
fn exclude_removes_every_combination_it_matches_partially() {
    // GitHub docs: 2 x 3 x 2 = 12, less one, less the two windows/16 jobs.
    let m = matrix(
        &[
            ("os", &["macos-latest", "windows-latest"]),
            ("version", &["12", "14", "16"]),
            ("environment", &["staging", "production"]),
        ],
        &[],
        &[
            &[
                ("os", "macos-latest"),
                ("version", "12"),
                ("environment", "production"),
            ],
            &[("os", "windows-latest"), ("version", "16")],
        ],
    );
    let e = expand(&m).unwrap();
    assert_eq!(e.combinations.len(), 9);
    let all = shown(&e);
    assert!(!all.contains(&"os=macos-latest,version=12,environment=production".to_string()));
    assert!(
        !all.iter()
            .any(|s| s.starts_with("os=windows-latest,version=16"))
    );
    // Includes come after excludes: an excluded combination can come back.
    let m = matrix(&[("a", &["1", "2"])], &[&[("a", "2")]], &[&[("a", "2")]]);
    assert_eq!(shown(&expand(&m).unwrap()), ["a=1", "a=2"]);
}

#[test]
fn the_spec_example_gives_three_plus_one_instances() {
    let m = matrix(
        &[
            ("target", &["x86_64-linux", "aarch64-linux"]),
            ("profile", &["release", "debug"]),
        ],
        &[&[("target", "wasm32-wasip2"), ("profile", "release")]],
        &[&[("target", "aarch64-linux"), ("profile", "debug")]],
    );
    let e = expand(&m).unwrap();
    let keys: Vec<String> = e.combinations.iter().map(|c| e.key(c)).collect();
    assert_eq!(
        keys,
        [
            "x86_64-linux-release",
            "x86_64-linux-debug",
            "aarch64-linux-release",
            "wasm32-wasip2-release"
        ]
    );
}

#[test]
fn problems_a_matrix_can_have_on_its_own() {
    let m = matrix(&[("a", &["1"])], &[], &[&[("b", "1")]]);
    assert_eq!(expand(&m), Err(Problem::ExcludeKey(0, "b".into())));
    let m = matrix(&[("a", &["1"])], &[], &[&[("a", "1")]]);
    assert_eq!(expand(&m), Err(Problem::Empty));
    let hundred: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    let hundred: Vec<&str> = hundred.iter().map(String::as_str).collect();
    let m = matrix(&[("a", &hundred), ("b", &hundred)], &[], &[]);
    assert_eq!(expand(&m).unwrap().combinations.len(), 10_000);
    let m = matrix(&[("a", &hundred), ("b", &hundred)], &[&[("a", "x")]], &[]);
    assert_eq!(expand(&m), Err(Problem::TooMany(10_001)));
    let m = matrix(
        &[
            ("a", &hundred),
            ("b", &hundred),
            ("c", &hundred),
            ("d", &hundred),
        ],
        &[],
        &[],
    );
    assert_eq!(expand(&m), Err(Problem::TooMany(100_000_000)));
    // Excludes can bring a walked product under the limit.
    let m = matrix(
        &[("a", &hundred), ("b", &hundred), ("c", &["1", "2"])],
        &[],
        &[&[("c", "2")]],
    );
    assert_eq!(expand(&m).unwrap().combinations.len(), 10_000);
}

#[test]
fn keys_keep_only_safe_characters() {
    assert_eq!(sanitize("1.2 beta/x:y"), "1_2_beta_x_y");
    assert_eq!(sanitize("ok_-9"), "ok_-9");
}
