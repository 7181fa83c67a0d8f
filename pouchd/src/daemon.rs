//! The daemon's long-lived state, shared by every request.

use crate::mgr::container::ContainerMgr;
use crate::mgr::events::EventBus;
use crate::mgr::image::ImageMgr;
use crate::mgr::system::SystemInfo;
use crate::mgr::volume::VolumeMgr;
use std::sync::Arc;

/// Managers and facts the HTTP layer serves from.
pub struct Daemon {
    pub containers: Arc<ContainerMgr>,
    pub images: Arc<ImageMgr>,
    pub events: Arc<EventBus>,
    pub system: SystemInfo,
    pub volumes: Arc<VolumeMgr>,
    /// The images of earlier build steps (`docker build`'s cache).
    pub build_cache: Arc<crate::build::cache::BuildCache>,
}
