//! Push validation with Loki's rules, order, reasons and message templates.
//!
//! Per stream (`Validator.ValidateLabels`), then per entry (`Validator.ValidateEntry`), as in
//! `Distributor.Push`: invalid streams / entries are dropped, the rest is accepted, and the
//! caller answers 400 with [`ValidatedPush::error_message`] if anything was rejected.
//! `service_name` is added *before* validation (Loki does it while parsing the request, so
//! it shows in error messages); `detected_level` and metadata normalisation happen on
//! accepted entries only.
//!
//! Not handled here: a request without any stream (Loki: 422 `error at least one valid
//! stream is required for ingestion`), rate limits and per-stream ordering (ingester).

use std::fmt::Write as _;

use crate::ingest::detect;
use crate::limits::Limits;
use crate::model::{Entry, Labels, Nanos, PushStream};

/// Outcome of [`validate_push`].
#[derive(Debug, Default)]
pub struct ValidatedPush {
    /// Streams with at least one accepted entry (labels include `service_name`).
    pub accepted: Vec<PushStream>,
    /// One message per rejected stream or entry, in request order.
    pub errors: Vec<String>,
    pub n_rejected_entries: usize,
    /// Loki discard reason (`line_too_long`, …) → (entries, bytes of line + metadata).
    pub rejected_by_reason: Vec<(&'static str, usize, u64)>,
}

impl ValidatedPush {
    /// Loki's `GroupedErrors` text: distinct messages joined by `; `, each prefixed with
    /// `N errors like: ` unless there is exactly one error. (Loki's order is random — a Go
    /// map; here it is the order of first occurrence.)
    pub fn error_message(&self) -> Option<String> {
        if self.errors.is_empty() {
            return None;
        }
        let mut groups: Vec<(&str, usize)> = Vec::new();
        for e in &self.errors {
            match groups.iter_mut().find(|(m, _)| *m == e.as_str()) {
                Some((_, n)) => *n += 1,
                None => groups.push((e, 1)),
            }
        }
        let prefix = groups.len() > 1 || groups[0].1 > 1;
        let mut out = String::new();
        for (i, (msg, n)) in groups.iter().enumerate() {
            if i > 0 {
                out.push_str("; ");
            }
            if prefix {
                let _ = write!(out, "{n} errors like: ");
            }
            out.push_str(msg);
        }
        Some(out)
    }

    fn reject(&mut self, reason: &'static str, msg: String, entries: usize, bytes: u64) {
        self.errors.push(msg);
        self.n_rejected_entries += entries;
        match self.rejected_by_reason.iter_mut().find(|(r, ..)| *r == reason) {
            Some((_, n, b)) => {
                *n += entries;
                *b += bytes;
            }
            None => self.rejected_by_reason.push((reason, entries, bytes)),
        }
    }
}

/// Who gives a pushed stream its `service_name`: as in Loki, each body format's decoder
/// does. Loki's push bodies get it here; OTLP's mapping (`api::wire::otlp`) has already
/// applied Loki's OTLP rule, which adds none when `service.name` is present but not indexed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceName {
    Discover,
    AsDecoded,
}

/// Applies Loki's ingest mutations and validation to decoded streams.
pub fn validate_push(
    tenant: &str,
    streams: Vec<PushStream>,
    limits: &Limits,
    now: Nanos,
    service: ServiceName,
) -> ValidatedPush {
    let _ = tenant; // Loki's messages for these rules do not name the tenant.
    let mut out = ValidatedPush::default();
    let oldest = now.saturating_sub(limits.reject_old_samples_max_age.as_nanos().min(i64::MAX as u128) as i64);
    let newest = now.saturating_add(limits.creation_grace_period.as_nanos().min(i64::MAX as u128) as i64);
    let discover_levels = limits.discover_log_levels && limits.allow_structured_metadata;
    let max_line = limits.max_line_size as usize;

    for PushStream { mut labels, mut entries } in streams {
        if entries.is_empty() {
            continue; // Loki skips empty streams before any check.
        }
        let internal = detect::is_internal_stream(&labels);
        if service == ServiceName::Discover {
            detect::discover_service_name(&mut labels, &limits.discover_service_name);
        }
        if limits.max_line_size_truncate && max_line > 0 {
            for e in &mut entries {
                if e.line.len() > max_line {
                    e.line.truncate(e.line.floor_char_boundary(max_line));
                }
            }
        }
        if let Err((reason, msg)) = validate_labels(&labels, limits, internal) {
            let bytes = entries.iter().map(entry_size).sum();
            out.reject(reason, msg, entries.len(), bytes);
            continue;
        }

        let mut text: Option<String> = None; // labels as printed in messages, made on demand
        let mut kept = Vec::with_capacity(entries.len());
        for mut e in entries {
            let checked = validate_entry(&e, &labels, &mut text, limits, oldest, newest)
                .and_then(|()| detect::normalize_metadata(&mut e.metadata).map_err(|m| ("invalid_labels", m)));
            if let Err((reason, msg)) = checked {
                out.reject(reason, msg, 1, entry_size(&e));
                continue;
            }
            if discover_levels {
                detect::apply_detected_level(&labels, &mut e);
            }
            kept.push(e);
        }
        if !kept.is_empty() {
            out.accepted.push(PushStream { labels, entries: kept });
        }
    }
    out
}

