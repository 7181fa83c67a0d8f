//! pouchd: a container engine serving the Docker Engine API (v1.41).
//!
//! Layers, each calling only the one below it:
//! `server` (HTTP) → `bridge` (API objects ↔ manager calls) → `mgr` (container,
//! image, system managers) → `ctrd` (containerd client). `ctrd` publishes
//! runtime events on a channel that `mgr` consumes; it never calls up.
//! `archive` (tar in and out of a directory tree without leaving it: `cp`,
//! layer apply) is a leaf that `mgr` and `ctrd` both use.

pub mod archive;
pub mod bridge;
pub mod build;
pub mod config;
pub mod cri;
pub mod ctrd;
pub mod daemon;
pub mod error;
pub mod mgr;
pub mod server;
pub mod store;
#[cfg(test)]
pub mod testutil;

pub use error::{Error, Result};
