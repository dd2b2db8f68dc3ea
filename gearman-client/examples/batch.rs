//! Many jobs in flight from one task: `call_all` sends them in one go and collects every result,
//! in order (libgearman's `add_task` + `run_tasks`).
//!
//! ```sh
//! cargo run -p gearman-client --example batch -- 1000
//! ```
//!
//! Needs a worker for `reverse`; the server comes from `GEARMAN_SERVER` (default
//! `127.0.0.1:4730`).

use std::time::{Duration, Instant};

use gearman_client::{Client, Job};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = std::env::var("GEARMAN_SERVER").unwrap_or_else(|_| "127.0.0.1:4730".into());
    let n: usize = std::env::args().nth(1).map_or(Ok(1000), |s| s.parse())?;

    let client = Client::builder().server(server).spawn()?;
    let jobs =
        (0..n).map(|i| Job::new("reverse", format!("job {i}")).timeout(Duration::from_secs(30)));
    let started = Instant::now();
    let results = client.call_all(jobs).await;
    let took = started.elapsed();

    let mut failed = 0;
    for (i, result) in results.iter().enumerate() {
        match result {
            Ok(data) if *data == format!("job {i}").bytes().rev().collect::<Vec<u8>>() => {}
            Ok(data) => return Err(format!("job {i}: unexpected result {data:?}").into()),
            Err(e) => {
                eprintln!("job {i}: {e}");
                failed += 1;
            }
        }
    }
    println!(
        "{} of {n} jobs completed in {:.3} s ({:.0} jobs/s)",
        n - failed,
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
    if failed > 0 {
        return Err(format!("{failed} jobs failed").into());
    }
    Ok(())
}
