//! Fuzz target: `parse` on arbitrary bytes, as detected and as GBK, must return
//! (never panic, never hang, never overflow the stack).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nianbao::parse::{parse, ParseOptions};

fuzz_target!(|data: &[u8]| {
    let _ = parse(data, &ParseOptions::default());
    let gbk = ParseOptions {
        charset: Some("gbk".to_string()),
        ..Default::default()
    };
    let _ = parse(data, &gbk);
});
