//! Image helpers shared by the image tests: small images built here,
//! loaded through the API, looked up by name.

use crate::tarball::image_archive;
use crate::TestDaemon;
use serde_json::{json, Value};

/// A one-layer image `tag`, created at `created` with `labels`.
pub fn simple_image(tag: &str, created: &str, labels: Value) -> Vec<u8> {
    let history = json!([{"created": created, "created_by": "test"}]);
    image_archive(tag, created, labels, &[("hello.txt", tag)], history)
}

/// Loads `tar` with `POST /images/load`; panics unless it loaded. Returns
/// the load's messages.
pub fn load_archive(d: &TestDaemon, tar: &[u8]) -> String {
    let r = d
        .post_raw("/v1.41/images/load", Some("application/x-tar"), tar)
        .expect("POST /images/load");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!r.text().contains("\"error"), "{}", r.text());
    r.text()
}

/// The full ID of image `name`.
pub fn image_id(d: &TestDaemon, name: &str) -> String {
    d.inspect_field(name, "{{.Id}}")
}

/// Whether image `name` exists (inspect is 200, not 404).
pub fn image_exists(d: &TestDaemon, name: &str) -> bool {
    let r = d.get_ok(&format!("/v1.41/images/{name}/json"));
    match r.status {
        200 => true,
        404 => false,
        s => panic!("inspect {name}: {s} {}", r.text()),
    }
}
