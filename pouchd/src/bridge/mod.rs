//! Bridge: Docker API objects in, manager calls, Docker API objects out.
//! Handlers stay thin; the logic lives in the managers.

pub mod archive;
pub mod container;
pub mod events;
pub mod exec;
pub mod image;
pub mod image_pull;
mod inspect;
pub mod stream;
pub mod system;

use crate::daemon::Daemon;
use std::sync::Arc;

/// Shared state of every handler.
pub type State = axum::extract::State<Arc<Daemon>>;
