//! The `nianbao` binary: wiring only. Every command lives in `cli` (a module of
//! this binary, not of the library), and everything worth testing in a command is
//! a library call (`nianbao::parse`, `nianbao::format`) or a small function there.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
