//! Loki's per-tenant `limits_config.otlp_config`: what each OTLP attribute becomes.
//!
//! Resource attributes are matched in order against `attributes_config` (Loki's default
//! list of promoted attributes first, unless `ignore_defaults`); the first rule whose
//! `attributes` names the attribute or whose (anchored) `regex` matches it decides. An
//! attribute no rule matches becomes structured metadata. Scope and log attributes work
//! the same way with `scope_attributes` and `log_attributes`.

/// What to do with one attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtlpAction {
    IndexLabel,
    StructuredMetadata,
    Drop,
}

impl OtlpAction {
    /// Loki's YAML spelling; `""` means `structured_metadata`.
    pub fn parse(s: &str) -> Option<OtlpAction> {
        match s {
            "index_label" => Some(OtlpAction::IndexLabel),
            "" | "structured_metadata" => Some(OtlpAction::StructuredMetadata),
            "drop" => Some(OtlpAction::Drop),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OtlpAction::IndexLabel => "index_label",
            OtlpAction::StructuredMetadata => "structured_metadata",
            OtlpAction::Drop => "drop",
        }
    }
}

/// A regex anchored like Prometheus' relabel regexes (`^(?s:…)$`), compared by source.
#[derive(Clone, Debug)]
pub struct AnchoredRegex {
    pub source: String,
    re: regex::Regex,
}

impl AnchoredRegex {
    pub fn new(source: &str) -> Result<AnchoredRegex, regex::Error> {
        let re = regex::Regex::new(&format!("^(?s:{source})$"))?;
        Ok(AnchoredRegex { source: source.to_string(), re })
    }

    pub fn is_match(&self, s: &str) -> bool {
        self.re.is_match(s)
    }
}

impl PartialEq for AnchoredRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// One `attributes_config` entry: exactly one of `attributes` and `regex` is set.
#[derive(Clone, Debug, PartialEq)]
pub struct AttributesConfig {
    pub action: OtlpAction,
    pub attributes: Vec<String>,
    pub regex: Option<AnchoredRegex>,
}

/// The effective per-tenant OTLP mapping (defaults already applied).
#[derive(Clone, Debug, PartialEq)]
pub struct OtlpConfig {
    pub resource_attributes: Vec<AttributesConfig>,
    pub scope_attributes: Vec<AttributesConfig>,
    pub log_attributes: Vec<AttributesConfig>,
    pub severity_text_as_label: bool,
}

/// Loki's `distributor.otlp.default_resource_attributes_as_index_labels`.
pub const DEFAULT_RESOURCE_ATTRIBUTES_AS_INDEX_LABELS: &[&str] = &[
    "service.name",
    "service.namespace",
    "service.instance.id",
    "deployment.environment",
    "deployment.environment.name",
    "cloud.region",
    "cloud.availability_zone",
    "k8s.cluster.name",
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.container.name",
    "container.name",
    "k8s.replicaset.name",
    "k8s.deployment.name",
    "k8s.statefulset.name",
    "k8s.daemonset.name",
    "k8s.cronjob.name",
    "k8s.job.name",
];

fn default_rule() -> AttributesConfig {
    AttributesConfig {
        action: OtlpAction::IndexLabel,
        attributes: DEFAULT_RESOURCE_ATTRIBUTES_AS_INDEX_LABELS.iter().map(|s| s.to_string()).collect(),
        regex: None,
    }
}

impl Default for OtlpConfig {
    fn default() -> Self {
        OtlpConfig {
            resource_attributes: vec![default_rule()],
            scope_attributes: Vec::new(),
            log_attributes: Vec::new(),
            severity_text_as_label: false,
        }
    }
}

impl OtlpConfig {
    /// A tenant's configured rules, with Loki's default rule in front unless
    /// `ignore_defaults`.
    pub fn with_defaults(
        ignore_defaults: bool,
        resource: Vec<AttributesConfig>,
        scope: Vec<AttributesConfig>,
        log: Vec<AttributesConfig>,
        severity_text_as_label: bool,
    ) -> OtlpConfig {
        let mut resource_attributes = Vec::with_capacity(resource.len() + 1);
        if !ignore_defaults {
            resource_attributes.push(default_rule());
        }
        resource_attributes.extend(resource);
        OtlpConfig { resource_attributes, scope_attributes: scope, log_attributes: log, severity_text_as_label }
    }

    pub fn resource_action(&self, name: &str) -> OtlpAction {
        action_for(name, &self.resource_attributes)
    }

    pub fn scope_action(&self, name: &str) -> OtlpAction {
        action_for(name, &self.scope_attributes)
    }

    pub fn log_action(&self, name: &str) -> OtlpAction {
        action_for(name, &self.log_attributes)
    }
}

fn action_for(name: &str, rules: &[AttributesConfig]) -> OtlpAction {
    for r in rules {
        if r.regex.as_ref().is_some_and(|re| re.is_match(name)) || r.attributes.iter().any(|a| a == name) {
            return r.action;
        }
    }
    OtlpAction::StructuredMetadata
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_then_rules_first_match_wins() {
        let c = OtlpConfig::default();
        assert_eq!(c.resource_action("service.name"), OtlpAction::IndexLabel);
        assert_eq!(c.resource_action("k8s.pod.name"), OtlpAction::IndexLabel);
        assert_eq!(c.resource_action("host.name"), OtlpAction::StructuredMetadata);
        assert_eq!(c.log_action("anything"), OtlpAction::StructuredMetadata);

        let drop_k8s = AttributesConfig {
            action: OtlpAction::Drop,
            attributes: vec![],
            regex: Some(AnchoredRegex::new("k8s\\..*").unwrap()),
        };
        let c = OtlpConfig::with_defaults(false, vec![drop_k8s.clone()], vec![], vec![], false);
        // The default rule comes first, so the pod name stays a label.
        assert_eq!(c.resource_action("k8s.pod.name"), OtlpAction::IndexLabel);
        assert_eq!(c.resource_action("k8s.node.name"), OtlpAction::Drop);
        let c = OtlpConfig::with_defaults(true, vec![drop_k8s], vec![], vec![], false);
        assert_eq!(c.resource_action("k8s.pod.name"), OtlpAction::Drop);
        assert_eq!(c.resource_action("service.name"), OtlpAction::StructuredMetadata);
        // Anchored: a partial match is no match.
        assert_eq!(c.resource_action("xk8s.pod"), OtlpAction::StructuredMetadata);
    }
}
