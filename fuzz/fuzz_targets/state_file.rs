//! The state-file loader (parse + validate of one file), fed any UTF-8 text. The loader reads
//! files as UTF-8 and rejects the rest before parsing, so non-UTF-8 inputs are not interesting.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use lunguard::config::Scope;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let c = lunguard::desire::check_text(Path::new("fuzz.toml"), text, &Scope::default());
    // A load with no error must have produced an attachment per table, each one printable.
    for a in &c.attachments {
        let _ = format!("{a:?}");
    }
    for e in &c.errors.0 {
        let _ = e.to_string();
    }
});
