//! The `seed` command: fills a store with generated reports (see `generate`), directly
//! through the library (`--data-dir`, `nianbao::ingest`, no server may hold the store)
//! or through a running server (`--addr`, SubmitReport), with `--writers` concurrent
//! writers taking the next report number in turn; prints progress every 10,000
//! reports and a summary.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tonic::transport::Channel;
use tonic::Request;

use nianbao::ingest;
use nianbao::names::AgencyId;
use nianbao::pb::report_registry_client::ReportRegistryClient;
use nianbao::pb::{submit_report_request, AnnualReport, SubmitReportRequest};
use nianbao::store::{Store, StoreConfig};

use crate::cli::SeedArgs;
use crate::generate::{check_prefix, generated, template};
use crate::net::{connect, runtime, submitter, SUBMITTER};
use crate::Fallible;

/// Reports between two progress lines.
const PROGRESS_EVERY: u64 = 10_000;

pub fn seed(args: SeedArgs) -> Fallible<()> {
    let t = template(&args.report)?;
    let rt = runtime(Some(args.threads))?;
    let started = Instant::now();
    let numbers = report_numbers(args.start, args.reports)?;
    check_prefix(&args.agency_prefix)?;
    let target = Target::open(&args, &rt)?;
    let seeding = Arc::new(Seeding {
        template: t,
        prefix: args.agency_prefix.clone(),
        years: args.years.max(1),
        first_year: args.first_year,
        end: numbers.end,
        next: AtomicU64::new(numbers.start),
        done: AtomicU64::new(0),
        started,
        target,
    });
    rt.block_on(write_all(&seeding, args.writers))?;
    let took = started.elapsed().as_secs_f64();
    let n = seeding.done.load(Ordering::Relaxed);
    println!("{}", seeding.summary(n, numbers.start, took));
    if let Target::Store(store) = &seeding.target {
        let stats = store
            .stats()
            .map_err(|e| format!("cannot read the store's counts: {e}"))?;
        println!(
            "store: {} reports, {} revisions, {} bytes on disk",
            stats.reports, stats.revisions, stats.size_on_disk
        );
    }
    Ok(())
}

/// The numbers of the reports to generate: `reports` from `start`.
fn report_numbers(start: u64, reports: u64) -> Fallible<Range<u64>> {
    let end = start
        .checked_add(reports)
        .ok_or("--start + --reports overflows")?;
    Ok(start..end)
}

/// Where the reports go.
enum Target {
    Store(Store),
    Server(ReportRegistryClient<Channel>),
}

impl Target {
    /// The store at `--data-dir`, or a client of the server at `--addr`.
    fn open(args: &SeedArgs, rt: &Runtime) -> Fallible<Target> {
        match (&args.data_dir, &args.addr) {
            (Some(dir), _) => Ok(Target::Store(
                Store::open(&StoreConfig::new(dir))
                    .map_err(|e| format!("cannot open the store at {}: {e}", dir.display()))?,
            )),
            (None, Some(addr)) => Ok(Target::Server(
                ReportRegistryClient::new(rt.block_on(connect(
                    addr,
                    Duration::from_secs(60),
                    None,
                ))?)
                .max_decoding_message_size(64 * 1024 * 1024),
            )),
            (None, None) => Err("give --data-dir or --addr".into()),
        }
    }

    /// Stores generated report `i`.
    async fn submit(&self, i: u64, agency: String, report: AnnualReport) -> Fallible<()> {
        match self {
            Target::Store(store) => {
                let id =
                    AgencyId::parse(&agency).map_err(|e| format!("report {i} ({agency}): {e}"))?;
                let request = ingest::Request {
                    source: ingest::Source::Entity(Box::new(report)),
                    agency: Some(id),
                    submitter: SUBMITTER.into(),
                    request_id: None,
                    expected_etag: None,
                    reject_on_error: false,
                    within: None,
                    audit: None,
                };
                ingest::submit(store, request)
                    .await
                    .map_err(|e| format!("report {i} ({agency}): {e}"))?;
            }
            Target::Server(client) => {
                let mut request = Request::new(SubmitReportRequest {
                    input: Some(submit_report_request::Input::Report(report)),
                    agency_id: agency.clone(),
                    ..Default::default()
                });
                request
                    .metadata_mut()
                    .insert(nianbao::service::registry::SUBMITTER_HEADER, submitter());
                client.clone().submit_report(request).await.map_err(|s| {
                    format!("report {i} ({agency}): {:?}: {}", s.code(), s.message())
                })?;
            }
        }
        Ok(())
    }

