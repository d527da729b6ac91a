//! `nianbao-load`: a load generator for the nianbao gRPC server (BENCHMARKS.md), and
//! the plain tonic echo server it is compared with.
//!
//! - `run`: drive one scenario (`get`, `list`, `mixed-get-list`, `validate`,
//!   `validate-text`, `submit`, `aggregate`, `echo`) against a server, closed-loop
//!   (`--concurrency` callers, each sending its next request when the last one
//!   answered) or open-loop at a fixed rate (`--rate`: requests are due at fixed
//!   intervals whatever the server does, and each latency is measured from the moment
//!   its request was due, so a stalled server is charged for the requests it delayed:
//!   no coordinated omission). Latencies go to HDR histograms; the result is one
//!   summary line (and JSON with `--json`). With `--baseline ADDR` the same load is
//!   first run against an echo server, and both lines are printed with the ratio.
//!   `--tls-ca` (with `--tls-cert`, `--tls-key` for mutual TLS) connects to both over
//!   TLS; `--identity NAME` declares the caller in `x-nianbao-submitter` (plaintext
//!   servers with an access policy).
//! - `seed`: fill a store with generated reports, directly through the library
//!   (`--data-dir`, the server stopped) or through a running server (`--addr`).
//! - `echo-server`: a minimal tonic service (`nianbao.load.Echo/Echo`, one `bytes`
//!   message, no work), the transport's own cost on this machine; over (mutual) TLS
//!   with `--tls-cert`, `--tls-key` (and `--client-ca`).
//!
//! Where things are, in the order a request meets them:
//!
//! | module | owns |
//! | --- | --- |
//! | [`cli`] | the subcommands, their arguments and the checks clap cannot make |
//! | [`run`] | the `run` command: baseline, scenario, summary lines, JSON |
//! | [`prepare`] | what a run prepares before the clock starts (connections, names, encoded requests) |
//! | [`workload`] | the scenarios: which request is next, building it, sending it |
//! | [`response`] | what a response counts as, and the checks of sampled responses |
//! | [`codec`] | the client codec that sends pre-encoded requests and keeps responses undecoded |
//! | [`measure`] | the load loops (closed loop, fixed-rate scheduler), the measured window |
//! | [`report`] | HDR histograms, CPU and load figures, the summary line and the JSON |
//! | [`generate`] | generated reports (seed and submit), pieced-together submit requests |
//! | [`seed`] | the `seed` command |
//! | [`echo`] | the echo service, its server command and its client call |
//! | [`net`] | runtimes, HTTP/2 channels (plaintext or TLS), the submitter and identity headers |

mod cli;
mod codec;
mod echo;
mod generate;
mod measure;
mod net;
mod prepare;
mod report;
mod response;
mod run;
mod seed;
mod workload;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// The same allocator as the `nianbao` server, so that the echo server (and the
/// client) are not handicapped or favoured by another one.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What the commands return: an error is the sentence printed after `error:`.
type Fallible<T> = Result<T, String>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(*args),
        Command::Seed(args) => seed::seed(args),
        Command::EchoServer(args) => echo::echo_server(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nianbao-load: error: {e}");
            ExitCode::from(2)
        }
    }
}
