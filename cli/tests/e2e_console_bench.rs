//! The console's Modules page with 1, 10 and 50 registered modules on localnet: the time to
//! render it (median of 5 requests), printed. Ignored by default (a benchmark, not a test);
//! `scripts/bench-console.sh` runs it. No assertion on time.

mod common;

use std::time::{Duration, Instant};

use common::Env;
use common::console::Console;
use orchestrator_api::client::calls;
use orchestrator_api::{AddModuleArgs, ModuleKind};

#[test]
#[ignore = "a benchmark: scripts/bench-console.sh"]
fn the_modules_page_renders_in_one_round_of_calls_for_1_10_and_50_modules() {
    let env = Env::registered();
    let mut registered = 1;
    println!("| modules | modules page, median of 5 | slowest |");
    println!("|---:|---:|---:|");
    for target in [1usize, 10, 50] {
        while registered < target {
            let id = env.fresh_module();
            env.call(calls::add_module(AddModuleArgs {
                canister_id: id,
                name: format!("m{registered}"),
                kind: ModuleKind::Other,
            }))
            .expect("add_module");
            registered += 1;
        }
        let console = Console::start(&env, "developer", &[]);
        let mut times: Vec<Duration> = (0..5)
            .map(|_| {
                let start = Instant::now();
                let page = console.get("/");
                let took = start.elapsed();
                assert_eq!(page.status, 200, "{}", page.text());
                assert_eq!(page.text().matches("<tr data-module=").count(), target);
                took
            })
            .collect();
        times.sort();
        println!(
            "| {target} | {:.0} ms | {:.0} ms |",
            times[2].as_secs_f64() * 1000.0,
            times[4].as_secs_f64() * 1000.0
        );
    }
}
