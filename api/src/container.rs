//! Container types (`/containers/...`).
//!
//! The types live in submodules and are all re-exported here, so use
//! `pouch_api::container::{Config, HostConfig, ...}`.

mod config;
mod host_config;
mod inspect;
mod network;
mod ops;
#[cfg(test)]
mod tests;

pub use config::{Config, HealthConfig};
pub use host_config::{
    BindOptions, DeviceMapping, DeviceRequest, HostConfig, LogConfig, Mount, PortBinding, PortMap,
    RestartPolicy, ThrottleDevice, TmpfsOptions, Ulimit, VolumeDriverConfig, VolumeOptions,
    WeightDevice,
};
pub use inspect::{
    ContainerInspect, ContainerState, GraphDriverData, Health, HealthcheckResult, MountPoint,
};
pub use network::{
    Address, EndpointIpamConfig, EndpointSettings, NetworkSettings, NetworkingConfig,
};
pub use ops::{
    ContainerCreateRequest, ContainerCreateResponse, ContainerSummary, ContainerUpdateRequest,
    ContainerUpdateResponse, ContainerWaitError, ContainerWaitResponse, ContainersPruneResponse,
    Port, SummaryHostConfig, SummaryNetworkSettings,
};

pub use crate::de::EmptyObject;
