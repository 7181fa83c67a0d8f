//! Generated container names.

use super::*;

/// Concurrent creates without names draw random ones: none may fail because
/// another create drew the same name meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_unnamed_creates_never_collide() {
    let e = std::sync::Arc::new(env().await);
    let jobs: Vec<_> = (0..400)
        .map(|_| {
            let e = e.clone();
            tokio::spawn(async move {
                let hc = HostConfig {
                    binds: vec!["/anon".into()],
                    ..Default::default()
                };
                e.mgr
                    .create(None, config(&["true"]), hc)
                    .await
                    .map(|r| r.id)
            })
        })
        .collect();
    let mut names = std::collections::HashSet::new();
    for j in jobs {
        let id = j.await.unwrap().unwrap();
        assert!(names.insert(e.mgr.get(&id).unwrap().meta().name));
    }
    assert_eq!(names.len(), 400);
}
