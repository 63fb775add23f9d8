//! The `| json` parser as the store's seal-time [`FieldScanner`]: which top-level and
//! flattened fields a line yields, exactly as `| json` (without parameters or hints) names
//! and values them, so that a field column answers for the parser.

use super::labels::LabelsBuilder;
use super::parser::JsonParser;
use super::{key_needle, Hints};
use crate::model::Labels;
use crate::store::columns::{FieldScanner, KIND_JSON};

/// The scanner the block merger stores `| json` field columns with.
pub static JSON_FIELDS: JsonFields = JsonFields;

/// See the module documentation.
#[derive(Debug)]
pub struct JsonFields;

impl FieldScanner for JsonFields {
    fn kind(&self) -> u8 {
        KIND_JSON
    }

    fn scan(&self, line: &[u8], field: &mut dyn FnMut(&str, &str)) -> bool {
        scan(line, &Hints::default(), field)
    }

    /// Like `metric::samples`' needle: a line without the name's longest alphanumeric run
    /// and without escapes cannot name the field.
    fn may_yield(&self, line: &[u8], name: &str) -> bool {
        memchr::memchr(b'\\', line).is_some()
            || key_needle(name).is_none_or(|n| memchr::memmem::find(line, n).is_some())
    }

    fn is_number(&self, value: &str) -> bool {
        crate::gocompat::strconv::parse_float(value).is_ok()
    }

    fn narrowed(&self, names: &[String]) -> Box<dyn FieldScanner + '_> {
        // Wanted names without required ones: the walk adds only those fields, and never
        // stops early (what makes a line parse is the same as without hints).
        Box::new(Narrowed(Hints { filters: Vec::new(), wanted: Some(names.to_vec()), required: Vec::new() }))
    }
}

/// [`JsonFields`] reporting only some fields.
struct Narrowed(Hints);

impl FieldScanner for Narrowed {
    fn kind(&self) -> u8 {
        KIND_JSON
    }

    fn scan(&self, line: &[u8], field: &mut dyn FnMut(&str, &str)) -> bool {
        scan(line, &self.0, field)
    }

    fn may_yield(&self, line: &[u8], name: &str) -> bool {
        JSON_FIELDS.may_yield(line, name)
    }

    fn is_number(&self, value: &str) -> bool {
        JSON_FIELDS.is_number(value)
    }

    fn narrowed(&self, names: &[String]) -> Box<dyn FieldScanner + '_> {
        JSON_FIELDS.narrowed(names)
    }
}

/// `| json` over `line` with `hints`: the fields it adds, false when the line does not parse.
fn scan(line: &[u8], hints: &Hints, field: &mut dyn FnMut(&str, &str)) -> bool {
    // Lines that are no JSON object fail at once: skip building a label set for them.
    if line.iter().find(|c| !matches!(c, b' ' | b'\n' | b'\r' | b'\t')) != Some(&b'{') {
        return false;
    }
    // No stream labels: a reader's labels only rename fields that collide with them
    // (`<name>_extracted`), which the reader checks (see `metric::samples`).
    let base = Labels::default();
    let mut lbs = LabelsBuilder::new(&base);
    JsonParser.process(line, &mut lbs, hints);
    if lbs.has_error() {
        return false;
    }
    lbs.for_each(|k, v| field(k, v));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(line: &str) -> Option<Vec<(String, String)>> {
        let mut out = Vec::new();
        JSON_FIELDS.scan(line.as_bytes(), &mut |k, v| out.push((k.into(), v.into()))).then_some(out)
    }

    #[test]
    fn fields_are_named_and_valued_as_json_names_them() {
        let got = fields(r#"{"a-b": 1, "n": {"x": "y\u0021"}, "ok": true, "l": [1], "a-b": 2, "1st": 3}"#).unwrap();
        let want = [("a_b", "1"), ("n_x", "y!"), ("ok", "true"), ("_1st", "3")];
        assert_eq!(got, want.map(|(k, v)| (k.to_string(), v.to_string())));
        assert_eq!(fields("level=info"), None);
        assert_eq!(fields(r#"{"a": 1, "b": }"#), None, "damage anywhere in the line");
        assert!(JSON_FIELDS.may_yield(b"latency_ms=5", "latency_ms"));
        assert!(JSON_FIELDS.may_yield(br#"{"l\u0061tency_ms": 5"#, "latency_ms"));
        assert!(!JSON_FIELDS.may_yield(b"lat=5", "latency_ms"));
        assert!(JSON_FIELDS.is_number("-1.5e3") && !JSON_FIELDS.is_number("fast"));
        // Narrowed: the same lines parse (damage after the wanted field still counts), only
        // the wanted fields are reported.
        let narrow = JSON_FIELDS.narrowed(&["a_b".to_string()]);
        let mut got = Vec::new();
        assert!(narrow.scan(br#"{"a-b": 1, "c": 2, "a_b": 3}"#, &mut |k, v| got.push(format!("{k}={v}"))));
        assert_eq!(got, ["a_b=1"]);
        assert!(!narrow.scan(br#"{"a-b": 1, "c": }"#, &mut |_, _| ()));
    }
}
