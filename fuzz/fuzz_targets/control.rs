//! The control socket's request path: raw client bytes → the reply the server sends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lunguard::control::{Request, reply_to};

fuzz_target!(|data: &[u8]| {
    let reply = reply_to(data, &|r: Request| {
        // A parsed request must survive its own wire form.
        assert_eq!(Request::parse(&r.line()), Some(r.clone()), "round trip");
        Ok(format!("{r:?}"))
    });
    if let Ok(reply) = reply {
        assert!(!reply.is_empty());
    }
});
