//! The config loader (`Config::parse`: TOML syntax, serde, then validation), fed any UTF-8 text.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use lunguard::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::parse(Path::new("lunguard.toml"), text) {
        // What the daemon does next with a config: derive its roots and effective policy.
        Ok(c) => {
            let _ = c.roots.to_roots();
        }
        Err(e) => {
            for d in &e.0 {
                let _ = d.to_string();
            }
        }
    }
});
