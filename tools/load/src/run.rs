//! The `run` command: checks the arguments, measures the echo baseline first when
//! there is one (`--baseline`), then the scenario under the same plan, and prints their
//! summary lines, the comparison, and the JSON (`--json`).

use std::path::Path;
use std::sync::Arc;

use crate::cli::{RunArgs, Scenario};
use crate::measure::{measure, Plan};
use crate::net::runtime;
use crate::prepare::prepare_workload;
use crate::report::{comparison_line, results_json, Outcome};
use crate::Fallible;

pub fn run(args: RunArgs) -> Fallible<()> {
    let plan = args.plan()?;
    let rt = runtime(Some(args.threads))?;
    let label = args.label();
    rt.block_on(async {
        let mut outcomes = Vec::new();
        if let Some(baseline) = &args.baseline {
            let label = format!("{label} baseline echo");
            let target = Target {
                scenario: Scenario::Echo,
                addr: baseline,
                pid: args.baseline_pid,
            };
            outcomes.push(measure_and_print(&args, plan, target, label).await?);
        }
        let target = Target {
            scenario: args.scenario,
            addr: &args.addr,
            pid: args.server_pid,
        };
        let o = measure_and_print(&args, plan, target, label.clone()).await?;
        if let Some(base) = outcomes.first() {
            println!("{}", comparison_line(&label, &o, base));
        }
        outcomes.push(o);
        if let Some(path) = &args.json {
            write_json(path, &outcomes)?;
        }
        Ok(())
    })
}

/// What one measurement is run against: a scenario, its server and the server's pid.
struct Target<'a> {
    scenario: Scenario,
    addr: &'a str,
    pid: Option<u32>,
}

/// Prepares `target`'s workload, measures it under `plan` and prints its line.
async fn measure_and_print(
    args: &RunArgs,
    plan: Plan,
    target: Target<'_>,
    label: String,
) -> Fallible<Outcome> {
    let workload = prepare_workload(args, target.scenario, target.addr, plan.timeout).await?;
    let o = measure(Arc::new(workload), plan, label, target.pid).await?;
    println!("{}", o.line());
    Ok(o)
}

/// Writes the outcomes' JSON to `path` (`-`: standard output).
fn write_json(path: &Path, outcomes: &[Outcome]) -> Fallible<()> {
    let text = serde_json::to_string_pretty(&results_json(outcomes))
        .map_err(|e| format!("cannot write JSON: {e}"))?;
    if path.as_os_str() == "-" {
        println!("{text}");
    } else {
        std::fs::write(path, text + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}
