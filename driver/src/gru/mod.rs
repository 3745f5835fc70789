//! The GRU driver, split as the Linux driver (drivers/misc/sgi-gru) is.

pub mod handles;
