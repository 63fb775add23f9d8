//! `| drop` and `| keep` (`pkg/logql/log/drop_labels.go`, `keep_labels.go`): by name or by
//! matcher, on any label category; the error labels can be dropped but are never removed by keep.

use super::labels::{LabelsBuilder, ERROR_DETAILS_LABEL, ERROR_LABEL, PRESERVE_ERROR_LABEL};
use crate::index::CompiledMatcher;
use crate::logql::NamedMatcher;
use crate::query::QueryError;

#[derive(Debug)]
enum Item {
    Name(String),
    Matcher(CompiledMatcher),
}

/// A compiled `drop` (keep = false) or `keep` stage.
#[derive(Debug)]
pub struct DropKeep {
    keep: bool,
    items: Vec<Item>,
}

impl DropKeep {
    pub fn new(items: &[NamedMatcher], keep: bool) -> Result<DropKeep, QueryError> {
        let items = items
            .iter()
            .map(|i| match &i.matcher {
                Some(m) => CompiledMatcher::new(m).map(Item::Matcher).map_err(QueryError::BadRegex),
                None => Ok(Item::Name(i.name.clone())),
            })
            .collect::<Result<_, _>>()?;
        Ok(DropKeep { keep, items })
    }

    pub fn process(&self, lbs: &mut LabelsBuilder) {
        if self.keep {
            self.keep_only(lbs);
            return;
        }
        for item in &self.items {
            match item {
                Item::Name(n) => match n.as_str() {
                    ERROR_LABEL => lbs.reset_err(),
                    ERROR_DETAILS_LABEL => lbs.reset_err_details(),
                    _ => {
                        if lbs.get(n).is_some() {
                            lbs.del(n);
                        }
                    }
                },
                Item::Matcher(m) => match m.name.as_str() {
                    ERROR_LABEL => {
                        if m.matches(lbs.err()) {
                            lbs.reset_err();
                        }
                    }
                    ERROR_DETAILS_LABEL => {
                        if m.matches(lbs.err_details()) {
                            lbs.reset_err_details();
                        }
                    }
                    name => {
                        if m.matches(lbs.get(name).unwrap_or("")) {
                            lbs.del(name);
                        }
                    }
                },
            }
        }
    }

    fn keep_only(&self, lbs: &mut LabelsBuilder) {
        if self.items.is_empty() {
            return;
        }
        let mut gone = Vec::new();
        lbs.for_each(|name, value| {
            if matches!(name, ERROR_LABEL | ERROR_DETAILS_LABEL | PRESERVE_ERROR_LABEL) {
                return;
            }
            let kept = self.items.iter().any(|i| match i {
                Item::Name(n) => n == name,
                Item::Matcher(m) => m.name == name && m.matches(value),
            });
            if !kept {
                gone.push(name.to_string());
            }
        });
        for n in gone {
            lbs.del(&n);
        }
    }
}
