//! Reading the whole cluster log offline (`vagt alarms`, reports, audit in cluster mode): the
//! same records, in the same `gseq` order, that every node's core folds.

use std::collections::VecDeque;

use anyhow::Context;
use vagt_journal::{JournalError, Record, Records};

use crate::ClusterConfig;
use crate::follow;

/// Every committed record of the cluster log, from the start, read page by page on a runtime of
/// its own (call from outside an async context).
pub fn read_log(config: &ClusterConfig) -> anyhow::Result<Records> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting a runtime for the cluster log")?;
    let (reader, end) = runtime.block_on(async {
        let client = crate::connect(config).await?;
        let end = follow::committed_end(&client).await?;
        anyhow::Ok((follow::Reader::new(client).await?, end))
    })?;
    Ok(Box::new(LogReader {
        runtime,
        reader,
        position: 1,
        end,
        page: VecDeque::new(),
    }))
}

struct LogReader {
    runtime: tokio::runtime::Runtime,
    reader: follow::Reader,
    position: u64,
    /// The committed end when reading began: later records are not part of this reading.
    end: u64,
    page: VecDeque<Record>,
}

impl Iterator for LogReader {
    type Item = Result<Record, JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.page.is_empty() && self.position < self.end {
            let read = self
                .runtime
                .block_on(follow::read(&self.reader, self.position, self.end));
            match read {
                Ok((rows, next)) => {
                    // A server behind the end first seen (cap below it) would loop: stop there.
                    self.position = if next > self.position { next } else { self.end };
                    self.page.extend(rows);
                }
                Err(e) => {
                    self.position = self.end;
                    return Some(Err(JournalError::Store(format!(
                        "reading the cluster log: {e:#}"
                    ))));
                }
            }
        }
        self.page.pop_front().map(Ok)
    }
}