type Rejection = (&'static str, String);

fn validate_labels(labels: &Labels, limits: &Limits, internal: bool) -> Result<(), Rejection> {
    if labels.is_empty() {
        return Err(("missing_labels", "error at least one label pair is required per stream".into()));
    }
    if internal {
        return Ok(());
    }
    let count = labels.len() - usize::from(labels.get(detect::SERVICE_NAME).is_some());
    if count > limits.max_label_names_per_series {
        let max = limits.max_label_names_per_series;
        return Err((
            "max_label_names_per_series",
            format!("entry for stream '{labels}' has {count} label names; limit {max}"),
        ));
    }
    let mut last: Option<&str> = None;
    for (name, value) in labels.iter() {
        if name.len() > limits.max_label_name_length {
            return Err(("label_name_too_long", format!("stream '{labels}' has label name too long: '{name}'")));
        }
        if value.len() > limits.max_label_value_length {
            return Err(("label_value_too_long", format!("stream '{labels}' has label value too long: '{value}'")));
        }
        if last == Some(name) {
            return Err(("duplicate_label_names", format!("stream '{labels}' has duplicate label name: '{name}'")));
        }
        last = Some(name);
    }
    Ok(())
}

fn validate_entry(
    e: &Entry,
    labels: &Labels,
    text: &mut Option<String>,
    limits: &Limits,
    oldest: Nanos,
    newest: Nanos,
) -> Result<(), Rejection> {
    let mut stream = || text.get_or_insert_with(|| labels.to_string()).clone();
    if limits.reject_old_samples && e.ts < oldest {
        let msg = format!(
            "entry for stream '{}' has timestamp too old: {}, oldest acceptable timestamp is: {}",
            stream(),
            rfc3339(e.ts),
            rfc3339(oldest)
        );
        return Err(("greater_than_max_sample_age", msg));
    }
    if e.ts > newest {
        return Err((
            "too_far_in_future",
            format!("entry for stream '{}' has timestamp too new: {}", stream(), rfc3339(e.ts)),
        ));
    }
    let max_line = limits.max_line_size;
    if max_line != 0 && e.line.len() as u64 > max_line {
        let msg = format!(
            "max entry size '{max_line}' bytes exceeded for stream '{}' while adding an entry with length '{}' bytes",
            stream(),
            e.line.len()
        );
        return Err(("line_too_long", msg));
    }
    if !e.metadata.is_empty() {
        if !limits.allow_structured_metadata {
            let msg = format!("stream '{}' includes structured metadata, but this feature is disallowed. Please see `limits_config.allow_structured_metadata` or contact your Loki administrator to enable it", stream());
            return Err(("disallowed_structured_metadata", msg));
        }
        let size = metadata_size(&e.metadata);
        let max = limits.max_structured_metadata_size;
        if max != 0 && size > max {
            let msg = format!("stream '{}' has structured metadata too large: '{size}' bytes, limit: '{max}' bytes. Please see `limits_config.max_structured_metadata_size` or contact your Loki administrator to increase it", stream());
            return Err(("structured_metadata_too_large", msg));
        }
        let (count, max) = (e.metadata.len(), limits.max_structured_metadata_entries_count);
        if max != 0 && count > max {
            let msg = format!("stream '{}' has too many structured metadata labels: '{count}', limit: '{max}'. Please see `limits_config.max_structured_metadata_entries_count` or contact your Loki administrator to increase it", stream());
            return Err(("structured_metadata_too_many", msg));
        }
    }
    Ok(())
}

fn metadata_size(md: &[(String, String)]) -> u64 {
    md.iter().map(|(n, v)| (n.len() + v.len()) as u64).sum()
}

/// Loki's entry size: line plus structured metadata names and values.
fn entry_size(e: &Entry) -> u64 {
    e.line.len() as u64 + metadata_size(&e.metadata)
}

/// Go's `time.Format(time.RFC3339)` in UTC (seconds precision).
fn rfc3339(ts: Nanos) -> String {
    let t = chrono::DateTime::from_timestamp(ts.div_euclid(1_000_000_000), ts.rem_euclid(1_000_000_000) as u32)
        .unwrap_or_default();
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const NOW: Nanos = 1_706_882_288_000_000_000; // 2024-02-02T13:58:08Z
    const SEC: Nanos = 1_000_000_000;

    fn stream(pairs: &[(&str, &str)], entries: Vec<Entry>) -> PushStream {
        PushStream {
            labels: Labels::from_pairs(pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()),
            entries,
        }
    }

    fn entry(ts: Nanos, line: &str) -> Entry {
        Entry { ts, line: line.into(), metadata: vec![] }
    }

    fn one(limits: &Limits, s: PushStream) -> ValidatedPush {
        validate_push("fake", vec![s], limits, NOW, ServiceName::Discover)
    }

    fn only_error(v: &ValidatedPush) -> String {
        assert_eq!(v.errors.len(), 1, "{:?}", v.errors);
        v.error_message().unwrap()
    }

    #[test]
    fn accepts_and_mutates() {
        let l = Limits::default();
        let md = vec![("z".to_string(), "1".to_string()), ("trace.id".to_string(), "t".to_string())];
        let s = stream(
            &[("app", "mailer"), ("host", "h")],
            vec![Entry { ts: NOW, line: "level=info msg=sent".into(), metadata: md }],
        );
        let v = one(&l, s);
        assert!(v.errors.is_empty() && v.error_message().is_none());
        assert_eq!(v.accepted[0].labels.to_string(), r#"{app="mailer", host="h", service_name="mailer"}"#);
        let got: Vec<_> = v.accepted[0].entries[0].metadata.iter().map(|(n, v)| format!("{n}={v}")).collect();
        assert_eq!(got, ["trace_id=t", "z=1", "detected_level=info"]);
        // Late logs are accepted with lokid's default (reject_old_samples = false).
        let v = one(&l, stream(&[("a", "b")], vec![entry(NOW - 30 * 24 * 3600 * SEC, "old")]));
        assert_eq!(v.accepted[0].entries.len(), 1);
        // discover_log_levels off → no detected_level; empty streams vanish silently.
        let l2 = Limits { discover_log_levels: false, ..Limits::default() };
        let v = validate_push(
            "fake",
            vec![stream(&[("a", "b")], vec![entry(NOW, "error")]), stream(&[("a", "c")], vec![])],
            &l2,
            NOW,
            ServiceName::Discover,
        );
        assert_eq!(v.accepted.len(), 1);
        assert!(v.accepted[0].entries[0].metadata.is_empty());
    }

    #[test]
    fn entry_time_rules() {
        let l = Limits { reject_old_samples: true, ..Limits::default() };
        let v = one(&l, stream(&[("a", "b")], vec![entry(NOW - 8 * 24 * 3600 * SEC, "x"), entry(NOW, "ok")]));
        assert_eq!(
            only_error(&v),
            "entry for stream '{a=\"b\", service_name=\"unknown_service\"}' has timestamp too old: 2024-01-25T13:58:08Z, oldest acceptable timestamp is: 2024-01-26T13:58:08Z"
        );
        assert_eq!((v.accepted[0].entries.len(), v.n_rejected_entries), (1, 1));
        assert_eq!(v.rejected_by_reason, vec![("greater_than_max_sample_age", 1, 1)]);
        let v = one(&Limits::default(), stream(&[("a", "b")], vec![entry(NOW + 11 * 60 * SEC, "xy")]));
        assert_eq!(only_error(&v), "entry for stream '{a=\"b\", service_name=\"unknown_service\"}' has timestamp too new: 2024-02-02T14:09:08Z");
        assert_eq!(v.rejected_by_reason, vec![("too_far_in_future", 1, 2)]);
        assert!(v.accepted.is_empty());
    }

    #[test]
    fn line_size_rules() {
        let l = Limits { max_line_size: 5, ..Limits::default() };
        let v = one(&l, stream(&[("job", "j")], vec![entry(NOW, "123456")]));
        assert_eq!(only_error(&v), "max entry size '5' bytes exceeded for stream '{job=\"j\", service_name=\"j\"}' while adding an entry with length '6' bytes");
        assert_eq!(v.rejected_by_reason, vec![("line_too_long", 1, 6)]);
        let l = Limits { max_line_size: 5, max_line_size_truncate: true, ..Limits::default() };
        let v = one(&l, stream(&[("job", "j")], vec![entry(NOW, "123456"), entry(NOW, "abcdé")]));
        let lines: Vec<_> = v.accepted[0].entries.iter().map(|e| e.line.as_str()).collect();
        assert_eq!(lines, ["12345", "abcd"]);
        assert!(v.errors.is_empty());
    }

    #[test]
    fn structured_metadata_rules() {
        let md = |n: usize| (0..n).map(|i| (format!("k{i}"), "v".to_string())).collect::<Vec<_>>();
        let s = |n| stream(&[("a", "b")], vec![Entry { ts: NOW, line: "x".into(), metadata: md(n) }]);
        let l = Limits { allow_structured_metadata: false, ..Limits::default() };
        assert_eq!(only_error(&one(&l, s(1))), "stream '{a=\"b\", service_name=\"unknown_service\"}' includes structured metadata, but this feature is disallowed. Please see `limits_config.allow_structured_metadata` or contact your Loki administrator to enable it");
        assert!(one(&l, s(0)).errors.is_empty());
        let l = Limits { max_structured_metadata_size: 5, ..Limits::default() };
        assert_eq!(only_error(&one(&l, s(2))), "stream '{a=\"b\", service_name=\"unknown_service\"}' has structured metadata too large: '6' bytes, limit: '5' bytes. Please see `limits_config.max_structured_metadata_size` or contact your Loki administrator to increase it");
        let l = Limits { max_structured_metadata_entries_count: 2, ..Limits::default() };
        let v = one(&l, s(3));
        assert_eq!(only_error(&v), "stream '{a=\"b\", service_name=\"unknown_service\"}' has too many structured metadata labels: '3', limit: '2'. Please see `limits_config.max_structured_metadata_entries_count` or contact your Loki administrator to increase it");
        assert_eq!(v.rejected_by_reason, vec![("structured_metadata_too_many", 1, 1 + 9)]);
        let bad =
            stream(&[("a", "b")], vec![Entry { ts: NOW, line: "x".into(), metadata: vec![("__".into(), "v".into())] }]);
        assert_eq!(one(&Limits::default(), bad).rejected_by_reason[0].0, "invalid_labels");
    }

    #[test]
    fn label_rules() {
        let l = Limits { max_label_names_per_series: 2, ..Limits::default() };
        // service_name is not counted.
        assert!(one(&l, stream(&[("a", "1"), ("b", "2")], vec![entry(NOW, "x")])).errors.is_empty());
        let v = one(&l, stream(&[("a", "1"), ("b", "2"), ("c", "3")], vec![entry(NOW, "x"), entry(NOW, "yz")]));
        assert_eq!(only_error(&v), "entry for stream '{a=\"1\", b=\"2\", c=\"3\", service_name=\"unknown_service\"}' has 3 label names; limit 2");
        assert_eq!(v.rejected_by_reason, vec![("max_label_names_per_series", 2, 3)]);
        assert_eq!(v.n_rejected_entries, 2);
        let l = Limits { max_label_name_length: 3, ..Limits::default() };
        let v = one(&l, stream(&[("abcd", "1"), ("service_name", "s")], vec![entry(NOW, "x")]));
        assert_eq!(only_error(&v), "stream '{abcd=\"1\", service_name=\"s\"}' has label name too long: 'abcd'");
        let l = Limits { max_label_value_length: 3, ..Limits::default() };
        let v = one(&l, stream(&[("a", "long"), ("service_name", "s")], vec![entry(NOW, "x")]));
        assert_eq!(only_error(&v), "stream '{a=\"long\", service_name=\"s\"}' has label value too long: 'long'");
        let dup = crate::ingest::labels::parse_label_set(r#"{a="1", a="2", service_name="s"}"#).unwrap();
        let v = one(&Limits::default(), PushStream { labels: dup, entries: vec![entry(NOW, "x")] });
        assert_eq!(only_error(&v), "stream '{a=\"1\", a=\"2\", service_name=\"s\"}' has duplicate label name: 'a'");
        let l = Limits { discover_service_name: vec![], ..Limits::default() };
        let v = one(&l, stream(&[], vec![entry(NOW, "x")]));
        assert_eq!(only_error(&v), "error at least one label pair is required per stream");
        assert_eq!(v.rejected_by_reason[0].0, "missing_labels");
    }

    #[test]
    fn grouped_messages() {
        let l = Limits { creation_grace_period: Duration::ZERO, max_line_size: 3, ..Limits::default() };
        let v = one(
            &l,
            stream(&[("service_name", "s")], vec![entry(NOW + SEC, "x"), entry(NOW + SEC, "y"), entry(NOW, "long")]),
        );
        assert_eq!(
            v.error_message().unwrap(),
            "2 errors like: entry for stream '{service_name=\"s\"}' has timestamp too new: 2024-02-02T13:58:09Z; \
             1 errors like: max entry size '3' bytes exceeded for stream '{service_name=\"s\"}' while adding an entry with length '4' bytes"
        );
        assert_eq!(v.rejected_by_reason, vec![("too_far_in_future", 2, 2), ("line_too_long", 1, 4)]);
        let v = one(&l, stream(&[("service_name", "s")], vec![entry(NOW + SEC, "x"), entry(NOW + SEC, "y")]));
        assert_eq!(
            v.error_message().unwrap(),
            "2 errors like: entry for stream '{service_name=\"s\"}' has timestamp too new: 2024-02-02T13:58:09Z"
        );
    }
}
