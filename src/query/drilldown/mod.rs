//! Logs Drilldown's queries: series volume from the index, field detection and pattern
//! mining over the selected lines.

pub mod volume;
pub mod fields;
pub mod drain;
pub mod patterns;
