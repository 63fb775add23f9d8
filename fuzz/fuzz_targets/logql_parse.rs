//! LogQL text from the network (`query=`, `match[]=`): any input parses or gets a
//! `ParseError`, never a panic; and a parsed query prints back to text that parses to the
//! same AST (the invariant documented in `src/logql/print.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let _ = lokid::logql::parse_selector(s, true);
    let _ = lokid::logql::parse_selector(s, false);
    if let Ok(e) = lokid::logql::parse_expr(s) {
        let printed = e.to_string();
        let again = match lokid::logql::parse_expr(&printed) {
            Ok(a) => a,
            Err(err) => panic!("{s:?} parses, but its printed form {printed:?} does not: {err}"),
        };
        // Debug, not PartialEq: a NaN literal (`0/0`) is equal to itself only as text.
        assert_eq!(format!("{again:?}"), format!("{e:?}"), "{s:?} printed as {printed:?} parses to another AST");
    }
});
