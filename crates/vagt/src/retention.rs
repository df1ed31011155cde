//! Retention while serving: after each snapshot interval, sealed journal segments past
//! `journal.archive_after_days` that the core's newest snapshot covers move to the journal's
//! archive ([`vagt_journal::archive`]). A failure is an `ERROR` line and a metric, never a stop:
//! archiving frees space, it does not keep anything safe.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use metrics::counter;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};
use vagt_engine::Engine;
use vagt_journal::Offset;

/// Segments moved to the archive.
pub const ARCHIVED: &str = "vagt_journal_archived_segments_total";
/// Archiving attempts that failed.
pub const ARCHIVE_ERRORS: &str = "vagt_journal_archive_errors_total";

/// Archives what is older than `after`, every `every`, until `stop`.
pub async fn run(
    dir: PathBuf,
    engine: Arc<Engine>,
    after: Duration,
    every: Duration,
    stop: CancellationToken,
) {
    counter!(ARCHIVED).absolute(0);
    counter!(ARCHIVE_ERRORS).absolute(0);
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stop.cancelled() => return,
        }
        let below = Offset(engine.snapshotted());
        let cutoff = SystemTime::now()
            .checked_sub(after)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let d = dir.clone();
        match tokio::task::spawn_blocking(move || vagt_journal::archive(&d, cutoff, below)).await {
            Ok(Ok(r)) if r.segments > 0 => {
                counter!(ARCHIVED).increment(r.segments as u64);
                info!(
                    segments = r.segments,
                    bytes = r.bytes,
                    journal_starts = r.journal_starts.0,
                    archive = %vagt_journal::archive_dir(&dir).display(),
                    "archived sealed journal segments"
                );
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                counter!(ARCHIVE_ERRORS).increment(1);
                error!("archiving journal segments failed (they stay in the journal): {e}");
            }
            Err(e) => {
                counter!(ARCHIVE_ERRORS).increment(1);
                error!("archiving journal segments failed: {e}");
            }
        }
    }
}
