//! Multi-tenancy: `auth_enabled: true` requires `X-Scope-OrgID` and isolates tenants.

use crate::harness::*;
use serde_json::json;

#[tokio::test]
async fn tenants_are_isolated_and_org_id_is_required() {
    let srv = TestServer::start_with(|c| c.auth_enabled = true).await;
    let t0: i64 = 1_770_033_600_000_000_000;
    let c = client();
    for (tenant, line) in [("team-a", "secret a"), ("team-b", "secret b")] {
        let body = json!({"streams": [{"stream": {"app": "x"}, "values": [[t0.to_string(), line]]}]});
        let r = c
            .post(srv.url("/loki/api/v1/push"))
            .header("Content-Type", "application/json")
            .header("X-Scope-OrgID", tenant)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 204);
    }
    let (s, body) = push_json(&srv.base, &json!({"streams": []})).await;
    assert_eq!((s, body.as_str()), (401, "no org id"));

    let start = t0.to_string();
    let end = (t0 + 3_600_000_000_000).to_string();
    for (tenant, want) in [("team-a", "secret a"), ("team-b", "secret b")] {
        let r = c
            .get(srv.url("/loki/api/v1/query_range"))
            .header("X-Scope-OrgID", tenant)
            .query(&[("query", r#"{app="x"}"#), ("start", &start), ("end", &end)])
            .send()
            .await
            .unwrap();
        let v: serde_json::Value = r.json().await.unwrap();
        let got: Vec<String> = lines(&v).into_iter().map(|(_, l)| l).collect();
        assert_eq!(got, vec![want.to_string()], "tenant {tenant}");
        for path in ["/loki/api/v1/series", "/loki/api/v1/labels"] {
            let r = c
                .get(srv.url(path))
                .header("X-Scope-OrgID", "nobody")
                .query(&[("start", &start), ("end", &end), ("match[]", &r#"{app="x"}"#.to_string())])
                .send()
                .await
                .unwrap();
            let v: serde_json::Value = r.json().await.unwrap();
            assert!(v["data"].as_array().is_none_or(|a| a.is_empty()), "{path} leaked: {v}");
        }
    }
    let (s, _) = get(&srv.base, "/loki/api/v1/labels", &[]).await;
    assert_eq!(s, 401);
    srv.stop().await;
}
