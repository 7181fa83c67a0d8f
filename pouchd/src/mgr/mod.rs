//! Managers: the engine's logic over containers, images and the system.
//! They call down into `ctrd` through its traits and never up into the server.

pub mod container;
pub mod events;
pub mod image;
pub mod network;
pub mod system;
pub mod volume;