    /// Makes a store's writes durable (a server's are when it answers).
    async fn finish(&self) -> Fallible<()> {
        if let Target::Store(store) = self {
            store
                .flush()
                .await
                .map_err(|e| format!("the final flush failed: {e}"))?;
        }
        Ok(())
    }
}

/// What the writers share: how to make report `i`, the next number to take, the count
/// of reports stored, and where they go.
struct Seeding {
    template: AnnualReport,
    prefix: String,
    years: u64,
    first_year: i32,
    /// One past the last report number.
    end: u64,
    next: AtomicU64,
    done: AtomicU64,
    started: Instant,
    target: Target,
}

impl Seeding {
    /// One writer: takes the next report number and stores it, until none is left.
    async fn writer(self: Arc<Self>) -> Fallible<()> {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.end {
                return Ok(());
            }
            let (agency, report) =
                generated(&self.template, &self.prefix, i, self.years, self.first_year);
            self.target.submit(i, agency, report).await?;
            let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_multiple_of(PROGRESS_EVERY) {
                eprintln!(
                    "seed: {n} reports in {:.1} s",
                    self.started.elapsed().as_secs_f64()
                );
            }
        }
    }

    /// The closing line: `n` reports from number `first` in `took` seconds.
    fn summary(&self, n: u64, first: u64, took: f64) -> String {
        let last_agency = self.end.saturating_sub(1) / self.years;
        format!(
            "seeded {n} reports (agencies {}-{:05}..{}-{:05}, years {}..={}) in {took:.1} s: {:.0} durable submits/s",
            self.prefix,
            first / self.years,
            self.prefix,
            last_agency,
            self.first_year,
            self.first_year + self.years as i32 - 1,
            n as f64 / took
        )
    }
}

/// Runs `writers` writers (at least one) to the end, then makes the writes durable.
async fn write_all(seeding: &Arc<Seeding>, writers: usize) -> Fallible<()> {
    let tasks: Vec<_> = (0..writers.max(1))
        .map(|_| tokio::spawn(seeding.clone().writer()))
        .collect();
    for task in tasks {
        task.await
            .map_err(|e| format!("a submitter failed: {e}"))??;
    }
    seeding.target.finish().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_numbers_may_not_overflow() {
        assert_eq!(report_numbers(10, 5).unwrap(), 10..15);
        assert_eq!(report_numbers(0, 0).unwrap(), 0..0);
        assert_eq!(
            report_numbers(u64::MAX, 1).unwrap_err(),
            "--start + --reports overflows"
        );
    }

    #[tokio::test]
    async fn seeding_a_store_stores_the_generated_reports() {
        let dir =
            std::env::temp_dir().join(format!("nianbao-load-seed-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&StoreConfig::new(&dir)).unwrap();
        let report = crate::generate::tests::corpus_report();
        let seeding = Arc::new(Seeding {
            template: template(&report).unwrap(),
            prefix: "t".into(),
            years: 2,
            first_year: 2022,
            end: 6,
            next: AtomicU64::new(1),
            done: AtomicU64::new(0),
            started: Instant::now(),
            target: Target::Store(store),
        });
        write_all(&seeding, 3).await.unwrap();
        assert_eq!(seeding.done.load(Ordering::Relaxed), 5);
        let Target::Store(store) = &seeding.target else {
            unreachable!()
        };
        assert_eq!(store.stats().unwrap().reports, 5);
        assert_eq!(
            seeding.summary(5, 1, 2.5),
            "seeded 5 reports (agencies t-00000..t-00002, years 2022..=2023) in 2.5 s: 2 durable submits/s"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
