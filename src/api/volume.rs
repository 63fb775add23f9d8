//! `GET /loki/api/v1/index/volume` and `/loki/api/v1/index/volume_range`: Loki's parameter
//! rules (`limit`, `targetLabels`, `aggregateBy`, `step`) and its Prometheus-style answers.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;

use super::error::ApiError;
use super::invalid::Invalid;
use super::params::{self, Params};
use super::wire::response::{fmt_seconds, labels_obj};
use super::{json_response, AppState};
use crate::query::drilldown::volume::{self, VolumeQuery, VolumeSeries};

pub async fn volume_instant(State(st): State<Arc<AppState>>, req: Request) -> Result<Response, ApiError> {
    run(st, req, false).await
}

pub async fn volume_range(State(st): State<Arc<AppState>>, req: Request) -> Result<Response, ApiError> {
    run(st, req, true).await
}

async fn run(st: Arc<AppState>, req: Request, ranged: bool) -> Result<Response, ApiError> {
    let (tenant, start, end, p) = super::meta::meta_request(&st, req).await?;
    let q = parse(&p, start, end, ranged)?;
    let st2 = Arc::clone(&st);
    let rows = tokio::task::spawn_blocking(move || volume::volume(&st2.engine, &tenant, &q)).await??;
    Ok(json_response(answer(&rows)))
}

/// Loki's `volumeLimit`, `volumeAggregateBy`, `targetLabels` and range-query step rules.
pub fn parse(p: &Params, start: i64, end: i64, ranged: bool) -> Result<VolumeQuery, ApiError> {
    let limit = match p.get("limit") {
        None => 100,
        Some(s) => match s.parse::<i64>() {
            Ok(0) => 100,
            Ok(n) if n < 0 => return Err(Invalid::NonPositiveLimit.into()),
            Ok(n) => n as usize,
            Err(_) => return Err(Invalid::NotAnInteger(s.to_string()).into()),
        },
    };
    let query = p.get("query").unwrap_or("").trim();
    let matchers = if query == "{}" { Vec::new() } else { crate::logql::parse_selector(query, true)? };
    if end < start {
        return Err(Invalid::EndBeforeStart.into());
    }
    let step = if ranged {
        let step = params::step(p, start, end)?;
        params::check_step(step, start, end)?;
        step
    } else {
        0
    };
    let by_series = match p.get("aggregateBy") {
        None | Some("series") => true,
        Some("labels") => false,
        Some(_) => return Err(Invalid::Aggregation.into()),
    };
    let targets = p.get("targetLabels").map(|t| t.split(',').map(str::to_string).collect()).unwrap_or_default();
    // Loki rounds the range to milliseconds before bucketing.
    let ms = |t: i64| t.div_euclid(1_000_000) * 1_000_000;
    Ok(VolumeQuery { matchers, targets, by_series, start: ms(start), end: ms(end), step, limit })
}

/// A vector when every row has one sample, else a matrix (Loki's `toPrometheusData`).
pub fn answer(rows: &[VolumeSeries]) -> String {
    let matrix = rows.iter().any(|r| r.samples.len() > 1);
    let mut out = format!(
        r#"{{"status":"success","data":{{"resultType":"{}","result":["#,
        if matrix { "matrix" } else { "vector" }
    );
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"metric":"#);
        labels_obj(&mut out, &r.labels);
        let sample = |(ms, v): &(i64, u64)| format!(r#"[{},"{v}"]"#, fmt_seconds(*ms));
        if matrix {
            out.push_str(r#","values":["#);
            out.push_str(&r.samples.iter().map(sample).collect::<Vec<_>>().join(","));
            out.push_str("]}");
        } else {
            out.push_str(r#","value":"#);
            out.push_str(&sample(&r.samples[0]));
            out.push('}');
        }
    }
    out.push_str("]}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(q: &str) -> String {
        parse(&Params::parse(Some(q), None), 0, 10, true).unwrap_err().to_string()
    }

    #[test]
    fn bad_parameters_get_lokis_errors() {
        assert_eq!(err("query={a=\"b\"}&limit=-1"), "limit must be a positive value");
        assert_eq!(err("query={a=\"b\"}&limit=x"), "strconv.ParseInt: parsing \"x\": invalid syntax");
        assert_eq!(err("query={a=\"b\"}&aggregateBy=foo"), "invalid aggregation option");
        assert!(err("query={a=\"b\"}&step=0").starts_with("zero or negative query resolution step"));
        let q = parse(&Params::parse(Some("query={}&limit=0&targetLabels=a,b&aggregateBy=labels"), None), 0, 10, false)
            .unwrap();
        assert_eq!((q.limit, q.by_series, q.step, q.matchers.len()), (100, false, 0, 0));
        assert_eq!(q.targets, vec!["a", "b"]);
    }
}
