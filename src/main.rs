//! The `nianbao` binary: wiring only. Every command lives in `cli` (a module of
//! this binary, not of the library), and everything worth testing in a command is
//! a library call (`nianbao::parse`, `nianbao::format`) or a small function there.

mod cli;

/// mimalloc, not the system allocator: parsing and validation make many small,
/// short-lived strings (labels, field paths, messages), and glibc's malloc was a
/// third of validation's instructions (`cargo bench --bench validate`; README).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
