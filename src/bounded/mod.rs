//! Everything that can block, with a limit: programs run with a timeout ([`cmd`]) and blocking
//! kernel calls run on a worker thread with a deadline ([`deadline`]). Below both the readers
//! (`observe`, which asks device-mapper, multipathd and the kernel's exclusive-open check) and
//! the writers (`act`), so that neither imports the other for it.

pub mod cmd;
pub mod deadline;
