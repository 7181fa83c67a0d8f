//! Container commands.

pub mod attach;
mod attach_io;
pub mod cp;
pub mod create;
pub mod diff;
pub mod exec;
pub mod export;
pub mod inspect;
pub mod lifecycle;
pub mod logs;
mod opts;
pub mod port;
pub mod ps;
pub mod rename;
pub mod rm;
pub mod run;
pub mod start;
pub mod stats;
pub mod top;
pub mod wait;
