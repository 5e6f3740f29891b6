//! Which actuator a command acts through: one choice for the daemon and `apply --once`, so the
//! two cannot drift apart (they did: `apply --once` once built a `Real` without removal markers).

use std::sync::Arc;

use crate::act::{Actuator, DryRun, Real};
use crate::config::{Config, Mode};

/// `DryRun` in observe mode or when `dry_run` is asked, else [`Real::for_config`].
pub fn actuator_for(config: &Config, dry_run: bool) -> Arc<dyn Actuator + Send> {
    if dry_run || config.mode == Mode::Observe {
        Arc::new(DryRun::new())
    } else {
        Arc::new(Real::for_config(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DevT;

    fn config(dir: &std::path::Path, mode: Mode) -> Config {
        Config {
            mode,
            control_socket: dir.join("run").join("control.sock"),
            ..Config::default()
        }
    }

    /// Bug: `apply --once` built `Real::new(..)` without `with_markers`, so a device it removed
    /// was never marked for the udev rule while the daemon's removals were. The one constructor
    /// both use marks removals in the control socket's directory.
    #[test]
    fn enforce_actuator_writes_removal_markers_in_the_runtime_directory() {
        let d = tempfile::tempdir().expect("tempdir");
        let c = config(d.path(), Mode::Enforce);
        let a = actuator_for(&c, false);
        assert!(!a.is_dry_run());
        let markers = a.mark_removing(&[DevT::new(8, 16)]);
        assert_eq!(markers.len(), 1, "one marker per device");
        let want = crate::marker::removing_marker(&d.path().join("run"), DevT::new(8, 16));
        assert!(want.exists(), "{} missing", want.display());
        drop(markers);
        assert!(!want.exists(), "removed with the marker");
    }

    #[test]
    fn observe_mode_or_dry_run_never_acts() {
        let d = tempfile::tempdir().expect("tempdir");
        assert!(actuator_for(&config(d.path(), Mode::Observe), false).is_dry_run());
        assert!(actuator_for(&config(d.path(), Mode::Enforce), true).is_dry_run());
    }
}
