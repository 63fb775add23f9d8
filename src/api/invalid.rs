//! Loki's answers to invalid requests (HTTP 400), one variant per rule with what its text
//! needs: the texts are written here once, and `api::error` gives every variant its status.

use std::time::Duration;

use crate::gocompat::{quote, std_duration_string};

/// A request parameter or combination Loki refuses with 400.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// `start`, `end`, `time`: `reason` is the timestamp parser's text.
    #[error("could not parse '{name}' parameter: {reason}")]
    Timestamp { name: &'static str, reason: String },
    #[error("could not parse 'since' parameter: not a valid duration string: {}", quote(.0))]
    Since(String),
    /// Go's `strconv.ParseInt` on a value that is no integer.
    #[error("strconv.ParseInt: parsing {}: invalid syntax", quote(.0))]
    NotAnInteger(String),
    #[error("limit must be a positive value")]
    NonPositiveLimit,
    #[error("invalid direction '{0}'")]
    Direction(String),
    #[error("zero or negative query resolution step widths are not accepted. Try a positive integer")]
    NonPositiveStep,
    #[error(
        "exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter"
    )]
    TooManySteps,
    #[error("end timestamp must not be before or equal to start time")]
    EndBeforeStart,
    #[error("interval must be >= 0")]
    NegativeInterval,
    /// `max_query_length`.
    #[error(
        "the query time range exceeds the limit (query length: {}, limit: {})",
        std_duration_string(*.length),
        std_duration_string(*.limit)
    )]
    QueryTooLong { length: Duration, limit: Duration },
    /// `max_entries_limit_per_query`.
    #[error("max entries limit per query exceeded, limit > max_entries_limit_per_query ({limit} > {max})")]
    TooManyEntries { limit: usize, max: usize },
    #[error("log queries are not supported as an instant query type, please change your query to a range query type")]
    LogQueryAsInstant,
    /// Drilldown's fields and patterns take log selectors only.
    #[error("only log selectors are supported")]
    NotALogSelector,
    #[error("tail requires a log query")]
    TailNeedsLogQuery,
    #[error("invalid delay_for {0}")]
    DelayFor(String),
    #[error("delay_for can't be greater than 5")]
    DelayTooLong,
    #[error("invalid aggregation option")]
    Aggregation,
    #[error("multiple org IDs present")]
    MultipleOrgIds,
    #[error("tenant ID '{0}' contains unsupported character or is invalid")]
    TenantId(String),
    /// A `match[]` group without matchers.
    #[error("0 matchers in group: {0}")]
    EmptyMatcherGroup(String),
    /// Delete requests.
    #[error("Retention is not enabled")]
    RetentionDisabled,
    #[error("{0} not set")]
    Missing(&'static str),
    #[error("invalid {0} time: require unix seconds or RFC3339 format")]
    DeleteTime(&'static str),
    #[error("deletes in the future are not allowed")]
    DeleteInFuture,
    #[error("start time can't be greater than or equal to end time")]
    DeleteStartAfterEnd,
    #[error("deletion of request which is in process or already processed is not allowed")]
    DeleteAlreadyProcessed,
    /// The delete request's cancel period (`delete_request_cancel_period`) is over.
    #[error(
        "Cancellation of partially completed delete request or delete request past the deadline of {} since its creation is not allowed. To force, use the ?force query parameter",
        std_duration_string(*.0)
    )]
    CancelPastDeadline(Duration),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_lokis() {
        let cases = [
            (Invalid::Timestamp { name: "end", reason: "x".into() }, "could not parse 'end' parameter: x"),
            (Invalid::NotAnInteger("a\"b".into()), r#"strconv.ParseInt: parsing "a\"b": invalid syntax"#),
            (Invalid::Since("5x".into()), r#"could not parse 'since' parameter: not a valid duration string: "5x""#),
            (
                Invalid::QueryTooLong { length: Duration::from_secs(3 * 3600), limit: Duration::from_secs(3600) },
                "the query time range exceeds the limit (query length: 3h0m0s, limit: 1h0m0s)",
            ),
            (
                Invalid::TooManyEntries { limit: 6000, max: 5000 },
                "max entries limit per query exceeded, limit > max_entries_limit_per_query (6000 > 5000)",
            ),
            (Invalid::Missing("request_id"), "request_id not set"),
            (Invalid::DeleteTime("start"), "invalid start time: require unix seconds or RFC3339 format"),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
    }
}
