//! The package's /etc/lunguard/lunguard.toml (debian/lunguard.toml) says what it does: it
//! sets `mode = "observe"` and nothing else, and every commented-out setting shows the real
//! default, so uncommenting a line changes nothing until its value is edited. A default
//! changed in the code without the conffile fails here.

use std::path::Path;

use lunguard::config::{Config, Mode};

const SHIPPED: &str = include_str!("../debian/lunguard.toml");

#[test]
fn shipped_config_is_the_defaults_in_observe_mode() {
    let config = Config::parse(Path::new("lunguard.toml"), SHIPPED).expect("parses");
    assert_eq!(config.mode, Mode::Observe);
    assert_eq!(config, Config::default());
}

#[test]
fn every_commented_setting_in_the_shipped_config_is_its_default() {
    // "#key = value" lines are settings; "# words" lines are prose.
    let mut uncommented = 0;
    let text: String = SHIPPED
        .lines()
        .map(|line| match line.strip_prefix('#') {
            Some(setting) if !setting.starts_with(' ') && setting.contains(" = ") => {
                uncommented += 1;
                format!("{setting}\n")
            }
            _ => format!("{line}\n"),
        })
        .collect();
    assert!(uncommented >= 20, "only {uncommented} settings found");
    let config = Config::parse(Path::new("lunguard.toml"), &text)
        .unwrap_or_else(|e| panic!("uncommented shipped config does not parse: {e:?}\n{text}"));
    assert_eq!(config, Config::default());
}
