//! System commands.

pub mod events;
pub mod info;
pub mod version;
