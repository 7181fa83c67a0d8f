//! Image commands.

pub mod images;
pub mod load;
pub mod rmi;
pub mod tag;
