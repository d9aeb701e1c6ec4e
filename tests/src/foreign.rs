//! A node of another cluster on the far end of a cross-wired serial cable: it sends valid
//! frames (twinbeat-protocol) whose cluster id is not the lab's.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use twinbeat_protocol::{
    encode, ClusterId, Extensions, Frame, Message, NodeId, NodeState, Ping, Role,
};

use crate::error::{io_err, Result};

/// The foreign sender; stop it to learn how many frames it sent.
#[derive(Debug)]
pub struct ForeignNode {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

/// One foreign ping frame, encoded.
pub fn foreign_ping(cluster: &str, seq: u32) -> Vec<u8> {
    let frame = Frame {
        cluster: ClusterId::from_name(cluster),
        sender: NodeId(1),
        message: Message::Ping(Ping {
            seq,
            state: NodeState {
                role: Role::Primary,
                term: 1,
                fenced: false,
                db_healthy: true,
                gateway_up: true,
                wal_lsn: 0,
            },
            extensions: Extensions::NONE,
        }),
    };
    let mut buf = [0u8; 256];
    match encode(&frame, &mut buf) {
        Ok(n) => buf[..n].to_vec(),
        // 256 bytes hold any ping; an encoder error would be the protocol crate's bug.
        Err(_) => Vec::new(),
    }
}

impl ForeignNode {
    /// Starts sending pings of cluster `cluster` into `tty` every 50 ms.
    pub fn start(tty: &Path, cluster: &str) -> Result<Self> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(nix::libc::O_NOCTTY | nix::libc::O_NONBLOCK)
            .open(tty)
            .map_err(io_err(tty))?;
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let (st, se, cluster) = (stop.clone(), sent.clone(), cluster.to_owned());
        let thread = std::thread::spawn(move || {
            let mut seq = 0u32;
            while !st.load(Ordering::SeqCst) {
                if f.write_all(&foreign_ping(&cluster, seq)).is_ok() {
                    se.fetch_add(1, Ordering::SeqCst);
                }
                seq = seq.wrapping_add(1);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Ok(Self {
            stop,
            sent,
            thread: Some(thread),
        })
    }

    /// Stops sending; returns the number of frames sent.
    pub fn stop(mut self) -> u64 {
        self.halt();
        self.sent.load(Ordering::SeqCst)
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ForeignNode {
    fn drop(&mut self) {
        self.halt();
    }
}
