//! siplint: what a voipkit UAS does with one SIP message, before any
//! application decision.
//!
//! Usage: `cargo run -p voipkit-sip --bin siplint -- [--user-agent] [-v]
//! [FILE]` (stdin when FILE is absent or `-`). Prints one line: `accept`,
//! `reject STATUS REASON` or `drop`, and exits 0 for accept, 1 otherwise
//! (2 for a usage or I/O error). With `-v` it also prints, on stderr, why a
//! message is dropped and the response a reject sends.
//!
//! The decision is `voipkit_sip::message::inspect` with
//! `UasCapabilities::default()` (or `::user_agent()`, which has no
//! REGISTER, with `--user-agent`).
use std::io::Read as _;
use std::process::ExitCode;

use voipkit_sip::message::{UasCapabilities, Verdict, inspect};

fn main() -> ExitCode {
    let mut caps = UasCapabilities::default();
    let mut verbose = false;
    let mut path: Option<String> = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--user-agent" => caps = UasCapabilities::user_agent(),
            "-v" | "--verbose" => verbose = true,
            "-h" | "--help" => {
                println!("usage: siplint [--user-agent] [-v] [FILE|-]");
                return ExitCode::SUCCESS;
            }
            _ if path.is_none() => path = Some(arg),
            _ => {
                eprintln!("siplint: too many arguments");
                return ExitCode::from(2);
            }
        }
    }
    let bytes = match path.as_deref() {
        None | Some("-") => {
            let mut buf = Vec::new();
            if let Err(e) = std::io::stdin().read_to_end(&mut buf) {
                eprintln!("siplint: stdin: {e}");
                return ExitCode::from(2);
            }
            buf
        }
        Some(p) => match std::fs::read(p) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("siplint: {p}: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let inspection = inspect(bytes, &caps);
    println!("{}", inspection.verdict);
    if verbose {
        match &inspection.verdict {
            Verdict::Drop(why) => eprintln!("dropped: {why}"),
            Verdict::Reject(_) => {
                if let Some(resp) = inspection.response("siplint") {
                    eprint!("{resp}");
                }
            }
            Verdict::Accept => {}
        }
    }
    if inspection.verdict == Verdict::Accept {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
