//! Container commands.

mod attach_io;
pub mod create;
pub mod inspect;
pub mod lifecycle;
pub mod logs;
mod opts;
pub mod ps;
pub mod rename;
pub mod rm;
pub mod run;
pub mod start;
pub mod wait;
