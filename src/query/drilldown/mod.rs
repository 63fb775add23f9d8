//! Logs Drilldown's queries: series volume from the index, field detection and pattern
//! mining over the selected lines.

pub mod drain;
pub mod fields;
pub mod patterns;
pub mod volume;
