//! A client that commits continuously and logs every acknowledged commit (scenario 17).

use std::time::{Duration, Instant};

use crate::lab::Lab;
use crate::netns::Node;
use crate::pgq;

/// Commits `INSERT INTO lab_commits VALUES (n)` on `node` in a loop; after `before` calls
/// `fault` (from this thread) while the writer goes on; stops at the first failed commit or
/// 30 s after the fault. Returns every `n` whose commit was acknowledged.
pub fn commit_until_failure(
    lab: &Lab,
    node: Node,
    before: Duration,
    fault: impl FnOnce(),
) -> Vec<i64> {
    let target = lab.pg(node).socket_target();
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            crate::rt::block_on(async {
                let client = target.connect(Duration::from_secs(2)).await?;
                let mut acked = Vec::new();
                let start = Instant::now();
                for n in 0i64.. {
                    let sql = format!("INSERT INTO lab_commits VALUES ({n})");
                    if pgq::on_client(&client, "writer", &sql, Duration::from_secs(2))
                        .await
                        .is_err()
                    {
                        break;
                    }
                    acked.push(n);
                    if start.elapsed() > before + Duration::from_secs(30) {
                        break;
                    }
                }
                Ok(acked)
            })
            .unwrap_or_default()
        });
        std::thread::sleep(before);
        fault();
        writer.join().unwrap_or_default()
    })
}
