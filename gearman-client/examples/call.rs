//! The first program: call a function and print its result.
//!
//! ```sh
//! gearmanctl work --server 127.0.0.1:4730 --function reverse -- rev   # any worker will do
//! cargo run -p gearman-client --example call -- hello                 # prints "olleh"
//! ```
//!
//! The server comes from `GEARMAN_SERVER` (default `127.0.0.1:4730`).

use std::time::Duration;

use gearman_client::{Client, Job};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = std::env::var("GEARMAN_SERVER").unwrap_or_else(|_| "127.0.0.1:4730".into());
    let word = std::env::args().nth(1).unwrap_or_else(|| "hello".into());

    let client = Client::builder().server(server).spawn()?;
    // No waiting for the connection: the call does that, and says why if it cannot connect.
    let result = client
        .call(Job::new("reverse", word.as_str()).timeout(Duration::from_secs(10)))
        .await?;
    println!("{}", String::from_utf8_lossy(&result));
    Ok(())
}
