//! `limits_config.otlp_config` (and per-tenant overrides of it), read with Loki's rules and
//! error texts: an action is one of `index_label`, `structured_metadata` (the default) and
//! `drop`; each rule sets exactly one of `attributes` and `regex`; `index_label` is refused
//! for scope attributes.

use serde::Deserialize;

use super::read::{key, Reader};
use crate::limits::otlp::{AnchoredRegex, AttributesConfig, OtlpAction, OtlpConfig};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawOtlp {
    #[serde(default)]
    resource_attributes: RawResource,
    #[serde(default)]
    scope_attributes: Vec<RawRule>,
    #[serde(default)]
    log_attributes: Vec<RawRule>,
    #[serde(default)]
    severity_text_as_label: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawResource {
    #[serde(default)]
    ignore_defaults: bool,
    #[serde(default)]
    attributes_config: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    action: String,
    #[serde(default)]
    attributes: Vec<String>,
    #[serde(default)]
    regex: Option<String>,
}

fn rule(raw: RawRule) -> Result<AttributesConfig, String> {
    let action = OtlpAction::parse(&raw.action)
        .ok_or("unsupported action, it must be one of: drop, index_label, structured_metadata")?;
    let regex = match raw.regex.as_deref() {
        None | Some("") => None,
        Some(src) => Some(AnchoredRegex::new(src).map_err(|e| format!("error parsing regexp: {e}"))?),
    };
    if raw.attributes.is_empty() && regex.is_none() {
        return Err("attributes or regex must be set".into());
    }
    if !raw.attributes.is_empty() && regex.is_some() {
        return Err("only one of attributes or regex must be set".into());
    }
    Ok(AttributesConfig { action, attributes: raw.attributes, regex })
}

fn rules(raw: Vec<RawRule>) -> Result<Vec<AttributesConfig>, String> {
    raw.into_iter().map(rule).collect()
}

fn build(raw: RawOtlp) -> Result<OtlpConfig, String> {
    let scope = rules(raw.scope_attributes)?;
    if scope.iter().any(|r| r.action == OtlpAction::IndexLabel) {
        return Err("index_label action is only supported for resource_attributes".into());
    }
    Ok(OtlpConfig::with_defaults(
        raw.resource_attributes.ignore_defaults,
        rules(raw.resource_attributes.attributes_config)?,
        scope,
        rules(raw.log_attributes)?,
        raw.severity_text_as_label,
    ))
}

/// Reads the block at `path` into `dst` when present; problems are config errors.
pub(super) fn read_otlp_config(dst: &mut OtlpConfig, r: &mut Reader, path: &[&str]) {
    let Some(v) = r.get(path) else { return };
    match serde_yaml_ng::from_value::<RawOtlp>(v.clone()).map_err(|e| e.to_string()).and_then(build) {
        Ok(c) => *dst = c,
        Err(e) => r.push_error(format!("{}: {e}", key(path))),
    }
}
