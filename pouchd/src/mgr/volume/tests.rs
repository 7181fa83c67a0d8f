use super::*;
use pouch_api::Filters;

fn bus() -> Arc<EventBus> {
    Arc::new(EventBus::new(None).unwrap())
}

fn named(n: &str) -> CreateOptions {
    CreateOptions {
        name: Some(n.to_string()),
        ..Default::default()
    }
}

fn list_names(m: &VolumeMgr, f: Filters) -> Vec<String> {
    m.list(&VolumeFilters::new(f).unwrap())
        .into_iter()
        .map(|v| v.name)
        .collect()
}

#[test]
fn create_persists_and_recovers() {
    let d = tempfile::tempdir().unwrap();
    let m = VolumeMgr::new(d.path(), bus()).unwrap();
    let mut opts = named("data");
    opts.labels.insert("app".into(), "web".into());
    let v = m.create(&opts).unwrap();
    assert_eq!(v.mountpoint, d.path().join("data/_data"));
    assert!(v.mountpoint.is_dir());
    assert_eq!(v.driver, "local");
    std::fs::write(v.mountpoint.join("f"), "x").unwrap();
    // Creating it again returns it as it was.
    let again = m.create(&named("data")).unwrap();
    assert_eq!(again.labels["app"], "web");
    assert_eq!(again.created_at, v.created_at);
    let anon = m.create(&CreateOptions::default()).unwrap();
    assert_eq!(anon.name.len(), 64);
    drop(m);

    let m = VolumeMgr::new(d.path(), bus()).unwrap();
    let got = m.get("data").unwrap();
    assert_eq!(got.labels["app"], "web");
    assert_eq!(got.created_at, v.created_at);
    assert_eq!(
        std::fs::read_to_string(got.mountpoint.join("f")).unwrap(),
        "x"
    );
    assert!(m.get(&anon.name).is_ok());
    assert!(m.get("nope").unwrap_err().is_not_found());
}

#[test]
fn bad_names_drivers_and_options_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let m = VolumeMgr::new(d.path().join("v"), bus()).unwrap();
    for bad in ["..", "../x", "a/b", "x", ".hidden"] {
        let e = m.create(&named(bad)).unwrap_err();
        assert!(matches!(e, Error::InvalidParameter(_)), "{bad}: {e}");
    }
    assert!(!d.path().join("x").exists());
    let e = m
        .create(&CreateOptions {
            name: Some("ok1".into()),
            driver: "nfs".into(),
            ..Default::default()
        })
        .unwrap_err();
    assert!(e.is_not_found());
    assert_eq!(
        e.to_string(),
        "create ok1: error looking up volume plugin nfs: plugin \"nfs\" not found"
    );
    let mut o = named("ok2");
    o.driver_opts.insert("bogus".into(), "1".into());
    assert!(matches!(
        m.create(&o).unwrap_err(),
        Error::InvalidParameter(_)
    ));
    assert!(m.list(&VolumeFilters::default()).is_empty());
}

#[test]
fn volume_in_use_cannot_be_removed_even_forced() {
    let d = tempfile::tempdir().unwrap();
    let m = VolumeMgr::new(d.path(), bus()).unwrap();
    let (v, created) = m.acquire(&named("data"), "c1").unwrap();
    assert!(created);
    let (_, created) = m.acquire(&named("data"), "c2").unwrap();
    assert!(!created);
    for force in [false, true] {
        let e = m.remove("data", force).unwrap_err();
        assert!(e.is_conflict());
        assert_eq!(e.to_string(), "remove data: volume is in use - [c1, c2]");
    }
    m.release("data", "c1");
    m.release("data", "c2");
    m.remove("data", false).unwrap();
    assert!(!v.mountpoint.exists());
    assert!(m.remove("data", false).unwrap_err().is_not_found());
    m.remove("data", true).unwrap();
    // Nothing but the root is left: no trash.
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
}

