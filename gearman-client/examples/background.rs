//! Background jobs: submit, keep the handle, ask the server how the job is doing.
//!
//! ```sh
//! cargo run -p gearman-client --example background -- 3
//! ```
//!
//! The server comes from `GEARMAN_SERVER` (default `127.0.0.1:4730`). Without a worker for
//! `reverse` the jobs stay queued: the status shows them known and not running.

use std::time::Duration;

use gearman_client::{Client, Job};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = std::env::var("GEARMAN_SERVER").unwrap_or_else(|_| "127.0.0.1:4730".into());
    let n: usize = std::env::args().nth(1).map_or(Ok(3), |s| s.parse())?;

    let client = Client::builder().server(server).spawn()?;

    // One job: `submit` returns once the server has acknowledged it (JOB_CREATED).
    let stream = client
        .submit(Job::new("reverse", "one").background().generated_unique())
        .await?;
    let handle = stream.handle().cloned().ok_or("no handle")?;
    let status = client.status(stream.server(), handle.clone()).await?;
    println!(
        "{handle}: known={} running={}",
        status.known, status.running
    );

    // Many at once, each acknowledged.
    let jobs = (0..n).map(|i| Job::new("reverse", format!("bg {i}")).background());
    for (i, handle) in client.submit_all(jobs).await.into_iter().enumerate() {
        println!("job {i}: {}", handle?);
    }

    // The status by unique id asks the server those submissions went to.
    let unique = "background-example";
    client
        .submit(Job::new("reverse", "by unique").background().unique(unique))
        .await?;
    let status =
        tokio::time::timeout(Duration::from_secs(5), client.status_unique(unique)).await??;
    println!(
        "{unique}: known={} waiting clients={}",
        status.known, status.waiting_clients
    );
    Ok(())
}
