//! The only place that reads wall-clock time.

use crate::model::Nanos;
use std::time::{SystemTime, UNIX_EPOCH};

/// Current time in nanoseconds since the Unix epoch.
pub fn now_ns() -> Nanos {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as Nanos).unwrap_or(0)
}
