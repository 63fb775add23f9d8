//! `labels` and `label/<name>/values` from the label index give what visiting every stream
//! [`series`] returns gave (the implementation before issue 12), for ranges covering part
//! of a day, several days, selectors, other tenants, streams whose data in a day was
//! deleted and streams gone from the registry.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::*;
use crate::index::Registry;
use crate::ingest::Ingester;
use crate::logql::parse_selector;
use crate::model::{Entry, Labels, PushStream};
use crate::store::{keys, Rocks, RocksOptions};
use crate::tail::Hub;

const H: i64 = keys::HOUR_NS;
/// 2026-02-02T00:00:00Z, a day boundary.
const D0: i64 = 1_769_990_400_000_000_000;

fn push(ing: &Ingester, tenant: &str, labels: &[(&str, &str)], times: &[i64]) {
    let labels = Labels::from_pairs(labels.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect());
    let entries = times.iter().map(|&ts| Entry { ts, line: format!("at {ts}"), metadata: vec![] }).collect();
    ing.commit(tenant, vec![PushStream { labels, entries }]).unwrap();
}

/// What the label endpoints answered before: every stream `series` returns, visited.
fn by_series(
    e: &Engine,
    tenant: &str,
    sel: Option<&[Matcher]>,
    name: Option<&str>,
    start: Nanos,
    end: Nanos,
) -> BTreeSet<String> {
    let selectors: Vec<Vec<Matcher>> = sel.map(|s| vec![s.to_vec()]).unwrap_or_default();
    let mut out = BTreeSet::new();
    for m in series(e, tenant, &selectors, start, end).unwrap() {
        match name {
            None => out.extend(m.labels.iter().map(|(n, _)| n.to_string())),
            Some(name) => out.extend(m.labels.get(name).map(str::to_string)),
        }
    }
    out
}

#[test]
fn label_names_and_values_match_a_walk_over_every_stream() {
    let dir = tempfile::tempdir().unwrap();
    let rocks = Arc::new(Rocks::open(dir.path(), &RocksOptions::default()).unwrap());
    let registry = Arc::new(Registry::load(&rocks).unwrap());
    let ing = Ingester::new(Arc::clone(&rocks), Arc::clone(&registry), Arc::new(Hub::default()));
    // Streams with data at different hours of three days.
    push(&ing, "fake", &[("app", "a"), ("env", "prod")], &[D0 + H, D0 + 2 * H + 5]);
    push(&ing, "fake", &[("app", "b"), ("env", "dev"), ("zone", "z1")], &[D0 + 10 * H, D0 + 24 * H + 3 * H]);
    push(&ing, "fake", &[("app", "c"), ("team", "t")], &[D0 + 23 * H + 59 * 60 * 1_000_000_000]);
    push(&ing, "fake", &[("app", "d"), ("env", "prod"), ("only_late", "x")], &[D0 + 48 * H + 7 * H]);
    push(&ing, "other", &[("app", "a"), ("secret", "s")], &[D0 + H, D0 + 30 * H]);
    for i in 0..40 {
        push(&ing, "fake", &[("app", "many"), ("pod", &format!("p{i}"))], &[D0 + (i % 30) * 2 * H]);
    }
    // A stream whose day-0 data was deleted (retention by stream, a delete request): the
    // day partition still lists it.
    push(&ing, "fake", &[("app", "gone-early"), ("kind", "k")], &[D0 + 3 * H, D0 + 26 * H]);
    let gone_early = registry.lookup("fake", r#"{app="gone-early", kind="k"}"#).unwrap();
    let mut batch = rocks.batch();
    batch.delete_blocks_range(
        &keys::block_bucket(gone_early, keys::hour_of(D0 + 3 * H)),
        &keys::block_bucket(gone_early, keys::hour_of(D0 + 3 * H) + 1),
    );
    rocks.write(batch).unwrap();
    // A stream removed from the registry, still named by its day partition.
    push(&ing, "fake", &[("app", "removed"), ("old", "o")], &[D0 + 4 * H]);
    let removed = registry.meta(registry.lookup("fake", r#"{app="removed", old="o"}"#).unwrap()).unwrap();
    ing.with_commit_lock(|| {
        let mut batch = rocks.batch();
        registry.prepare_remove(&mut batch, &removed);
        batch.delete_blocks_range(&keys::block_stream(removed.id), &keys::block_stream_end(removed.id));
        rocks.write(batch).unwrap();
        registry.forget(&[Arc::clone(&removed)]);
    });

    let e = Engine { rocks: Arc::clone(&rocks), registry: Arc::clone(&registry) };
    let selectors = [
        None,
        Some(r#"{app="a"}"#),
        Some(r#"{app=~"a|b|gone.*"}"#),
        Some(r#"{app=~".+", env!="prod"}"#),
        Some(r#"{app="many", pod=~"p1.*"}"#),
        Some(r#"{team=~".+"}"#),
    ];
    let names = ["app", "env", "pod", "kind", "old", "secret", "zone", "only_late", "nope"];
    let mut bounds = vec![(D0 - H, D0 + 80 * H), (D0 + 60 * H, D0 + 50 * H), (D0 + 5 * H, D0 + 5 * H)];
    for s in [0, 1, 2, 3, 4, 9, 23, 24, 26, 30, 54] {
        for len in [0, 1, 2, 7, 20, 30] {
            bounds.push((D0 + s * H, D0 + (s + len) * H - 1));
            bounds.push((D0 + s * H + 1, D0 + (s + len) * H + 7));
        }
    }
    let mut checked = 0;
    for tenant in ["fake", "other", "nobody"] {
        for sel in selectors {
            let sel = sel.map(|q| parse_selector(q, true).unwrap());
            for &(start, end) in &bounds {
                let got = label_names(&e, tenant, sel.as_deref(), start, end).unwrap();
                let want = by_series(&e, tenant, sel.as_deref(), None, start, end);
                assert_eq!(got, want, "labels {tenant} {sel:?} [{start}, {end}]");
                for name in names {
                    let got = label_values(&e, tenant, name, sel.as_deref(), start, end).unwrap();
                    let want = by_series(&e, tenant, sel.as_deref(), Some(name), start, end);
                    assert_eq!(got, want, "values of {name} {tenant} {sel:?} [{start}, {end}]");
                    checked += !want.is_empty() as usize;
                }
            }
        }
    }
    assert!(checked > 300, "most cases have values ({checked})");
    // The deleted hour and the removed stream are not named when nothing else has them.
    assert!(!label_names(&e, "fake", None, D0, D0 + 4 * H).unwrap().contains("kind"));
    assert!(!label_names(&e, "fake", None, D0, D0 + 24 * H - 1).unwrap().contains("old"));
    assert!(label_names(&e, "fake", None, D0, D0 + 27 * H).unwrap().contains("kind"));
}