#[test]
fn prune_removes_unused_volumes_matching_labels() {
    let d = tempfile::tempdir().unwrap();
    let m = VolumeMgr::new(d.path(), bus()).unwrap();
    let mut keep = named("keep");
    keep.labels.insert("keep".into(), "1".into());
    m.create(&keep).unwrap();
    let used = m.acquire(&named("used"), "c1").unwrap().0;
    let unused = m.create(&named("unused")).unwrap();
    std::fs::write(unused.mountpoint.join("f"), vec![0u8; 1000]).unwrap();
    let anon = m.create(&CreateOptions::default()).unwrap();

    let r = m.prune(&Filters::new().with("label!", "keep")).unwrap();
    let mut deleted = r.deleted.clone();
    deleted.sort();
    let mut want = vec![anon.name.clone(), "unused".to_string()];
    want.sort();
    assert_eq!(deleted, want);
    assert_eq!(r.space_reclaimed, 1000);
    assert!(used.mountpoint.exists());
    assert_eq!(list_names(&m, Filters::new()), ["keep", "used"]);
    let r = m.prune(&Filters::new()).unwrap();
    assert_eq!(r.deleted, ["keep"]);
    assert!(m.prune(&Filters::new().with("until", "1h")).is_err());
}

#[test]
fn list_filters() {
    let d = tempfile::tempdir().unwrap();
    let m = VolumeMgr::new(d.path(), bus()).unwrap();
    let mut a = named("alpha");
    a.labels.insert("tier".into(), "db".into());
    m.create(&a).unwrap();
    m.acquire(&named("beta"), "c1").unwrap();
    assert_eq!(
        list_names(&m, Filters::new().with("name", "lph")),
        ["alpha"]
    );
    assert_eq!(
        list_names(&m, Filters::new().with("label", "tier=db")),
        ["alpha"]
    );
    assert_eq!(
        list_names(&m, Filters::new().with("dangling", "true")),
        ["alpha"]
    );
    assert_eq!(
        list_names(&m, Filters::new().with("dangling", "false")),
        ["beta"]
    );
    assert_eq!(
        list_names(&m, Filters::new().with("driver", "local")).len(),
        2
    );
    assert!(VolumeFilters::new(Filters::new().with("bogus", "1")).is_err());
    assert!(VolumeFilters::new(Filters::new().with("dangling", "maybe")).is_err());
}

#[test]
fn recovery_adopts_bare_dirs_and_drops_trash() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("bare/_data")).unwrap();
    std::fs::create_dir_all(d.path().join(".trash-0011/_data")).unwrap();
    std::fs::write(d.path().join("stray-file"), "").unwrap();
    let m = VolumeMgr::new(d.path(), bus()).unwrap();
    assert_eq!(list_names(&m, Filters::new()), ["bare"]);
    assert!(!d.path().join(".trash-0011").exists());
    assert!(m.add_ref("bare", "c1"));
    assert!(!m.add_ref("gone", "c1"));
    assert_eq!(m.get("bare").unwrap().refs, ["c1"]);
}

#[test]
fn creations_and_removals_are_published() {
    let d = tempfile::tempdir().unwrap();
    let b = bus();
    let m = VolumeMgr::new(d.path(), b.clone()).unwrap();
    m.create(&named("ev")).unwrap();
    // Not created again: no second event.
    m.create(&named("ev")).unwrap();
    m.remove("ev", false).unwrap();
    m.acquire(&named("ev2"), "c1").unwrap();
    let (history, _) = b.subscribe(Some(0));
    let got: Vec<(String, String, String)> = history
        .iter()
        .map(|e| (e.r#type.clone(), e.action.clone(), e.actor.id.clone()))
        .collect();
    let want = [("create", "ev"), ("destroy", "ev"), ("create", "ev2")]
        .map(|(a, n)| ("volume".to_string(), a.to_string(), n.to_string()));
    assert_eq!(got, want);
    assert_eq!(history[0].actor.attributes["driver"], "local");
}
