//! Health, readiness, metrics, docs and the problem shape of poem's own errors.

use krug_testkit::backend_test;

use crate::common::*;

backend_test!(
    async fn health_readiness_metrics_and_docs_answer(db: TestDb) {
        let app = TestApp::spawn(db).await;
        assert_eq!(app.get("/healthz", None).await.status, 200);
        assert_eq!(app.get("/readyz", None).await.status, 200);
        let metrics = app.get("/metrics", None).await;
        assert!(
            metrics.body.as_str().unwrap().contains("krug_http_requests_total{operation=\"readyz\",status=\"200\"} 1")
        );
        assert_eq!(app.get("/docs", None).await.status, 200);
        // A sign-in writes (SMS code, member, session): on SQLite the writer's group commits show.
        app.member("svoy-krug", "8 (912) 345-67-89").await;
        let metrics = app.get("/metrics", None).await;
        let text = metrics.body.as_str().unwrap();
        let value =
            |name: &str| text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse::<u64>().ok()));
        match app.state.krug.write_stats() {
            Some(stats) => {
                assert!(stats.transactions >= 3, "{stats:?}");
                assert_eq!(value("krug_store_write_transactions_total "), Some(stats.transactions));
                assert!(value("krug_store_commits_total ").unwrap() >= 1);
                // Writes took time in the writer and in its commits, and the counters show it.
                assert!(value("krug_store_writer_held_microseconds_total ").unwrap() > 0);
                assert!(value("krug_store_commit_microseconds_total ").unwrap() > 0);
                assert_eq!(value("krug_store_writes_refused_total "), Some(0));
            }
            None => assert_eq!(value("krug_store_commits_total "), Some(0)),
        }
        let spec = app.get("/openapi.yaml", None).await;
        assert!(spec.body.as_str().unwrap().starts_with("openapi: 3.0.0"));
    }
);

backend_test!(
    async fn unknown_routes_are_problem_json(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let r = app.get("/v1/nothing-here", None).await;
        assert_eq!(r.status, 404);
        assert_eq!(r.content_type, "application/problem+json");
        assert_eq!(r.code(), "not_found");
        assert_eq!(r.body["status"], 404);
    }
);
