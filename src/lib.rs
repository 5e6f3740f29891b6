//! lunguard keeps SCSI, iSCSI and multipath devices exactly as declared.
//!
//! # Layout
//!
//! - [`model`]: pure domain types (`Hctl`, `Wwid`, `Iqn`, `Portal`, `DmName`, …); no IO.
//! - [`observe`]: reads the kernel's view (sysfs, procfs) under injectable roots into
//!   owned snapshot types.
//! - [`status`]: the `lunguard status` command: renders a snapshot as a table or JSON.
//! - [`cli`]: the command-line grammar (clap) and the documented exit codes.
//! - [`testing`]: builds fake sysfs/procfs trees laid out like the kernel's, for tests
//!   (here and, later, the simulated kernel); never used by the daemon itself.

pub mod cli;
pub mod model;
pub mod observe;
pub mod status;
pub mod testing;
